"""``Progress``: what a reader's application has done with its messages, as the Inbox counts it.

The contract between the Inbox (``Inbox.progress()``) and the health verdict
(``_health``): plain data, made under the Inbox's lock and immutable after.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    #: Messages waiting in the reader, not taken by the application.
    queued: int
    #: Messages handed to the application so far.
    taken: int
    #: Messages finished so far (read, handler returned, dropped, dead-lettered).
    finished: int
    #: Messages taken and not finished yet.
    held: int
    #: ``time.monotonic()`` when the oldest held message was taken (None: none is held).
    oldest_held_at: float | None
    #: ``time.monotonic()`` of the latest finish (None: nothing finished yet).
    last_finished_at: float | None
