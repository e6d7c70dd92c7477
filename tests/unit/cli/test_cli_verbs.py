"""The ``msgbus`` command's verbs come from one table (``_cli.VERBS``): a new verb is one entry."""

from __future__ import annotations

import argparse

import pytest

import msgbus
from msgbus import _cli
from msgbus._cli.args import where_fields


def test_every_verb_in_the_table_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _cli.main(["--help"])
    out = capsys.readouterr().out
    for verb in _cli.VERBS:
        assert verb.name in out and verb.help in out


def test_a_new_bus_verb_is_one_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[argparse.Namespace, msgbus.MsgBusConfig]] = []

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--twice", action="store_true")

    def run(args: argparse.Namespace, cfg: msgbus.MsgBusConfig) -> int:
        seen.append((args, cfg))
        return 7

    verb = _cli.BusVerb("echo", "say it back", add_arguments, run)
    monkeypatch.setattr(_cli, "VERBS", (*_cli.VERBS, verb))
    # The command's own logging setup would outlive this test; the verb's wiring is what is checked.
    monkeypatch.setattr(_cli, "_quiet_logs", lambda verbose: None)
    monkeypatch.delenv("MSGBUS_TOPIC", raising=False)
    assert _cli.main(["echo", "--topic", "t", "--bootstrap", "b1:9093,b2:9094", "--twice"]) == 7
    (args, cfg) = seen[0]
    assert args.twice
    # The where-options and the environment make its config, validated, as for write and read.
    assert cfg.topic == "t" and cfg.bootstrap_servers == "b1:9093,b2:9094"
    assert cfg.direction == msgbus.BusReader
    # ...and a bad value is a usage error naming the option, before the verb runs.
    assert _cli.main(["echo", "--topic", "bad topic!"]) == 2
    assert len(seen) == 1


def test_a_verb_without_a_bus_takes_no_bus_options(monkeypatch: pytest.MonkeyPatch) -> None:
    verb = _cli.Verb("hello", "greet", lambda parser: None, lambda args: 3)
    monkeypatch.setattr(_cli, "VERBS", (*_cli.VERBS, verb))
    assert _cli.main(["hello"]) == 3
    with pytest.raises(SystemExit) as info:
        _cli.main(["hello", "--topic", "t"])
    assert info.value.code == 2


def test_a_verb_can_take_where_the_bus_is_without_a_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    # As `msgbus replay` does: it opens buses on the topics of its own options.
    got: list[dict[str, object]] = []

    def run(args: argparse.Namespace) -> int:
        got.append(where_fields(args, {}))
        return 0

    verb = _cli.Verb("again", "do it again", lambda parser: None, run, where=True)
    monkeypatch.setattr(_cli, "VERBS", (*_cli.VERBS, verb))
    monkeypatch.setattr(_cli, "_quiet_logs", lambda verbose: None)
    monkeypatch.delenv("MSGBUS_BOOTSTRAP", raising=False)
    monkeypatch.setenv("MSGBUS_PORT", "9094")
    assert _cli.main(["again", "--host", "kafka.example", "--retries", "5"]) == 0
    assert got == [{"bootstrap_servers": "", "host": "kafka.example", "port": 9094, "connect_retries": 5}]
    with pytest.raises(SystemExit) as info:
        _cli.main(["again", "--topic", "t"])
    assert info.value.code == 2
