"""results.json -> results.md (medians, ratios, targets) and chart.png (matplotlib, Agg)."""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Outcome = dict[str, Any]

LABELS = {
    "msgbus": "msgbus message_write",
    "msgbus_many": "msgbus message_write_many",
    "raw": "raw confluent-kafka",
    "raw_flush": "raw confluent produce+flush (msgbus settings)",
    "raw_default": "raw confluent, librdkafka defaults (as Go)",
    "kafka_python": "kafka-python",
    "aiokafka": "aiokafka",
    "go": "Go original (confluent-kafka-go)",
    "go_cb": "Go original, callback",
    "producer_perf": "Kafka ProducerPerformance (Java)",
    "consumer_perf": "Kafka ConsumerPerformance (Java)",
    "msgbus_read": "msgbus message_read",
    "msgbus_cb": "msgbus callback",
    "msgbus_reader": "msgbus reader",
    "msgbus_writer": "msgbus NonBlocking writer",
    "aio": "msgbus.aio",
    "aio_many": "msgbus.aio message_read_many",
    "aiokafka_wait": "aiokafka send_and_wait (linger 0)",
    "msgbus_read_many": "msgbus message_read_many",
    "write_lines": "pipelined CLI writer (_cli_write.write_lines)",
    "cli": "msgbus write < 100k lines (the CLI as wired now)",
}
# The first column of each group's table, and its reference for the ratio column.
REFERENCE = {"write_nb_100": "raw", "write_nb_1024": "raw", "write_blocking": "raw_default", "read": "raw"}
#: Groups that bench.report_scale shows (tables and charts of their own).
SCALE_PREFIXES = ("size_", "readers", "cluster_", "connect", "backlog_memory")


def median(outcome: Outcome, group: str, system: str, key: str) -> float | None:
    rounds = outcome["groups"].get(group, {}).get("rounds", {}).get(system)
    if not rounds:
        return None
    values = [r[key] for r in rounds if key in r]
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


@dataclass
class Target:
    text: str
    value: Callable[[Outcome], float | None]
    ok: Callable[[float], bool]
    shown: str  # format of the value


def _ratio(group: str, a: str, b: str, key: str = "rate") -> Callable[[Outcome], float | None]:
    def compute(outcome: Outcome) -> float | None:
        x, y = median(outcome, group, a, key), median(outcome, group, b, key)
        return None if x is None or y is None or y == 0 else x / y

    return compute


def _min_round_ratio(group: str, a: str, b: str) -> Callable[[Outcome], float | None]:
    """The lowest a/b over the rounds, paired as they ran (round i of a with round i of b)."""

    def compute(outcome: Outcome) -> float | None:
        rounds = outcome["groups"].get(group, {}).get("rounds", {})
        xs, ys = rounds.get(a), rounds.get(b)
        if not xs or not ys:
            return None
        return float(min(x["rate"] / y["rate"] for x, y in zip(xs, ys, strict=False)))

    return compute


def _value(group: str, system: str, key: str) -> Callable[[Outcome], float | None]:
    return lambda outcome: median(outcome, group, system, key)


def _growth(group: str, system: str) -> Callable[[Outcome], float | None]:
    def compute(outcome: Outcome) -> float | None:
        tenth, end = median(outcome, group, system, "tenth_mb"), median(outcome, group, system, "end_mb")
        return None if tenth is None or end is None else end - tenth

    return compute


