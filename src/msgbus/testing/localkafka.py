"""A real Apache Kafka (KRaft) cluster on loopback, run from Maven Central jars.

``LocalKafka`` resolves the broker jars once per Kafka version with Maven
(``kafka-pom.xml`` shipped in this package) into a cache directory, formats a
fresh data directory per start and launches one combined broker+controller
JVM per node.  It is meant for tests::

    with LocalKafka() as kafka:
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})

Every JVM is stopped when the context exits, when ``stop()`` is called, when
the object is garbage collected, or at interpreter exit, whichever is first.
"""

from __future__ import annotations

import atexit
import base64
import concurrent.futures
import contextlib
import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ._security import KafkaSecurity, SecurityPlan

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "KafkaStartupError",
    "KafkaToolingError",
    "LocalKafka",
]

logger = logging.getLogger("msgbus.testing")

DEFAULT_KAFKA_VERSION = "4.1.1"
HOST = "127.0.0.1"
_MIN_JAVA = 17
_INSTALL_HINT = "install a Java 17+ runtime and Maven, e.g. `apt-get install openjdk-17-jre-headless maven`"
#: JVM flags tuned for a quick start of a small test broker (C1 only starts
#: about 0.5 s faster; pass ``jvm_flags`` to LocalKafka for long perf runs).
DEFAULT_JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "-Djava.awt.headless=true",
)
#: System property put on every broker command line; lets the CLI recognise
#: its own JVMs in /proc before signalling a recorded pid.
MARKER_PROPERTY = "msgbus.localkafka"


class KafkaToolingError(RuntimeError):
    """Java or Maven is missing or unusable, or the jars could not be resolved."""


class KafkaStartupError(RuntimeError):
    """A broker process exited early or the cluster did not become ready."""


# --------------------------------------------------------------------------
# pure helpers (unit tested)
# --------------------------------------------------------------------------


def _new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding (22 characters).

    Never starting with '-': the storage tool would take such an id for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _quorum_voters(controller_ports: Sequence[int]) -> str:
    return ",".join(f"{i}@{HOST}:{p}" for i, p in enumerate(controller_ports, start=1))


def _broker_properties(
    node_id: int,
    ports: Sequence[tuple[int, int]],
    log_dir: str,
    extra: Mapping[str, object] | None = None,
) -> dict[str, str]:
    """Server properties for node ``node_id`` (1-based) of a static-quorum cluster.

    ``ports`` holds ``(client_port, controller_port)`` for every node, in
    node-id order; ``len(ports)`` is the cluster size.
    """
    nodes = len(ports)
    if not 1 <= node_id <= nodes:
        raise ValueError(f"node_id {node_id} outside 1..{nodes}")
    client_port, controller_port = ports[node_id - 1]
    rf = min(3, nodes)
    min_isr = 2 if nodes >= 3 else 1
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": _quorum_voters([c for _, c in ports]),
        "listeners": f"PLAINTEXT://{HOST}:{client_port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{client_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": log_dir,
        "auto.create.topics.enable": "true",
        "num.partitions": "1",
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(min_isr),
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "4",
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.num.partitions": "4",
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        # Small, quick-to-clean-up logs; nothing here is meant to be kept.
        "log.segment.bytes": str(64 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
    }
    # Notice a dead node within a few seconds rather than 9 s / 30 s.  Even on
    # one node this matters: a node restarted after SIGKILL cannot register
    # again until its old broker session has expired.
    props.update(
        {
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4000",
            "replica.lag.time.max.ms": "5000",
        }
    )
    if nodes > 1:
        props.update(
            {
                "controller.quorum.election.timeout.ms": "1000",
                "controller.quorum.fetch.timeout.ms": "2000",
            }
        )
    for key, value in (extra or {}).items():
        props[str(key)] = _prop_value(value)
    return props


