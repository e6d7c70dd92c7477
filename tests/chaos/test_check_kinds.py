"""The checker on made-up histories, for every reader kind: a planted loss and duplicate are found and
counted under that kind; what each read style's promise allows (a drop, a dead letter, a retry) is not."""

from __future__ import annotations

import collections

import pytest

from .check import Checker, Findings
from .record import ACKED, Dead, ReaderRec, Recorder, Stopped
from .schedule import KINDS, POLICY_OF, kinds_of_run, make_plan

T = "chaos-pre"
TEXTS = [f"w1:{i}" for i in range(10)]


def _history(kind: str, group: str = "") -> Recorder:
    """Reader 1 of ``kind`` connected at 1 s, alive to the end; w1:0..9 written at 2..2.9 s to partition 0."""
    rec = Recorder()
    rec.t0 = 0.0
    for i, text in enumerate(TEXTS):
        w = rec.write_started(text, T, 1)
        w.start, w.end, w.status = 2 + i / 10, 2 + i / 10 + 0.01, ACKED
    rec.readers[1] = ReaderRec(1, T, group, kind, False, "latest", attempts=[(0.5, 1.0)], connected=1.0)
    rec.drain_start = 100.0
    return rec


def _check(rec: Recorder, delivered: list[int]) -> Findings:
    rec.deliveries += [(1, TEXTS[o], 10.0 + n) for n, o in enumerate(delivered)]
    positions = {text: (T, 0, i) for i, text in enumerate(TEXTS)}
    offsets = {(T, 0): dict(enumerate(TEXTS))}
    return Checker(rec, positions, offsets, collections.Counter(TEXTS)).run()


@pytest.mark.parametrize("kind", KINDS)
def test_a_lost_and_a_duplicated_message_are_found_under_the_readers_kind(kind: str) -> None:
    group = "g" if kind in POLICY_OF and POLICY_OF[kind] == "stop" else ""
    assert _check(_history(kind, group), list(range(10))).total == 0
    found = _check(_history(kind, group), [0, 1, 2, 3, 5, 6, 7, 8, 9, 9])
    assert found.counts["lost write"] == 1
    # Alone in its group (named or private), no membership change excuses the duplicate.
    assert found.counts["duplicate"] == 1
    assert found.by_kind[kind]["lost write"] == 1 and found.by_kind[kind]["duplicate"] == 1


def _failed(rec: Recorder, text: str, t: float, given_up: bool) -> None:
    rec.failed(1, text, given_up)
    rec.failures[-1] = (1, text, t)
    if given_up:
        rec.gave_up[-1] = (1, text, t)


def test_a_dropped_message_counts_as_delivered_and_one_that_only_failed_does_not() -> None:
    rec = _history("run-drop")
    _failed(rec, "w1:4", 13.5, given_up=True)
    assert _check(rec, [0, 1, 2, 3, 5, 6, 7, 8, 9]).total == 0
    rec = _history("run-drop")
    _failed(rec, "w1:4", 13.5, given_up=False)  # a failed attempt, never dropped nor retried: lost
    found = _check(rec, [0, 1, 2, 3, 5, 6, 7, 8, 9])
    assert found.counts["lost write"] == 1 and found.by_kind["run-drop"]["lost write"] == 1
    assert found.counts["poll skip"] == 0  # the failed attempt passed its offset


def test_a_retried_message_delivered_after_its_failures_is_no_duplicate_and_no_step_back() -> None:
    rec = _history("run-retry")
    _failed(rec, "w1:4", 13.1, given_up=False)
    _failed(rec, "w1:4", 13.2, given_up=False)
    assert _check(rec, list(range(10))).total == 0


def test_a_dead_letter_counts_as_delivered_only_when_it_is_on_the_dead_letter_topic() -> None:
    rec = _history("run-deadletter")
    rec.readers[1].policy_attempts = 2
    _failed(rec, "w1:4", 13.5, given_up=True)
    rec.dead[1] = [Dead("w1:4", T, 0, 4, 2)]
    assert _check(rec, [0, 1, 2, 3, 5, 6, 7, 8, 9]).total == 0
    rec = _history("run-deadletter")
    rec.readers[1].policy_attempts = 2
    _failed(rec, "w1:4", 13.5, given_up=True)
    rec.dead[1] = []  # given up on, the reader went on, and it never reached the topic
    found = _check(rec, [0, 1, 2, 3, 5, 6, 7, 8, 9])
    assert found.counts["lost write"] == 1
    # A dead letter of a message it never gave up on, naming the wrong place and attempts.
    rec = _history("run-deadletter")
    rec.readers[1].policy_attempts = 2
    rec.dead[1] = [Dead("w1:4", T, 0, 5, 3)]
    found = _check(rec, list(range(10)))
    assert found.counts["broken promise"] == 2 and found.counts["wrong record"] == 1


def test_the_last_dead_letter_a_disconnect_interrupted_is_excused() -> None:
    rec = _history("run-deadletter")
    _failed(rec, "w1:9", 30.0, given_up=True)
    rec.dead[1] = []
    rec.readers[1].disc_start = rec.readers[1].disc_end = 101.0
    assert _check(rec, list(range(9))).total == 0


def test_a_record_or_a_stop_naming_the_wrong_place_is_found() -> None:
    rec = _history("read-record")
    rec.records += [(1, "w1:3", 0, 3), (1, "w1:4", 0, 5)]
    found = _check(rec, list(range(10)))
    assert found.counts["wrong record"] == 1 and found.by_kind["read-record"]["wrong record"] == 1
    rec = _history("aio-run-stop", "g")
    rec.stops += [Stopped(1, "w1:2", T, 0, 2, 12.0), Stopped(1, "w1:6", T, 0, 7, 16.0)]
    found = _check(rec, list(range(10)))
    assert found.counts["wrong record"] == 1 and found.by_kind["aio-run-stop"]["wrong record"] == 1


def test_a_promise_the_actor_saw_broken_is_counted_under_its_kind() -> None:
    rec = _history("available-blocking")
    rec.broke(1, "a Blocking message_read() without a timeout returned None")
    found = _check(rec, list(range(10)))
    assert found.counts["broken promise"] == 1 and found.by_kind["available-blocking"]["broken promise"] == 1


def test_three_consecutive_seeds_of_a_short_run_draw_every_kind() -> None:
    for first in (1, 45, 999):
        drawn = {kind for seed in range(first, first + 3) for kind in kinds_of_run(seed, 45)}
        assert drawn == set(KINDS)


@pytest.mark.parametrize("duration", [45.0, 150.0])
def test_every_seed_makes_a_plan(duration: float) -> None:
    # Seed 415048 at 45 s left a private slot with only Stop kinds to take (StopIteration).
    for seed in [415048, *range(1, 2001)]:
        plan = make_plan(seed, duration, 1)
        assert plan.readers, seed
