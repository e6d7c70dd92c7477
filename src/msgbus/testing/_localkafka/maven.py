"""Java and Maven tooling for LocalKafka: the broker jars, resolved once per version.

Kafka is not a Python package, so its runtime jars come from Maven Central:
``kafka-pom.xml`` (package data) names them and ``mvn dependency:copy-dependencies``
copies them into a per-version cache directory.  A file lock and a marker
written last make that safe for concurrent test processes and for a
resolution interrupted half-way.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

logger = logging.getLogger("msgbus.testing")

DEFAULT_KAFKA_VERSION = "4.1.1"
#: Names the Kafka version a LocalKafka runs when none is given (``make compat`` runs the suites on several).
VERSION_ENV = "MSGBUS_KAFKA_VERSION"
_MIN_JAVA = 17
_INSTALL_HINT = "install a Java 17+ runtime and Maven, e.g. `apt-get install openjdk-17-jre-headless maven`"


class KafkaToolingError(RuntimeError):
    """Java or Maven is missing or unusable, or the jars could not be resolved."""


_java_checked: dict[str, int] = {}


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaToolingError(f"`java` was not found on PATH: {_INSTALL_HINT}")
    if java not in _java_checked:
        try:
            out = subprocess.run(
                [java, "-version"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise KafkaToolingError(f"`{java} -version` failed: {exc}") from exc
        match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
        if match is None:
            raise KafkaToolingError(f"could not read the Java version from `{java} -version`:\n{out.stderr}")
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_..."
            major = int(match.group(2))
        if major < _MIN_JAVA:
            raise KafkaToolingError(f"Kafka needs Java {_MIN_JAVA}+, but {java} is Java {major}: {_INSTALL_HINT}")
        _java_checked[java] = major
    return java


def _require_mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaToolingError(f"`mvn` (Maven) was not found on PATH: {_INSTALL_HINT}")
    return mvn


def default_kafka_version() -> str:
    """``$MSGBUS_KAFKA_VERSION`` if set, else DEFAULT_KAFKA_VERSION."""
    return os.environ.get(VERSION_ENV, "").strip() or DEFAULT_KAFKA_VERSION


def default_cache_dir(kafka_version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """``$MSGBUS_KAFKA_CACHE/kafka-<v>`` if that variable is set, else
    ``~/.cache/msgbus/kafka-<v>``."""
    base = os.environ.get("MSGBUS_KAFKA_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "msgbus"
    return root / f"kafka-{kafka_version}"


def _package_text(name: str) -> str:
    return resources.files(__package__ or "msgbus.testing").joinpath(name).read_text("utf-8")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_jars(kafka_version: str = DEFAULT_KAFKA_VERSION, cache_dir: Path | None = None) -> Path:
    """Return the directory holding the broker's runtime jars, resolving them
    with Maven on first use."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(kafka_version)
    return resolve_with_maven(_package_text("kafka-pom.xml"), cache, kafka_version, "kafka_2.13-*.jar")


def resolve_with_maven(pom_text: str, cache: Path, kafka_version: str, expected_jar: str) -> Path:
    """Copy the runtime dependencies of ``pom_text`` into ``cache/lib`` with Maven, once.

    Safe against concurrent callers (flock) and against an interrupted earlier
    resolution (marker written last). ``expected_jar`` is a glob that must
    match in the result; raises KafkaToolingError otherwise.
    """
    lib = cache / "lib"
    marker = cache / ".resolved"
    if marker.is_file():
        return lib
    with _file_lock(cache / ".lock"):
        if marker.is_file():  # another process finished while we waited
            return lib
        mvn = _require_mvn()
        if lib.exists():
            shutil.rmtree(lib)  # leftovers of an interrupted run
        pom = cache / "pom.xml"
        pom.write_text(pom_text, encoding="utf-8")
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"-Dkafka.version={kafka_version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}",
        ]
        logger.info("resolving %s (Kafka %s) with Maven into %s", expected_jar, kafka_version, lib)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=cache, capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired as exc:
            raise KafkaToolingError(f"`mvn` timed out resolving Kafka {kafka_version}") from exc
        output = (proc.stdout or "") + (proc.stderr or "")
        jars = list(lib.glob(expected_jar)) if lib.is_dir() else []
        if proc.returncode != 0 or not jars:
            tail = "\n".join(output.splitlines()[-30:])
            raise KafkaToolingError(
                f"Maven failed to resolve Kafka {kafka_version} (exit {proc.returncode}); "
                f"command: {' '.join(cmd)}\n--- last lines of its output ---\n{tail}"
            )
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(kafka_version + "\n", encoding="utf-8")
        os.replace(tmp, marker)
        logger.info(
            "resolved %d jars for Kafka %s in %.1fs",
            len(list(lib.glob("*.jar"))),
            kafka_version,
            time.monotonic() - t0,
        )
    return lib
