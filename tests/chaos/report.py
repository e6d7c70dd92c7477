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
        "drain_seconds": round((rec.drain_end or 0) - (rec.drain_start or 0), 1),
    }


def table(run: Run) -> list[str]:
    f = run.findings
    width = max(len(a) for a in ANOMALIES)
    lines = [f"| {'anomaly'.ljust(width)} | count | allowed |", f"|{'-' * (width + 2)}|------:|--------:|"]
    lines += [f"| {a.ljust(width)} | {f.counts[a]:5d} | {0:7d} |" for a in ANOMALIES]
    return lines


def text_report(run: Run) -> str:
    p, fig = run.plan, figures(run)
    out = [
        f"chaos seed={p.seed} nodes={p.nodes} duration={p.duration:g}s group_protocol={run.group_protocol}: "
        f"{fig['writes']} writes "
        f"({fig['acknowledged']} acknowledged, {fig['maybe']} maybe), {fig['deliveries']} deliveries, "
        f"{fig['readers_connected']}/{fig['readers_planned']} readers connected, {len(fig['faults'])} faults, "
        f"{len(fig['partitions_added'])} partition additions, drain {fig['drain_seconds']} s",
        *table(run),
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
        "allowed": dict.fromkeys(ANOMALIES, 0),
        "examples": run.findings.examples,
        "figures": figures(run),
        "notes": run.rec.notes,
        "plan": p.as_dict(),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path
