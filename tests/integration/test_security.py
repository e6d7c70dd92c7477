"""msgbus on a secured Kafka: SASL_SSL (SCRAM-SHA-512), mutual TLS, ACLs.

One secured LocalKafka for this module (``LocalKafka(security=True)``): a TLS
listener requiring client certificates, a SASL_SSL listener with SCRAM users,
and the StandardAuthorizer with a user allowed one topic only.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import msgbus
from msgbus.testing import LocalKafka
from msgbus.testing._localkafka.security import KafkaSecurity, pem_cert, self_signed_ca

from .helpers import BusFactory, read_n, run_bounded

pytestmark = [pytest.mark.integration]

#: A failed connect must end well within this, even with connect_retries=0 (for ever).
BOUND = 60.0


@pytest.fixture(scope="module")
def secure_kafka() -> Iterator[LocalKafka]:
    with LocalKafka(security=True) as broker:
        yield broker


@pytest.fixture
def sec(secure_kafka: LocalKafka) -> KafkaSecurity:
    assert secure_kafka.security is not None
    return secure_kafka.security


@pytest.fixture
def buses(secure_kafka: LocalKafka) -> Iterator[BusFactory]:
    with BusFactory(secure_kafka) as factory:
        yield factory


def _secured(bootstrap: str, topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusConfig:
    """A config on a secured listener: short bounds, so a refused connect or write fails the test soon."""
    bounds: dict[str, Any] = {"connect_retries": 3, "connect_timeout": 5, "write_timeout": 10, "flush_timeout": 10}
    return msgbus.MsgBusConfig(bootstrap_servers=bootstrap, topic=topic, direction=direction, **{**bounds, **fields})


def sasl_config(sec: KafkaSecurity, topic: str, direction: msgbus.BusDir, **overrides: Any) -> msgbus.MsgBusConfig:
    fields: dict[str, Any] = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": sec.sasl_user,
        "sasl_password": sec.sasl_password,
        "ssl_ca_location": sec.ca_location,
    }
    return _secured(sec.sasl_ssl_bootstrap, topic, direction, **{**fields, **overrides})


def mtls_config(sec: KafkaSecurity, topic: str, direction: msgbus.BusDir, **overrides: Any) -> msgbus.MsgBusConfig:
    fields: dict[str, Any] = {
        "security_protocol": "SSL",
        "ssl_ca_location": sec.ca_location,
        "ssl_certificate_location": sec.client_certificate_location,
        "ssl_key_location": sec.client_key_location,
    }
    return _secured(sec.ssl_bootstrap, topic, direction, **{**fields, **overrides})


def untrusted_ca(tmp_path: Path) -> str:
    """A CA that signed nothing the broker has."""
    _key, cert = self_signed_ca("some other CA")
    path = tmp_path / "other-ca.pem"
    path.write_bytes(pem_cert(cert))
    return str(path)


def roundtrip(buses: BusFactory, writer_cfg: msgbus.MsgBusConfig, reader_cfg: msgbus.MsgBusConfig) -> None:
    reader = buses.connect(reader_cfg)
    writer = buses.connect(writer_cfg)
    sent = ["secured hello", "zweite Nachricht: grüße ✓", ""]
    for msg in sent:
        writer.message_write(msg)
    assert read_n(reader, len(sent)) == sent


# -- the right credentials ----------------------------------------------------------------------


def test_sasl_ssl_write_and_read(sec: KafkaSecurity, buses: BusFactory) -> None:
    topic = sec.allowed_topic
    roundtrip(
        buses,
        sasl_config(sec, topic, msgbus.BusWriter),
        sasl_config(sec, topic, msgbus.BusReader, group_id=f"alice-{uuid.uuid4().hex[:8]}"),
    )


def test_sasl_ssl_nonblocking_writer_flushes_on_disconnect(sec: KafkaSecurity, buses: BusFactory) -> None:
    reader = buses.connect(sasl_config(sec, sec.allowed_topic, msgbus.BusReader))
    writer = msgbus.connect(sasl_config(sec, sec.allowed_topic, msgbus.BusWriter, blocking=msgbus.NonBlocking))
    for i in range(20):
        writer.message_write(f"nb-{i}")
    writer.disconnect()
    assert read_n(reader, 20) == [f"nb-{i}" for i in range(20)]


def test_mutual_tls_write_and_read(sec: KafkaSecurity, secure_kafka: LocalKafka, buses: BusFactory) -> None:
    topic = f"mtls-{uuid.uuid4().hex[:8]}"
    secure_kafka.create_topic(topic)
    roundtrip(buses, mtls_config(sec, topic, msgbus.BusWriter), mtls_config(sec, topic, msgbus.BusReader))


# -- wrong credentials: a clear error, in bounded time -------------------------------------------


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_wrong_password_is_an_authentication_error_not_a_hang(sec: KafkaSecurity, direction: msgbus.BusDir) -> None:
    # connect_retries=0 would retry for ever: an authentication failure must not be retried.
    cfg = sasl_config(sec, sec.allowed_topic, direction, sasl_password="not-" + sec.sasl_password, connect_retries=0)
    started = time.monotonic()
    with pytest.raises(msgbus.ConnectError) as info:
        run_bounded(lambda: msgbus.connect(cfg), BOUND)
    text = str(info.value)
    assert "authentication" in text.lower(), text
    assert "SCRAM-SHA-512" in text or "SASL" in text, text
    assert sec.sasl_password not in text
    assert time.monotonic() - started < BOUND


def test_unknown_user_is_an_authentication_error(sec: KafkaSecurity) -> None:
    cfg = sasl_config(sec, sec.allowed_topic, msgbus.BusWriter, sasl_username="mallory", connect_retries=0)
    with pytest.raises(msgbus.ConnectError, match=r"(?i)authentication"):
        run_bounded(lambda: msgbus.connect(cfg), BOUND)


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_untrusted_ca_is_a_tls_error(sec: KafkaSecurity, tmp_path: Path, direction: msgbus.BusDir) -> None:
    cfg = sasl_config(sec, sec.allowed_topic, direction, ssl_ca_location=untrusted_ca(tmp_path), connect_retries=0)
    with pytest.raises(msgbus.ConnectError) as info:
        run_bounded(lambda: msgbus.connect(cfg), BOUND)
    text = str(info.value)
    assert "SSL" in text, text
    assert "certificate verify failed" in text, text


def test_mutual_tls_without_a_client_certificate_is_refused(sec: KafkaSecurity) -> None:
    cfg = mtls_config(sec, sec.allowed_topic, msgbus.BusWriter, ssl_certificate_location="", ssl_key_location="")
    # The broker closes the handshake; depending on timing librdkafka reports
    # it as an SSL error or as a dropped connection: either way connect fails.
    with pytest.raises(msgbus.ConnectError, match=r"127\.0\.0\.1"):
        run_bounded(lambda: msgbus.connect(cfg), BOUND)


# -- authorisation: a topic the user may not use -------------------------------------------------


def test_writer_connect_to_a_forbidden_topic_raises_connect_error(sec: KafkaSecurity, buses: BusFactory) -> None:
    # The topic's metadata already says so: connect() fails at once, naming it (issue 21), instead of
    # the first write's DeliveryError.
    cfg = sasl_config(sec, f"forbidden-{uuid.uuid4().hex[:8]}", msgbus.BusWriter, connect_retries=0)
    with pytest.raises(msgbus.ConnectError) as info:
        run_bounded(lambda: buses.connect(cfg), BOUND)
    text = str(info.value)
    assert "not authorised to write" in text and "TOPIC_AUTHORIZATION_FAILED" in text, text


def test_reader_connect_to_a_forbidden_topic_raises_connect_error(sec: KafkaSecurity, secure_kafka: LocalKafka) -> None:
    topic = f"forbidden-{uuid.uuid4().hex[:8]}"
    secure_kafka.create_topic(topic)
    cfg = sasl_config(sec, topic, msgbus.BusReader, connect_retries=0)
    with pytest.raises(msgbus.ConnectError) as info:
        run_bounded(lambda: msgbus.connect(cfg), BOUND)
    text = str(info.value)
    assert "not authorised" in text and "TOPIC_AUTHORIZATION_FAILED" in text, text


# -- secrets -------------------------------------------------------------------------------------


def test_no_password_in_any_log_line_or_repr(
    sec: KafkaSecurity,
    secure_kafka: LocalKafka,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Everything logged (msgbus, librdkafka with debug on, anything else) while
    connecting, writing, reading, failing to authenticate and disconnecting."""
    debug = {"debug": "security,broker,conf,protocol,generic"}
    wrong = "wrong-" + sec.sasl_password
    secrets = [sec.sasl_password, wrong, sec.sasl_admin_password]
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)  # the root logger: every logger propagating to it
    with caplog.at_level(logging.DEBUG, logger="msgbus"):
        writer_cfg = sasl_config(sec, sec.allowed_topic, msgbus.BusWriter, kafka_settings=debug)
        reader_cfg = sasl_config(sec, sec.allowed_topic, msgbus.BusReader, kafka_settings=debug)
        admin_cfg = sasl_config(
            sec,
            sec.allowed_topic,
            msgbus.BusWriter,
            sasl_username=sec.sasl_admin,
            sasl_password=sec.sasl_admin_password,
            kafka_settings=debug,
        )
        texts += [repr(writer_cfg), str(writer_cfg), repr(admin_cfg)]
        with msgbus.connect(reader_cfg) as reader, msgbus.connect(writer_cfg) as writer:
            writer.message_write("hello")
            assert reader.message_read(timeout=10) == "hello"
            texts += [repr(writer), repr(reader)]
        with msgbus.connect(admin_cfg) as admin_writer:
            admin_writer.message_write("from admin")
        bad = sasl_config(sec, sec.allowed_topic, msgbus.BusWriter, sasl_password=wrong, kafka_settings=debug)
        with pytest.raises(msgbus.ConnectError) as info:
            run_bounded(lambda: msgbus.connect(bad), BOUND)
        texts.append(str(info.value))
        texts.append(repr(bad))
    records = caplog.records
    assert len(records) > 50, "librdkafka's debug lines should have been captured"
    assert any("SASL" in r.getMessage() for r in records)
    texts += [r.getMessage() for r in records]
    texts += [caplog.text]
    out, err = capfd.readouterr()  # anything printed by librdkafka or the JVM
    texts += [out, err]
    for secret in secrets:
        leaks = [t for t in texts if secret in t]
        assert leaks == [], f"a password appears in {len(leaks)} log line(s), e.g. {leaks[0][:200]!r}"


def test_security_info_repr_hides_passwords(sec: KafkaSecurity) -> None:
    assert sec.sasl_password not in repr(sec)
    assert sec.sasl_admin_password not in repr(sec)
