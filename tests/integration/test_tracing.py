"""OpenTelemetry across a real broker: the consumer span is linked to the producer span (messaging semconv)."""

from __future__ import annotations

import threading

import pytest
from opentelemetry.trace import SpanKind
from otel_memory import exporter

from .helpers import BusFactory, raw_read_all, wait_until

pytestmark = pytest.mark.integration


def test_the_process_span_links_to_the_send_span(buses: BusFactory, topic: str) -> None:
    spans = exporter()
    group = f"g-{topic}"
    reader = buses.reader(topic, group_id=group, tracing=True)
    writer = buses.writer(topic, tracing=True)
    got: list[str] = []
    done = threading.Event()

    def handler(msg: str) -> None:
        got.append(msg)
        done.set()

    reader.register_cb(handler)
    writer.message_write("traced message", headers={"app": "yes"})
    assert done.wait(20)
    assert got == ["traced message"]
    wait_until(lambda: len(spans.get_finished_spans()) >= 2, 10, "two spans")
    (send,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    (process,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert send.name == f"send {topic}"
    assert process.name == f"process {topic}"
    assert send.attributes is not None and process.attributes is not None
    assert dict(send.attributes) == {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
    }
    assert dict(process.attributes) == {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.consumer.group.name": group,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 0,
    }
    assert send.context is not None
    (link,) = process.links
    assert (link.context.trace_id, link.context.span_id) == (send.context.trace_id, send.context.span_id)
    # The payload is the message's bytes, unchanged; the trace context rides in the headers.
    assert raw_read_all(buses.kafka, topic, 1) == [b"traced message"]
    record_reader = buses.reader(topic, offset_reset="earliest")
    record = record_reader.read_record(timeout=20)
    assert record is not None and record.text == "traced message"
    names = [name for name, _ in record.headers]
    assert names[0] == "app" and "traceparent" in names
    traceparent = dict(record.headers)["traceparent"]
    assert traceparent is not None and f"{send.context.trace_id:032x}" in traceparent.decode()


def test_without_tracing_no_header_goes_on_the_wire(buses: BusFactory, topic: str) -> None:
    spans = exporter()
    reader = buses.reader(topic, offset_reset="earliest")
    buses.writer(topic).message_write("plain")
    record = reader.read_record(timeout=20)
    assert record is not None and record.headers == ()
    assert spans.get_finished_spans() == ()
