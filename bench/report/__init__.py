"""results.json -> results.md (medians, ratios, targets) and charts (chart.png, and one per scaling).

``python -m bench.report [DIR]`` redoes them from DIR/results.json (default bench/results/).
The README does not copy the figures: it links to bench/results/.
"""

from __future__ import annotations

from pathlib import Path

from ..common import Outcome
from . import charts, scaling, tables


def write(outcome: Outcome, out: Path) -> None:
    (out / "results.md").write_text("\n".join(tables.markdown(outcome) + scaling.markdown(outcome)) + "\n")
    charts.chart(outcome, out / "chart.png")
    scaling.charts(outcome, out)
