"""The ``msgbus lag`` and ``msgbus health`` verbs: a consumer group judged from outside, from its commits.

``lag`` prints each partition's committed offset, end and lag, as Kafka's
consumer-groups tool does. ``health`` samples them twice, a window apart:
behind, with no commit moving, is stuck.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from .._config import BusReader, MsgBusConfig
from .._errors import ConnectError
from .._ops.metrics import PartitionLag
from .args import UsageError

LAG_EPILOG = """\
A partition the group never committed shows '-' (null with --json). Exit code 0, or 1 when no broker
answers or the topic does not exist."""

HEALTH_EPILOG = """\
Samples the group's commits and the partitions' ends at the start and the end of --window. Exit codes,
for probe scripts: 0 ok (commits moved) or idle (nothing behind); 3 stuck (behind, and no commit moved
during the window); 1 no broker answers (or no such topic); 2 usage. Partitions the group never
committed are not judged."""

#: Exit code of ``msgbus health`` for a stuck group.
STUCK = 3


def add_lag_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", required=True, help="the consumer group")
    parser.add_argument("--json", action="store_true", help="one JSON object per partition, one per line")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="wait for answers (default 10 s)")


def add_health_arguments(parser: argparse.ArgumentParser) -> None:
    add_lag_arguments(parser)
    parser.add_argument(
        "--window", type=float, default=10.0, metavar="S", help="seconds between the two samples (default 10)"
    )


def ops_fields(args: argparse.Namespace) -> dict[str, object]:
    for name in ("timeout", "window"):
        value = getattr(args, name, 1.0)
        if not 0 < value < float("inf"):
            raise UsageError(f"--{name} must be a positive number of seconds")
    return {"direction": BusReader, "group_id": args.group}


def _sample(args: argparse.Namespace, cfg: MsgBusConfig) -> list[PartitionLag]:
    from .._backends.kafka._groups import group_lag

    return group_lag(cfg, args.group, args.timeout)


def _text(value: int | None) -> str:
    return "-" if value is None else str(value)


def run_lag(args: argparse.Namespace, cfg: MsgBusConfig) -> int:
    rows = _sample(args, cfg)
    if args.json:
        for row in rows:
            print(json.dumps({"topic": cfg.topic, "group": args.group, **dataclasses.asdict(row)}))
        return 0
    print(f"{'TOPIC':<30} {'PARTITION':>9} {'COMMITTED':>12} {'END':>12} {'LAG':>10}")
    for row in rows:
        print(
            f"{cfg.topic:<30} {row.partition:>9} {_text(row.committed):>12} {_text(row.end):>12} {_text(row.lag):>10}"
        )
    return 0


def judge(before: list[PartitionLag], after: list[PartitionLag]) -> tuple[str, str]:
    """(status, reason) of a group from two samples: idle, ok or stuck."""
    was = {row.partition: row.committed for row in before}
    judged = [row for row in after if row.committed is not None]
    behind = sum(row.lag or 0 for row in judged)
    moved = 0
    for row in judged:
        earlier = was.get(row.partition)
        if row.committed is not None and earlier is not None and row.committed > earlier:
            moved += row.committed - earlier
    if behind == 0:
        return "idle", "nothing behind"
    if moved:
        return "ok", f"{behind} behind, {moved} committed during the window"
    return "stuck", f"{behind} behind and no commit moved during the window"


def run_health(args: argparse.Namespace, cfg: MsgBusConfig) -> int:
    try:
        before = _sample(args, cfg)
        time.sleep(args.window)
        after = _sample(args, cfg)
    except ConnectError as exc:
        _say(args, cfg, "unreachable", str(exc))
        return 1
    status, reason = judge(before, after)
    _say(args, cfg, status, reason, after)
    return STUCK if status == "stuck" else 0


def _say(
    args: argparse.Namespace, cfg: MsgBusConfig, status: str, reason: str, rows: list[PartitionLag] | None = None
) -> None:
    if args.json:
        body: dict[str, object] = {"topic": cfg.topic, "group": args.group, "status": status, "reason": reason}
        if rows is not None:
            body["partitions"] = [dataclasses.asdict(row) for row in rows]
        print(json.dumps(body))
    else:
        print(f"{status}: group {args.group} on {cfg.topic}: {reason}", file=sys.stdout)
