"""``msgbus kafka start|stop|status [--nodes N]``: a detached local Kafka.

``start`` launches a :class:`LocalKafka` whose JVMs outlive this process and
records their pids, ports and data directory in a state file
(``$XDG_STATE_HOME/msgbus/localkafka-state.json``, else
``~/.cache/msgbus/localkafka-state.json``; ``$MSGBUS_STATE_DIR`` overrides the
directory).  ``stop`` kills them and deletes the data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from msgbus.testing.localkafka import (
    MARKER_PROPERTY,
    KafkaStartupError,
    KafkaToolingError,
    LocalKafka,
    _port_open,
)

__all__ = ["kafka_start", "kafka_status", "kafka_stop", "main", "state_file"]

USAGE = """usage: msgbus kafka start [--nodes N] | stop | status

  start   start a local Kafka cluster (N nodes, default 1) that keeps running
          after this command exits; prints its bootstrap servers
  status  report whether it is running (exit 0) or not (exit 1)
  stop    stop it and delete its data
"""


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
    ports_ok = all(isinstance(n, dict) and isinstance(n.get("port"), int) and _port_open(n["port"]) for n in nodes)
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


def kafka_start(nodes: int = 1) -> dict[str, Any]:
    """Start a detached cluster (or return the one already running)."""
    status = kafka_status()
    if status is not None:
        if status["running"]:
            status["already_running"] = True
            return dict(status)
        kafka_stop()  # stale or half-dead: clean it up first
    kafka = LocalKafka(nodes, die_with_parent=False)
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


def _parse_nodes(args: Sequence[str]) -> int:
    nodes = 1
    it = iter(args)
    for arg in it:
        if arg in ("--nodes", "-n"):
            value = next(it, None)
            if value is None:
                raise ValueError(f"{arg} needs a value")
        elif arg.startswith("--nodes="):
            value = arg.split("=", 1)[1]
        else:
            raise ValueError(f"unexpected argument {arg!r}")
        try:
            nodes = int(value)
        except ValueError:
            raise ValueError(f"--nodes expects an integer, got {value!r}") from None
        if nodes < 1:
            raise ValueError("--nodes must be >= 1")
    return nodes


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point for ``msgbus kafka ...`` (``argv`` excludes ``kafka``)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv or argv[0] in ("-h", "--help", "help"):
        (out if argv else err).write(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "start":
            state = kafka_start(_parse_nodes(rest))
            if state.get("already_running"):
                err.write("a local Kafka is already running\n")
            out.write(f"{state['bootstrap_servers']}\n")
            return 0
        if rest:
            raise ValueError(f"`{command}` takes no arguments")
        if command == "status":
            status = kafka_status()
            if status is None:
                out.write("local Kafka: not running\n")
                return 1
            if status["running"]:
                out.write(f"local Kafka: running at {status['bootstrap_servers']}\n")
                return 0
            out.write(
                f"local Kafka: not running (stale state for {status.get('bootstrap_servers')}; "
                f"{len(status['alive_pids'])} JVM(s) alive; run `msgbus kafka stop`)\n"
            )
            return 1
        if command == "stop":
            out.write("local Kafka stopped\n" if kafka_stop() else "local Kafka: not running\n")
            return 0
        raise ValueError(f"unknown command {command!r}")
    except ValueError as exc:
        err.write(f"msgbus kafka: {exc}\n{USAGE}")
        return 2
    except (KafkaToolingError, KafkaStartupError) as exc:
        err.write(f"msgbus kafka: {exc}\n")
        return 1