def _prop_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _render_properties(props: Mapping[str, str]) -> str:
    """Java .properties text; escapes what the format treats specially."""

    def esc(text: str, key: bool) -> str:
        out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        if key:
            out = out.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ")
        return out

    lines = ["# generated by msgbus.testing.LocalKafka"]
    lines += [f"{esc(k, True)}={esc(v, False)}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets held open until all are known)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# tooling: java, mvn, jar cache
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# process handling
# --------------------------------------------------------------------------


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def _terminate_all(procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM all, wait up to ``timeout`` in total, SIGKILL the rest, reap."""
    for proc in procs:
        _signal(proc, signal.SIGTERM)
        _signal(proc, signal.SIGCONT)  # a paused JVM would never see the TERM
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.poll() is None:
            logger.warning("broker pid %d ignored SIGTERM for %.0fs: SIGKILL", proc.pid, timeout)
            _signal(proc, signal.SIGKILL)
            proc.wait()


def _die_with_parent_preexec(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl()
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


_PR_SET_PDEATHSIG = 1
_T = TypeVar("_T")

# Linux ties the parent-death signal to the *thread* that forked, not to the
# process: a JVM started from a short-lived thread (a threading.Timer, a
# worker) would be killed as soon as that thread ended. So JVMs are launched
# from the main thread, or else from this one long-lived launcher thread.
_launcher: concurrent.futures.ThreadPoolExecutor | None = None
_launcher_lock = threading.Lock()


def _on_long_lived_thread(launch: Callable[[], _T]) -> _T:
    global _launcher
    if threading.current_thread() is threading.main_thread():
        return launch()
    with _launcher_lock:
        if _launcher is None:
            _launcher = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="localkafka-launcher")
    return _launcher.submit(launch).result()


@dataclass
class _Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None
    # With security=True: the SSL (mutual TLS) and SASL_SSL listeners' ports.
    ssl_port: int = 0
    sasl_ssl_port: int = 0

    @property
    def properties_file(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.directory / "broker.log"

    @property
    def stdout_file(self) -> Path:
        return self.directory / "stdout.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def diagnostics(self) -> str:
        parts = []
        for path in (self.log_file, self.stdout_file):
            text = _tail(path)
            if text:
                parts.append(f"--- {path} (last lines) ---\n{text}")
        return "\n".join(parts) or "(no output)"


@dataclass
class _Runtime:
    """What must be cleaned up; shared with the finalizers (never holds the
    LocalKafka itself, so it can be garbage collected)."""

    nodes: list[_Node] = field(default_factory=list)
    data_dir: Path | None = None
    stop_timeout: float = 10.0

    def shutdown(self) -> None:
        procs = [n.proc for n in self.nodes if n.proc is not None]
        if procs:
            _terminate_all(procs, self.stop_timeout)
        for node in self.nodes:
            node.proc = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        self.nodes = []


# --------------------------------------------------------------------------
# LocalKafka
# --------------------------------------------------------------------------


class LocalKafka:
    """A throw-away Kafka cluster of ``nodes`` combined broker+controller JVMs."""

    host: str = HOST

    def __init__(
        self,
        nodes: int = 1,
        *,
        heap_mb: int = 512,
        cache_dir: str | os.PathLike[str] | None = None,
        kafka_version: str | None = None,
        startup_timeout: float = 120.0,
        extra_broker_props: dict[str, Any] | None = None,
        jvm_flags: Sequence[str] | None = None,
        stop_timeout: float = 10.0,
        die_with_parent: bool = True,
        security: bool = False,
        port: int | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        if heap_mb < 64:
            raise ValueError("heap_mb must be >= 64")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be from 1 to 65535, not {port}")
        #: Node 1's client port, if fixed (``msgbus kafka start --port``); else every port is a free one.
        self.fixed_port = port
        self.nodes = nodes
        self.heap_mb = heap_mb
        self.kafka_version = kafka_version or DEFAULT_KAFKA_VERSION
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(self.kafka_version)
        self.startup_timeout = startup_timeout
        self.extra_broker_props = dict(extra_broker_props or {})
        self.jvm_flags = tuple(DEFAULT_JVM_FLAGS if jvm_flags is None else jvm_flags)
        # atexit/finalize do not run when Python itself is SIGKILLed or dies of
        # an unhandled SIGTERM (e.g. `timeout`): on Linux the kernel then kills
        # the JVMs too (PR_SET_PDEATHSIG).  Caveat: the death signal follows the
        # *thread* that launched the JVM, so start from a long-lived thread.
        self.die_with_parent = die_with_parent
        # security=True adds TLS (mutual) and SASL_SSL (SCRAM-SHA-512) listeners and ACLs
        # (see _security.py); what clients need is in .security once started.
        self.secure = security
        self.security: KafkaSecurity | None = None
        self._security_plan: SecurityPlan | None = None
        self.cluster_id: str | None = None
        self.startup_seconds: float | None = None
        self._lib: Path | None = None
        self._java: str | None = None
        self._admin_client: Any = None
        self._rt = _Runtime(stop_timeout=stop_timeout)
        self._finalizer = weakref.finalize(self, self._rt.shutdown)
        self._atexit_registered = False

    # -- addresses -------------------------------------------------------

    def _require_started(self) -> list[_Node]:
        if not self._rt.nodes:
            raise RuntimeError("LocalKafka is not started")
        return self._rt.nodes

    @property
    def port(self) -> int:
        """Client port of node 1."""
        return self._require_started()[0].port

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self._require_started()]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{HOST}:{n.port}" for n in self._require_started())

    @property
    def data_dir(self) -> Path | None:
        return self._rt.data_dir

    @property
    def pids(self) -> dict[int, int | None]:
        """Kafka node id -> pid of its running JVM (None when it is down)."""
        return {n.node_id: (n.proc.pid if n.alive() and n.proc else None) for n in self._rt.nodes}

    @property
    def running(self) -> bool:
        return bool(self._rt.nodes)

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.bootstrap_servers if self.running else "stopped"
        return f"LocalKafka(nodes={self.nodes}, {state})"

    def start(self) -> LocalKafka:
        """Resolve jars (first use), format and launch all nodes, wait until ready."""
        if self._rt.nodes:
            raise RuntimeError("LocalKafka is already started")
        self._java = _require_java()
        self._lib = ensure_jars(self.kafka_version, self.cache_dir)
        if not self._atexit_registered:
            atexit.register(self._rt.shutdown)
            self._atexit_registered = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        data_dir = Path(tempfile.mkdtemp(prefix="msgbus-kafka-"))
        self._rt.data_dir = data_dir
        self.cluster_id = _new_cluster_id()
        flat = _free_ports((4 if self.secure else 2) * self.nodes)
        if self.fixed_port is not None:
            flat = [self.fixed_port, *[p for p in flat if p != self.fixed_port][: len(flat) - 1]]
        ports = [(flat[2 * i], flat[2 * i + 1]) for i in range(self.nodes)]
        plan = SecurityPlan(data_dir / "tls") if self.secure else None
        if plan is not None:
            plan.make_files()
        self._security_plan = plan
        log_config = data_dir / "log4j2.properties"
        log_config.write_text(_package_text("log4j2.properties"), encoding="utf-8")
        for node_id in range(1, self.nodes + 1):
            node_dir = data_dir / f"node-{node_id}"
            (node_dir / "data").mkdir(parents=True)
            node = _Node(node_id, ports[node_id - 1][0], ports[node_id - 1][1], node_dir)
            extra = dict(self.extra_broker_props)
            if plan is not None:
                base = 2 * self.nodes + 2 * (node_id - 1)
                node.ssl_port, node.sasl_ssl_port = flat[base], flat[base + 1]
                extra = plan.broker_properties(node.port, node.controller_port, node.ssl_port, node.sasl_ssl_port)
                extra.update(self.extra_broker_props)
            props = _broker_properties(node_id, ports, str(node_dir / "data"), extra)
            node.properties_file.write_text(_render_properties(props), encoding="utf-8")
            self._rt.nodes.append(node)
        self._format_all()

        t0 = time.monotonic()
        for node in self._rt.nodes:  # launch all before waiting on any
            self._launch(node)
        deadline = t0 + self.startup_timeout
        self._wait_ports(self._rt.nodes, deadline)
        self._wait_metadata(deadline)
        if plan is not None:
            plan.create_acls(self._admin())
            self.create_topic(plan.allowed_topic)
            self.security = plan.info([n.ssl_port for n in self._rt.nodes], [n.sasl_ssl_port for n in self._rt.nodes])
        self.startup_seconds = time.monotonic() - t0
        logger.info(
            "Kafka %s cluster of %d node(s) ready at %s in %.2fs (data %s)",
            self.kafka_version,
            self.nodes,
            self.bootstrap_servers,
            self.startup_seconds,
            data_dir,
        )

    def _classpath(self) -> str:
        assert self._lib is not None
        return str(self._lib / "*")

    def _format_all(self) -> None:
        assert self._java is not None and self.cluster_id is not None
        for node in self._rt.nodes:
            cmd = [
                self._java,
                "-Xshare:auto",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={self._log_config()}",
                f"-Dmsgbus.kafka.logfile={node.directory / 'format.log'}",
                "-cp",
                self._classpath(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id,
                "-c",
                str(node.properties_file),
            ]
            if self._security_plan is not None:
                cmd += self._security_plan.scram_format_args()
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode != 0:
                out = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
                raise KafkaStartupError(f"formatting node {node.node_id} failed (exit {proc.returncode}):\n{out}")

    def _log_config(self) -> Path:
        assert self._rt.data_dir is not None
        return self._rt.data_dir / "log4j2.properties"

    def _launch(self, node: _Node) -> None:
        assert self._java is not None and self._rt.data_dir is not None
        xms = min(256, self.heap_mb)
        cmd = [
            self._java,
            f"-Xms{xms}m",
            f"-Xmx{self.heap_mb}m",
            *self.jvm_flags,
            f"-Dlog4j2.configurationFile={self._log_config()}",
            f"-Dmsgbus.kafka.logfile={node.log_file}",
            f"-D{MARKER_PROPERTY}={self._rt.data_dir}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(node.properties_file),
        ]
        preexec = _die_with_parent_preexec(os.getpid()) if self.die_with_parent else None
        with open(node.stdout_file, "ab") as out:
            node.proc = _on_long_lived_thread(
                lambda: subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=node.directory,
                    start_new_session=True,
                    preexec_fn=preexec,
                )
            )
        logger.debug("launched node %d pid %d port %d", node.node_id, node.proc.pid, node.port)

    def _wait_ports(self, nodes: Sequence[_Node], deadline: float) -> None:
        pending = list(nodes)
        while pending:
            for node in list(pending):
                if node.proc is None or node.proc.poll() is not None:
                    code = node.proc.returncode if node.proc is not None else None
                    raise KafkaStartupError(
                        f"Kafka node {node.node_id} exited early (exit code {code}):\n{node.diagnostics()}"
                    )
                if _port_open(node.port, timeout=0.25):
                    pending.remove(node)
            if not pending:
                return
            if time.monotonic() > deadline:
                details = "\n".join(n.diagnostics() for n in pending)
                raise KafkaStartupError(
                    f"Kafka node(s) {[n.node_id for n in pending]} did not open their client "
                    f"port within {self.startup_timeout:.0f}s:\n{details}"
                )
            time.sleep(0.05)

    def _admin(self) -> Any:
        if self._admin_client is None:
            from confluent_kafka.admin import AdminClient

            self._admin_client = AdminClient(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "log.connection.close": False,
                    "reconnect.backoff.max.ms": 1000,
                },
                logger=logging.getLogger("msgbus.testing.librdkafka"),
            )
        return self._admin_client

    def _wait_metadata(self, deadline: float) -> None:
        from confluent_kafka import KafkaException

        expected = {n.node_id for n in self._rt.nodes if n.alive()}
        last: object = None
        while True:
            try:
                md = self._admin().list_topics(timeout=5)
                brokers = set(md.brokers)
                if expected <= brokers:
                    return
                last = f"brokers in metadata: {sorted(brokers)}, expected {sorted(expected)}"
            except KafkaException as exc:  # keep trying until the deadline
                last = exc
            for node in self._rt.nodes:
                if node.node_id in expected and not node.alive():
                    raise KafkaStartupError(f"Kafka node {node.node_id} exited during start-up:\n{node.diagnostics()}")
            if time.monotonic() > deadline:
                raise KafkaStartupError(f"cluster metadata not ready in time: {last}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every JVM (SIGTERM, SIGKILL after the stop timeout) and delete the
        data directory.  Safe to call more than once."""
        self._admin_client = None
        self.security = None
        if not self._rt.nodes and self._rt.data_dir is None:
            return
        t0 = time.monotonic()
        count = len(self._rt.nodes)
        self._rt.shutdown()
        logger.info("stopped Kafka cluster of %d node(s) in %.2fs", count, time.monotonic() - t0)

    def detach(self) -> dict[str, Any]:
        """Leave the running JVMs alone from now on (no stop at exit); returns
        what is needed to find and stop them later (used by the CLI)."""
        nodes = self._require_started()
        state: dict[str, Any] = {
            "kafka_version": self.kafka_version,
            "cluster_id": self.cluster_id,
            "bootstrap_servers": self.bootstrap_servers,
            "data_dir": str(self._rt.data_dir),
            "startup_seconds": self.startup_seconds,
            "nodes": [
                {
                    "id": n.node_id,
                    "pid": n.proc.pid if n.proc is not None else None,
                    "port": n.port,
                    "controller_port": n.controller_port,
                    "log": str(n.log_file),
                }
                for n in nodes
            ],
        }
        self._admin_client = None
        self._finalizer.detach()
        if self._atexit_registered:
            atexit.unregister(self._rt.shutdown)
            self._atexit_registered = False
        self._rt = _Runtime(stop_timeout=self._rt.stop_timeout)
        self._finalizer = weakref.finalize(self, self._rt.shutdown)
        return state

    # -- node control (node ids are 1..nodes) ------------------------------

    def _node(self, node_id: int) -> _Node:
        for node in self._require_started():
            if node.node_id == node_id:
                return node
        raise ValueError(f"no node {node_id}: nodes are 1..{self.nodes}")

    def kill_node(self, node_id: int) -> None:
        """SIGKILL a node (a crash)."""
        node = self._node(node_id)
        if node.proc is not None:
            _signal(node.proc, signal.SIGKILL)
            node.proc.wait()
        logger.info("killed Kafka node %d", node_id)

    def stop_node(self, node_id: int, timeout: float | None = None) -> None:
        """SIGTERM a node (controlled shutdown) and wait; SIGKILL after ``timeout``."""
        node = self._node(node_id)
        if node.proc is not None:
            t0 = time.monotonic()
            _terminate_all([node.proc], self._rt.stop_timeout if timeout is None else timeout)
            logger.info("stopped Kafka node %d in %.2fs", node_id, time.monotonic() - t0)

    def start_node(self, node_id: int, timeout: float | None = None) -> None:
        """Restart a stopped/killed node on its old ports and data; wait for its port."""
        node = self._node(node_id)
        if node.alive():
            raise RuntimeError(f"Kafka node {node_id} is still running")
        t0 = time.monotonic()
        self._launch(node)
        self._wait_ports([node], t0 + (self.startup_timeout if timeout is None else timeout))
        logger.info("restarted Kafka node %d in %.2fs", node_id, time.monotonic() - t0)

    def pause_node(self, node_id: int) -> None:
        """SIGSTOP a node (it hangs without closing its sockets)."""
        node = self._node(node_id)
        if node.proc is not None:
            _signal(node.proc, signal.SIGSTOP)

    def resume_node(self, node_id: int) -> None:
        node = self._node(node_id)
        if node.proc is not None:
            _signal(node.proc, signal.SIGCONT)

    # -- admin helpers -----------------------------------------------------

    def leader(self, topic: str, partition: int = 0, timeout: float = 10.0) -> int:
        """Node id of the current leader of ``topic``/``partition`` (-1: none)."""
        md = self._admin().list_topics(topic=topic, timeout=timeout)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            raise KeyError(f"topic {topic!r} not found: {tmd.error if tmd else 'no metadata'}")
        pmd = tmd.partitions.get(partition)
        if pmd is None:
            raise KeyError(f"topic {topic!r} has no partition {partition}")
        return int(pmd.leader)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int | None = None,
        config: Mapping[str, object] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create a topic and wait until every partition has a leader."""
        from confluent_kafka.cimpl import NewTopic

        rf = min(3, self.nodes) if replication_factor is None else replication_factor
        new = NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=rf,
            config={k: _prop_value(v) for k, v in (config or {}).items()},
        )
        futures = self._admin().create_topics([new], operation_timeout=timeout)
        futures[name].result(timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            md = self._admin().list_topics(topic=name, timeout=timeout)
            tmd = md.topics.get(name)
            if (
                tmd is not None
                and tmd.error is None
                and len(tmd.partitions) == partitions
                and all(p.leader >= 0 for p in tmd.partitions.values())
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name!r} has no leader for every partition yet")
            time.sleep(0.1)
