"""Whether a client's topic can be used, and the broker's own reason when it cannot.

A topic missing from the metadata is either being created on first use (the
broker's ``auto.create.topics.enable``: it appears within a moment), or will
not be: auto-creation is off, or the broker refuses the name (it collides with
another topic's, differing only in '.' versus '_'; a create policy; no right to
create it). The metadata says only "unknown topic" in each case, so the broker
is asked with a create that only validates (``validate_only``: nothing is
created), whose answer names the reason. Asked only when the topic is missing.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from ..._config import BusDir, MsgBusConfig
from ..._errors import ConnectError
from ._errors import ErrorWatch, create_client, describe, error_name
from ._settings import admin_settings

# How long a missing topic is looked at again before the broker is asked why
# (auto-creation answers "unknown" once, then the topic is there), and how often.
_SETTLE = 1.0
_LOOK_EVERY = 0.25
# Bound on the wait for a topic the broker would create (validation passed), as
# auto-creation does, when it is slow (a loaded broker): past it, the topic is missing.
_CREATION_WAIT = 2.0

#: Metadata errors that mean the topic is not there (yet).
MISSING = frozenset({"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "LEADER_NOT_AVAILABLE"})


class TopicState(enum.Enum):
    PRESENT = "present"
    #: Not there, and not being created on first use (auto-creation off), though it could be created.
    MISSING = "missing"


def topic_error(metadata: Any, topic: str) -> Any:
    """The metadata's error for ``topic`` (None: the topic is there)."""
    found = metadata.topics.get(topic)
    if found is None:
        from confluent_kafka import KafkaError

        return KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)
    return found.error


def check_topic(client: Any, metadata: Any, cfg: MsgBusConfig, errors: ErrorWatch) -> tuple[TopicState, Any]:
    """PRESENT or MISSING, and the last metadata; ConnectError naming the broker's reason if the
    topic cannot be used at all.

    ``client`` answers list_topics() (called from this thread); ``metadata`` is its first answer.
    """
    topic = cfg.topic
    started = time.monotonic()
    asked = False
    while True:
        err = topic_error(metadata, topic)
        if err is None:
            return TopicState.PRESENT, metadata
        name = error_name(err)
        if name == "TOPIC_AUTHORIZATION_FAILED":
            verb = "read" if cfg.direction is BusDir.READER else "write"
            raise ConnectError(f"not authorised to {verb} topic {topic}: {describe(err)}")
        if name not in MISSING:
            raise ConnectError(f"topic {topic} cannot be used: {describe(err)}")
        waited = time.monotonic() - started
        if waited >= _SETTLE and not asked:
            reason = broker_reason(cfg, errors)
            if reason is not None:
                raise ConnectError(f"topic {topic} cannot be used: the broker says {reason}")
            asked = True
        if asked and waited >= min(_CREATION_WAIT, cfg.connect_timeout):
            return TopicState.MISSING, metadata
        time.sleep(_LOOK_EVERY)
        try:
            metadata = client.list_topics(topic=topic, timeout=min(cfg.connect_timeout, _CREATION_WAIT))
        except Exception:  # a slow answer: look again, within the bounds above
            continue


def broker_reason(cfg: MsgBusConfig, errors: ErrorWatch) -> str | None:
    """Why the broker would refuse to create ``cfg.topic`` ('<text> (<NAME>)'); None if it would not (or is silent)."""
    from confluent_kafka import KafkaError, KafkaException

    # NewTopic's documented public home, which confluent-kafka's type hints do not export.
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = create_client(AdminClient, admin_settings(cfg, errors))
    timeout = min(cfg.connect_timeout, 10.0)
    try:
        futures = admin.create_topics([NewTopic(cfg.topic)], validate_only=True, request_timeout=timeout)
        futures[cfg.topic].result(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0]
        if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
            return None
        return describe(err)
    except Exception:
        return None
    return None


def missing_text(topic: str) -> str:
    return (
        f"topic {topic} does not exist, and the broker does not create topics on first use "
        "(auto.create.topics.enable=false): create it first"
    )
