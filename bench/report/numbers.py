"""Reading results.json: a system's median in a group, and numbers as the tables show them."""

from __future__ import annotations

import statistics

from ..common import Outcome


def median(outcome: Outcome, group: str, system: str, key: str) -> float | None:
    rounds = outcome["groups"].get(group, {}).get("rounds", {}).get(system)
    if not rounds:
        return None
    values = [r[key] for r in rounds if key in r]
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(x: float | None, y: float | None) -> str:
    return f"{x / y:.2f}x" if x and y else "n/a"


def table(title: str, columns: list[str], rows: list[list[str]]) -> list[str]:
    """A results.md section: its heading, a Markdown table, and a blank line."""
    lines = [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return [*lines, *("| " + " | ".join(row) + " |" for row in rows), ""]
