"""OpenTelemetry tracing (``MsgBusConfig.tracing``; the ``hms-msgbus[otel]`` extra, on opentelemetry-api only).

A write starts a PRODUCER span ``send <topic>`` and injects its W3C trace
context into the message's Kafka headers; a handler or callback call starts a
CONSUMER span ``process <topic>`` linked to the context the message carried.
Attributes follow OpenTelemetry's messaging semantic conventions for Kafka.
This module imports opentelemetry only when a bus with tracing on is opened,
and the application's SDK (or none: then the API does nothing) records the spans.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any

from ._errors import ConfigError
from ._headers import HeaderList
from ._version import __version__

INSTALL_HINT = "pip install 'hms-msgbus[otel]'"


def check_available() -> None:
    """``ConfigError`` when opentelemetry-api is not installed (``tracing=True`` needs it)."""
    if importlib.util.find_spec("opentelemetry") is None or importlib.util.find_spec("opentelemetry.trace") is None:
        raise ConfigError(f"tracing=True needs opentelemetry-api, which is not installed ({INSTALL_HINT})")


class TracedText(str):
    """A message's text that remembers where it came from, for its ``process`` span (tracing on only).

    It is a ``str`` equal to the message; ``msgbus_trace`` is (partition, offset, the trace
    headers it carried or None).
    """

    msgbus_trace: tuple[int, int, dict[str, str] | None]


def traced(text: str, partition: int, offset: int, carrier: dict[str, str] | None) -> TracedText:
    out = TracedText(text)
    out.msgbus_trace = (partition, offset, carrier)
    return out


def carrier_of(headers: list[tuple[str, bytes | None]] | None) -> dict[str, str] | None:
    """The W3C trace headers among a message's Kafka headers (None if it has none)."""
    if not headers:
        return None
    found = {
        name: value.decode("latin-1")
        for name, value in headers
        if name in ("traceparent", "tracestate") and value is not None
    }
    return found or None


class Tracing:
    """The spans of one bus (its topic, and a reader's group)."""

    def __init__(self, topic: str, group: str = "") -> None:
        from opentelemetry import propagate, trace

        self._trace = trace
        self._propagate = propagate
        self._tracer = trace.get_tracer("msgbus", __version__)
        self._topic = topic
        self._group = group
        self._base: dict[str, Any] = {"messaging.system": "kafka", "messaging.destination.name": topic}

    @contextlib.contextmanager
    def send(self, headers: HeaderList | None) -> Iterator[HeaderList]:
        """A ``send <topic>`` span around a write; yields the headers to write (the trace context added)."""
        attributes = dict(self._base, **{"messaging.operation.type": "send", "messaging.operation.name": "send"})
        with self._tracer.start_as_current_span(
            f"send {self._topic}", kind=self._trace.SpanKind.PRODUCER, attributes=attributes
        ):
            carrier: dict[str, str] = {}
            self._propagate.inject(carrier)
            out = list(headers or [])
            out.extend((name, value.encode("latin-1")) for name, value in carrier.items())
            yield out

    @contextlib.contextmanager
    def process(self, text: str) -> Iterator[None]:
        """A ``process <topic>`` span around a handler's call on ``text``, linked to its writer's span."""
        attributes = dict(self._base, **{"messaging.operation.type": "process", "messaging.operation.name": "process"})
        if self._group:
            attributes["messaging.consumer.group.name"] = self._group
        links = []
        where = getattr(text, "msgbus_trace", None)
        if where is not None:
            partition, offset, carrier = where
            attributes["messaging.destination.partition.id"] = str(partition)
            attributes["messaging.kafka.offset"] = offset
            if carrier:
                context = self._trace.get_current_span(self._propagate.extract(carrier)).get_span_context()
                if context.is_valid:
                    links.append(self._trace.Link(context))
        with self._tracer.start_as_current_span(
            f"process {self._topic}", kind=self._trace.SpanKind.CONSUMER, attributes=attributes, links=links
        ):
            yield
