"""``msgbus write``'s pipelined writer (msgbus._cli.write_lines.write_lines) against a real broker:
every line acknowledged, or exactly the lines that were not reported (issue 11)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import msgbus
from msgbus._cli.write_lines import WriteOutcome, write_lines
from msgbus.testing import LocalKafka

from .helpers import BusFactory, raw_read_all, wait_until, watermarks

pytestmark = pytest.mark.integration

LINES = 100_000


def _lines(count: int, start: int = 1) -> Iterator[tuple[str, int]]:
    for number in range(start, start + count):
        text = f"line-{number}"
        yield text, len(text)


class Counting:
    """A progress sink: what write_lines last told."""

    def __init__(self) -> None:
        self.done = 0
        self.nbytes = 0

    def update(self, done: int, nbytes: int) -> None:
        self.done, self.nbytes = done, nbytes


def test_100k_lines_are_all_acknowledged_in_order(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    writer = buses.writer(topic, msgbus.Blocking)
    progress = Counting()
    started = time.monotonic()
    outcome = write_lines(writer, _lines(LINES), progress)
    seconds = time.monotonic() - started
    print(f"{LINES} lines in {seconds:.2f} s: {LINES / seconds:,.0f} lines/s")
    assert outcome.ok and outcome.exit_code == 0, outcome.report()
    assert (outcome.lines, progress.done) == (LINES, LINES)
    assert progress.nbytes == sum(size for _, size in _lines(LINES))
    assert watermarks(kafka, topic) == (0, LINES)
    values = raw_read_all(kafka, topic, LINES, timeout=60)
    assert values == [text.encode() for text, _ in _lines(LINES)]


def test_a_refused_line_is_named_and_the_others_go_on(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    # Line 3 is larger than the producer's message.max.bytes (1 MB): refused alone, at once.
    writer = buses.writer(topic, msgbus.Blocking)
    lines = [("a", 1), ("b", 1), ("x" * 2_000_000, 2_000_000), ("d", 1)]
    outcome = write_lines(writer, lines)
    assert outcome.undelivered_lines() == [3]
    assert outcome.not_sent_from is None
    assert outcome.exit_code != 0
    assert any("line 3 not delivered" in line for line in outcome.report())
    assert raw_read_all(kafka, topic, 3) == [b"a", b"b", b"d"]


@pytest.fixture
def private_kafka() -> Iterator[LocalKafka]:
    """A broker of this test's own, since the test stops it."""
    with LocalKafka() as broker:
        yield broker


def test_a_broker_stopped_midway_the_exact_undelivered_lines_are_reported(private_kafka: LocalKafka) -> None:
    topic = "cli-write-stop"
    private_kafka.create_topic(topic)
    stop_after = 20_000
    with BusFactory(private_kafka) as local:
        # Lines queued while the broker is down fail after write_timeout (message.timeout.ms).
        writer = local.writer(topic, msgbus.Blocking, write_timeout=4, flush_timeout=4)

        def lines() -> Iterator[tuple[str, int]]:
            yield from _lines(stop_after)
            time.sleep(1.0)  # let the first lines be acknowledged: these must not be reported
            private_kafka.stop_node(1)
            yield from _lines(LINES - stop_after, start=stop_after + 1)

        outcome: WriteOutcome = write_lines(writer, lines())
    private_kafka.start_node(1)
    # The restarted node answers on its port before it leads the partition again.
    wait_until(lambda: private_kafka.leader(topic) == 1, 60, "the restarted broker to lead the partition")
    assert outcome.exit_code != 0
    assert outcome.lines == LINES
    reported = set(outcome.undelivered_lines())
    assert reported, "a stopped broker acknowledged nothing, yet no line was reported"
    # The first lines were acknowledged before the stop: not reported.
    assert not reported & set(range(1, stop_after // 2)), "lines acknowledged before the stop were reported"
    # Everything the broker does not have is reported; nothing reported twice.
    low, high = watermarks(private_kafka, topic)
    stored = {int(v.decode().split("-")[1]) for v in raw_read_all(private_kafka, topic, high - low, timeout=60)}
    missing = set(range(1, LINES + 1)) - stored
    assert missing <= reported, (
        f"{len(missing - reported)} lost line(s) not reported, e.g. {sorted(missing - reported)[:5]}"
    )
    assert len(outcome.undelivered_lines()) == len(reported)
    # Every line after the stop was queued with no broker: all of them are reported.
    assert set(range(stop_after + 1, LINES + 1)) <= reported
    # A line stored but reported (its acknowledgement lost as the broker went down) can only be one in flight then.
    assert len(reported & stored) <= 5_000, f"{len(reported & stored)} stored lines reported undelivered"
    print(f"reported {len(reported)}, stored {len(stored)}, stored yet reported {len(reported & stored)}")
