"""The ``msgbus`` command: write and read messages, run a local Kafka."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence

from . import _bus, _config
from ._errors import MsgBusError
from ._version import __version__


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--host",
        default=os.environ.get("MSGBUS_HOST", "localhost"),
        help="broker host (env MSGBUS_HOST; default localhost)",
    )
    common.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("MSGBUS_PORT", "9092")),
        help="broker port (env MSGBUS_PORT; default 9092)",
    )
    common.add_argument("--topic", required=True, help="the topic to write to or read from")
    common.add_argument(
        "--retries", type=int, default=3, help="connect attempts before giving up (0: for ever; default 3)"
    )

    parser = argparse.ArgumentParser(
        prog="msgbus", description="Write and read messages on a Kafka message bus, or run a local Kafka."
    )
    parser.add_argument("--version", action="version", version=f"msgbus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    write = commands.add_parser(
        "write", parents=[common], help="write messages (the arguments, or one per line of stdin)"
    )
    write.add_argument("messages", nargs="*", metavar="MESSAGE")
    write.add_argument("--nonblocking", action="store_true", help="queue the writes; disconnect flushes them")

    read = commands.add_parser("read", parents=[common], help="print messages as they arrive, one per line")
    read.add_argument("--group", default="", help="consumer group to share the messages with (default: none)")
    read.add_argument("-n", "--count", type=int, default=0, help="stop after N messages (default: never)")
    read.add_argument("--timeout", type=float, default=None, help="stop when no message came for this many seconds")

    kafka = commands.add_parser(
        "kafka", help="start|stop|status [--nodes N]: a local Apache Kafka for development", add_help=False
    )
    kafka.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _config_for(args: argparse.Namespace, direction: _config.BusDir) -> _config.MsgBusConfig:
    return _config.MsgBusConfig(
        host=args.host,
        port=args.port,
        topic=args.topic,
        direction=direction,
        blocking=_config.NonBlocking if getattr(args, "nonblocking", False) else _config.Blocking,
        connect_retries=args.retries,
        group_id=getattr(args, "group", ""),
    )


def _lines(stream: Iterable[str]) -> Iterable[str]:
    for line in stream:
        yield line.rstrip("\n")


def _write(args: argparse.Namespace) -> int:
    messages: Iterable[str] = args.messages or _lines(sys.stdin)
    with _bus.connect(_config_for(args, _config.BusWriter)) as bus:
        for message in messages:
            bus.message_write(message)
    return 0


def _read(args: argparse.Namespace) -> int:
    count = 0
    with _bus.connect(_config_for(args, _config.BusReader)) as bus:
        while not args.count or count < args.count:
            message = bus.message_read(timeout=args.timeout)
            if message is None:
                break
            print(message, flush=True)
            count += 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command == "kafka":
        from .testing._cli_kafka import main as kafka_main

        return kafka_main(list(args.args))
    try:
        return _write(args) if args.command == "write" else _read(args)
    except MsgBusError as exc:
        print(f"msgbus: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
