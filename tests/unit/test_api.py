"""The public names: the spec's enums and constants, the exports, and the MsgBusIO interface."""

from __future__ import annotations

import inspect
from enum import IntEnum

import pytest

import msgbus
from msgbus import _config, _errors, _log
from msgbus._backends import base, connect
from msgbus._backends.base import MsgBusIO, ReaderBase, WriterBase

# (enum, member name, spec constant name, spec value)
SPEC_CONSTANTS = [
    (msgbus.MsgBusTech, "KAFKA", "BusTechKafka", 1),
    (msgbus.BlockingMode, "NON_BLOCKING", "NonBlocking", 1),
    (msgbus.BlockingMode, "BLOCKING", "Blocking", 2),
    (msgbus.BusStatus, "OPEN", "StatusOpen", 1),
    (msgbus.BusStatus, "CLOSED", "StatusClosed", 2),
    (msgbus.BusDir, "WRITER", "BusWriter", 1),
    (msgbus.BusDir, "READER", "BusReader", 2),
]


@pytest.mark.parametrize("enum", [msgbus.MsgBusTech, msgbus.BlockingMode, msgbus.BusStatus, msgbus.BusDir])
def test_enums_are_int_enums(enum: type[IntEnum]) -> None:
    assert issubclass(enum, IntEnum)


@pytest.mark.parametrize(("enum", "member", "constant", "value"), SPEC_CONSTANTS)
def test_spec_constants_are_the_enum_members(enum: type[IntEnum], member: str, constant: str, value: int) -> None:
    assert enum[member] == value
    assert int(enum[member]) == value
    assert getattr(msgbus, constant) is enum[member]
    assert constant in msgbus.__all__


def test_enums_have_exactly_the_spec_members() -> None:
    # MEMORY (2) is the in-process bus of issue 6 ("add more if need be", says the spec).
    assert [(m.name, m.value) for m in msgbus.MsgBusTech] == [("KAFKA", 1), ("MEMORY", 2)]
    assert [(m.name, m.value) for m in msgbus.BlockingMode] == [("NON_BLOCKING", 1), ("BLOCKING", 2)]
    assert [(m.name, m.value) for m in msgbus.BusStatus] == [("OPEN", 1), ("CLOSED", 2)]
    assert [(m.name, m.value) for m in msgbus.BusDir] == [("WRITER", 1), ("READER", 2)]


def test_spec_type_names_exist() -> None:
    assert msgbus.CBFunc is _config.CBFunc
    assert msgbus.SubscriptionToken is int
    assert msgbus.CallbackToken is int
    for name in ("CBFunc", "SubscriptionToken", "CallbackToken"):
        assert name in msgbus.__all__


@pytest.mark.parametrize("name", msgbus.__all__)
def test_everything_in_all_exists(name: str) -> None:
    assert hasattr(msgbus, name)


def test_all_has_no_duplicates_and_covers_the_public_names() -> None:
    assert len(set(msgbus.__all__)) == len(msgbus.__all__)
    public = {n for n in vars(msgbus) if not n.startswith("_") and not inspect.ismodule(getattr(msgbus, n))}
    assert public <= set(msgbus.__all__)


def test_exports_are_the_implementations() -> None:
    assert msgbus.connect is connect.connect
    assert msgbus.MsgBusIO is base.MsgBusIO
    assert msgbus.MsgBusConfig is _config.MsgBusConfig
    assert msgbus.set_logger is _log.set_logger
    assert msgbus.MsgBusError is _errors.MsgBusError


def test_version_is_a_string() -> None:
    assert isinstance(msgbus.__version__, str)
    assert msgbus.__version__


def test_msgbusio_is_abstract() -> None:
    assert inspect.isabstract(MsgBusIO)
    with pytest.raises(TypeError):
        MsgBusIO()  # type: ignore[abstract]
    assert MsgBusIO.__abstractmethods__ == {
        "disconnect",
        "message_write",
        "message_read",
        "message_available",
        "register_cb",
        "unregister_cb",
        "status",
    }


def test_a_partial_implementation_cannot_be_instantiated() -> None:
    class Partial(MsgBusIO):
        def disconnect(self) -> None:
            pass

    with pytest.raises(TypeError):
        Partial()  # type: ignore[abstract]


# -- the direction rules every backend shares ------------------------------------


class _StubWriter(WriterBase):
    def __init__(self) -> None:
        self._closed = False
        self.disconnects = 0

    def disconnect(self) -> None:
        self.disconnects += 1
        self._closed = True

    def message_write(self, msg: str, headers: object = None) -> None:
        pass

    def status(self) -> msgbus.BusStatus:
        return msgbus.StatusClosed if self._closed else msgbus.StatusOpen


class _StubReader(ReaderBase):
    def __init__(self) -> None:
        self._closed = False

    def disconnect(self) -> None:
        self._closed = True

    def message_read(self, timeout: float | None = None) -> str | None:
        return None

    def message_available(self) -> int:
        return 0

    def register_cb(self, cbfunc: msgbus.CBFunc) -> None:
        pass

    def unregister_cb(self) -> None:
        pass

    def status(self) -> msgbus.BusStatus:
        return msgbus.StatusOpen


def test_reader_calls_on_a_writer_are_direction_errors() -> None:
    w = _StubWriter()
    with pytest.raises(msgbus.DirectionError, match="message_read"):
        w.message_read()
    with pytest.raises(msgbus.DirectionError, match="register_cb"):
        w.register_cb(print)
    with pytest.raises(msgbus.DirectionError, match="unregister_cb"):
        w.unregister_cb()
    # The spec's exception: message_available on a writer is 0, not an error.
    assert w.message_available() == 0


def test_reader_calls_on_a_closed_writer_are_bus_closed_errors() -> None:
    w = _StubWriter()
    w.disconnect()
    with pytest.raises(msgbus.BusClosedError):
        w.message_read()
    with pytest.raises(msgbus.BusClosedError):
        w.register_cb(print)
    with pytest.raises(msgbus.BusClosedError):
        w.unregister_cb()


def test_message_write_on_a_reader() -> None:
    r = _StubReader()
    with pytest.raises(msgbus.DirectionError, match="message_write"):
        r.message_write("x")
    r.disconnect()
    with pytest.raises(msgbus.BusClosedError):
        r.message_write("x")


def test_context_manager_disconnects_once_on_exit() -> None:
    w = _StubWriter()
    with w as entered:
        assert entered is w
        assert w.status() is msgbus.StatusOpen
    assert w.disconnects == 1
    assert w.status() is msgbus.StatusClosed


def test_context_manager_disconnects_on_error() -> None:
    w = _StubWriter()
    with pytest.raises(RuntimeError), w:
        raise RuntimeError("boom")
    assert w.disconnects == 1
