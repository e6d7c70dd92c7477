"""The health verdict as a pure function (msgbus._ops.health): properties over any view and clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from msgbus import HealthStatus
from msgbus._ops.health import Limits, ReaderView, ReaderWatch, WriterView, WriterWatch, judge_reader, judge_writer
from msgbus._ops.progress import Progress

LIMITS = Limits(stuck_after=30.0, max_hold=60.0)
NOW = 10_000.0

times = st.one_of(st.none(), st.floats(min_value=0.0, max_value=NOW))


@st.composite
def progresses(draw: st.DrawFn) -> Progress:
    held = draw(st.integers(0, 5))
    finished = draw(st.integers(0, 100))
    return Progress(
        queued=draw(st.integers(0, 50)),
        taken=finished + held,
        finished=finished,
        held=held,
        oldest_held_at=draw(st.floats(min_value=0.0, max_value=NOW)) if held else None,
        last_finished_at=draw(times),
    )


@st.composite
def reader_views(draw: st.DrawFn) -> ReaderView:
    return ReaderView(
        open=draw(st.booleans()),
        reachable=draw(st.sampled_from([None, True, False])),
        rebalancing=draw(st.booleans()),
        progress=draw(progresses()),
        backlog=draw(st.integers(0, 10)),
        waiting_since=draw(times),
    )


@given(reader_views())
def test_a_closed_reader_is_closed_whatever_else(view: ReaderView) -> None:
    verdict = judge_reader(view, LIMITS, NOW)
    assert (verdict.status is HealthStatus.CLOSED) == (not view.open)


@given(reader_views())
def test_a_reader_that_moves_is_never_stuck(view: ReaderView) -> None:
    # Finished something within stuck_after, and holds nothing longer than max_hold: slow, not stuck.
    p = view.progress
    moving = p.last_finished_at is not None and NOW - p.last_finished_at < LIMITS.stuck_after
    holds_briefly = p.oldest_held_at is None or NOW - p.oldest_held_at < LIMITS.max_hold
    if moving and holds_briefly:
        assert judge_reader(view, LIMITS, NOW).status is not HealthStatus.STUCK


@given(reader_views())
def test_a_message_held_past_max_hold_is_stuck_on_an_open_reachable_reader(view: ReaderView) -> None:
    p = view.progress
    if view.open and view.reachable is not False and p.oldest_held_at is not None:
        verdict = judge_reader(view, LIMITS, NOW)
        if NOW - p.oldest_held_at >= LIMITS.max_hold:
            assert verdict.status is HealthStatus.STUCK, verdict
            assert "held" in verdict.reason


@given(reader_views(), st.floats(min_value=0.0, max_value=1e6))
def test_stuck_stays_stuck_as_time_passes(view: ReaderView, later: float) -> None:
    if judge_reader(view, LIMITS, NOW).status is HealthStatus.STUCK:
        assert judge_reader(view, LIMITS, NOW + later).status is HealthStatus.STUCK


@given(reader_views())
def test_healthy_live_and_ready_agree_with_the_status(view: ReaderView) -> None:
    verdict = judge_reader(view, LIMITS, NOW)
    status = verdict.status
    assert verdict.healthy == (status in (HealthStatus.OK, HealthStatus.IDLE, HealthStatus.REBALANCING))
    assert verdict.live == (status not in (HealthStatus.STUCK, HealthStatus.CLOSED))
    assert verdict.ready == (status in (HealthStatus.OK, HealthStatus.IDLE))
    assert verdict.figures["queued"] == view.progress.queued


def test_waiting_with_nothing_finished_turns_stuck_at_stuck_after() -> None:
    progress = Progress(queued=3, taken=0, finished=0, held=0, oldest_held_at=None, last_finished_at=None)
    view = ReaderView(True, True, False, progress, backlog=0, waiting_since=NOW - 29.9)
    assert judge_reader(view, LIMITS, NOW).status is HealthStatus.OK
    view = ReaderView(True, True, False, progress, backlog=0, waiting_since=NOW - 30.0)
    verdict = judge_reader(view, LIMITS, NOW)
    assert verdict.status is HealthStatus.STUCK and "3 message(s) waiting" in verdict.reason


def test_idle_rebalancing_and_unreachable() -> None:
    empty = Progress(queued=0, taken=5, finished=5, held=0, oldest_held_at=None, last_finished_at=1.0)
    assert judge_reader(ReaderView(True, True, False, empty, 0, None), LIMITS, NOW).status is HealthStatus.IDLE
    assert judge_reader(ReaderView(True, True, False, empty, 4, None), LIMITS, NOW).status is HealthStatus.OK
    assert judge_reader(ReaderView(True, True, True, empty, 0, None), LIMITS, NOW).status is HealthStatus.REBALANCING
    assert judge_reader(ReaderView(True, False, True, empty, 0, None), LIMITS, NOW).status is HealthStatus.UNREACHABLE


def test_the_reader_watch_restarts_the_wait_when_something_finishes() -> None:
    watch = ReaderWatch()
    waiting = Progress(queued=2, taken=1, finished=1, held=0, oldest_held_at=None, last_finished_at=None)
    assert watch.observe(waiting, 100.0) == 100.0
    assert watch.observe(waiting, 150.0) == 100.0  # nothing finished since: the wait goes on
    moved = Progress(queued=2, taken=2, finished=2, held=0, oldest_held_at=None, last_finished_at=None)
    assert watch.observe(moved, 160.0) == 160.0
    empty = Progress(queued=0, taken=2, finished=2, held=0, oldest_held_at=None, last_finished_at=None)
    assert watch.observe(empty, 170.0) is None


def test_a_reader_that_stopped_fetching_is_stuck_with_its_backlog_on_the_broker() -> None:
    # Nothing queued in the reader, but the broker has messages it never fetched, and nothing finished:
    # as stuck as a reader that stopped reading (the shape of a consumer whose fetching stalled).
    watch = ReaderWatch()
    empty = Progress(queued=0, taken=5, finished=5, held=0, oldest_held_at=None, last_finished_at=1.0)
    assert watch.observe(empty, 100.0, backlog=40) == 100.0
    since = watch.observe(empty, 131.0, backlog=40)
    verdict = judge_reader(ReaderView(True, True, False, empty, 40, since), LIMITS, 131.0)
    assert verdict.status is HealthStatus.STUCK and "40 message(s) waiting" in verdict.reason
    # Without a backlog the same reader is idle, and the wait is over.
    assert watch.observe(empty, 132.0, backlog=0) is None


@given(
    st.booleans(),
    st.sampled_from([None, True, False]),
    st.integers(0, 10),
    times,
    times,
)
def test_writer_verdict_properties(
    is_open: bool, reachable: bool | None, queued: int, trying: float | None, delivered: float | None
) -> None:
    view = WriterView(is_open, reachable, queued, trying, delivered)
    verdict = judge_writer(view, LIMITS, NOW)
    if not is_open:
        assert verdict.status is HealthStatus.CLOSED
    elif reachable is False:
        assert verdict.status is HealthStatus.UNREACHABLE
    elif trying is not None and NOW - trying >= LIMITS.stuck_after:
        assert verdict.status is HealthStatus.STUCK
    else:
        assert verdict.status in (HealthStatus.OK, HealthStatus.IDLE)


def test_the_writer_watch_sees_writes_queued_and_none_delivered() -> None:
    watch = WriterWatch()
    assert watch.observe(queued=0, delivered=0, failed=0, now=1.0, limits=LIMITS) is None
    assert watch.observe(queued=5, delivered=0, failed=0, now=2.0, limits=LIMITS) == 2.0
    assert watch.observe(queued=5, delivered=0, failed=0, now=50.0, limits=LIMITS) == 2.0
    # One delivery: trying again starts now.
    assert watch.observe(queued=5, delivered=1, failed=0, now=51.0, limits=LIMITS) == 51.0
    assert watch.observe(queued=0, delivered=6, failed=0, now=52.0, limits=LIMITS) is None
    # Blocking writes that each fail (nothing stays queued) are trying too, until they stop failing.
    assert watch.observe(queued=0, delivered=6, failed=1, now=60.0, limits=LIMITS) == 60.0
    assert watch.observe(queued=0, delivered=6, failed=2, now=95.0, limits=LIMITS) == 60.0
    assert watch.observe(queued=0, delivered=6, failed=2, now=200.0, limits=LIMITS) is None
