"""The ``msgbus`` command: write and read messages, run a local Kafka.

Its verbs are the ``VERBS`` table: a new verb is one entry there, naming its functions.

Exit codes: 0 ok (also when the reader of ``msgbus read``'s output goes away),
1 error (one line on stderr), 2 usage (a bad option or environment value), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .. import _config
from .._errors import ConfigError, MsgBusError
from .._version import __version__
from . import io, ops, replay
from .args import Parser, UsageError, where_fields, where_options
from .connect import quiet_logs as _quiet_logs

_WHERE = """\
Where the bus is: an option beats the environment, and MSGBUS_BOOTSTRAP beats MSGBUS_HOST and
MSGBUS_PORT. 'msgbus kafka start' prints the line to paste: export MSGBUS_BOOTSTRAP=HOST:PORT."""


def _as_reader(args: argparse.Namespace) -> dict[str, Any]:
    return {"direction": _config.BusReader}


class BusVerb(NamedTuple):
    """A verb on a bus: it takes the where-options (--topic, --bootstrap, ...) and runs with their config."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    #: Gets the parsed options and the validated config; returns the exit code.
    run: Callable[[argparse.Namespace, _config.MsgBusConfig], int]
    #: The config fields the verb's own options set (at least its direction); raises UsageError for a bad mix.
    fields: Callable[[argparse.Namespace], dict[str, Any]] = _as_reader
    description: str = ""
    epilog: str = ""
    #: A closed stdout ends the verb with exit code 0 (`msgbus read | head`), not an error.
    stdout_may_close: bool = False


class Verb(NamedTuple):
    """A verb that makes no config of its own (``kafka``)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""
    epilog: str = ""
    #: Takes where the bus is (--bootstrap, --host, --port, --retries, -v; no --topic): see
    #: args.where_fields; e.g. a verb that opens buses on topics of its own options.
    where: bool = False


def _kafka_arguments(kafka: argparse.ArgumentParser) -> None:
    from .kafka import add_commands

    add_commands(kafka)


def _kafka(args: argparse.Namespace) -> int:
    from .kafka import run

    return run(args, sys.stdout, sys.stderr)


# The verbs, in the order `msgbus --help` lists them.
VERBS: tuple[BusVerb | Verb, ...] = (
    BusVerb(
        "write",
        "write messages (the arguments, or one per line of stdin)",
        io.add_write_arguments,
        io.run_write,
        io.write_fields,
        io.WRITE_DESCRIPTION,
        io.WRITE_EPILOG,
    ),
    BusVerb(
        "read",
        "print messages as they arrive, one per line",
        io.add_read_arguments,
        io.run_read,
        io.read_fields,
        io.READ_DESCRIPTION,
        io.READ_EPILOG,
        stdout_may_close=True,
    ),
    BusVerb(
        "lag",
        "a group's committed offsets, ends and lag",
        ops.add_lag_arguments,
        ops.run_lag,
        ops.ops_fields,
        "Print a consumer group's committed offset, end offset and lag for each partition of --topic.",
        ops.LAG_EPILOG,
    ),
    BusVerb(
        "health",
        "judge a group from outside: ok, idle or stuck",
        ops.add_health_arguments,
        ops.run_health,
        ops.ops_fields,
        "Judge a consumer group on --topic from its commits and the partitions' ends over a window.",
        ops.HEALTH_EPILOG,
    ),
    Verb(
        "replay",
        "write dead letters back to their topic",
        replay.add_arguments,
        replay.run,
        "Write dead letters back to a topic.",
        replay.EPILOG,
        where=True,
    ),
    Verb(
        "kafka",
        "start|stop|status: a local Apache Kafka for development",
        _kafka_arguments,
        _kafka,
        "A local Apache Kafka for development, that outlives the command.",
        "Run 'msgbus kafka COMMAND --help' for a command's options.",
    ),
)


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="msgbus",
        description="Write and read messages on a Kafka message bus, or run a local Kafka.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage. Run 'msgbus COMMAND --help' for a command's options.\n\n" + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"msgbus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    with_topic, without_topic = where_options(topic=True), where_options(topic=False)
    for verb in VERBS:
        on_bus = isinstance(verb, BusVerb)
        where = on_bus or (isinstance(verb, Verb) and verb.where)
        sub = commands.add_parser(
            verb.name,
            parents=[with_topic] if on_bus else [without_topic] if where else [],
            help=verb.help,
            description=verb.description or verb.help,
            epilog="\n\n".join(text for text in (verb.epilog, _WHERE if where else "") if text) or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        verb.add_arguments(sub)
    return parser


def _config_for(args: argparse.Namespace, verb: BusVerb) -> _config.MsgBusConfig:
    """The bus config from the options and the environment, validated: a bad value is a usage error."""
    fields = verb.fields(args)
    # Where each value came from, to name it in an error.
    origin = {"topic": "--topic"}
    if args.topic is None:
        args.topic = os.environ.get("MSGBUS_TOPIC") or None
        origin["topic"] = "MSGBUS_TOPIC"
        if args.topic is None:
            raise UsageError("--topic is required (or set MSGBUS_TOPIC)")
    cfg = _config.MsgBusConfig(topic=args.topic, **where_fields(args, origin), **fields)
    try:
        cfg.validate()
    except ConfigError as exc:
        field = str(exc).split(" ", 1)[0]
        raise UsageError(f"{origin[field]}: {exc}" if field in origin else str(exc)) from None
    return cfg


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
    verb: BusVerb | Verb | None = None
    try:
        args = _parser().parse_args(argv)
        verb = next(v for v in VERBS if v.name == args.command)
        if isinstance(verb, Verb):
            if verb.where:
                _quiet_logs(args.verbose)
            return verb.run(args)
        cfg = _config_for(args, verb)
        _quiet_logs(args.verbose)
        return verb.run(args, cfg)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except MsgBusError as exc:
        return _fail(str(exc), 1)
    except BrokenPipeError:
        _drop_stdout()
        # `msgbus read ... | head`: the reader of our output went away, not an error of ours.
        return 0 if isinstance(verb, BusVerb) and verb.stdout_may_close else _fail("a pipe closed", 1)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(str(exc), 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
