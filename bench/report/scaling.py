"""The scalings of bench/scale.py in results.md, and a chart for each: size.png, readers.png, cluster.png,
connect.png, memory.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..common import PARTITIONS, READERS, SIZES, Outcome, size_label
from .numbers import fmt, median, ratio, table


def _groups(outcome: Outcome) -> dict[str, Any]:
    groups: dict[str, Any] = outcome.get("groups", {})
    return groups


def _mb_s(rate: float | None, size: int) -> float | None:
    return None if rate is None else rate * size / 1e6


def _sizes(outcome: Outcome) -> list[int]:
    return [s for s in SIZES if f"size_write_{s}" in _groups(outcome) or f"size_read_{s}" in _groups(outcome)]


def _keys(outcome: Outcome, group: str) -> list[str]:
    return list(_groups(outcome).get(group, {}).get("rounds", {}))


def _cells(outcome: Outcome, group: str, key: str, fields: tuple[str, ...], digits: int) -> list[str]:
    return [fmt(median(outcome, group, key, field), digits) for field in fields]


def markdown(outcome: Outcome) -> list[str]:
    lines: list[str] = []
    groups = _groups(outcome)
    if _sizes(outcome):
        rows = []
        for size in _sizes(outcome):
            w, rw = (median(outcome, f"size_write_{size}", system, "rate") for system in ("msgbus", "raw"))
            r, rr = (median(outcome, f"size_read_{size}", system, "rate") for system in ("msgbus_read", "raw"))
            write = [fmt(w), fmt(rw), ratio(w, rw), fmt(_mb_s(w, size), 1)]
            rows.append([size_label(size), *write, fmt(r), fmt(rr), ratio(r, rr), fmt(_mb_s(r, size), 1)])
        columns = ["size", "msgbus write msg/s", "raw write msg/s", "msgbus/raw", "msgbus write MB/s"]
        columns += ["msgbus read msg/s", "raw read msg/s", "msgbus/raw", "msgbus read MB/s"]
        lines += table("Throughput by message size (chart: size.png)", columns, rows)
    if "readers" in groups:
        rows = []
        for key in _keys(outcome, "readers"):
            rounds = groups["readers"]["rounds"][key]
            mid = sorted(rounds, key=lambda r: r["rate"])[len(rounds) // 2]
            rate, twice = _cells(outcome, "readers", key, ("rate", "read_twice"), 0)
            rows.append([key, rate, ", ".join(f"{c:,}" for c in mid["per_reader"]), twice])
        columns = ["reader processes", "aggregate msg/s", "per reader (a median round)", "read twice"]
        lines += table(f"{groups['readers']['title']} (chart: readers.png)", columns, rows)
    if "cluster_write_nb" in groups:
        rows = []
        for group, system, what, key in (
            ("cluster_write_nb", "msgbus", "msgbus NonBlocking write msg/s", "rate"),
            ("cluster_write_nb", "raw", "raw confluent NonBlocking write msg/s", "rate"),
            ("cluster_blocking", "msgbus", "msgbus Blocking write msg/s", "rate"),
            ("cluster_blocking", "msgbus", "msgbus Blocking write p50 ms", "p50_ms"),
            ("cluster_read", "msgbus_read", "msgbus message_read msg/s", "rate"),
        ):
            one, three = median(outcome, group, f"{system}@1", key), median(outcome, group, f"{system}@3", key)
            digits = 2 if key.endswith("ms") else 0
            rows.append([what, fmt(one, digits), fmt(three, digits), ratio(three, one)])
        lines += table(
            "1 node vs a 3-node cluster (RF 3, min.insync.replicas 2, acks=all) (chart: cluster.png)",
            ["measurement", "1 node", "3 nodes", "3 / 1"],
            rows,
        )
    if "connect" in groups:
        fields: tuple[str, ...] = ("writer_s", "reader_s", "first_message_s")
        lines += table(
            "Connect time by partitions (chart: connect.png)",
            ["partitions", "writer connect() s", "reader connect() s", "reader's first message s"],
            [[key, *_cells(outcome, "connect", key, fields, 3)] for key in _keys(outcome, "connect")],
        )
    if "backlog_memory" in groups:
        fields = ("connected_mb", "idle_mb", "end_mb", "peak_mb")
        lines += table(
            "Reader memory by backlog, 100 B (chart: memory.png)",
            ["backlog (messages)", "RSS connected MB", "RSS idle 3 s MB", "RSS after reading all MB", "peak MB"],
            [
                [f"{int(key):,}", *_cells(outcome, "backlog_memory", key, fields, 1)]
                for key in _keys(outcome, "backlog_memory")
            ],
        )
    return lines


def _plot_lines(ax: Any, outcome: Outcome, group: str, keys: list[str], **series: str) -> None:
    """One line per field of ``series`` (its label as the value): the field's median at each numeric key."""
    for field, label in series.items():
        values = [median(outcome, group, k, field) or 0.0 for k in keys]
        ax.plot([int(k) for k in keys], values, marker="o", label=label)


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def charts(outcome: Outcome, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(outcome)
    title = f"({outcome.get('date', '')}, {outcome.get('machine', {}).get('cores', '?')} cores)"
    sizes = _sizes(outcome)
    if sizes:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, kind, systems in (
            (axes[0], "write", (("msgbus", "msgbus"), ("raw", "raw confluent"))),
            (axes[1], "read", (("msgbus_read", "msgbus message_read"), ("raw", "raw confluent"))),
        ):
            for system, label in systems:
                values = [_mb_s(median(outcome, f"size_{kind}_{s}", system, "rate"), s) or 0.0 for s in sizes]
                ax.plot(sizes, values, marker="o", label=label)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [size_label(s) for s in sizes], fontsize=7)
            ax.set_xlabel("message size")
            ax.set_ylabel("MB/s (median)")
            ax.set_title(f"{'NonBlocking write' if kind == 'write' else 'Read'} throughput by size", fontsize=9)
            ax.legend(fontsize=7)
        fig.suptitle(f"Throughput by message size {title}", fontsize=10)
        _save(plt, fig, out / "size.png")
    if "readers" in groups:
        keys = [str(k) for k in READERS if str(k) in groups["readers"]["rounds"]]
        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.bar(keys, [median(outcome, "readers", k, "rate") or 0.0 for k in keys], color="tab:blue")
        ax.set_xlabel("reader processes in the group (4 partitions)")
        ax.set_ylabel("aggregate messages/s (median)")
        ax.set_title(f"One group, 1-4 readers {title}", fontsize=9)
        _save(plt, fig, out / "readers.png")
    if "cluster_write_nb" in groups:
        rows = (
            ("cluster_write_nb", "msgbus", "NonBlocking write"),
            ("cluster_write_nb", "raw", "raw NonBlocking write"),
            ("cluster_blocking", "msgbus", "Blocking write"),
            ("cluster_read", "msgbus_read", "message_read"),
        )
        fig, ax = plt.subplots(figsize=(7, 4))
        ys = range(len(rows))
        for offset, nodes, color in ((-0.2, "1", "tab:gray"), (0.2, "3", "tab:blue")):
            values = [median(outcome, g, f"{s}@{nodes}", "rate") or 0.0 for g, s, _ in rows]
            ax.barh([y + offset for y in ys], values, height=0.4, color=color, label=f"{nodes} node(s)")
        ax.set_yticks(list(ys), [label for _, _, label in rows], fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("messages/s (median)")
        ax.set_title(f"1 node vs 3 nodes, RF 3, acks=all {title}", fontsize=9)
        ax.legend(fontsize=7)
        ax.invert_yaxis()
        _save(plt, fig, out / "cluster.png")
    if "connect" in groups:
        keys = [str(p) for p in PARTITIONS if str(p) in groups["connect"]["rounds"]]
        fig, ax = plt.subplots(figsize=(5.5, 4))
        _plot_lines(
            ax,
            outcome,
            "connect",
            keys,
            writer_s="writer connect()",
            reader_s="reader connect()",
            first_message_s="reader, first message",
        )
        ax.set_xscale("log")
        ax.set_xticks([int(k) for k in keys], keys)
        ax.set_xlabel("partitions")
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"Connect time by partitions {title}", fontsize=9)
        ax.legend(fontsize=7)
        _save(plt, fig, out / "connect.png")
    if "backlog_memory" in groups:
        keys = list(groups["backlog_memory"]["rounds"])
        fig, ax = plt.subplots(figsize=(5.5, 4))
        _plot_lines(
            ax, outcome, "backlog_memory", keys, idle_mb="idle, prefetched", end_mb="after reading all", peak_mb="peak"
        )
        ax.set_xscale("log")
        ax.set_xlabel("backlog (messages of 100 B in the topic)")
        ax.set_ylabel("reader RSS MB (median)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"Reader memory by backlog {title}", fontsize=9)
        ax.legend(fontsize=7)
        _save(plt, fig, out / "memory.png")
