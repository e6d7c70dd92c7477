"""``python -m tests.chaos --seed N --duration S --nodes 1 3``: run, print the table, exit 1 on any anomaly.

``--seeds 101 102 ...`` runs several seeds in turn (each on every ``--nodes``) and ends with a
summary: the long run (``make chaos-long``) is six seeds, 150 s each on 1 and on 3 nodes.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys

from .report import summary_report, text_report, write_json
from .runner import DRAIN_TIMEOUT, run_chaos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="several seeds, one after the other")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of history per run (default 120)")
    parser.add_argument("--nodes", type=int, nargs="+", default=[1], choices=(1, 3), help="one run per value")
    parser.add_argument("--drain-timeout", type=float, default=DRAIN_TIMEOUT)
    parser.add_argument(
        "--group-protocol",
        default="classic",
        choices=("classic", "classic-cooperative", "consumer"),
        help="every reader's MsgBusConfig.group_protocol (default classic)",
    )
    parser.add_argument("--log", default=None, help="write msgbus's log lines (DEBUG and up) to this file")
    parser.add_argument(
        "--rdkafka-debug",
        default="",
        help="librdkafka debug contexts for every reader (e.g. cgrp,fetch), logged with --log; "
        "each reader's client.id is then r<id>",
    )
    args = parser.parse_args(argv)
    if args.seeds is not None:
        seeds = args.seeds
    else:
        seeds = [args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)]
    # librdkafka's connection errors during faults are expected; keep the output to the findings.
    logging.basicConfig(level=logging.CRITICAL)
    if args.log:
        handler = logging.FileHandler(args.log, mode="w")
        handler.setFormatter(logging.Formatter("%(created).3f %(threadName)s %(levelname)s %(message)s"))
        msgbus_log = logging.getLogger("msgbus")
        msgbus_log.addHandler(handler)
        msgbus_log.setLevel(logging.DEBUG)
        msgbus_log.propagate = False
    if args.rdkafka_debug:
        os.environ["CHAOS_RDKAFKA_DEBUG"] = args.rdkafka_debug
    summary = []
    for seed in seeds:
        for nodes in args.nodes:
            print(f"chaos: seed {seed}, {nodes} node(s), {args.duration:g} s, {args.group_protocol}", flush=True)
            run = run_chaos(seed, args.duration, nodes, args.drain_timeout, args.group_protocol)
            print(text_report(run), flush=True)
            print(f"result: {write_json(run)}", flush=True)
            summary.append((seed, nodes, run))
    if len(summary) > 1:
        print(summary_report(summary), flush=True)
    return 1 if any(run.findings.total for _, _, run in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
