"""Fault tests (``make faults``): every scenario records its figures, and the
session ends with a table of them (also written to ``.results/results.json``).

Every test here is marked ``faults``. Brokers a test breaks are its own
(``private_kafka``, ``cluster3``); the rest share the session's ``kafka``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgbus.testing import LocalKafka

from .helpers import Figures

RESULTS_DIR = Path(__file__).parent / ".results"
_ROWS: list[Figures] = []
_COLUMNS = ("scenario", "written", "acknowledged", "read", "lost", "duplicated", "time")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.faults)


class FaultReport:
    """Collects one row of figures per scenario for the closing table."""

    def record(self, figures: Figures) -> None:
        _ROWS.append(figures)


@pytest.fixture(scope="session")
def fault_report() -> FaultReport:
    return FaultReport()


@pytest.fixture
def private_kafka() -> Iterator[LocalKafka]:
    """A single-node broker of this test's own, to stop, pause and restart."""
    with LocalKafka() as broker:
        yield broker


@pytest.fixture(scope="module")
def cluster3() -> Iterator[LocalKafka]:
    """Three broker+controller nodes, replication factor 3, min.insync.replicas 2."""
    with LocalKafka(nodes=3, heap_mb=384) as cluster:
        yield cluster


def _table(rows: list[Figures]) -> list[str]:
    cells = [list(_COLUMNS)] + [
        [
            r.scenario,
            str(r.written),
            str(r.acknowledged),
            str(r.read),
            str(r.lost),
            str(r.duplicated),
            f"{r.seconds:.1f} s",
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_COLUMNS))]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            + " |"
        )

    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return [line(cells[0]), sep, *(line(r) for r in cells[1:])]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    rows = sorted(_ROWS, key=lambda r: r.scenario)
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": [r.as_dict() for r in rows]}
    (RESULTS_DIR / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    terminalreporter.section("msgbus fault scenarios")
    for text in _table(rows):
        terminalreporter.write_line(text)
    terminalreporter.write_line(f"(also in {RESULTS_DIR / 'results.json'})")
