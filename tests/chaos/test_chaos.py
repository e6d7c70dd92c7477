"""``make test``'s short chaos run: a seed-driven history on a real broker, and no anomaly allowed.

CHAOS_SEED picks the seed (default 4; "random" draws one, printed), CHAOS_DURATION the
seconds of history (default 45, about a minute in all), CHAOS_NODES the cluster
sizes ("1", "3" or "1 3"; default "1"). A run draws a slice of the reader kinds
(schedule.kinds_of_run): any three consecutive seeds cover every kind
(test_schedule.py), and `make chaos-long` runs them all many times.
CHAOS_GROUP_PROTOCOL sets the readers' group_protocol (default "classic").
"""

from __future__ import annotations

import os
import random

import pytest

from .report import REPORTS, replay_command, text_report, write_json
from .runner import run_chaos

NODES = [int(n) for n in os.environ.get("CHAOS_NODES", "1").split()]
DEFAULT_SEED = 4


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("nodes", NODES, ids=[f"{n}node" for n in NODES])
def test_chaos_history_has_no_anomalies(nodes: int) -> None:
    # make test runs a fixed seed, so that CI judges the code and not the draw: random seeds found
    # anomalies not explained yet (seeds 102 and 696397, open issues). CHAOS_SEED=random draws one;
    # make chaos always does.
    wanted = os.environ.get("CHAOS_SEED") or str(DEFAULT_SEED)
    seed = random.SystemRandom().randrange(1, 1_000_000) if wanted == "random" else int(wanted)
    duration = float(os.environ.get("CHAOS_DURATION", "45"))
    print(f"chaos: seed {seed}, {nodes} node(s), {duration:g} s")
    protocol = os.environ.get("CHAOS_GROUP_PROTOCOL", "classic")
    run = run_chaos(seed, duration, nodes, group_protocol=protocol)
    report = text_report(run)
    path = write_json(run)
    REPORTS.append(f"{report}\nresult: {path}")
    print(report)
    assert run.findings.total == 0, (
        f"the chaos history of seed {seed} has anomalies ({run.findings.counts}); "
        f"replay it with: {replay_command(run)}\n"
        f"(or: CHAOS_SEED={seed} CHAOS_DURATION={duration:g} CHAOS_NODES={nodes} "
        f"CHAOS_GROUP_PROTOCOL={protocol} pytest tests/chaos)\n{report}"
    )
