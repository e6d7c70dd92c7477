"""``python -m bench.workers KIND SYSTEM JSON_ARGS``: one measurement, its result as the last line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from ..common import Args, Result
from . import aio, observe, scaling, sync

KINDS: dict[str, Callable[[str, Args], Result]] = sync.KINDS | aio.KINDS | scaling.KINDS | observe.KINDS


def _die_with_parent() -> None:
    """A worker must not outlive an interrupted run (one waiting for a gone broker would never end)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker's own timeouts still end it


def main(argv: list[str]) -> int:
    _die_with_parent()
    if len(argv) != 3 or argv[0] not in KINDS:
        print(f"usage: python -m bench.workers {{{','.join(KINDS)}}} SYSTEM JSON_ARGS", file=sys.stderr)
        return 2
    kind, system, args = argv
    print(json.dumps(KINDS[kind](system, json.loads(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
