"""What `pip install hms-msgbus` gives, tested from outside the repository.

The wheel in a clean venv: ``import msgbus`` resolves to the venv's site-packages; the examples
run against a broker started by the installed ``msgbus kafka start``; a user's suite runs on the
pytest plugin's fixtures with ``-W error``; a user's module type-checks with ``mypy --strict``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

import msgbus
from msgbus.testing import pytest_plugin

from .venvs import REPO, Dist, ReleaseVenv

pytestmark = [pytest.mark.release, pytest.mark.integration, pytest.mark.slow]

BROKER_TIMEOUT = 240.0
RUN_TIMEOUT = 240.0
READERS = ("blocking_reader.py", "callback_reader.py")
MESSAGES = ["The Rain In Spain", "falls mainly on the plain", "Grüße aus Köln"]


def test_import_resolves_to_the_installed_wheel(release_venv: ReleaseVenv) -> None:
    probe = textwrap.dedent(
        """
        import json, pathlib, msgbus, msgbus.testing
        pkg = pathlib.Path(msgbus.__file__).parent
        print(json.dumps({
            "file": msgbus.__file__,
            "version": msgbus.__version__,
            "shipped": sorted(p.name for p in [*pkg.glob("py.typed"), *(pkg / "testing" / "_localkafka").glob("*.*")]),
        }))
        """
    )
    proc = release_venv.run(release_venv.python, "-c", probe, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    where = Path(found["file"]).resolve()
    assert where.is_relative_to(release_venv.site_packages.resolve()), where
    assert not where.is_relative_to(REPO), f"msgbus came from the source tree: {where}"
    assert found["version"] == msgbus.__version__
    for name in ("py.typed", "kafka-pom.xml", "log4j2.properties"):
        assert name in found["shipped"], found["shipped"]


def _bootstrap_from(output: str) -> str:
    # `msgbus kafka start` prints the bootstrap (also as `export MSGBUS_BOOTSTRAP=...`).
    match = re.search(r"((?:127\.0\.0\.1|localhost)):(\d+)", output)
    assert match, f"no bootstrap in `msgbus kafka start`'s output:\n{output}"
    return match.group(0)


def _start_reader(venv: ReleaseVenv, script: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    # stderr (logs) to a file, so that stdout's first line is the reader's own.
    with (venv.workdir / f"{script.stem}.stderr").open("w") as stderr:
        proc = subprocess.Popen(
            [str(venv.python), str(script), str(len(MESSAGES))],
            cwd=venv.workdir,
            env=venv.env(env),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "... connected": the reader is positioned (or an error, then EOF)
    if "connected" not in line:
        proc.kill()
        rest, _ = proc.communicate(timeout=30)
        raise AssertionError(f"{script.name} did not connect: {line}{rest}{_stderr_of(venv, script)}")
    return proc


def _stderr_of(venv: ReleaseVenv, script: Path) -> str:
    return (venv.workdir / f"{script.stem}.stderr").read_text(errors="replace")


def test_the_examples_against_a_broker_the_installed_cli_starts(release_venv: ReleaseVenv) -> None:
    examples = release_venv.workdir / "examples"
    examples.mkdir()
    for script in (REPO / "examples").glob("*.py"):
        shutil.copy(script, examples / script.name)
    # The CLI's state file in the test's own directory: never another run's broker.
    state = {"MSGBUS_STATE_DIR": str(release_venv.workdir / "state")}
    msgbus_cli = release_venv.bin / "msgbus"
    readers: list[subprocess.Popen[str]] = []
    try:
        started = release_venv.run(msgbus_cli, "kafka", "start", timeout=BROKER_TIMEOUT, extra_env=state)
        assert started.returncode == 0, started.stdout + started.stderr
        bootstrap = _bootstrap_from(started.stdout + started.stderr)
        host, port = bootstrap.rsplit(":", 1)
        topic = f"release-{int(time.time())}"
        env = {**state, "MSGBUS_BOOTSTRAP": bootstrap, "MSGBUS_HOST": host, "MSGBUS_PORT": port, "MSGBUS_TOPIC": topic}
        for name in READERS:
            readers.append(_start_reader(release_venv, examples / name, env))
        wrote = release_venv.run(
            release_venv.python, examples / "writer.py", *MESSAGES, timeout=RUN_TIMEOUT, extra_env=env
        )
        assert wrote.returncode == 0, wrote.stdout + wrote.stderr
        for msg in MESSAGES:
            assert f"Message written: '{msg}'" in wrote.stdout
        for proc, name in zip(readers, READERS, strict=True):
            out, _ = proc.communicate(timeout=RUN_TIMEOUT)
            assert proc.returncode == 0, out + _stderr_of(release_venv, examples / name)
            for msg in MESSAGES:
                assert f"'{msg}'" in out, out + _stderr_of(release_venv, examples / name)
    finally:
        for proc in readers:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        stopped = release_venv.run(msgbus_cli, "kafka", "stop", timeout=120, extra_env=state)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


_USER_SUITE = """
import msgbus
import msgbus.testing


