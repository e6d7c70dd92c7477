"""The ``msgbus`` command: write and read messages, run a local Kafka.

Exit codes: 0 ok, 1 error (one line on stderr), 2 usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import NoReturn, TextIO

from . import _bus, _config
from ._errors import MsgBusError
from ._log import RETRY_RECORD_ATTR, set_logger
from ._version import __version__

# Messages per message_write_many call when generating a load.
_LOAD_CHUNK = 500
_BAR_WIDTH = 30
# A connect still under way after this many seconds says on stderr what it waits for.
_WAITING_AFTER = 1.0


class _UsageError(Exception):
    """A bad option or environment value: exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # The conventional usage line, then the one-line reason; exit code 2.
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise _UsageError(f"environment variable {name} is not a number: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    where = common.add_argument_group("where the bus is (options override the environment)")
    where.add_argument(
        "--bootstrap",
        default=os.environ.get("MSGBUS_BOOTSTRAP", ""),
        metavar="HOST:PORT[,HOST:PORT...]",
        help="brokers to bootstrap from; overrides --host/--port (env MSGBUS_BOOTSTRAP)",
    )
    where.add_argument(
        "--host",
        default=os.environ.get("MSGBUS_HOST") or "localhost",
        help="broker host (env MSGBUS_HOST; default localhost)",
    )
    where.add_argument(
        "--port",
        type=int,
        default=_env_int("MSGBUS_PORT", 9092),
        help="broker port (env MSGBUS_PORT; default 9092)",
    )
    topic = os.environ.get("MSGBUS_TOPIC") or None
    where.add_argument(
        "--topic",
        required=topic is None,
        default=topic,
        help="the topic to write to or read from (env MSGBUS_TOPIC)",
    )
    where.add_argument(
        "--retries", type=int, default=3, help="connect attempts before giving up (0: for ever; default 3)"
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log the library's warnings (retries, broker errors) on stderr"
    )

    parser = _Parser(
        prog="msgbus",
        description="Write and read messages on a Kafka message bus, or run a local Kafka.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage. Run 'msgbus COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"msgbus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    write = commands.add_parser(
        "write",
        parents=[common],
        help="write messages (the arguments, or one per line of stdin)",
        description="Write the MESSAGE arguments, or one message per line of stdin; "
        "or, with --count, a generated load with a progress bar.",
    )
    write.add_argument("messages", nargs="*", metavar="MESSAGE")
    write.add_argument("--nonblocking", action="store_true", help="queue the writes; disconnect flushes them")
    write.add_argument("--count", type=int, default=None, metavar="N", help="write N generated messages")
    write.add_argument(
        "--size", type=int, default=100, metavar="B", help="bytes per generated message (with --count; default 100)"
    )

    read = commands.add_parser(
        "read",
        parents=[common],
        help="print messages as they arrive, one per line",
        description="Print messages as they arrive, one per line (Ctrl-C stops).",
    )
    read.add_argument("--group", default="", help="consumer group to share the messages with (default: none)")
    read.add_argument(
        "--from-beginning", action="store_true", help="with no committed offset, start at the oldest message"
    )
    read.add_argument("-n", "--count", type=int, default=0, metavar="N", help="stop after N messages (default: never)")
    read.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="stop when no message came for S seconds"
    )
    read.add_argument(
        "--json", action="store_true", help="print a JSON object per message: topic, partition, offset, timestamp"
    )

    kafka = commands.add_parser(
        "kafka", help="start|stop|status [--nodes N]: a local Apache Kafka for development", add_help=False
    )
    kafka.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _check_args(args: argparse.Namespace) -> None:
    if args.command == "write" and args.count is not None:
        if args.count < 0:
            raise _UsageError("--count must be 0 or more")
        if args.size < 0:
            raise _UsageError("--size must be 0 or more")
        if args.messages:
            raise _UsageError("give either MESSAGE arguments or --count, not both")
    if args.command == "read":
        if args.count < 0:
            raise _UsageError("-n/--count must be 0 or more")
        if args.timeout is not None and not args.timeout > 0:
            raise _UsageError("--timeout must be a positive number of seconds")


def _config_for(args: argparse.Namespace, direction: _config.BusDir) -> _config.MsgBusConfig:
    return _config.MsgBusConfig(
        host=args.host,
        port=args.port,
        bootstrap_servers=args.bootstrap,
        topic=args.topic,
        direction=direction,
        blocking=_config.NonBlocking if getattr(args, "nonblocking", False) else _config.Blocking,
        connect_retries=args.retries,
        group_id=getattr(args, "group", ""),
        offset_reset="earliest" if getattr(args, "from_beginning", False) else "latest",
    )


def _lines(stream: Iterable[str]) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\r\n")


class _Progress:
    """A progress bar with the rate on stderr; redrawn in place on a terminal, else one summary line."""

    def __init__(self, total: int, size: int, stream: TextIO) -> None:
        self._total = total
        self._size = size
        self._stream = stream
        self._tty = stream.isatty()
        self._start = time.monotonic()
        self._drawn_at = 0.0

    def _line(self, done: int) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = done / elapsed
        filled = _BAR_WIDTH * done // self._total if self._total else _BAR_WIDTH
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        mbps = rate * self._size / 1e6
        return f"[{bar}] {done}/{self._total} {rate:,.0f} msg/s {mbps:.2f} MB/s {elapsed:.1f} s"

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self._tty and now - self._drawn_at >= 0.1:
            self._drawn_at = now
            self._stream.write("\r" + self._line(done))
            self._stream.flush()

    def finish(self, done: int) -> None:
        self._stream.write(("\r" if self._tty else "") + self._line(done) + "\n")
        self._stream.flush()


def _generated(count: int, size: int) -> Iterator[str]:
    for i in range(count):
        stamp = str(i)
        yield (stamp + " " + "x" * size)[:size] if size > len(stamp) else stamp[:size]


def _write(args: argparse.Namespace) -> int:
    with _connect(_config_for(args, _config.BusWriter)) as bus:
        if args.count is not None:
            progress = _Progress(args.count, args.size, sys.stderr)
            messages = _generated(args.count, args.size)
            done = 0
            while done < args.count:
                chunk = [next(messages) for _ in range(min(_LOAD_CHUNK, args.count - done))]
                done += bus.message_write_many(chunk)
                progress.update(done)
            bus.disconnect()  # the flush is part of the load
            progress.finish(done)
            return 0
        source: Iterable[str] = args.messages or _lines(sys.stdin)
        for message in source:
            bus.message_write(message)
    return 0


def _read(args: argparse.Namespace) -> int:
    count = 0
    out = sys.stdout
    with _connect(_config_for(args, _config.BusReader)) as bus:
        assert isinstance(bus, _bus.ReaderBase)
        while not args.count or count < args.count:
            item = bus._read_item(args.timeout)
            if item is None:
                break
            text, partition, offset, timestamp = item
            if args.json:
                record = {
                    "topic": args.topic,
                    "partition": partition,
                    "offset": offset,
                    "timestamp": timestamp if timestamp >= 0 else None,
                    "message": text,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                out.write(text + "\n")
            out.flush()
            count += 1
    return 0


class _Waiting(logging.Handler):
    """Says once, on stderr, what a connect waits for: without it the command looks hung."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self._stream = stream
        self._said = False
        self._say_lock = threading.Lock()

    def say(self, where: str, detail: str) -> None:
        with self._say_lock:
            if self._said:
                return
            self._said = True
        self._stream.write(f"msgbus: waiting for Kafka at {where} ({detail}); Ctrl-C stops\n")
        self._stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        retry = getattr(record, RETRY_RECORD_ATTR, None)
        if isinstance(retry, dict):
            of = retry["retries"] or "unlimited"
            self.say(retry["where"], f"attempt {retry['attempt']} of {of} failed: {retry['reason']}")


_waiting: _Waiting | None = None


def _connect(cfg: _config.MsgBusConfig) -> _bus.MsgBusIO:
    """connect(); if that takes a while (a broker that does not answer), stderr says what it waits for."""
    from ._kafka._settings import bootstrap_servers

    timer = None
    if _waiting is not None:
        timer = threading.Timer(_WAITING_AFTER, _waiting.say, (bootstrap_servers(cfg), "no answer yet"))
        timer.daemon = True
        timer.start()
    try:
        return _bus.connect(cfg)
    finally:
        if timer is not None:
            timer.cancel()


def _quiet_logs(verbose: bool) -> None:
    """By default only the final error line, and once what a connect waits for.

    With --verbose, the library's warnings (retries, broker errors) too.
    """
    global _waiting
    logger = logging.getLogger("msgbus.cli")
    logger.propagate = False
    for old in logger.handlers[:]:
        logger.removeHandler(old)
    _waiting = _Waiting(sys.stderr)
    logger.addHandler(_waiting)
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("msgbus: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    set_logger(logger)


def _fail(message: str, code: int) -> int:
    print(f"msgbus: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``msgbus`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        if args.command == "kafka":
            from .testing._cli_kafka import main as kafka_main

            return kafka_main(list(args.args))
        _check_args(args)
        _quiet_logs(args.verbose)
        return _write(args) if args.command == "write" else _read(args)
    except _UsageError as exc:
        return _fail(str(exc), 2)
    except MsgBusError as exc:
        return _fail(str(exc), 1)
    except BrokenPipeError:
        # The reader of our output went away (`msgbus read ... | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(str(exc), 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
