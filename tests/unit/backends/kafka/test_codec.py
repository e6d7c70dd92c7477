"""How message text goes on the wire (writer's encode) and comes back (reader's decode)."""

from __future__ import annotations

import logging

import pytest

import msgbus
from msgbus._backends.kafka._acks import encode
from msgbus._backends.kafka._codec import decode


@pytest.mark.parametrize(
    "text",
    ["Grüße", "", "The Rain In Spain", "日本語", "emoji 🚀", "nul\x00inside", '{"json": [1, 2]}'],
)
def test_encode_is_utf8(text: str) -> None:
    assert encode(text) == text.encode("utf-8")


def test_encode_exact_bytes() -> None:
    assert encode("Grüße") == b"Gr\xc3\xbc\xc3\x9fe"


def test_encode_accepts_str_subclasses() -> None:
    class Tagged(str):
        pass

    assert encode(Tagged("abc")) == b"abc"


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(None, "NoneType"), (b"x", "bytes"), (5, "int"), (bytearray(b"x"), "bytearray"), (["a"], "list")],
)
def test_encode_rejects_non_strings(value: object, type_name: str) -> None:
    with pytest.raises(msgbus.InvalidMessageError) as info:
        encode(value)
    assert str(info.value) == f"a message must be a str, not {type_name}"
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("text", ["\ud800", "a\udbffb", "\udfff", "\udc7f"])
def test_encode_rejects_lone_surrogates_outside_surrogateescape(text: str) -> None:
    with pytest.raises(msgbus.InvalidMessageError, match="cannot be encoded as UTF-8"):
        encode(text)


def test_encode_gives_back_escaped_bytes() -> None:
    assert encode("\udcff\udcfeok") == b"\xff\xfeok"


def test_decode_utf8(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="msgbus"):
        assert decode("Grüße".encode(), "t[0]@0") == "Grüße"
        assert decode(b"", "t[0]@1") == ""
    assert caplog.records == []


def test_decode_none_is_empty() -> None:
    assert decode(None, "t[0]@0") == ""


def test_decode_invalid_utf8_round_trips_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    raw = b"\xff\xfeok"
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        text = decode(raw, "hb_events[2]@17")
    assert text == "\udcff\udcfeok"
    assert encode(text) == raw
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "msgbus",
            logging.WARNING,
            "message at hb_events[2]@17 is not valid UTF-8; undecodable bytes kept as surrogates",
        )
    ]


@pytest.mark.parametrize("raw", [b"\x80", b"ok\xc3", b"\xed\xa0\x80", "Grüße".encode("latin-1"), bytes(range(256))])
def test_any_bytes_survive_decode_then_encode(raw: bytes) -> None:
    assert encode(decode(raw, "t[0]@0")) == raw