TARGETS = (
    [
        Target(
            f"NonBlocking write {s}: msgbus / raw confluent >= 0.9", _ratio(g, "msgbus", "raw"), lambda v: v >= 0.9, "x"
        )
        for g, s in (("write_nb_100", "100 B"), ("write_nb_1024", "1 KB"))
    ]
    + [
        Target(
            f"NonBlocking write {s}: msgbus / raw confluent >= 0.9 in EVERY round (lowest paired round)",
            _min_round_ratio(g, "msgbus", "raw"),
            lambda v: v >= 0.9,
            "x",
        )
        for g, s in (("write_nb_100", "100 B"), ("write_nb_1024", "1 KB"))
    ]
    + [
        Target(
            "asyncio NonBlocking write 100 B: msgbus.aio / aiokafka >= 5",
            _ratio("write_nb_100", "aio", "aiokafka"),
            lambda v: v >= 5,
            "x",
        ),
        Target(
            "asyncio NonBlocking write 100 B: msgbus.aio / sync message_write >= 0.8",
            _ratio("write_nb_100", "aio", "msgbus"),
            lambda v: v >= 0.8,
            "x",
        ),
        Target(
            "asyncio Blocking write: msgbus.aio / aiokafka send_and_wait >= 1",
            _ratio("write_blocking", "aio", "aiokafka_wait"),
            lambda v: v >= 1,
            "x",
        ),
        Target("asyncio read: msgbus.aio / aiokafka >= 2", _ratio("read", "aio", "aiokafka"), lambda v: v >= 2, "x"),
        Target(
            "Read: message_read_many / raw consume() >= 0.95",
            _ratio("read", "msgbus_read_many", "raw"),
            lambda v: v >= 0.95,
            "x",
        ),
        Target(
            "Read: msgbus.aio message_read_many / raw consume() >= 0.95",
            _ratio("read", "aio_many", "raw"),
            lambda v: v >= 0.95,
            "x",
        ),
        Target(
            "CLI write, every line acknowledged: pipelined writer >= 50,000 lines/s",
            _value("cli_write", "write_lines", "rate"),
            lambda v: v >= 50_000,
            "lines/s",
        ),
        Target(
            "CLI write: `msgbus write` < 100k lines, whole command >= 50,000 lines/s",
            _value("cli_write", "cli", "rate"),
            lambda v: v >= 50_000,
            "lines/s",
        ),
    ]
    + [
        Target(
            f"NonBlocking write {s}: msgbus / kafka-python >= 3",
            _ratio(g, "msgbus", "kafka_python"),
            lambda v: v >= 3,
            "x",
        )
        for g, s in (("write_nb_100", "100 B"), ("write_nb_1024", "1 KB"))
    ]
    + [
        Target(
            f"message_write_many {s}: / ProducerPerformance >= 0.5",
            _ratio(g, "msgbus_many", "producer_perf"),
            lambda v: v >= 0.5,
            "x",
        )
        for g, s in (("write_nb_100", "100 B"), ("write_nb_1024", "1 KB"))
    ]
    + [
        Target(
            "Blocking write: msgbus p50 <= 2 ms", _value("write_blocking", "msgbus", "p50_ms"), lambda v: v <= 2.0, "ms"
        ),
        Target(
            "Blocking write: msgbus / default-settings path >= 5",
            _ratio("write_blocking", "msgbus", "raw_default"),
            lambda v: v >= 5,
            "x",
        ),
        Target(
            "Read: message_read / raw consume() >= 0.8", _ratio("read", "msgbus_read", "raw"), lambda v: v >= 0.8, "x"
        ),
        Target("Read: callback / raw consume() >= 0.8", _ratio("read", "msgbus_cb", "raw"), lambda v: v >= 0.8, "x"),
        Target(
            "Latency at 10k msg/s: msgbus p99 <= 10 ms",
            _value("latency_10000", "msgbus", "p99_ms"),
            lambda v: v <= 10,
            "ms",
        ),
        Target(
            "Memory: reader RSS growth from 10% to 100% of the messages <= 20 MB",
            _growth("memory", "msgbus_reader"),
            lambda v: v <= 20,
            "MB",
        ),
        Target(
            "Memory: NonBlocking writer RSS growth from 10% to 100% <= 20 MB",
            _growth("memory", "msgbus_writer"),
            lambda v: v <= 20,
            "MB",
        ),
    ]
)


