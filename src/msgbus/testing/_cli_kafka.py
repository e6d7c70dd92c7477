"""``msgbus kafka start|stop|status``: a detached local Kafka.

``start`` launches a :class:`LocalKafka` whose JVMs outlive this process and
records their pids, ports and data directory in a state file
(``$XDG_STATE_HOME/msgbus/localkafka-state.json``, else
``~/.cache/msgbus/localkafka-state.json``; ``$MSGBUS_STATE_DIR`` overrides the
directory).  ``stop`` kills them and deletes the data.

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
from msgbus.testing._processes import port_open
from msgbus.testing.localkafka import (
    HOST,
    MARKER_PROPERTY,
    KafkaStartupError,
    KafkaToolingError,
    LocalKafka,
)

__all__ = ["add_commands", "kafka_start", "kafka_status", "kafka_stop", "main", "run", "state_file"]

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


def kafka_stop(timeout: float = 10.0) -> bool:
    """Stop the recorded cluster and delete its data; False if nothing was recorded."""
    state = _read_state()
    if state is None:
        return False
    _stop_recorded(state, timeout)
    state_file().unlink(missing_ok=True)
    return True


def _stop_recorded(state: dict[str, Any], timeout: float) -> None:
    data_dir = str(state.get("data_dir", ""))
    pids = _alive_pids(state)
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
    if data_dir and Path(data_dir).name.startswith("msgbus-kafka-"):
        shutil.rmtree(data_dir, ignore_errors=True)


def kafka_start(nodes: int = 1, port: int | None = None) -> dict[str, Any]:
    """Start a detached cluster (or return the one already running).

    ``port``: node 1's client port (default: a free one).
    """
    status = kafka_status()
    if status is not None:
        if status["running"]:
            first = status["nodes"][0].get("port") if status["nodes"] else None
            if port is not None and first != port:
                raise KafkaStartupError(
                    f"a local Kafka is already running at {status['bootstrap_servers']}, "
                    f"not on port {port}; run `msgbus kafka stop` first"
                )
            status["already_running"] = True
            return dict(status)
        kafka_stop()  # stale or half-dead: clean it up first
    if port is not None:
        _check_port_free(port)
    kafka = LocalKafka(nodes, die_with_parent=False, port=port)
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
    start.add_argument("-n", "--nodes", type=int_in(1), default=1, help="cluster size (default 1)")
    start.add_argument("--port", type=int_in(1, 65535), default=None, help="node 1's client port (default: a free one)")
    start.add_argument("--print-env", action="store_true", help=env_help)
    status = commands.add_parser(
        "status",
        help="say whether it runs, and where (exit 0 running, 1 not)",
        description="Say whether the local Kafka runs (exit 0) or not (exit 1), and where: "
        "stdout 'local Kafka: running at HOST:PORT', stderr the export line as for start.",
    )
    status.add_argument("--print-env", action="store_true", help=env_help)
    commands.add_parser("stop", help="stop it and delete its data", description="Stop it and delete its data.")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a parsed ``msgbus kafka`` command."""
    try:
        if args.kafka_command == "start":
            state = kafka_start(args.nodes, args.port)
            if state.get("already_running"):
                err.write(f"msgbus kafka: a local Kafka is already running at {state['bootstrap_servers']}\n")
            _tell(state["bootstrap_servers"], state["bootstrap_servers"], args.print_env, out, err)
            return 0
        if args.kafka_command == "status":
            return _status(args.print_env, out, err)
        out.write("local Kafka stopped\n" if kafka_stop() else "local Kafka: not running\n")
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
        return int(_standalone_parser().parse_args(["start", *args]).nodes)
    except SystemExit:
        raise ValueError(f"bad arguments for start: {' '.join(args)!r}") from None
