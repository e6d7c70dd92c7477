"""Whether a client's topic can be used, and the broker's own reason when it cannot.

A topic missing from the metadata is either being created on first use (the
broker's ``auto.create.topics.enable``: it appears within a moment), or will
not be: auto-creation is off, or the broker refuses the name (it collides with
another topic's, differing only in '.' versus '_'; a create policy; no right to
create it). The metadata says only "unknown topic" in each case, so the broker
is asked with a create that only validates (``validate_only``: nothing is
created), whose answer names the reason, and for its ``auto.create.topics.enable``
(a loaded broker may take seconds to create a topic on first use; one that does
not create topics makes the wait pointless). Asked only when the topic is missing.
"""

from __future__ import annotations

import enum
import time
from typing import Any, NamedTuple

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
    #: Not there yet after connect_timeout, though the broker creates topics on first use (a slow one).
    CREATING = "creating"


class BrokerAnswer(NamedTuple):
    #: Why the broker would refuse to create the topic ('<text> (<NAME>)'); None if it would not.
    refusal: str | None
    #: The broker's auto.create.topics.enable; None if it would not say (no right to describe it, say).
    creates_on_first_use: bool | None


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
    # How long a missing topic is waited for, and what it is then, once the broker was asked about it.
    bound: float | None = None
    at_bound = TopicState.MISSING
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
        if waited >= _SETTLE and bound is None:
            answer = ask_broker(cfg, errors, metadata)
            if answer.refusal is not None:
                raise ConnectError(f"topic {topic} cannot be used: the broker says {answer.refusal}")
            if answer.creates_on_first_use is False:
                return TopicState.MISSING, metadata
            if answer.creates_on_first_use:
                # Creating it on first use: a loaded broker may take seconds.
                bound, at_bound = cfg.connect_timeout, TopicState.CREATING
            else:
                # Not saying: the short wait of auto-creation.
                bound = min(_CREATION_WAIT, cfg.connect_timeout)
        if bound is not None and waited >= bound:
            return at_bound, metadata
        time.sleep(_LOOK_EVERY)
        try:
            metadata = client.list_topics(topic=topic, timeout=min(cfg.connect_timeout, _CREATION_WAIT))
        except Exception:  # a slow answer: look again, within the bounds above
            continue


def ask_broker(cfg: MsgBusConfig, errors: ErrorWatch, metadata: Any) -> BrokerAnswer:
    """Would the broker create ``cfg.topic`` (a create that only validates), and does it create topics on
    first use (its ``auto.create.topics.enable``, asked of a broker ``metadata`` names)?"""
    from confluent_kafka import KafkaError, KafkaException

    # NewTopic's and ConfigResource's documented public home, which confluent-kafka's type hints do not export.
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType  # type: ignore[attr-defined]

    admin = create_client(AdminClient, admin_settings(cfg, errors))
    timeout = min(cfg.connect_timeout, 10.0)
    refusal = None
    try:
        futures = admin.create_topics([NewTopic(cfg.topic)], validate_only=True, request_timeout=timeout)
        futures[cfg.topic].result(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0]
        code = getattr(err, "code", lambda: None)()
        # A refusal is the broker's (a positive code); a local error (a broker handle replaced
        # while the request was out, a timeout) says nothing of the name.
        if code is not None and code >= 0 and code != KafkaError.TOPIC_ALREADY_EXISTS:
            refusal = describe(err)
    except Exception:
        pass
    if refusal is not None:
        return BrokerAnswer(refusal, None)
    creates = None
    brokers = sorted(getattr(metadata, "brokers", None) or {})
    if brokers:
        resource = ConfigResource(ResourceType.BROKER, str(brokers[0]))
        try:
            configs = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
            entry = configs.get("auto.create.topics.enable")
            if entry is not None and entry.value in ("true", "false"):
                creates = entry.value == "true"
        except Exception:  # not allowed to describe it, or no answer: the wait stays short
            pass
    return BrokerAnswer(None, creates)


def creating_text(topic: str, seconds: float) -> str:
    return (
        f"topic {topic} is not there yet {seconds:g} s after the broker was asked to create it on first use "
        "(auto.create.topics.enable=true)"
    )


def missing_text(topic: str) -> str:
    return (
        f"topic {topic} does not exist, and the broker does not create topics on first use "
        "(auto.create.topics.enable=false): create it first"
    )
