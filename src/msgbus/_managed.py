"""``Managed``: the one ``__enter__``/``__exit__`` pair for the classes used in a ``with`` block."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_M = TypeVar("_M", bound="Managed")


class Managed:
    """``with x:`` runs ``x._enter()`` on the way in, then ``x._exit()`` on the way out, whatever happened."""

    def _enter(self) -> None:
        """Make ready what the block uses (by default nothing)."""

    def _exit(self) -> None:
        """Release what ``_enter`` (or the object's use) took; errors in the block still propagate."""

    def __enter__(self: _M) -> _M:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit()
