"""OpenTelemetry tracing (``MsgBusConfig.tracing``; the ``hms-msgbus[otel]`` extra, on opentelemetry-api only).

A write starts a PRODUCER span ``send <topic>`` and injects its W3C trace
context into the message's Kafka headers. On the reading side, each handing of
one message to the application's code starts a CONSUMER span ``process
<topic>`` (a ``run`` handler's call, a callback's call, a ``for`` loop's body),
and ``read_record`` records a ``receive <topic>`` span; each is linked to the
context the message carried. Attributes follow OpenTelemetry's messaging
semantic conventions for Kafka. This module imports opentelemetry only when a
bus with tracing on is opened, and the application's SDK (or none: then the
API does nothing) records the spans.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any

from ._errors import ConfigError
from ._headers import HeaderList
from ._record import Headers
from ._version import __version__

INSTALL_HINT = "pip install 'hms-msgbus[otel]'"
_TRACE_HEADERS = ("traceparent", "tracestate")


def check_available() -> None:
    """``ConfigError`` when opentelemetry-api is not installed (``tracing=True`` needs it)."""
    if importlib.util.find_spec("opentelemetry") is None or importlib.util.find_spec("opentelemetry.trace") is None:
        raise ConfigError(f"tracing=True needs opentelemetry-api, which is not installed ({INSTALL_HINT})")


def carrier_of(headers: Headers) -> dict[str, str] | None:
    """The W3C trace headers among a message's Kafka headers (None if it has none)."""
    if not headers:
        return None
    found = {name: value.decode("latin-1") for name, value in headers if name in _TRACE_HEADERS and value is not None}
    return found or None


class Span:
    """A ``process`` span in progress; ``token``: it is current in its thread (or task) until ``Tracing.end``."""

    __slots__ = ("span", "token")

    def __init__(self, span: Any, token: Any) -> None:
        self.span = span
        self.token = token


class Tracing:
    """The spans of one bus (its topic, and a reader's group)."""

    def __init__(self, topic: str, group: str = "") -> None:
        from opentelemetry import context, propagate, trace

        self._context = context
        self._trace = trace
        self._propagate = propagate
        self._tracer = trace.get_tracer("msgbus", __version__)
        self._topic = topic
        self._base: dict[str, Any] = {"messaging.system": "kafka", "messaging.destination.name": topic}
        self._consumer_base = dict(self._base)
        if group:
            self._consumer_base["messaging.consumer.group.name"] = group

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

    def _consumer(
        self, operation: str, partition: int, offset: int, headers: Headers
    ) -> tuple[dict[str, Any], list[Any]]:
        attributes = dict(
            self._consumer_base,
            **{
                "messaging.operation.type": operation,
                "messaging.operation.name": operation,
                "messaging.destination.partition.id": str(partition),
                "messaging.kafka.offset": offset,
            },
        )
        links: list[Any] = []
        carrier = carrier_of(headers)
        if carrier:
            context = self._trace.get_current_span(self._propagate.extract(carrier)).get_span_context()
            if context.is_valid:
                links.append(self._trace.Link(context))
        return attributes, links

    def begin(self, partition: int, offset: int, headers: Headers, current: bool = True) -> Span:
        """Start the ``process <topic>`` span of one message; ``current``: make it current until ``end``.

        ``end`` must then run in the same thread (or task) and context: an async
        generator, which asyncio may close from another task, passes False.
        """
        attributes, links = self._consumer("process", partition, offset, headers)
        span = self._tracer.start_span(
            f"process {self._topic}", kind=self._trace.SpanKind.CONSUMER, attributes=attributes, links=links
        )
        token = self._context.attach(self._trace.set_span_in_context(span)) if current else None
        return Span(span, token)

    def end(self, opened: Span, error: BaseException | None = None) -> None:
        """End a span ``begin`` started; ``error``: what the application's code raised on the message."""
        span = opened.span
        if error is not None:
            span.record_exception(error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.set_attribute("error.type", type(error).__qualname__)
        try:
            if opened.token is not None:
                self._context.detach(opened.token)
        finally:
            span.end()

    def received(self, partition: int, offset: int, headers: Headers) -> None:
        """A ``receive <topic>`` span for one message ``read_record`` handed out (it ends at once)."""
        attributes, links = self._consumer("receive", partition, offset, headers)
        span = self._tracer.start_span(
            f"receive {self._topic}", kind=self._trace.SpanKind.CLIENT, attributes=attributes, links=links
        )
        span.end()