def markdown(outcome: Outcome) -> str:
    lines: list[str] = []
    kind = "smoke run (tiny sizes, targets not checked)" if outcome.get("smoke") else "full run"
    lines.append(f"# msgbus benchmarks ({kind}, {outcome.get('date', '?')})")
    lines.append("")
    lines.append(
        f"Medians of {outcome.get('rounds')} interleaved rounds per comparison, after an untimed warm-up; "
        "each measurement in a fresh process; one single-node Kafka broker on loopback, on the same machine. "
        "Write throughput ends at the last delivery (flush), not the last call. "
        "Read throughput is from the first message to the last (group join left out)."
    )
    lines.append("")
    lines.append("| machine | |")
    lines.append("|---|---|")
    for key, value in outcome.get("machine", {}).items():
        lines.append(f"| {key} | {value} |")
    for key, value in outcome.get("versions", {}).items():
        lines.append(f"| {key} | {value} |")
    lines.append("")
    if not outcome.get("smoke"):
        lines.append("## Targets")
        lines.append("")
        lines.append("| target | measured | met |")
        lines.append("|---|---|---|")
        for t in TARGETS:
            value = t.value(outcome)
            if value is None:
                lines.append(f"| {t.text} | n/a | - |")
                continue
            shown = f"{value:.2f}x" if t.shown == "x" else f"{value:,.2f} {t.shown}"
            lines.append(f"| {t.text} | {shown} | {'yes' if t.ok(value) else '**no**'} |")
        lines.append("")
    for name, group in outcome.get("groups", {}).items():
        if name.startswith(SCALE_PREFIXES):
            continue
        lines.append(f"## {group['title']}")
        lines.append("")
        rounds: dict[str, list[dict[str, Any]]] = group["rounds"]
        ref = REFERENCE.get(name)
        if name.startswith("latency"):
            lines.append("| system | p50 ms | p99 ms | p99.9 ms | messages/round |")
            lines.append("|---|---|---|---|---|")
            for system in rounds:
                lines.append(
                    f"| {LABELS.get(system, system)} | {_fmt(median(outcome, name, system, 'p50_ms'), 2)} | "
                    f"{_fmt(median(outcome, name, system, 'p99_ms'), 2)} | "
                    f"{_fmt(median(outcome, name, system, 'p999_ms'), 2)} | "
                    f"{_fmt(median(outcome, name, system, 'messages'))} |"
                )
        elif name == "memory":
            lines.append("| process | RSS after connect MB | RSS after 10% MB | RSS at the end MB | peak RSS MB |")
            lines.append("|---|---|---|---|---|")
            for system in rounds:
                lines.append(
                    f"| {LABELS.get(system, system)} | {_fmt(median(outcome, name, system, 'connected_mb'), 1)} | "
                    f"{_fmt(median(outcome, name, system, 'tenth_mb'), 1)} | "
                    f"{_fmt(median(outcome, name, system, 'end_mb'), 1)} | "
                    f"{_fmt(median(outcome, name, system, 'peak_mb'), 1)} |"
                )
        else:
            blocking = name == "write_blocking"
            if name == "write_nb_100" and "msgbus" in rounds and "raw" in rounds:
                pairs = [x["rate"] / y["rate"] for x, y in zip(rounds["msgbus"], rounds["raw"], strict=False)]
                lines.append("msgbus / raw per round, as paired: " + ", ".join(f"{r:.2f}x" for r in pairs))
                lines.append("")
            head = "| system | median msg/s | min-max msg/s |"
            if blocking:
                head += " p50 ms | p99 ms |"
            if ref:
                head += f" ratio to {LABELS.get(ref, ref)} |"
            lines.append(head)
            lines.append("|" + "---|" * (head.count("|") - 1))
            ref_rate = median(outcome, name, ref, "rate") if ref else None
            for system, values in rounds.items():
                rate = median(outcome, name, system, "rate")
                rates = [v["rate"] for v in values]
                row = f"| {LABELS.get(system, system)} | {_fmt(rate)} | {_fmt(min(rates))}-{_fmt(max(rates))} |"
                if blocking:
                    row += (
                        f" {_fmt(median(outcome, name, system, 'p50_ms'), 2)} |"
                        f" {_fmt(median(outcome, name, system, 'p99_ms'), 2)} |"
                    )
                if ref:
                    row += f" {rate / ref_rate:.2f}x |" if rate and ref_rate else " n/a |"
                lines.append(row)
        for system, why in group.get("skipped", {}).items():
            lines.append("")
            lines.append(f"Skipped {LABELS.get(system, system)}: {why.splitlines()[0] if why else ''}")
        lines.append("")
    from . import report_scale

    lines += report_scale.markdown(outcome)
    return "\n".join(lines) + "\n"


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


README = Path(__file__).resolve().parent.parent / "README.md"
_START, _END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(table: str, readme: Path = README) -> bool:
    """Put the latest table between the README's bench markers (a full run only)."""
    if not readme.is_file():
        return False
    text = readme.read_text()
    start, end = text.find(_START), text.find(_END)
    if start < 0 or end < start:
        return False
    # The table's own title becomes a sub-heading of the README's Performance section.
    body = table.replace("# msgbus benchmarks", "### Latest run", 1).replace("\n## ", "\n#### ")
    readme.write_text(text[: start + len(_START)] + "\n" + body + text[end:])
    return True


def write(outcome: Outcome, out: Path) -> None:
    table = markdown(outcome)
    (out / "results.md").write_text(table)
    chart(outcome, out / "chart.png")
    from . import report_scale

    report_scale.charts(outcome, out)
    if not outcome.get("smoke") and out == Path(__file__).resolve().parent / "results":
        update_readme(table)


if __name__ == "__main__":
    # python -m bench.report [DIR]: redo the table and chart from DIR/results.json.
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    write(json.loads((folder / "results.json").read_text()), folder)
