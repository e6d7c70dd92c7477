"""A detached local Kafka for ``msgbus kafka``: start, stop, restart and status, and the state file.

``kafka_start`` launches a :class:`LocalKafka` whose JVMs outlive this process and
records their pids, ports and data directory in a state file
(``$XDG_STATE_HOME/msgbus/localkafka-state.json``, else
``~/.cache/msgbus/localkafka-state.json``; ``$MSGBUS_STATE_DIR`` overrides the
directory).  ``kafka_stop`` stops them and keeps the data (the state says
``stopped``), so that the next start (or ``kafka_restart``) brings back the same
cluster, with its topics and messages, on the same ports; ``delete=True``
also deletes the data, so the next start makes a new, empty cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

from msgbus.testing._localkafka.broker_props import HOST
from msgbus.testing._localkafka.cluster import DEFAULT_JVM_FLAGS, LocalKafka
from msgbus.testing._localkafka.maven import _require_java, default_kafka_version, ensure_jars
from msgbus.testing._localkafka.processes import (
    MARKER_PROPERTY,
    KafkaStartupError,
    _Node,
    launch,
    port_open,
    wait_ports,
)

__all__ = ["kafka_restart", "kafka_start", "kafka_status", "kafka_stop", "state_file"]

# A resumed cluster's JVMs: as LocalKafka's defaults.
_HEAP_MB = 512
_STARTUP_TIMEOUT = 120.0


def state_file() -> Path:
    base = os.environ.get("MSGBUS_STATE_DIR")
    if base:
        root = Path(base).expanduser()
    elif os.environ.get("XDG_STATE_HOME"):
        root = Path(os.environ["XDG_STATE_HOME"]).expanduser() / "msgbus"
    else:
        root = Path.home() / ".cache" / "msgbus"
    return root / "localkafka-state.json"


def _read_state() -> dict[str, Any] | None:
    path = state_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treated as stale
    return data if isinstance(data, dict) else {}


def _write_state(state: dict[str, Any]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _is_our_jvm(pid: int, data_dir: str) -> bool:
    """True if ``pid`` is alive (not a zombie) and is a broker we started."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
        _reap(pid)
        return False
    marker = f"-D{MARKER_PROPERTY}={data_dir}".encode()
    return marker in cmdline and b"kafka.Kafka" in cmdline


def _reap(pid: int) -> None:
    # The JVMs are our children when start and stop run in one process (tests).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _node_pids(state: dict[str, Any]) -> list[int]:
    pids: list[int] = []
    for node in state.get("nodes", []):
        pid = node.get("pid") if isinstance(node, dict) else None
        if isinstance(pid, int):
            pids.append(pid)
    return pids


def _alive_pids(state: dict[str, Any]) -> list[int]:
    data_dir = str(state.get("data_dir", ""))
    return [pid for pid in _node_pids(state) if _is_our_jvm(pid, data_dir)]


def kafka_status() -> dict[str, Any] | None:
    """None when no cluster was started; else the recorded state plus
    ``running`` (all nodes alive and accepting) and ``alive_pids``."""
    state = _read_state()
    if state is None:
        return None
    alive = _alive_pids(state)
    nodes = state.get("nodes", [])
    ports_ok = all(isinstance(n, dict) and isinstance(n.get("port"), int) and port_open(n["port"]) for n in nodes)
    status = dict(state)
    status["alive_pids"] = alive
    status["running"] = bool(nodes) and len(alive) == len(nodes) and ports_ok
    return status


def kafka_stop(timeout: float = 10.0, delete: bool = False) -> bool:
    """Stop the recorded cluster, keeping its data for the next start unless ``delete``; False if none was recorded."""
    state = _read_state()
    if state is None:
        return False
    _stop_recorded(state, timeout, delete=delete or not _resumable(state))
    if delete or not _resumable(state):
        state_file().unlink(missing_ok=True)
    else:
        state["stopped"] = True
        _write_state(state)
    return True


def kafka_restart(timeout: float = 10.0) -> dict[str, Any]:
    """Stop the recorded cluster (if it runs) and start it again on its data and ports."""
    state = _read_state()
    if not state or not _resumable(state):
        raise KafkaStartupError("no local Kafka with its data is recorded: run `msgbus kafka start`")
    kafka_stop(timeout)
    return kafka_start()


def _resumable(state: dict[str, Any]) -> bool:
    """The state names a data directory of ours that is still there, and every node's ports."""
    data_dir = str(state.get("data_dir", ""))
    nodes = state.get("nodes")
    return (
        bool(data_dir)
        and Path(data_dir).name.startswith("msgbus-kafka-")
        and Path(data_dir).is_dir()
        and isinstance(nodes, list)
        and bool(nodes)
        and all(isinstance(n, dict) and isinstance(n.get("port"), int) for n in nodes)
        and all(isinstance(n.get("controller_port"), int) and isinstance(n.get("id"), int) for n in nodes)
    )


