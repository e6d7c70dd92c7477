"""chart.png: the comparisons' throughput and latency (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from ..common import Outcome
from .numbers import median
from .tables import LABELS


def chart(outcome: Outcome, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups = outcome.get("groups", {})
    throughput = [n for n in ("write_nb_100", "write_nb_1024", "write_blocking", "read") if n in groups]
    latency = [n for n in ("write_blocking", "latency_1000", "latency_10000") if n in groups]
    # Two rows: throughput on top, latency below, so that the system names fit.
    columns = max(len(throughput), len(latency), 1)
    fig, axes = plt.subplots(2, columns, figsize=(5.2 * columns, 9), squeeze=False)
    for ax, name in zip(axes[0], throughput, strict=False):
        systems = list(groups[name]["rounds"])
        values = [median(outcome, name, s, "rate") or 0.0 for s in systems]
        colors = ["tab:blue" if s.startswith("msgbus") else "tab:gray" for s in systems]
        ax.barh([LABELS.get(s, s) for s in systems], values, color=colors)
        ax.set_title(groups[name]["title"], fontsize=9)
        ax.set_xlabel("messages/s (median)")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(axis="y", labelsize=7)
        ax.invert_yaxis()
    for ax in list(axes[0][len(throughput) :]) + list(axes[1][len(latency) :]):
        ax.set_visible(False)
    for ax, name in zip(axes[1], latency, strict=False):
        systems = list(groups[name]["rounds"])
        p50 = [median(outcome, name, s, "p50_ms") or 0.0 for s in systems]
        p99 = [median(outcome, name, s, "p99_ms") or 0.0 for s in systems]
        ys = range(len(systems))
        ax.barh([y - 0.2 for y in ys], p50, height=0.4, label="p50", color="tab:blue")
        ax.barh([y + 0.2 for y in ys], p99, height=0.4, label="p99", color="tab:orange")
        ax.set_yticks(list(ys), [LABELS.get(s, s) for s in systems], fontsize=7)
        ax.set_title(
            ("Latency: " if name != "write_blocking" else "Blocking write latency: ") + groups[name]["title"],
            fontsize=8,
        )
        ax.set_xlabel("ms (median of rounds)")
        ax.legend(fontsize=7)
        ax.invert_yaxis()
    fig.suptitle(f"msgbus benchmarks, {outcome.get('date', '')} ({outcome.get('machine', {}).get('cores', '?')} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
