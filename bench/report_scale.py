"""The scalings of bench/scale.py in results.md, and a chart for each: size.png, readers.png, cluster.png,
connect.png, memory.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import Outcome, _fmt, median
from .scale import PARTITIONS, READERS, SIZES, size_label


def _groups(outcome: Outcome) -> dict[str, Any]:
    groups: dict[str, Any] = outcome.get("groups", {})
    return groups


def _ratio(x: float | None, y: float | None) -> str:
    return f"{x / y:.2f}x" if x and y else "n/a"


def _mb_s(rate: float | None, size: int) -> float | None:
    return None if rate is None else rate * size / 1e6


def _sizes(outcome: Outcome) -> list[int]:
    return [s for s in SIZES if f"size_write_{s}" in _groups(outcome) or f"size_read_{s}" in _groups(outcome)]


def _keys(outcome: Outcome, group: str) -> list[str]:
    return list(_groups(outcome).get(group, {}).get("rounds", {}))


def markdown(outcome: Outcome) -> list[str]:
    lines: list[str] = []
    groups = _groups(outcome)
    if _sizes(outcome):
        lines += ["## Throughput by message size (chart: size.png)", ""]
        lines.append(
            "| size | msgbus write msg/s | raw write msg/s | msgbus/raw | msgbus write MB/s "
            "| msgbus read msg/s | raw read msg/s | msgbus/raw | msgbus read MB/s |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for size in _sizes(outcome):
            w, rw = (
                median(outcome, f"size_write_{size}", "msgbus", "rate"),
                median(outcome, f"size_write_{size}", "raw", "rate"),
            )
            r, rr = (
                median(outcome, f"size_read_{size}", "msgbus_read", "rate"),
                median(outcome, f"size_read_{size}", "raw", "rate"),
            )
            lines.append(
                f"| {size_label(size)} | {_fmt(w)} | {_fmt(rw)} | {_ratio(w, rw)} | {_fmt(_mb_s(w, size), 1)} "
                f"| {_fmt(r)} | {_fmt(rr)} | {_ratio(r, rr)} | {_fmt(_mb_s(r, size), 1)} |"
            )
        lines.append("")
    if "readers" in groups:
        lines += [f"## {groups['readers']['title']} (chart: readers.png)", ""]
        lines.append("| reader processes | aggregate msg/s | per reader (a median round) | read twice |")
        lines.append("|---|---|---|---|")
        for key in _keys(outcome, "readers"):
            rounds = groups["readers"]["rounds"][key]
            mid = sorted(rounds, key=lambda r: r["rate"])[len(rounds) // 2]
            lines.append(
                f"| {key} | {_fmt(median(outcome, 'readers', key, 'rate'))} | "
                f"{', '.join(f'{c:,}' for c in mid['per_reader'])} | "
                f"{_fmt(median(outcome, 'readers', key, 'read_twice'))} |"
            )
        lines.append("")
    if "cluster_write_nb" in groups:
        lines += ["## 1 node vs a 3-node cluster (RF 3, min.insync.replicas 2, acks=all) (chart: cluster.png)", ""]
        lines.append("| measurement | 1 node | 3 nodes | 3 / 1 |")
        lines.append("|---|---|---|---|")
        for group, system, what, key in (
            ("cluster_write_nb", "msgbus", "msgbus NonBlocking write msg/s", "rate"),
            ("cluster_write_nb", "raw", "raw confluent NonBlocking write msg/s", "rate"),
            ("cluster_blocking", "msgbus", "msgbus Blocking write msg/s", "rate"),
            ("cluster_blocking", "msgbus", "msgbus Blocking write p50 ms", "p50_ms"),
            ("cluster_read", "msgbus_read", "msgbus message_read msg/s", "rate"),
        ):
            one, three = median(outcome, group, f"{system}@1", key), median(outcome, group, f"{system}@3", key)
            digits = 2 if key.endswith("ms") else 0
            lines.append(f"| {what} | {_fmt(one, digits)} | {_fmt(three, digits)} | {_ratio(three, one)} |")
        lines.append("")
    if "connect" in groups:
        lines += ["## Connect time by partitions (chart: connect.png)", ""]
        lines.append("| partitions | writer connect() s | reader connect() s | reader's first message s |")
        lines.append("|---|---|---|---|")
        for key in _keys(outcome, "connect"):
            lines.append(
                f"| {key} | {_fmt(median(outcome, 'connect', key, 'writer_s'), 3)} | "
                f"{_fmt(median(outcome, 'connect', key, 'reader_s'), 3)} | "
                f"{_fmt(median(outcome, 'connect', key, 'first_message_s'), 3)} |"
            )
        lines.append("")
    if "backlog_memory" in groups:
        lines += ["## Reader memory by backlog, 100 B (chart: memory.png)", ""]
        lines.append("| backlog (messages) | RSS connected MB | RSS idle 3 s MB | RSS after reading all MB | peak MB |")
        lines.append("|---|---|---|---|---|")
        for key in _keys(outcome, "backlog_memory"):
            cells = [
                _fmt(median(outcome, "backlog_memory", key, k), 1)
                for k in ("connected_mb", "idle_mb", "end_mb", "peak_mb")
            ]
            lines.append(f"| {int(key):,} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


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
        fig.tight_layout()
        fig.savefig(out / "size.png", dpi=90)
        plt.close(fig)
    if "readers" in groups:
        keys = [str(k) for k in READERS if str(k) in groups["readers"]["rounds"]]
        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.bar(keys, [median(outcome, "readers", k, "rate") or 0.0 for k in keys], color="tab:blue")
        ax.set_xlabel("reader processes in the group (4 partitions)")
        ax.set_ylabel("aggregate messages/s (median)")
        ax.set_title(f"One group, 1-4 readers {title}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "readers.png", dpi=90)
        plt.close(fig)
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
        fig.tight_layout()
        fig.savefig(out / "cluster.png", dpi=90)
        plt.close(fig)
    if "connect" in groups:
        keys = [str(p) for p in PARTITIONS if str(p) in groups["connect"]["rounds"]]
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for key, label in (
            ("writer_s", "writer connect()"),
            ("reader_s", "reader connect()"),
            ("first_message_s", "reader, first message"),
        ):
            ax.plot(
                [int(k) for k in keys],
                [median(outcome, "connect", k, key) or 0.0 for k in keys],
                marker="o",
                label=label,
            )
        ax.set_xscale("log")
        ax.set_xticks([int(k) for k in keys], keys)
        ax.set_xlabel("partitions")
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"Connect time by partitions {title}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "connect.png", dpi=90)
        plt.close(fig)
    if "backlog_memory" in groups:
        keys = list(groups["backlog_memory"]["rounds"])
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for key, label in (("idle_mb", "idle, prefetched"), ("end_mb", "after reading all"), ("peak_mb", "peak")):
            ax.plot(
                [int(k) for k in keys],
                [median(outcome, "backlog_memory", k, key) or 0.0 for k in keys],
                marker="o",
                label=label,
            )
        ax.set_xscale("log")
        ax.set_xlabel("backlog (messages of 100 B in the topic)")
        ax.set_ylabel("reader RSS MB (median)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"Reader memory by backlog {title}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "memory.png", dpi=90)
        plt.close(fig)