def _resume(state: dict[str, Any]) -> dict[str, Any]:
    """Launch the recorded cluster's nodes again on their data and ports (after ``stop`` kept them)."""
    java = _require_java()
    version = str(state.get("kafka_version") or default_kafka_version())
    classpath = str(ensure_jars(version) / "*")
    data_dir = Path(str(state["data_dir"]))
    nodes = [_Node(n["id"], n["port"], n["controller_port"], data_dir / f"node-{n['id']}") for n in state["nodes"]]
    for node in nodes:
        _check_port_free(node.port)
    t0 = time.monotonic()
    try:
        for node in nodes:
            launch(
                node,
                java,
                classpath,
                data_dir / "log4j2.properties",
                data_dir,
                heap_mb=_HEAP_MB,
                jvm_flags=DEFAULT_JVM_FLAGS,
                die_with_parent=False,
            )
        wait_ports(nodes, t0 + _STARTUP_TIMEOUT, _STARTUP_TIMEOUT)
    except BaseException:
        _terminate([node.proc.pid for node in nodes if node.proc is not None], str(data_dir), 10.0)
        raise
    for record, node in zip(state["nodes"], nodes, strict=True):
        record["pid"] = node.proc.pid if node.proc is not None else None
    state.pop("stopped", None)
    state["startup_seconds"] = time.monotonic() - t0
    state["started_at"] = time.time()
    _write_state(state)
    return state


def _stop_recorded(state: dict[str, Any], timeout: float, delete: bool = True) -> None:
    data_dir = str(state.get("data_dir", ""))
    _terminate(_alive_pids(state), data_dir, timeout)
    if delete and data_dir and Path(data_dir).name.startswith("msgbus-kafka-"):
        shutil.rmtree(data_dir, ignore_errors=True)


def _terminate(pids: list[int], data_dir: str, timeout: float) -> None:
    """SIGTERM (a controlled shutdown: the data stays consistent), SIGKILL after ``timeout``."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_is_our_jvm(p, data_dir) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if _is_our_jvm(pid, data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(_is_our_jvm(p, data_dir) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        _reap(pid)


def _differs(state: dict[str, Any], nodes: int | None, port: int | None, kafka_version: str | None) -> str | None:
    """How the recorded cluster differs from the one asked for (None: it does not)."""
    recorded = state.get("nodes") or []
    first = recorded[0].get("port") if recorded and isinstance(recorded[0], dict) else None
    if port is not None and first != port:
        return f"not on port {port}"
    if nodes is not None and len(recorded) != nodes:
        return f"of {len(recorded)} node(s), not {nodes}"
    if kafka_version is not None and state.get("kafka_version") != kafka_version:
        return f"of Kafka {state.get('kafka_version')}, not {kafka_version}"
    return None


def kafka_start(nodes: int | None = None, port: int | None = None, kafka_version: str | None = None) -> dict[str, Any]:
    """Start a detached cluster: the one already running, the stopped one whose data ``stop`` kept, or a new one.

    ``nodes`` (default 1), ``port`` (node 1's client port; default a free one) and
    ``kafka_version`` (default: $MSGBUS_KAFKA_VERSION, else LocalKafka's) are for a
    new cluster; a recorded one must match those given.
    """
    status = kafka_status()
    if status is not None:
        differs = _differs(status, nodes, port, kafka_version)
        if status["running"]:
            if differs:
                raise KafkaStartupError(
                    f"a local Kafka is already running at {status['bootstrap_servers']}, "
                    f"{differs}; run `msgbus kafka stop --delete` first"
                )
            status["already_running"] = True
            return dict(status)
        if status.get("stopped") and _resumable(status):
            if differs:
                raise KafkaStartupError(
                    f"the stopped local Kafka at {status.get('bootstrap_servers')} is {differs}; "
                    "run `msgbus kafka stop --delete` to drop it and its data first"
                )
            _terminate(status["alive_pids"], str(status.get("data_dir", "")), 10.0)  # a half-started one
            state = _resume({k: v for k, v in status.items() if k not in ("alive_pids", "running")})
            state["running"] = True
            state["already_running"] = False
            state["resumed"] = True
            return state
        kafka_stop(delete=True)  # stale or half-dead: clean it up first
    if port is not None:
        _check_port_free(port)
    kafka = LocalKafka(nodes or 1, die_with_parent=False, port=port, kafka_version=kafka_version)
    kafka.start()
    state = kafka.detach()
    state["started_at"] = time.time()
    try:
        _write_state(state)
    except BaseException:
        _stop_recorded(state, 10.0)
        raise
    state["running"] = True
    state["already_running"] = False
    return state


def _check_port_free(port: int) -> None:
    """A clear error now, rather than a JVM that fails to bind later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the JVM binds: SO_REUSEADDR, so that a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise KafkaStartupError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
