"""The anomaly table, the run's figures, and the JSON result in tests/chaos/.results/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .check import ANOMALIES
from .record import ACKED, MAYBE, PENDING
from .runner import Run

RESULTS_DIR = Path(__file__).parent / ".results"
#: Reports of the runs in this process (the pytest session prints them at its end).
REPORTS: list[str] = []


def replay_command(run: Run) -> str:
    p = run.plan
    command = f".venv/bin/python -m tests.chaos --seed {p.seed} --duration {p.duration:g} --nodes {p.nodes}"
    return command + (f" --group-protocol {run.group_protocol}" if run.group_protocol != "classic" else "")


def figures(run: Run) -> dict[str, Any]:
    rec = run.rec
    statuses = [w.status for w in rec.writes.values()]
    connected = [r for r in rec.readers.values() if r.connected is not None]
    return {
        "writes": len(statuses),
        "acknowledged": statuses.count(ACKED),
        "maybe": statuses.count(MAYBE),
        "pending": statuses.count(PENDING),
        "deliveries": len(rec.deliveries),
        "in_topics": run.topic_sizes,
        "readers_connected": len(connected),
        "readers_planned": len(rec.readers),
        "connect_failures": rec.connect_failures,
        "callback_toggles": len(rec.callbacks),
        "faults": [f"{f.kind} node {f.node} {rec.rel(f.start)}-{rec.rel(f.end)} {f.note}".strip() for f in rec.faults],
        "partitions_added": [
            f"{g.topic} -> {g.partitions} at {rec.rel(g.start)}" if not g.error else f"{g.topic}: {g.error}"
            for g in rec.grows
        ],
        "failed_handler_calls": len(rec.failures),
        "given_up": len(rec.gave_up),
        "dead_letters": sum(len(d) for d in rec.dead.values()),
        "stops": len(rec.stops),
        "drain_seconds": round((rec.drain_end or 0) - (rec.drain_start or 0), 1),
    }


def table(run: Run) -> list[str]:
    f = run.findings
    width = max(len(a) for a in ANOMALIES)
    lines = [f"| {'anomaly'.ljust(width)} | count | allowed |", f"|{'-' * (width + 2)}|------:|--------:|"]
    lines += [f"| {a.ljust(width)} | {f.counts[a]:5d} | {0:7d} |" for a in ANOMALIES]
    return lines


#: Short column names of the anomalies in the per-kind table.
SHORT = {
    "lost write": "lost",
    "duplicate": "dup",
    "poll skip": "skip",
    "non-monotonic": "back",
    "stuck reader": "stuck",
    "hung or leaked": "hung",
    "wrong record": "record",
    "broken promise": "promise",
}


def kind_figures(run: Run) -> dict[str, dict[str, int]]:
    """Per reader kind: readers (replacements included), deliveries, failed handler calls, and each anomaly."""
    rec = run.rec
    out: dict[str, dict[str, int]] = {}
    kind_of = {rid: r.kind for rid, r in rec.readers.items()}
    for kind in sorted({*kind_of.values(), *run.findings.by_kind}):
        out[kind] = {"readers": 0, "deliveries": 0, "failures": 0, **{a: 0 for a in ANOMALIES}}
    for r in rec.readers.values():
        out[r.kind]["readers"] += 1
    for rid, _, _ in rec.deliveries:
        out[kind_of[rid]]["deliveries"] += 1
    for rid, _, _ in rec.failures:
        out[kind_of[rid]]["failures"] += 1
    for kind, counts in run.findings.by_kind.items():
        out[kind].update(counts)
    return out


def kind_table(rows: dict[str, dict[str, int]]) -> list[str]:
    """A markdown table: one row per reader kind, its readers, deliveries, failed handler calls and anomalies."""
    width = max([len("kind"), *map(len, rows)])
    columns = ["readers", "deliveries", "failures", *(SHORT[a] for a in ANOMALIES)]
    keys = ["readers", "deliveries", "failures", *ANOMALIES]
    lines = [
        f"| {'kind'.ljust(width)} | " + " | ".join(columns) + " |",
        "|" + "-" * (width + 2) + "|" + "|".join("-" * (len(c) + 1) + ":" for c in columns) + "|",
    ]
    for kind, f in sorted(rows.items()):
        cells = [f"{f[key]:{len(c)}d}" for key, c in zip(keys, columns, strict=True)]
        lines.append(f"| {kind.ljust(width)} | " + " | ".join(cells) + " |")
    return lines


def text_report(run: Run) -> str:
    p, fig = run.plan, figures(run)
    out = [
        f"chaos seed={p.seed} nodes={p.nodes} duration={p.duration:g}s group_protocol={run.group_protocol}: "
        f"{fig['writes']} writes "
        f"({fig['acknowledged']} acknowledged, {fig['maybe']} maybe), {fig['deliveries']} deliveries, "
        f"{fig['readers_connected']}/{fig['readers_planned']} readers connected, {len(fig['faults'])} faults, "
        f"{len(fig['partitions_added'])} partition additions, drain {fig['drain_seconds']} s; handlers failed "
        f"{fig['failed_handler_calls']} times, {fig['given_up']} dropped or dead-lettered ({fig['dead_letters']} "
        f"dead letters on the topics), {fig['stops']} stops",
        *table(run),
        "per reader kind (a stuck group counts under each kind in it):",
        *kind_table(kind_figures(run)),
    ]
    for anomaly in ANOMALIES:
        for example in run.findings.examples[anomaly]:
            out.append(f"  {anomaly}: {example}")
    if run.rec.notes:
        out.append(f"notes ({len(run.rec.notes)}, first 10):")
        out += [f"  {n}" for n in run.rec.notes[:10]]
    out.append(f"replay: {replay_command(run)}")
    return "\n".join(out)


def write_json(run: Run) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    p = run.plan
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS_DIR / f"chaos-seed{p.seed}-n{p.nodes}-{stamp}.json"
    payload = {
        "finished": stamp,
        "seed": p.seed,
        "nodes": p.nodes,
        "duration": p.duration,
        "group_protocol": run.group_protocol,
        "replay": replay_command(run),
        "anomalies": run.findings.counts,
        "by_kind": kind_figures(run),
        "allowed": dict.fromkeys(ANOMALIES, 0),
        "examples": run.findings.examples,
        "figures": figures(run),
        "notes": run.rec.notes,
        "plan": p.as_dict(),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def summary_report(runs: list[tuple[int, int, Run]]) -> str:
    """Several runs: their totals, and the anomalies of every run by kind."""
    writes = sum(len(run.rec.writes) for _, _, run in runs)
    acked = sum(figures(run)["acknowledged"] for _, _, run in runs)
    deliveries = sum(len(run.rec.deliveries) for _, _, run in runs)
    faults = sum(len(run.rec.faults) for _, _, run in runs)
    history = sum(run.plan.duration for _, _, run in runs)
    kinds: dict[str, dict[str, int]] = {}
    for _, _, run in runs:
        for kind, f in kind_figures(run).items():
            row = kinds.setdefault(kind, dict.fromkeys(f, 0))
            for key, value in f.items():
                row[key] += value
    out = [
        f"summary of {len(runs)} runs ({', '.join(f'seed {s} on {n}' for s, n, _ in runs)}): {history:g} s of history, "
        f"{writes} writes ({acked} acknowledged), {deliveries} deliveries, {faults} faults, "
        f"{sum(run.findings.total for _, _, run in runs)} anomalies",
    ]
    out += kind_table(kinds)
    return "\n".join(out)
