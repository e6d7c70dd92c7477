"""What a reader does when the application's handler fails: the policies, their checks, the error.

The policy goes in ``MsgBusConfig.on_handler_error``::

    on_handler_error=Retry(attempts=5, backoff=0.5, max_backoff=30, then=DeadLetter("hb_events.dlq"))

``Drop()`` (the default) logs a WARNING and counts the message finished, as msgbus always did.
``_handling`` (the core layer) applies the policy; this module is plain data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from ._errors import ConfigError, HandlerError

__all__ = ["DeadLetter", "Drop", "HandlerError", "Outcome", "Policy", "Retry", "Stop"]

#: Kafka header names on a dead letter (values are UTF-8; numbers in decimal ASCII).
HEADER_TOPIC = "msgbus.original.topic"
HEADER_PARTITION = "msgbus.original.partition"
HEADER_OFFSET = "msgbus.original.offset"
HEADER_TIMESTAMP = "msgbus.original.timestamp"
HEADER_ERROR_TYPE = "msgbus.error.type"
HEADER_ERROR_MESSAGE = "msgbus.error.message"
HEADER_ATTEMPTS = "msgbus.attempts"
HEADER_FIRST_FAILURE = "msgbus.first.failure"
#: Every header msgbus puts on a dead letter starts with this.
HEADER_PREFIX = "msgbus."
#: ``msgbus.error.message`` is cut to at most this many bytes (on a character boundary).
ERROR_MESSAGE_MAX_BYTES = 1024


@dataclasses.dataclass(frozen=True)
class Drop:
    """Log a WARNING and count the message finished (committed): it is not handled again."""


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """Write the message's bytes, with headers saying why, to ``topic``; committed once that is acknowledged."""

    topic: str


@dataclasses.dataclass(frozen=True)
class Stop:
    """Stop the reader: the message is not committed, and reads raise ``HandlerError``."""


#: What happens when a message's attempts run out.
Outcome = Drop | DeadLetter | Stop


@dataclasses.dataclass(frozen=True)
class Retry:
    """Try a failed message again, up to ``attempts`` tries in all, then ``then``.

    The n-th retry waits ``backoff * 2**(n-1)`` seconds, at most ``max_backoff``.
    Messages behind it in the reader wait too: order is kept.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    then: Outcome = Drop()


#: ``MsgBusConfig.on_handler_error``: a ``Retry``, or an outcome at the first failure.
Policy = Retry | Drop | DeadLetter | Stop


_FIELD = "on_handler_error"
#: The shortest back-off taken as meant: less retries in a busy loop (328,503 warnings in 5 s, measured).
MIN_BACKOFF = 0.001


def check_policy(policy: object, topic: str, check_topic: Callable[[object], None] | None = None) -> None:
    """Raise ``ConfigError`` naming ``on_handler_error`` unless ``policy`` is a valid policy for ``topic``.

    ``check_topic``, if given, checks the dead-letter topic's name as the backend would (Kafka's rules).
    """
    if isinstance(policy, Retry):
        attempts = policy.attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"{_FIELD}: Retry attempts must be an int of at least 1, not {attempts!r}")
        for name in ("backoff", "max_backoff"):
            value = getattr(policy, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{_FIELD}: Retry {name} must be a positive, finite number of seconds, not {value!r}")
            if value < MIN_BACKOFF:
                raise ConfigError(
                    f"{_FIELD}: Retry {name} must be at least {MIN_BACKOFF:g} s (a shorter one retries in a busy "
                    f"loop), not {value!r}"
                )
        if policy.max_backoff < policy.backoff:
            raise ConfigError(
                f"{_FIELD}: Retry max_backoff ({policy.max_backoff!r}) must not be less than "
                f"backoff ({policy.backoff!r})"
            )
        if isinstance(policy.then, Retry):
            raise ConfigError(f"{_FIELD}: Retry's then must be Drop(), DeadLetter(topic) or Stop(), not another Retry")
        _check_outcome(policy.then, topic, "Retry's then", check_topic)
        return
    _check_outcome(policy, topic, "the policy", check_topic)


def _check_outcome(outcome: object, topic: str, what: str, check_topic: Callable[[object], None] | None) -> None:
    if isinstance(outcome, (Drop, Stop)):
        return
    if isinstance(outcome, DeadLetter):
        dlq = outcome.topic
        if not isinstance(dlq, str) or not dlq:
            raise ConfigError(f"{_FIELD}: the DeadLetter topic must be a non-empty str, not {dlq!r}")
        if dlq == topic:
            raise ConfigError(f"{_FIELD}: the DeadLetter topic must not be the reader's own topic {topic!r}")
        if check_topic is not None:
            try:
                check_topic(dlq)
            except ConfigError as exc:
                raise ConfigError(f"{_FIELD}: the DeadLetter {exc}") from None
        return
    raise ConfigError(
        f"{_FIELD}: {what} must be Retry(...), Drop(), DeadLetter(topic) or Stop(), not {type(outcome).__name__}"
    )


def outcome_of(policy: Policy) -> Outcome:
    """What happens once the attempts are used up."""
    return policy.then if isinstance(policy, Retry) else policy


def dead_letter_topic(policy: object) -> str | None:
    """The dead-letter topic ``policy`` writes to, if any (for a backend's own name check)."""
    outcome = policy.then if isinstance(policy, Retry) else policy
    return outcome.topic if isinstance(outcome, DeadLetter) else None


def attempts_of(policy: Policy) -> int:
    """How many tries a message gets in all (1: no retry)."""
    return policy.attempts if isinstance(policy, Retry) else 1


def backoff(policy: Policy, failures: int) -> float:
    """Seconds to wait before the next try, after ``failures`` failed ones (>= 1)."""
    base, cap = (policy.backoff, policy.max_backoff) if isinstance(policy, Retry) else (0.5, 30.0)
    # Capped before it can overflow: 2.0**1100 is inf, and inf * 0 is nan.
    return float(min(cap, base * 2.0 ** min(failures - 1, 64)))


def truncate_utf8(text: str, limit: int = ERROR_MESSAGE_MAX_BYTES) -> bytes:
    """``text`` as UTF-8, cut to at most ``limit`` bytes without splitting a character."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw
    return raw[:limit].decode("utf-8", "ignore").encode("utf-8")
