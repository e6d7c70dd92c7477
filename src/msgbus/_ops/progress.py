"""``Progress``: what a reader's application has taken and finished, for health verdicts and metrics."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a reader's inbox (``Inbox.progress``); times are ``time.monotonic()``."""

    #: Waiting in the reader, not taken.
    queued: int
    #: Handed to the application so far.
    taken: int
    #: Finished so far (read, handler returned, dropped, dead-lettered).
    finished: int
    #: Taken and not finished yet.
    held: int
    #: When the oldest held message was taken; None when none is held.
    oldest_held_at: float | None
    #: When a message was last finished; None before the first.
    last_finished_at: float | None
