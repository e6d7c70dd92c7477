"""The ``msgbus`` command: write and read messages, run a local Kafka.

Exit codes: 0 ok (also when the reader of ``msgbus read``'s output goes away),
1 error (one line on stderr), 2 usage (a bad option or environment value), 130 interrupted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import select
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

from . import _config
from ._cli_args import Parser, bound_text, int_in
from ._cli_connect import connect as _connect
from ._cli_connect import quiet_logs as _quiet_logs
from ._errors import ConfigError, MsgBusError
from ._record import Record
from ._version import __version__

# Messages per message_write_many call when generating a load.
_LOAD_CHUNK = 500
_BAR_WIDTH = 30
# Progress on a terminal is redrawn at most this often (seconds).
_REDRAW = 0.2
# A reader waits at most this long for a message before it looks whether its stdout is gone.
_READ_SLICE = 0.2

_READ_EPILOG = """\
Output is UTF-8 whatever the locale. Plain: each message's bytes exactly as on the bus, then a
newline (bytes that are not UTF-8 pass through unchanged). --json: one object per line,
{"topic", "partition", "offset", "timestamp", "message"}; when a message's bytes are not valid
UTF-8, "message" has U+FFFD for each bad sequence and "message_b64" (only then) holds the
exact bytes in base64. When the reader of the output goes away (msgbus read | head -2), the
command ends at once with exit code 0, also while no message comes."""

_WRITE_EPILOG = """\
stdin is read as bytes: each line, without its "\\n" or "\\r\\n", goes to the bus byte for byte,
UTF-8 or not. On a terminal, stderr shows the count and the rate. Exit code 0: the broker
acknowledged every message (with --nonblocking: the final flush delivered them all)."""

_WHERE = """\
Where the bus is: an option beats the environment, and MSGBUS_BOOTSTRAP beats MSGBUS_HOST and
MSGBUS_PORT. 'msgbus kafka start' prints the line to paste: export MSGBUS_BOOTSTRAP=HOST:PORT."""


class _UsageError(Exception):
    """A bad option or environment value: exit code 2."""


def _env_int(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _UsageError(f"environment variable {name} is not a number: {text!r}") from None
    if not low <= value <= high:
        raise _UsageError(f"environment variable {name} is {value}; it must be {bound_text(low, high)}")
    return value


def _parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    where = common.add_argument_group("where the bus is (options override the environment)")
    where.add_argument(
        "--bootstrap",
        metavar="HOST:PORT[,HOST:PORT...]",
        help="brokers to bootstrap from; overrides --host/--port (env MSGBUS_BOOTSTRAP, which beats "
        "MSGBUS_HOST/MSGBUS_PORT)",
    )
    where.add_argument("--host", help="broker host (env MSGBUS_HOST; default localhost)")
    where.add_argument("--port", type=int_in(1, 65535), help="broker port (env MSGBUS_PORT; default 9092)")
    where.add_argument("--topic", help="the topic to write to or read from (required, or env MSGBUS_TOPIC)")
    where.add_argument(
        "--retries", type=int_in(0), default=3, help="connect attempts before giving up (0: for ever; default 3)"
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log the library's warnings (retries, broker errors) on stderr"
    )

    parser = Parser(
        prog="msgbus",
        description="Write and read messages on a Kafka message bus, or run a local Kafka.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage. Run 'msgbus COMMAND --help' for a command's options.\n\n" + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"msgbus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    write = commands.add_parser(
        "write",
        parents=[common],
        help="write messages (the arguments, or one per line of stdin)",
        description="Write the MESSAGE arguments, or one message per line of stdin; "
        "or, with --count, a generated load with a progress bar.",
        epilog=_WRITE_EPILOG + "\n\n" + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    write.add_argument("messages", nargs="*", metavar="MESSAGE")
    write.add_argument("--nonblocking", action="store_true", help="queue the writes; disconnect flushes them")
    write.add_argument("--count", type=int_in(0), default=None, metavar="N", help="write N generated messages")
    write.add_argument(
        "--size",
        type=int_in(0),
        default=None,
        metavar="B",
        help="bytes per generated message (with --count; default 100)",
    )

    read = commands.add_parser(
        "read",
        parents=[common],
        help="print messages as they arrive, one per line",
        description="Print messages as they arrive, one per line (Ctrl-C stops).",
        epilog=_READ_EPILOG + "\n\n" + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    read.add_argument("--group", default="", help="consumer group to share the messages with (default: none)")
    read.add_argument(
        "--from-beginning", action="store_true", help="with no committed offset, start at the oldest message"
    )
    read.add_argument(
        "-n", "--count", type=int_in(1), default=None, metavar="N", help="stop after N messages (default: never)"
    )
    read.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="stop when no message came for S seconds"
    )
    read.add_argument(
        "--json", action="store_true", help="print a JSON object per message: topic, partition, offset, timestamp"
    )

    kafka = commands.add_parser(
        "kafka",
        help="start|stop|status: a local Apache Kafka for development",
        description="A local Apache Kafka for development, that outlives the command.",
        epilog="Run 'msgbus kafka COMMAND --help' for a command's options.",
    )
    from .testing._cli_kafka import add_commands

    add_commands(kafka)
    return parser


def _config_for(args: argparse.Namespace) -> _config.MsgBusConfig:
    """The bus config from the options and the environment, validated: a bad value is a usage error."""
    if args.command == "write" and args.count is not None:
        if args.messages:
            raise _UsageError("give either MESSAGE arguments or --count, not both")
    elif args.command == "write" and args.size is not None:
        raise _UsageError("--size needs --count")
    if args.command == "read" and args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise _UsageError("--timeout must be a positive number of seconds")
    # Where each value came from, to name it in an error.
    origin = {"topic": "--topic", "bootstrap_servers": "--bootstrap", "host": "--host"}
    if args.topic is None:
        args.topic = os.environ.get("MSGBUS_TOPIC") or None
        origin["topic"] = "MSGBUS_TOPIC"
        if args.topic is None:
            raise _UsageError("--topic is required (or set MSGBUS_TOPIC)")
    if args.bootstrap is None and args.host is None and args.port is None:
        # An option beats the environment; MSGBUS_BOOTSTRAP beats MSGBUS_HOST/MSGBUS_PORT.
        args.bootstrap = os.environ.get("MSGBUS_BOOTSTRAP", "")
        origin["bootstrap_servers"] = "MSGBUS_BOOTSTRAP"
    if args.host is None:
        args.host = os.environ.get("MSGBUS_HOST") or "localhost"
        origin["host"] = "MSGBUS_HOST"
    if args.port is None:
        args.port = _env_int("MSGBUS_PORT", 9092, 1, 65535)
    writer = args.command == "write"
    cfg = _config.MsgBusConfig(
        host=args.host,
        port=args.port,
        bootstrap_servers=args.bootstrap or "",
        topic=args.topic,
        direction=_config.BusWriter if writer else _config.BusReader,
        blocking=_config.NonBlocking if writer and args.nonblocking else _config.Blocking,
        connect_retries=args.retries,
        group_id="" if writer else args.group,
        offset_reset="earliest" if not writer and args.from_beginning else "latest",
    )
    try:
        cfg.validate()
    except ConfigError as exc:
        field = str(exc).split(" ", 1)[0]
        raise _UsageError(f"{origin[field]}: {exc}" if field in origin else str(exc)) from None
    return cfg


class _Progress:
    """Count and rate on stderr: redrawn in place on a terminal, at most every _REDRAW seconds.

    With a ``total`` (--count) a bar too, and a summary line when stderr is not a terminal;
    without one (stdin), nothing at all then.
    """

    def __init__(self, total: int | None, stream: TextIO) -> None:
        self._total = total
        self._stream = stream
        self._tty = stream.isatty()
        self._start = time.monotonic()
        self._drawn_at = 0.0

    def _line(self, done: int, nbytes: int) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rates = f"{done / elapsed:,.0f} msg/s {nbytes / elapsed / 1e6:.2f} MB/s {elapsed:.1f} s"
        if self._total is None:
            return f"{done:,} messages {rates}"
        filled = _BAR_WIDTH * done // self._total if self._total else _BAR_WIDTH
        return f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{self._total} {rates}"

    def _show(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError:  # progress is for the eyes only; a gone stderr must not end the writes
            self._tty = False
            self._total = None

    def update(self, done: int, nbytes: int) -> None:
        now = time.monotonic()
        if self._tty and now - self._drawn_at >= _REDRAW:
            self._drawn_at = now
            self._show("\r" + self._line(done, nbytes))

    def finish(self, done: int, nbytes: int) -> None:
        if self._tty or self._total is not None:
            self._show(("\r" if self._tty else "") + self._line(done, nbytes) + "\n")


def _generated(count: int, size: int) -> Iterator[str]:
    for i in range(count):
        stamp = str(i)
        yield (stamp + " " + "x" * size)[:size] if size > len(stamp) else stamp[:size]


def _stdin_messages() -> Iterator[tuple[str, int]]:
    """Each stdin line without its terminator, as text that encodes back to the same bytes; and its size."""
    for line in sys.stdin.buffer:
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        yield line.decode("utf-8", "surrogateescape"), len(line)


def _write(args: argparse.Namespace, cfg: _config.MsgBusConfig) -> int:
    with _connect(cfg) as bus:
        if args.count is not None:
            size = 100 if args.size is None else args.size
            progress = _Progress(args.count, sys.stderr)
            messages = _generated(args.count, size)
            done = 0
            while done < args.count:
                chunk = [next(messages) for _ in range(min(_LOAD_CHUNK, args.count - done))]
                done += bus.message_write_many(chunk)
                progress.update(done, done * size)
            bus.disconnect()  # the flush is part of the load
            progress.finish(done, done * size)
            return 0
        if args.messages:
            for message in args.messages:
                bus.message_write(message)
            return 0
        progress = _Progress(None, sys.stderr)
        done = nbytes = 0
        try:
            for message, size in _stdin_messages():
                bus.message_write(message)
                done += 1
                nbytes += size
                progress.update(done, nbytes)
            bus.disconnect()
        finally:
            progress.finish(done, nbytes)  # also before an error line, which then stands on its own line
    return 0


class _Output:
    """``msgbus read``'s stdout, as bytes; knows when the reader of a pipe has gone."""

    def __init__(self, topic: str, as_json: bool) -> None:
        self._topic = topic
        self._json = as_json
        self._out = sys.stdout.buffer
        self._poll: select.poll | None = select.poll()
        try:
            # No events asked for: poll still reports POLLERR (a pipe with no reader, on Linux),
            # POLLHUP (a socket or terminal hung up) and POLLNVAL, as GNU tail -f watches.
            self._poll.register(sys.stdout.fileno(), 0)
        except (OSError, ValueError):  # not a file descriptor: found out on the next write
            self._poll = None

    def gone(self) -> bool:
        if self._poll is None:
            return False
        return any(events & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, events in self._poll.poll(0))

    def write(self, record: Record) -> None:
        text = record.text
        # The library hands over bytes that are not UTF-8 as surrogates (surrogateescape).
        raw = text.encode("utf-8", "surrogateescape")
        if not self._json:
            self._out.write(raw + b"\n")
        else:
            line: dict[str, object] = {
                "topic": self._topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp if record.timestamp >= 0 else None,
                "message": raw.decode("utf-8", "replace"),
            }
            if line["message"] != text:
                line["message_b64"] = base64.b64encode(raw).decode("ascii")
            self._out.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
        self._out.flush()


