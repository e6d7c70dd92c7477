"""``msgbus kafka start|stop|restart|status``: the verb over ``testing/_localkafka/daemon``'s detached local Kafka.

``stop`` keeps the data (the next ``start`` or ``restart`` brings back the same
cluster); ``stop --delete`` also deletes it. The grammar is :func:`add_commands`,
part of the ``msgbus`` command's argparse tree; :func:`main` parses ``msgbus
kafka``'s arguments on their own.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import TextIO

from msgbus._cli.args import Parser, int_in
from msgbus.testing._localkafka.daemon import (
    kafka_restart,
    kafka_start,
    kafka_status,
    kafka_stop,
    state_file,
)
from msgbus.testing.localkafka import KafkaStartupError, KafkaToolingError, default_kafka_version

_HINT = "msgbus kafka: point msgbus and the examples at it with:\n  export MSGBUS_BOOTSTRAP={}\n"

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
