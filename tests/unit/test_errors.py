"""The exception hierarchy."""

from __future__ import annotations

import pytest

import msgbus
from msgbus import _errors

ERRORS: list[type[msgbus.MsgBusError]] = [
    msgbus.ConfigError,
    msgbus.ConnectError,
    msgbus.BusClosedError,
    msgbus.DirectionError,
    msgbus.CallbackError,
    msgbus.InvalidMessageError,
    msgbus.DeliveryError,
    msgbus.FlushError,
    msgbus.HandlerError,
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_every_error_is_a_msgbus_error(error: type[Exception]) -> None:
    assert issubclass(error, msgbus.MsgBusError)
    assert issubclass(error, Exception)
    assert error.__name__ in msgbus.__all__
    assert getattr(msgbus, error.__name__) is error


def test_the_list_above_is_every_exception_msgbus_exports() -> None:
    exported = {
        obj for name in msgbus.__all__ if isinstance(obj := getattr(msgbus, name), type) and issubclass(obj, Exception)
    }
    assert exported == {*ERRORS, msgbus.MsgBusError}


def test_every_error_in_the_module_is_a_msgbus_error() -> None:
    classes = [obj for obj in vars(_errors).values() if isinstance(obj, type) and issubclass(obj, BaseException)]
    # The nine of the spec and its extras, and HandlerError (the failure policy's Stop).
    assert len(classes) == 10
    for cls in classes:
        assert issubclass(cls, msgbus.MsgBusError), cls


def test_msgbus_error_is_a_plain_exception() -> None:
    assert msgbus.MsgBusError.__bases__ == (Exception,)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (msgbus.ConfigError, ValueError),
        (msgbus.InvalidMessageError, TypeError),
        (msgbus.ConnectError, ConnectionError),
        (msgbus.ConnectError, OSError),
    ],
)
def test_errors_are_also_the_matching_builtin(error: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(error, builtin)
    with pytest.raises(builtin):
        raise error("x")


@pytest.mark.parametrize(
    "error", [msgbus.BusClosedError, msgbus.DirectionError, msgbus.CallbackError], ids=lambda e: e.__name__
)
def test_simple_errors_keep_their_message(error: type[Exception]) -> None:
    assert str(error("the bus is disconnected")) == "the bus is disconnected"


def test_delivery_error_has_a_code() -> None:
    err = msgbus.DeliveryError("too big", code="MSG_SIZE_TOO_LARGE")
    assert str(err) == "too big"
    assert err.code == "MSG_SIZE_TOO_LARGE"
    assert msgbus.DeliveryError("lost").code is None


def test_delivery_error_code_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        msgbus.DeliveryError("lost", "_MSG_TIMED_OUT")  # type: ignore[call-arg]


def test_flush_error_is_a_delivery_error_with_undelivered() -> None:
    err = msgbus.FlushError("3 left", undelivered=3)
    assert isinstance(err, msgbus.DeliveryError)
    assert isinstance(err, msgbus.MsgBusError)
    assert str(err) == "3 left"
    assert err.undelivered == 3
    assert err.code is None
    with_code = msgbus.FlushError("1 left", undelivered=1, code="_MSG_TIMED_OUT")
    assert with_code.code == "_MSG_TIMED_OUT"
    assert with_code.undelivered == 1


def test_flush_error_needs_undelivered() -> None:
    with pytest.raises(TypeError):
        msgbus.FlushError("x")  # type: ignore[call-arg]


def test_catching_delivery_error_catches_flush_error() -> None:
    with pytest.raises(msgbus.DeliveryError) as info:
        raise msgbus.FlushError("2 left", undelivered=2)
    assert isinstance(info.value, msgbus.FlushError)
    assert info.value.undelivered == 2
