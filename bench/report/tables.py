"""results.md's own part: the machine and versions, the targets, and a table per comparison."""

from __future__ import annotations

from typing import Any

from ..common import Outcome
from .numbers import fmt, median
from .targets import TARGETS

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
    "write_lines": "pipelined CLI writer (_cli/write_lines.py)",
    "cli": "msgbus write < 100k lines (the CLI as wired now)",
}
# The first column of each group's table, and its reference for the ratio column.
REFERENCE = {"write_nb_100": "raw", "write_nb_1024": "raw", "write_blocking": "raw_default", "read": "raw"}
#: Groups that bench.report_scale shows (tables and charts of their own).
SCALE_PREFIXES = ("size_", "readers", "cluster_", "connect", "backlog_memory")


def markdown(outcome: Outcome) -> list[str]:
    """The machine, the targets (a full run) and a table per comparison; the scalings are scaling.py's."""
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
            shown = f"{value:.2f}x" if t.unit == "x" else f"{value:,.2f} {t.unit}"
            lines.append(f"| {t.text} | {shown} | {'yes' if t.met(value) else '**no**'} |")
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
                    f"| {LABELS.get(system, system)} | {fmt(median(outcome, name, system, 'p50_ms'), 2)} | "
                    f"{fmt(median(outcome, name, system, 'p99_ms'), 2)} | "
                    f"{fmt(median(outcome, name, system, 'p999_ms'), 2)} | "
                    f"{fmt(median(outcome, name, system, 'messages'))} |"
                )
        elif name == "memory":
            lines.append("| process | RSS after connect MB | RSS after 10% MB | RSS at the end MB | peak RSS MB |")
            lines.append("|---|---|---|---|---|")
            for system in rounds:
                lines.append(
                    f"| {LABELS.get(system, system)} | {fmt(median(outcome, name, system, 'connected_mb'), 1)} | "
                    f"{fmt(median(outcome, name, system, 'tenth_mb'), 1)} | "
                    f"{fmt(median(outcome, name, system, 'end_mb'), 1)} | "
                    f"{fmt(median(outcome, name, system, 'peak_mb'), 1)} |"
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
                row = f"| {LABELS.get(system, system)} | {fmt(rate)} | {fmt(min(rates))}-{fmt(max(rates))} |"
                if blocking:
                    row += (
                        f" {fmt(median(outcome, name, system, 'p50_ms'), 2)} |"
                        f" {fmt(median(outcome, name, system, 'p99_ms'), 2)} |"
                    )
                if ref:
                    row += f" {rate / ref_rate:.2f}x |" if rate and ref_rate else " n/a |"
                lines.append(row)
        for system, why in group.get("skipped", {}).items():
            lines.append("")
            lines.append(f"Skipped {LABELS.get(system, system)}: {why.splitlines()[0] if why else ''}")
        lines.append("")
    return lines
