"""What the ``msgbus`` command's parsers and verbs share (``msgbus kafka`` too): usage errors, bounded numbers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn


class UsageError(Exception):
    """A bad option or environment value: exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # The conventional usage line, then the one-line reason; exit code 2.
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def bound_text(low: int, high: int | None) -> str:
    return f">= {low}" if high is None else f"from {low} to {high}"


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``low..high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; it must be {bound_text(low, high)}")
        return value

    return parse


def env_int(name: str, default: int, low: int, high: int) -> int:
    """The whole number in environment variable ``name`` (``default`` when unset or empty)."""
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"environment variable {name} is not a number: {text!r}") from None
    if not low <= value <= high:
        raise UsageError(f"environment variable {name} is {value}; it must be {bound_text(low, high)}")
    return value


def where_options(topic: bool) -> Parser:
    """A parent parser: where the bus is (and, with ``topic``, --topic), --retries and --verbose."""
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
    if topic:
        where.add_argument("--topic", help="the topic to write to or read from (required, or env MSGBUS_TOPIC)")
    where.add_argument(
        "--retries", type=int_in(0), default=3, help="connect attempts before giving up (0: for ever; default 3)"
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log the library's warnings (retries, broker errors) on stderr"
    )
    return common


def where_fields(args: argparse.Namespace, origin: dict[str, str]) -> dict[str, Any]:
    """The config fields ``where_options`` gave, the environment filling in; ``origin`` learns each one's source.

    An option beats the environment; MSGBUS_BOOTSTRAP beats MSGBUS_HOST/MSGBUS_PORT.
    """
    origin.update(bootstrap_servers="--bootstrap", host="--host")
    bootstrap, host, port = args.bootstrap, args.host, args.port
    if bootstrap is None and host is None and port is None:
        bootstrap = os.environ.get("MSGBUS_BOOTSTRAP", "")
        origin["bootstrap_servers"] = "MSGBUS_BOOTSTRAP"
    if host is None:
        host = os.environ.get("MSGBUS_HOST") or "localhost"
        origin["host"] = "MSGBUS_HOST"
    if port is None:
        port = env_int("MSGBUS_PORT", 9092, 1, 65535)
    return {"bootstrap_servers": bootstrap or "", "host": host, "port": port, "connect_retries": args.retries}
