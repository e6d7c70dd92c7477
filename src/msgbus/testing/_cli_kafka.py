"""``msgbus kafka start|stop|restart|status``: a detached local Kafka.

``start`` launches a :class:`LocalKafka` whose JVMs outlive this process and
records their pids, ports and data directory in a state file
(``$XDG_STATE_HOME/msgbus/localkafka-state.json``, else
``~/.cache/msgbus/localkafka-state.json``; ``$MSGBUS_STATE_DIR`` overrides the
directory).  ``stop`` stops them and keeps the data (the state says
``stopped``), so that the next ``start`` (or ``restart``) brings back the same
cluster, with its topics and messages, on the same ports; ``stop --delete``
also deletes the data, so the next ``start`` makes a new, empty cluster.

The grammar is :func:`add_commands`, part of the ``msgbus`` command's argparse
tree; :func:`main` parses ``msgbus kafka``'s arguments on their own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from msgbus._cli_args import Parser, int_in
from msgbus.testing._processes import _Node, launch, port_open, wait_ports
from msgbus.testing.localkafka import (
    DEFAULT_JVM_FLAGS,
    HOST,
    MARKER_PROPERTY,
    KafkaStartupError,
    KafkaToolingError,
    LocalKafka,
    _require_java,
    default_kafka_version,
    ensure_jars,
)

__all__ = [
    "add_commands",
    "kafka_restart",
    "kafka_start",
    "kafka_status",
    "kafka_stop",
    "main",
    "run",
    "state_file",
]

# A resumed cluster's JVMs: as LocalKafka's defaults.
_HEAP_MB = 512
_STARTUP_TIMEOUT = 120.0

_HINT = "msgbus kafka: point msgbus and the examples at it with:\n  export MSGBUS_BOOTSTRAP={}\n"


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


def add_commands(kafka: argparse.ArgumentParser) -> None:
    """``start``, ``stop`` and ``status`` under ``kafka``."""
    commands = kafka.add_subparsers(dest="kafka_command", required=True, metavar="COMMAND", parser_class=Parser)
    env_help = 'print only `export MSGBUS_BOOTSTRAP=HOST:PORT`, for eval "$(msgbus kafka ...)"'
    start = commands.add_parser(
        "start",
        help="start a local Kafka that keeps running after this command",
        description="Start a local Apache Kafka (KRaft, loopback only) that keeps running after this "
        "command exits, or find the one already running. stdout: its bootstrap servers, HOST:PORT[,...]; "
        "stderr: the line that points msgbus at it (export MSGBUS_BOOTSTRAP=...).",
        epilog='Example: eval "$(msgbus kafka start --print-env)"; msgbus write --topic T hello',
    )
    start.add_argument("-n", "--nodes", type=int_in(1), default=None, help="cluster size (default 1)")
    start.add_argument("--port", type=int_in(1, 65535), default=None, help="node 1's client port (default: a free one)")
    start.add_argument(
        "--kafka-version",
        default=None,
        metavar="X.Y.Z",
        help="the Apache Kafka release to run, from Maven Central (default: $MSGBUS_KAFKA_VERSION, "
        f"else {default_kafka_version()}); the versions tested are in docs/brokers.md",
    )
    start.add_argument("--print-env", action="store_true", help=env_help)
    status = commands.add_parser(
        "status",
        help="say whether it runs, and where (exit 0 running, 1 not)",
        description="Say whether the local Kafka runs (exit 0) or not (exit 1), and where: "
        "stdout 'local Kafka: running at HOST:PORT', stderr the export line as for start.",
    )
    status.add_argument("--print-env", action="store_true", help=env_help)
    stop = commands.add_parser(
        "stop",
        help="stop it, keeping its data for the next start (--delete: delete the data too)",
        description="Stop it. Its data (topics, messages, committed offsets, its cluster id) is kept: the next "
        "`msgbus kafka start` or `restart` brings back the same cluster on the same ports. With --delete the data "
        "goes too, and the next start makes a new, empty cluster.",
    )
    stop.add_argument("--delete", action="store_true", help="delete its data as well")
    commands.add_parser(
        "restart",
        help="stop it and start it again, keeping its data and ports",
        description="Stop the local Kafka (if it runs) and start it again on the same data and ports: "
        "the same cluster, with its topics and messages.",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a parsed ``msgbus kafka`` command."""
    try:
        if args.kafka_command in ("start", "restart"):
            if args.kafka_command == "start":
                state = kafka_start(args.nodes, args.port, args.kafka_version)
            else:
                state = kafka_restart()
            if state.get("already_running"):
                err.write(f"msgbus kafka: a local Kafka is already running at {state['bootstrap_servers']}\n")
            elif state.get("resumed"):
                err.write("msgbus kafka: started the stopped local Kafka again, with its data\n")
            _tell(state["bootstrap_servers"], state["bootstrap_servers"], getattr(args, "print_env", False), out, err)
            return 0
        if args.kafka_command == "status":
            return _status(args.print_env, out, err)
        if kafka_stop(delete=args.delete):
            out.write(
                "local Kafka stopped, its data deleted\n" if args.delete else "local Kafka stopped, its data kept\n"
            )
        else:
            out.write("local Kafka: not running\n")
        return 0
    except (KafkaToolingError, KafkaStartupError) as exc:
        err.write(f"msgbus kafka: error: {exc}\n")
        return 1


def _tell(bootstrap: str, line: str, print_env: bool, out: TextIO, err: TextIO) -> None:
    # stdout stays one machine-readable line; the human hint goes to stderr.
    if print_env:
        out.write(f"export MSGBUS_BOOTSTRAP={shlex.quote(bootstrap)}\n")
    else:
        out.write(line + "\n")
        err.write(_HINT.format(shlex.quote(bootstrap)))
    out.flush()


def _status(print_env: bool, out: TextIO, err: TextIO) -> int:
    status = kafka_status()
    if status is not None and status["running"]:
        where = str(status["bootstrap_servers"])
        _tell(where, f"local Kafka: running at {where}", print_env, out, err)
        return 0
    if status is None:
        line = "local Kafka: not running\n"
    elif status.get("stopped"):
        line = (
            f"local Kafka: stopped, its data kept (`msgbus kafka start` brings it back at "
            f"{status.get('bootstrap_servers')}; `msgbus kafka stop --delete` drops it)\n"
        )
    else:
        line = (
            f"local Kafka: not running (stale state for {status.get('bootstrap_servers')}; "
            f"{len(status['alive_pids'])} JVM(s) alive; run `msgbus kafka stop`)\n"
        )
    # With --print-env, stdout is only ever an export line: eval gets nothing here.
    (err if print_env else out).write(line)
    return 1


def _standalone_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="msgbus kafka", description="A local Apache Kafka for development.")
    add_commands(parser)
    return parser


def main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point for ``msgbus kafka ...`` (``argv`` excludes ``kafka``); returns the exit code."""
    try:
        args = _standalone_parser().parse_args(list(argv))
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    return run(args, out or sys.stdout, err or sys.stderr)


def _parse_nodes(args: Sequence[str]) -> int:
    """``start``'s --nodes; ValueError for bad arguments (the old parser's interface)."""
    try:
        return int(_standalone_parser().parse_args(["start", *args]).nodes or 1)
    except SystemExit:
        raise ValueError(f"bad arguments for start: {' '.join(args)!r}") from None
