"""``msgbus write`` of many lines: pipelined, and exit 0 only if every line was acknowledged.

One round trip per line made 100k lines take half a minute. Here every line is
queued at once with a delivery callback that knows its line number
(``message_write_tracked``); the end waits for every acknowledgement and the
outcome names exactly the lines that were not delivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from .._backends.base import MsgBusIO
from .._errors import DeliveryError


class Progress(Protocol):
    """What write_lines tells about its progress (the CLI's _Progress)."""

    def update(self, done: int, nbytes: int) -> None: ...


@dataclass
class WriteOutcome:
    """What became of the lines: ``undelivered`` are (line number, reason), by line number."""

    lines: int = 0  # lines taken from the input
    nbytes: int = 0
    undelivered: list[tuple[int, str]] = field(default_factory=list)
    #: Writing stopped (the bus closed, or its queue stayed full): this line and every later one were not sent.
    not_sent_from: int | None = None

    @property
    def ok(self) -> bool:
        return not self.undelivered and self.not_sent_from is None

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def undelivered_lines(self) -> list[int]:
        return [line for line, _ in self.undelivered]

    def report(self) -> list[str]:
        """Error lines for stderr: runs of consecutive line numbers with the same reason, one line each."""
        out: list[str] = []
        runs: list[tuple[int, int, str]] = []
        for line, reason in self.undelivered:
            if runs and runs[-1][1] == line - 1 and runs[-1][2] == reason:
                runs[-1] = (runs[-1][0], line, reason)
            else:
                runs.append((line, line, reason))
        for first, last, reason in runs:
            where = f"line {first}" if first == last else f"lines {first}-{last}"
            out.append(f"{where} not delivered: {reason}")
        if self.not_sent_from is not None:
            out.append(f"line {self.not_sent_from} and every line after it not sent: writing stopped")
        if not self.ok:
            total = len(self.undelivered)
            out.append(f"{total} of {self.lines} line(s) read not delivered")
        return out


def write_lines(
    bus: MsgBusIO,
    lines: Iterable[tuple[str, int]],
    progress: Progress | None = None,
    first_line: int = 1,
    outcome: WriteOutcome | None = None,
) -> WriteOutcome:
    """Write each (text, size in bytes) of ``lines`` on a Blocking writer; line numbers count from ``first_line``.

    Returns once every line taken was acknowledged or failed; the bus stays connected.
    ``outcome``, if given, is filled as the lines go (so a caller still has the counts if this raises).
    A backend that does not pipeline them (``MsgBusIO.message_write_tracked``'s default)
    writes one line at a time: slower, with the same outcome.
    """
    outcome = WriteOutcome() if outcome is None else outcome

    def counted() -> Iterator[str]:
        for text, size in lines:
            outcome.lines += 1
            outcome.nbytes += size
            if progress is not None:
                progress.update(outcome.lines, outcome.nbytes)
            yield text

    if not bus.blocking:
        raise DeliveryError("write_lines needs a Blocking writer: only its acknowledgements tell what arrived")
    texts = counted()
    _taken, failed = bus.message_write_tracked(texts)
    outcome.undelivered = [(first_line + index, reason) for index, reason in failed]
    if failed and next(texts, None) is not None:
        # The writer stopped before the end of the input (a closed bus, a queue that stayed full).
        outcome.not_sent_from = first_line + outcome.lines - 1
    return outcome
