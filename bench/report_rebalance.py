"""bench/rebalance.py's results as rebalance.json, a markdown table (rebalance.md) and a chart (rebalance.png)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


def _median(results: list[dict[str, Any]], event: str, key: str) -> float:
    return float(statistics.median(r["events"][event][key] for r in results))


def table(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    protocols = list(dict.fromkeys(r["protocol"] for r in results))
    rounds = max(r["round"] for r in results)
    lines = [
        "# What a join and a leave cost a group, per group protocol",
        "",
        f"{meta['steady_members']} msgbus readers of one group read {meta['rate']:,} msg/s from "
        f"{meta['partitions']} partitions; a fifth joins, and {meta['settle_s']:g} s later leaves. "
        f"Kafka {meta['kafka']}, one broker with default group settings; "
        f"{rounds} run(s) per protocol, medians shown. `make bench-rebalance` reproduces it.",
        "",
        "| group_protocol | event | longest pause of a member (s) | (quiet) | members paused | partitions stalled "
        "| every partition flows again after (s) | duplicates | lost |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for protocol in protocols:
        mine = [r for r in results if r["protocol"] == protocol]
        dups = statistics.median(r["duplicates"] for r in mine)
        lost = max(r["lost"] for r in mine)
        for event in ("join", "leave"):
            lines.append(
                f"| {protocol} | {event} | {_median(mine, event, 'longest_member_pause_s'):.2f} "
                f"| {_median(mine, event, 'quiet_longest_pause_s'):.2f} "
                f"| {_median(mine, event, 'members_paused'):g} of {meta['steady_members']} "
                f"| {_median(mine, event, 'partitions_stalled'):g} of {meta['partitions']} "
                f"| {_median(mine, event, 'all_partitions_flow_after_s'):.2f} "
                f"| {dups:g} | {lost} |"
            )
    lines += [
        "",
        "A pause is the longest time a member's application got no message, from half a second before "
        "the event to the next one; (quiet) is the same measure over a stretch before the join when "
        "nothing happened (the machine's own hiccups). A member paused, or a partition stalled, if it got "
        "nothing for 0.5 s or more. The join counts from the fifth member's connect() call, the leave "
        "from its disconnect(). Duplicates and lost count the whole run (both events).",
        "",
    ]
    return "\n".join(lines)


def chart(results: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    protocols = list(dict.fromkeys(r["protocol"] for r in results))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    width = 0.38
    for ax, event in zip(axes, ("join", "leave"), strict=True):
        xs = range(len(protocols))
        of = {p: [r for r in results if r["protocol"] == p] for p in protocols}
        pauses = [_median(of[p], event, "longest_member_pause_s") for p in protocols]
        flows = [_median(of[p], event, "all_partitions_flow_after_s") for p in protocols]
        ax.bar([x - width / 2 for x in xs], pauses, width, label="longest pause of a member")
        ax.bar([x + width / 2 for x in xs], flows, width, label="every partition flows again after")
        ax.set_xticks(list(xs), protocols)
        ax.set_title(f"a fifth member {'joins' if event == 'join' else 'leaves'}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[0].legend(loc="upper left", fontsize="small")
    fig.suptitle("Rebalance cost per group_protocol (4 members, 10k msg/s, 8 partitions)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> list[Path]:
    written = [out / "rebalance.json", out / "rebalance.md"]
    written[0].write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    written[1].write_text(table(results, meta))
    if chart(results, out / "rebalance.png"):
        written.append(out / "rebalance.png")
    return written
