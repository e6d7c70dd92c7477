"""The ``msgbus write`` and ``msgbus read`` verbs: their options, their bus config, and what they do.

Each verb is three functions (options, config fields, run) that ``_cli.VERBS`` names in one entry.
"""

from __future__ import annotations

import argparse
import base64
import json
import select
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from .. import _config
from .._record import Record
from .args import UsageError, int_in
from .connect import connect as _connect
from .write_lines import WriteOutcome, write_lines

# Messages per message_write_many call when generating a load.
_LOAD_CHUNK = 500
_BAR_WIDTH = 30
# Progress on a terminal is redrawn at most this often (seconds).
_REDRAW = 0.2
# A reader waits at most this long for a message before it looks whether its stdout is gone.
_READ_SLICE = 0.2

WRITE_DESCRIPTION = (
    "Write the MESSAGE arguments, or one message per line of stdin; "
    "or, with --count, a generated load with a progress bar."
)

WRITE_EPILOG = """\
stdin is read as bytes: each line, without its "\\n" or "\\r\\n", goes to the bus byte for byte,
UTF-8 or not. On a terminal, stderr shows the count and the rate. Exit code 0: the broker
acknowledged every message (with --nonblocking: the final flush delivered them all)."""


def add_write_arguments(write: argparse.ArgumentParser) -> None:
    write.add_argument("messages", nargs="*", metavar="MESSAGE")
    write.add_argument("--nonblocking", action="store_true", help="queue the writes; disconnect flushes them")
    write.add_argument("--count", type=int_in(0), default=None, metavar="N", help="write N generated messages")
    write.add_argument(
        "--header",
        action="append",
        default=[],
        type=_header_arg,
        metavar="NAME=VALUE",
        help="a Kafka header on every message written (repeatable; not with --count)",
    )
    write.add_argument(
        "--size",
        type=int_in(0),
        default=None,
        metavar="B",
        help="bytes per generated message (with --count; default 100)",
    )


def _header_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def write_fields(args: argparse.Namespace) -> dict[str, Any]:
    if args.count is not None:
        if args.messages:
            raise UsageError("give either MESSAGE arguments or --count, not both")
        if args.header:
            raise UsageError("--header is for MESSAGE arguments or stdin lines, not --count")
    elif args.size is not None:
        raise UsageError("--size needs --count")
    return {
        "direction": _config.BusWriter,
        "blocking": _config.NonBlocking if args.nonblocking else _config.Blocking,
    }


READ_DESCRIPTION = "Print messages as they arrive, one per line (Ctrl-C stops)."

READ_EPILOG = """\
Output is UTF-8 whatever the locale. Plain: each message's bytes exactly as on the bus, then a
newline (bytes that are not UTF-8 pass through unchanged). --json: one object per line,
{"topic", "partition", "offset", "timestamp", "message"}; when a message's bytes are not valid
UTF-8, "message" has U+FFFD for each bad sequence and "message_b64" (only then) holds the
exact bytes in base64. When the reader of the output goes away (msgbus read | head -2), the
command ends at once with exit code 0, also while no message comes."""


def add_read_arguments(read: argparse.ArgumentParser) -> None:
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


def read_fields(args: argparse.Namespace) -> dict[str, Any]:
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise UsageError("--timeout must be a positive number of seconds")
    return {
        "direction": _config.BusReader,
        "group_id": args.group,
        "offset_reset": "earliest" if args.from_beginning else "latest",
    }


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


def run_write(args: argparse.Namespace, cfg: _config.MsgBusConfig) -> int:
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
        headers = args.header or None
        if args.messages:
            for message in args.messages:
                bus.message_write(message, headers=headers)
            return 0
        progress = _Progress(None, sys.stderr)
        if cfg.blocking is _config.Blocking and headers is None:
            # Pipelined: every line queued at once, each acknowledgement awaited at the end.
            outcome = WriteOutcome()
            try:
                write_lines(bus, _stdin_messages(), progress, outcome=outcome)
                bus.disconnect()
            finally:
                progress.finish(outcome.lines, outcome.nbytes)
            for line in outcome.report():
                print(f"msgbus: error: {line}", file=sys.stderr)
            return outcome.exit_code
        done = nbytes = 0
        try:
            for message, size in _stdin_messages():
                bus.message_write(message, headers=headers)
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
            line["headers"] = [_header_json(key, value) for key, value in record.headers]
            self._out.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
        self._out.flush()


def _header_json(key: str, value: bytes | None) -> dict[str, object]:
    """One Kafka header as JSON: its value as text (null when it has none), plus ``value_b64`` when not UTF-8."""
    if value is None:
        return {"key": key, "value": None}
    text = value.decode("utf-8", "replace")
    shown: dict[str, object] = {"key": key, "value": text}
    if text.encode("utf-8") != value:
        shown["value_b64"] = base64.b64encode(value).decode("ascii")
    return shown


def run_read(args: argparse.Namespace, cfg: _config.MsgBusConfig) -> int:
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
