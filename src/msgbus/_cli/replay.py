"""``msgbus replay --from TOPIC.dlq --to TOPIC``: write dead letters back to a topic.

Each dead letter's bytes go to ``--to`` exactly as they were written to the original topic,
without the ``msgbus.*`` headers (a replayed message is a fresh message: if its handler fails
again, it gets new ones). A dead letter counts as replayed (its offset is committed in
``--group``) only once the write to ``--to`` was acknowledged, so an interrupted replay
goes on where it stopped, and nothing is skipped. Exit code 0 only when every dead letter
read was acknowledged on ``--to``.
"""

from __future__ import annotations

import argparse
import sys
import time

from .. import _config
from .._backends.base import ReaderBase
from .._errors import ConfigError, MsgBusError
from .args import UsageError, int_in, where_fields
from .connect import connect

#: The command ends when no dead letter came for this long (seconds), unless --idle says otherwise.
IDLE = 5.0
_SLICE = 0.2

EPILOG = """\
Reads --from from its beginning (in --group; a second replay in the same group goes on where the
first stopped) and writes each message's bytes to --to, Blocking, without the msgbus.* headers.
A dead letter is committed only after its write was acknowledged. Ends after -n messages, or when
none came for --idle seconds. Exit code 0: every message read was acknowledged on --to."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The replay verb's own options (the bus's address comes from the shared options)."""
    parser.add_argument("--from", dest="source", required=True, metavar="TOPIC", help="the dead-letter topic")
    parser.add_argument("--to", dest="target", required=True, metavar="TOPIC", help="where to write them back")
    parser.add_argument(
        "--group", default=None, help="consumer group of the replay (default: msgbus-replay-<--from topic>)"
    )
    parser.add_argument("-n", "--count", type=int_in(1), default=None, metavar="N", help="stop after N messages")
    parser.add_argument(
        "--idle",
        type=float,
        default=IDLE,
        metavar="S",
        help=f"stop when no message came for S seconds (default {IDLE:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Replay; returns the exit code (0: every dead letter read was written back and acknowledged)."""
    if args.source == args.target:
        raise UsageError("--from and --to must be different topics")
    if not 0 < args.idle < float("inf"):
        raise UsageError("--idle must be a positive number of seconds")
    where = where_fields(args, {})
    reader_cfg = _config.MsgBusConfig(
        topic=args.source,
        direction=_config.BusReader,
        group_id=args.group or f"msgbus-replay-{args.source}",
        offset_reset="earliest",
        **where,
    )
    writer_cfg = _config.MsgBusConfig(topic=args.target, direction=_config.BusWriter, **where)
    try:
        reader_cfg.validate()
        writer_cfg.validate()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    replayed = 0
    try:
        with connect(writer_cfg) as writer, connect(reader_cfg) as reader:
            assert isinstance(reader, ReaderBase)
            inbox = reader.inbox
            last = time.monotonic()
            while args.count is None or replayed < args.count:
                # Taken unfinished: committed only once its write back was acknowledged.
                item = inbox.leases.take(_SLICE)
                if item is None:
                    if time.monotonic() - last >= args.idle:
                        break
                    continue
                # Blocking: returns once acknowledged. If it raises, the dead letter stays
                # unfinished, so disconnect does not commit it (nor anything after it).
                writer.message_write(item[0])
                inbox.leases.finish(item)
                replayed += 1
                last = time.monotonic()
    except MsgBusError as exc:
        print(f"msgbus: error: {exc} ({replayed} replayed before it)", file=sys.stderr)
        return 1
    print(f"msgbus: replayed {replayed} message(s) from {args.source} to {args.target}", file=sys.stderr)
    return 0
