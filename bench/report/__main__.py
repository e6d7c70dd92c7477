"""``python -m bench.report [DIR]``: results.md and the charts again, from DIR/results.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..common import RESULTS
from . import write

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
write(json.loads((folder / "results.json").read_text()), folder)
