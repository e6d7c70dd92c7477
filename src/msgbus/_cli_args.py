"""What the ``msgbus`` command's parsers share (the CLI and ``msgbus kafka``): usage errors, bounded numbers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn


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
