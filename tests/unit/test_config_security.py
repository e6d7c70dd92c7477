"""MsgBusConfig's security fields: validation, secrecy in repr, and the librdkafka settings they become."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError

import msgbus
from msgbus import MsgBusConfig
from msgbus._backends.kafka._errors import ErrorWatch
from msgbus._backends.kafka._probe import Attempts
from msgbus._backends.kafka._settings import consumer_settings, producer_settings

SECRET = "s3cr3t-Pa55word-never-logged"


def make(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {"topic": "hb_events", "direction": msgbus.BusWriter}
    fields.update(overrides)
    return MsgBusConfig(**fields)


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "some.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def sasl(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "alice",
        "sasl_password": SECRET,
    }
    fields.update(overrides)
    return make(**fields)


# -- accepted ----------------------------------------------------------------------------------


def test_default_is_plaintext_without_credentials() -> None:
    cfg = make()
    cfg.validate()
    assert cfg.security_protocol == "PLAINTEXT"
    settings = producer_settings(cfg._normalized(), lambda _err: None)
    assert settings["security.protocol"] == "PLAINTEXT"
    assert not any(key.startswith(("sasl.", "ssl.")) for key in settings)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", "sasl_ssl", "Ssl"])
def test_protocols_are_accepted_in_any_case(protocol: str) -> None:
    extra: dict[str, Any] = {}
    if protocol.upper().startswith("SASL_"):
        extra = {"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"}
    cfg = make(security_protocol=protocol, **extra)._normalized()
    assert cfg.security_protocol == protocol.upper()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "scram-sha-512"])
def test_sasl_mechanisms(mechanism: str) -> None:
    assert sasl(sasl_mechanism=mechanism)._normalized().sasl_mechanism == mechanism.upper()


def test_sasl_ssl_maps_every_field(pem: Path) -> None:
    cfg = sasl(ssl_ca_location=str(pem))._normalized()
    for settings in (
        producer_settings(cfg, lambda _err: None),
        consumer_settings(cfg, "g", True, lambda _err: None),
    ):
        assert settings["security.protocol"] == "SASL_SSL"
        assert settings["sasl.mechanism"] == "SCRAM-SHA-512"
        assert settings["sasl.username"] == "alice"
        assert settings["sasl.password"] == SECRET
        assert settings["ssl.ca.location"] == str(pem)
        assert "ssl.certificate.location" not in settings


def test_mutual_tls_maps_certificate_key_and_key_password(pem: Path) -> None:
    cfg = make(
        security_protocol="SSL",
        ssl_ca_location=str(pem),
        ssl_certificate_location=str(pem),
        ssl_key_location=str(pem),
        ssl_key_password=SECRET,
    )._normalized()
    settings = producer_settings(cfg, lambda _err: None)
    assert settings["security.protocol"] == "SSL"
    assert settings["ssl.ca.location"] == str(pem)
    assert settings["ssl.certificate.location"] == str(pem)
    assert settings["ssl.key.location"] == str(pem)
    assert settings["ssl.key.password"] == SECRET
    assert not any(key.startswith("sasl.") for key in settings)


def test_ssl_without_a_ca_uses_the_system_store() -> None:
    settings = producer_settings(make(security_protocol="SSL")._normalized(), lambda _err: None)
    assert "ssl.ca.location" not in settings


# -- refused -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"security_protocol": "TLS"}, ["security_protocol", "SASL_SSL"]),
        ({"security_protocol": ""}, ["security_protocol"]),
        ({"security_protocol": 1}, ["security_protocol", "str"]),
        ({"sasl_mechanism": "GSSAPI"}, ["sasl_mechanism", "SCRAM-SHA-512"]),
        ({"sasl_mechanism": "OAUTHBEARER"}, ["sasl_mechanism"]),
        ({"sasl_mechanism": ""}, ["sasl_mechanism"]),
        ({"sasl_username": ""}, ["sasl_username", "sasl_password", "required"]),
        ({"sasl_password": ""}, ["sasl_username", "sasl_password", "required"]),
        ({"sasl_username": None}, ["sasl_username", "str"]),
        ({"sasl_password": b"bytes"}, ["sasl_password", "str"]),
    ],
)
def test_bad_sasl_settings_name_the_field(overrides: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(msgbus.ConfigError) as info:
        sasl(**overrides).validate()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
@pytest.mark.parametrize(
    "overrides",
    [{"sasl_mechanism": "PLAIN"}, {"sasl_username": "alice"}, {"sasl_password": SECRET}],
)
def test_sasl_fields_need_a_sasl_protocol(protocol: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(msgbus.ConfigError, match="SASL_"):
        make(security_protocol=protocol, **overrides).validate()


@pytest.mark.parametrize("field", ["ssl_ca_location", "ssl_certificate_location", "ssl_key_location"])
def test_missing_files_are_refused_before_connecting(field: str, tmp_path: Path, pem: Path) -> None:
    missing = str(tmp_path / "nowhere.pem")
    fields = {"ssl_certificate_location": str(pem), "ssl_key_location": str(pem), field: missing}
    with pytest.raises(msgbus.ConfigError) as info:
        make(security_protocol="SSL", **fields).validate()
    assert field in str(info.value)
    assert missing in str(info.value)


def test_a_directory_is_not_a_certificate_file(tmp_path: Path) -> None:
    with pytest.raises(msgbus.ConfigError, match="ssl_ca_location"):
        make(security_protocol="SSL", ssl_ca_location=str(tmp_path)).validate()


@pytest.mark.parametrize("given", ["ssl_certificate_location", "ssl_key_location"])
def test_certificate_and_key_go_together(given: str, pem: Path) -> None:
    with pytest.raises(msgbus.ConfigError, match="ssl_certificate_location and ssl_key_location"):
        make(security_protocol="SSL", **{given: str(pem)}).validate()


@pytest.mark.parametrize(
    "key",
    ["security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password"],
)
def test_security_settings_cannot_bypass_the_fields(key: str) -> None:
    with pytest.raises(msgbus.ConfigError, match=key.replace(".", r"\.")):
        make(kafka_settings={key: "x"}).validate()


def test_validate_does_not_change_the_config() -> None:
    cfg = sasl(security_protocol="sasl_ssl", sasl_mechanism="scram-sha-512")
    cfg.validate()
    assert cfg.security_protocol == "sasl_ssl"
    assert cfg.sasl_mechanism == "scram-sha-512"


# -- secrets stay secret --------------------------------------------------------------------------


def test_repr_and_str_hide_the_passwords(pem: Path) -> None:
    cfg = sasl(ssl_key_password=SECRET + "-key", ssl_certificate_location=str(pem), ssl_key_location=str(pem))
    for text in (repr(cfg), str(cfg), repr(cfg._normalized())):
        assert SECRET not in text
        assert "sasl_username='alice'" in text


def test_a_config_error_does_not_quote_the_password() -> None:
    with pytest.raises(msgbus.ConfigError) as info:
        sasl(sasl_mechanism="NOPE").validate()
    assert SECRET not in str(info.value)


# -- authentication failures stop the connect attempts ---------------------------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (KafkaError._AUTHENTICATION, "SASL authentication error: Authentication failed"),
        (KafkaError.SASL_AUTHENTICATION_FAILED, "Authentication failed during authentication"),
        (KafkaError._SSL, "SSL handshake failed: certificate verify failed"),
    ],
)
def test_an_auth_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch, code: int, text: str) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    errors = ErrorWatch("unit")
    attempts = Attempts(sasl(connect_retries=0)._normalized(), errors)
    errors(KafkaError(code, text))
    with pytest.raises(msgbus.ConnectError) as info:
        attempts.failed("metadata request timed out")
    assert text in str(info.value)
    assert "authentication or TLS failed" in str(info.value)
    assert attempts.count == 1
    assert sleeps == []


def test_a_transport_error_is_still_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    errors = ErrorWatch("unit")
    attempts = Attempts(make(connect_retries=3)._normalized(), errors)
    errors(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    attempts.failed("timed out")
    attempts.failed("timed out")
    assert sleeps == [0.25, 0.5]
    with pytest.raises(msgbus.ConnectError, match="after 3 attempt"):
        attempts.failed("timed out")


def test_probe_serves_error_callbacks_before_judging_an_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """librdkafka delivers the SASL failure to error_cb only from poll(): probe must poll."""
    from confluent_kafka import KafkaException

    from msgbus._backends.kafka._probe import probe

    monkeypatch.setattr(time, "sleep", lambda _s: None)
    errors = ErrorWatch("unit")

    class Client:
        def list_topics(self, *, topic: str, timeout: float) -> object:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "all brokers are down"))

        def poll(self, timeout: float) -> None:
            errors(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: invalid credentials"))

    cfg = sasl(connect_retries=0)._normalized()
    with pytest.raises(msgbus.ConnectError, match="invalid credentials"):
        probe(Client(), cfg, Attempts(cfg, errors))