def test_in_process(msgbus_memory, msgbus_topic):
    reader = msgbus_memory.reader(msgbus_topic)
    msgbus_memory.writer(msgbus_topic).message_write("hello")
    assert reader.message_read(timeout=10) == "hello"


def test_mock_kafka(msgbus_mock_kafka, msgbus_topic):
    reader = msgbus.connect(msgbus_mock_kafka.config(msgbus_topic, msgbus.BusReader))
    writer = msgbus.connect(msgbus_mock_kafka.config(msgbus_topic, msgbus.BusWriter))
    try:
        writer.message_write("through librdkafka")
        assert reader.message_read(timeout=60) == "through librdkafka"
    finally:
        writer.disconnect()
        reader.disconnect()


def test_real_kafka(msgbus_kafka, msgbus_topic):
    assert isinstance(msgbus_kafka, msgbus.testing.LocalKafka)
    base = dict(topic=msgbus_topic, bootstrap_servers=msgbus_kafka.bootstrap_servers, offset_reset="earliest")
    with msgbus.connect(msgbus.MsgBusConfig(direction=msgbus.BusWriter, **base)) as writer:
        writer.message_write("through a broker")
    with msgbus.connect(msgbus.MsgBusConfig(direction=msgbus.BusReader, **base)) as reader:
        assert reader.message_read(timeout=120) == "through a broker"


def test_topics_are_the_tests_own(msgbus_topic):
    assert msgbus_topic.startswith("msgbus-test_topics_are_the_tests_own-")
"""


def documented_ini_line() -> str:
    """The ini line the plugin's docstring tells a user with pytest-asyncio to add."""
    lines = [line.strip() for line in (pytest_plugin.__doc__ or "").splitlines()]
    return next(line for line in lines if line.startswith("asyncio_default_fixture_loop_scope ="))


def test_a_users_suite_on_the_plugins_fixtures(release_venv: ReleaseVenv) -> None:
    suite = release_venv.workdir / "suite"
    suite.mkdir()
    (suite / "test_user.py").write_text(_USER_SUITE, encoding="utf-8")
    # pytest-asyncio is installed: its loop-scope warning needs the one ini line the plugin documents.
    (suite / "pytest.ini").write_text(f"[pytest]\n{documented_ini_line()}\n", encoding="utf-8")
    proc = release_venv.run(
        release_venv.python, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", "-q", suite, timeout=RUN_TIMEOUT
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "4 passed" in out and "warning" not in out.lower(), out


def test_a_users_module_type_checks_strictly_against_the_wheel(release_venv: ReleaseVenv) -> None:
    user = release_venv.workdir / "typed"
    user.mkdir()
    shutil.copy(Path(__file__).with_name("user_code.py"), user / "user_code.py")
    # A control that must fail: proves mypy sees the wheel's types, not Any for a missing module.
    (user / "misuse.py").write_text("import msgbus\n\nmsgbus.connect('not a config')\n", encoding="utf-8")
    mypy = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "--python-executable",
        str(release_venv.python),
    ]
    checked = subprocess.run([*mypy, "user_code.py"], cwd=user, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    misuse = subprocess.run([*mypy, "misuse.py"], cwd=user, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert misuse.returncode == 1 and 'incompatible type "str"' in misuse.stdout, misuse.stdout + misuse.stderr
    # And it runs, on the installed wheel.
    ran = release_venv.run(release_venv.python, user / "user_code.py", timeout=RUN_TIMEOUT)
    assert ran.returncode == 0 and "user code ok" in ran.stdout, ran.stdout + ran.stderr


def test_the_sdist_holds_what_a_user_needs_and_no_junk(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    for needed in (
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "pyproject.toml",
        "src/msgbus/py.typed",
        "src/msgbus/testing/_localkafka/kafka-pom.xml",
        "src/msgbus/testing/_localkafka/log4j2.properties",
        "src/msgbus/testing/pytest_plugin.py",
    ):
        assert needed in names, f"{needed} missing from {dist.sdist.name}"
    junk = re.compile(r"(^|/)(\.venv|\.results|\.hypothesis|\.mypy_cache|\.ruff_cache|__pycache__|\.git)(/|$)|\.pyc$")
    assert not [n for n in names if junk.search(n)]
    assert not [n for n in names if n.startswith(("dist/", "build/", "site/", "interop/bin/", "bench/results/"))]