def _read(args: argparse.Namespace, cfg: _config.MsgBusConfig) -> int:
    out = _Output(args.topic, args.json)
    count = 0
    with _connect(cfg) as bus:
        last = time.monotonic()
        while args.count is None or count < args.count:
            # Short waits, so that a closed stdout ends the command while no message comes.
            wait = (
                _READ_SLICE
                if args.timeout is None
                else max(0.0, min(_READ_SLICE, last + args.timeout - time.monotonic()))
            )
            record = bus.read_record(wait)
            if record is None:
                if out.gone():
                    raise BrokenPipeError
                if args.timeout is not None and time.monotonic() - last >= args.timeout:
                    break
                continue
            out.write(record)
            count += 1
            last = time.monotonic()
    return 0


def _fail(message: str, code: int) -> int:
    with contextlib.suppress(OSError):  # stderr gone too: the exit code says it
        print(f"msgbus: error: {message}", file=sys.stderr, flush=True)
    return code


def _drop_stdout() -> None:
    # Nothing more can reach the reader; let the exit's flush of stdout go nowhere.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``msgbus`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = None
    try:
        args = _parser().parse_args(argv)
        command = args.command
        if command == "kafka":
            from .testing._cli_kafka import run

            return run(args, sys.stdout, sys.stderr)
        cfg = _config_for(args)
        _quiet_logs(args.verbose)
        return _write(args, cfg) if command == "write" else _read(args, cfg)
    except _UsageError as exc:
        return _fail(str(exc), 2)
    except MsgBusError as exc:
        return _fail(str(exc), 1)
    except BrokenPipeError:
        _drop_stdout()
        # `msgbus read ... | head`: the reader of our output went away, not an error of ours.
        return 0 if command == "read" else _fail("a pipe closed", 1)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(str(exc), 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
