"""Prints every chaos run's anomaly table at the end of the session (they are also in .results/)."""

from __future__ import annotations

import pytest

from .report import REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    terminalreporter.section("msgbus chaos history check")
    for report in REPORTS:
        for line in report.splitlines():
            terminalreporter.write_line(line)
