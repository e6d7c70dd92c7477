"""Spans and timings around every read style that hands out a message's place (the Observer), on the in-process bus."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from otel_memory import exporter

import msgbus
from msgbus import aio
from msgbus._backends.base import ReaderBase
from msgbus.testing import MemoryBus
from msgbus.testing._waits import wait_until


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return exporter()


@pytest.fixture
def memory() -> Iterator[MemoryBus]:
    with MemoryBus() as bus:
        yield bus


def _reader(memory: MemoryBus, **fields: object) -> msgbus.MsgBusIO:
    return memory.reader("t", group_id="g", offset_reset="earliest", tracing=True, **fields)


def _sends(memory: MemoryBus, spans: InMemorySpanExporter, *texts: str) -> list[ReadableSpan]:
    """Write ``texts`` with tracing on; their send spans, in order (then the exporter is cleared)."""
    writer = memory.writer("t", tracing=True)
    for text in texts:
        writer.message_write(text)
    sends = [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    assert len(sends) == len(texts)
    spans.clear()
    return sends


def _finished(spans: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    wait_until(lambda: len(spans.get_finished_spans()) >= count, 10, f"{count} span(s)")
    found = list(spans.get_finished_spans())
    assert len(found) == count, [s.name for s in found]
    return found


def _assert_linked(span: ReadableSpan, send: ReadableSpan, operation: str, offset: int) -> None:
    assert span.name == f"{operation} t"
    assert span.attributes is not None
    attributes = {name: value for name, value in span.attributes.items() if name != "error.type"}
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.destination.name": "t",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.consumer.group.name": "g",
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": offset,
    }
    assert send.context is not None
    (link,) = span.links
    assert (link.context.trace_id, link.context.span_id) == (send.context.trace_id, send.context.span_id)


def test_run_makes_a_process_span_per_handler_call(memory: MemoryBus, spans: InMemorySpanExporter) -> None:
    sends = _sends(memory, spans, "a", "b")
    reader = _reader(memory)
    parents = []

    def handler(msg: str) -> None:
        parents.append(trace.get_current_span().get_span_context().span_id)
        if msg == "b":
            reader.disconnect()

    reader.run(handler)
    found = _finished(spans, 2)
    for offset, (span, send) in enumerate(zip(found, sends, strict=True)):
        assert span.kind is SpanKind.CONSUMER
        _assert_linked(span, send, "process", offset)
        # The span is current while the handler runs.
        assert span.context is not None and parents[offset] == span.context.span_id


def test_a_for_loop_body_runs_in_its_message_span(memory: MemoryBus, spans: InMemorySpanExporter) -> None:
    (send,) = _sends(memory, spans, "a")
    reader = _reader(memory)
    tracer = trace.get_tracer("test")
    for msg in reader:
        assert msg == "a"
        with tracer.start_as_current_span("work"):
            pass
        break
    work, process = _finished(spans, 2)
    _assert_linked(process, send, "process", 0)
    assert work.parent is not None and process.context is not None
    assert work.parent.span_id == process.context.span_id
    # The loop's own context is back once the body is over.
    assert not trace.get_current_span().get_span_context().is_valid


def test_a_callback_call_is_a_process_span_and_a_raise_marks_it(memory: MemoryBus, spans: InMemorySpanExporter) -> None:
    sends = _sends(memory, spans, "ok", "bad")
    reader = _reader(memory)
    done = threading.Event()

    def callback(msg: str) -> None:
        if msg == "bad":
            done.set()
            raise ValueError("no good")

    reader.register_cb(callback)
    assert done.wait(10)
    ok, bad = _finished(spans, 2)
    _assert_linked(ok, sends[0], "process", 0)
    _assert_linked(bad, sends[1], "process", 1)
    assert ok.status.status_code is StatusCode.UNSET
    assert bad.status.status_code is StatusCode.ERROR and "no good" in (bad.status.description or "")
    assert bad.attributes is not None and bad.attributes["error.type"] == "ValueError"


def test_each_retry_of_a_callback_is_its_own_span(memory: MemoryBus, spans: InMemorySpanExporter) -> None:
    (send,) = _sends(memory, spans, "flaky")
    reader = _reader(memory, on_handler_error=msgbus.Retry(attempts=3, backoff=0.001, max_backoff=0.001))
    calls = []

    def callback(msg: str) -> None:
        calls.append(msg)
        if len(calls) < 3:
            raise RuntimeError("not yet")

    reader.register_cb(callback)
    found = _finished(spans, 3)
    assert [s.status.status_code for s in found] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    for span in found:
        _assert_linked(span, send, "process", 0)


def test_read_record_makes_a_receive_span_and_message_read_none(memory: MemoryBus, spans: InMemorySpanExporter) -> None:
    sends = _sends(memory, spans, "plain", "many", "record")
    reader = _reader(memory)
    assert reader.message_read(timeout=10) == "plain"
    assert reader.message_read_many(1, timeout=10) == ["many"]
    record = reader.read_record(timeout=10)
    assert record is not None and record.text == "record"
    (receive,) = _finished(spans, 1)
    assert receive.kind is SpanKind.CLIENT
    _assert_linked(receive, sends[2], "receive", 2)


def test_aio_loops_and_read_record_are_traced(memory: MemoryBus, spans: InMemorySpanExporter) -> None:
    sends = _sends(memory, spans, "for", "run", "record")

    async def main() -> list[str]:
        seen = []
        async with aio.AsyncMsgBus(_reader(memory)) as bus:
            async for msg in bus:
                seen.append(msg)
                break

            async def handler(msg: str) -> None:
                seen.append(msg)
                raise asyncio.CancelledError  # ends run(); the message is not finished

            with pytest.raises(asyncio.CancelledError):
                await bus.run(handler)
            record = await bus.read_record(timeout=10)
            assert record is not None
            seen.append(record.text)
        return seen

    assert asyncio.run(main()) == ["for", "run", "record"]
    # The async-for span ends when asyncio closes the generator, perhaps after the others.
    loop_span, run_span, receive = sorted(_finished(spans, 3), key=_offset)
    _assert_linked(loop_span, sends[0], "process", 0)
    _assert_linked(run_span, sends[1], "process", 1)
    assert run_span.status.status_code is StatusCode.ERROR
    _assert_linked(receive, sends[2], "receive", 2)


def _offset(span: ReadableSpan) -> int:
    assert span.attributes is not None
    offset = span.attributes["messaging.kafka.offset"]
    assert isinstance(offset, int)
    return offset


def test_timings_count_every_handler_call(memory: MemoryBus) -> None:
    writer = memory.writer("t")
    for text in ("a", "b", "c"):
        writer.message_write(text)
    reader = memory.reader("t", offset_reset="earliest", timings=True)
    assert isinstance(reader, ReaderBase) and reader.inbox.observer is not None

    def handler(msg: str) -> None:
        if msg == "c":
            reader.disconnect()

    reader.run(handler)
    metrics = reader.metrics()
    assert isinstance(metrics, msgbus.ReaderMetrics)
    assert metrics.handler.count == 3


def test_with_timings_and_tracing_off_nothing_observes(memory: MemoryBus) -> None:
    reader = memory.reader("t")
    assert isinstance(reader, ReaderBase) and reader.inbox.observer is None
