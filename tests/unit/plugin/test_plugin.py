"""msgbus's pytest plugin, seen from a user's suite: the fixtures come with the installed package."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import msgbus.testing
from msgbus.testing import pytest_plugin

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def test_the_fixtures_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    for name in ("msgbus_kafka", "msgbus_mock_kafka", "msgbus_memory", "msgbus_topic"):
        result.stdout.fnmatch_lines([f"{name}*"])


def test_a_users_suite_uses_the_in_process_bus(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import msgbus

        def test_round_trip(msgbus_memory, msgbus_topic):
            reader = msgbus_memory.reader(msgbus_topic)
            msgbus_memory.writer(msgbus_topic).message_write("hello")
            assert reader.message_read(timeout=5) == "hello"
            assert msgbus_memory.messages(msgbus_topic) == ["hello"]

        def test_code_that_connects_itself(msgbus_memory, msgbus_topic):
            cfg = msgbus_memory.config(msgbus_topic, msgbus.BusWriter)
            with msgbus.connect(cfg) as bus:
                bus.message_write("from the app")
            assert msgbus_memory.messages(msgbus_topic) == ["from the app"]

        def test_each_test_gets_a_fresh_bus(msgbus_memory, msgbus_topic):
            assert msgbus_memory.messages(msgbus_topic) == []

        def test_topics_are_unique_and_legal(msgbus_topic):
            assert msgbus_topic.startswith("msgbus-test_topics_are_unique_and_legal-")
            msgbus.MsgBusConfig(topic=msgbus_topic, direction=msgbus.BusReader).validate()
        """
    )
    pytester.makeini(f"[pytest]\n{documented_ini_line()}\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


_ASYNC_SUITE = """
    import asyncio

    import pytest
    import pytest_asyncio

    import msgbus
    from msgbus import aio

    @pytest_asyncio.fixture
    async def running_loop():
        return asyncio.get_running_loop()

    def test_in_process(msgbus_memory, msgbus_topic):
        reader = msgbus_memory.reader(msgbus_topic)
        msgbus_memory.writer(msgbus_topic).message_write("hello")
        assert reader.message_read(timeout=5) == "hello"

    @pytest.mark.asyncio
    async def test_async(msgbus_memory, msgbus_topic, running_loop):
        assert asyncio.get_running_loop() is running_loop
        cfg = msgbus_memory.config(msgbus_topic, msgbus.BusWriter)
        bus = await aio.connect(cfg)
        await bus.message_write("from a task")
        await bus.disconnect()
        assert msgbus_memory.messages(msgbus_topic) == ["from a task"]
"""


def documented_ini_line() -> str:
    """The one ini line the plugin's docstring (and so the API reference) tells a user to add."""
    lines = [line.strip() for line in (pytest_plugin.__doc__ or "").splitlines()]
    found = [line for line in lines if line.startswith("asyncio_default_fixture_loop_scope =")]
    assert len(found) == 1, "the plugin's docstring must give the ini line exactly once"
    return found[0]


def test_with_the_documented_ini_line_a_users_async_suite_has_no_warnings(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio")
    pytester.makeini(f"[pytest]\n{documented_ini_line()}\n")
    pytester.makepyfile(_ASYNC_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2, warnings=0)
    assert "Warning" not in result.stdout.str() + result.stderr.str()


_PROBE_SUITE = """
    def test_probe(pytestconfig):
        # What pytest-asyncio reads at start-up, and every plugin's hooks beyond pytest's own.
        print("LOOP_SCOPE", repr(pytestconfig.getini("asyncio_default_fixture_loop_scope")))
"""


def _run_probe(pytester: pytest.Pytester, *args: str) -> tuple[list[str], list[str]]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-W", "default", *args)
    result.assert_outcomes(passed=1)
    out = result.stdout.lines
    warnings = sorted(line.strip() for line in out + result.stderr.lines if "Warning" in line)
    return [line[line.index("LOOP_SCOPE") :] for line in out if "LOOP_SCOPE" in line], warnings


def test_a_suite_without_its_fixtures_runs_as_without_msgbus(pytester: pytest.Pytester) -> None:
    """The same settings and the same warnings (pytest-asyncio's included) with the plugin and without it."""
    pytester.makepyfile(_PROBE_SUITE)
    with_plugin = _run_probe(pytester)
    without = _run_probe(pytester, "-p", "no:msgbus")
    assert with_plugin == without
    if importlib.util.find_spec("pytest_asyncio") is not None:
        # Unset stays unset, and pytest-asyncio's own warning about it is the user's to see.
        assert with_plugin[0] == ["LOOP_SCOPE None"]
        assert any("asyncio_default_fixture_loop_scope" in line for line in with_plugin[1])


def test_the_plugin_is_fixtures_only() -> None:
    hooks = [name for name in vars(pytest_plugin) if name.startswith("pytest_")]
    assert hooks == [], f"the plugin defines hooks: {hooks}"
    fixtures = {"msgbus_kafka", "msgbus_mock_kafka", "msgbus_memory", "msgbus_topic"}
    assert fixtures <= set(vars(pytest_plugin))


def test_loading_the_plugin_imports_no_kafka_client() -> None:
    code = (
        "import sys, msgbus.testing.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith(('confluent_kafka', 'msgbus._backends.kafka'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_lazy_names_of_msgbus_testing_still_import() -> None:
    """msgbus.testing imports its names on first use (so the plugin stays light); each one resolves."""
    code = (
        "import json, sys, msgbus.testing as t\n"
        "before = 'confluent_kafka' in sys.modules\n"
        "print(json.dumps([before, sorted(n for n in t.__all__ if getattr(t, n) is not None)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == [False, sorted(msgbus.testing.__all__)]
    with pytest.raises(AttributeError, match="NoSuchName"):
        msgbus.testing.NoSuchName  # noqa: B018


def test_a_users_suite_uses_the_mock_kafka(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import msgbus

        def test_through_librdkafka(msgbus_mock_kafka, msgbus_topic):
            reader = msgbus.connect(msgbus_mock_kafka.config(msgbus_topic, msgbus.BusReader))
            writer = msgbus.connect(msgbus_mock_kafka.config(msgbus_topic, msgbus.BusWriter))
            try:
                for i in range(5):
                    writer.message_write(str(i))
                assert [reader.message_read(timeout=30) for _ in range(5)] == ["0", "1", "2", "3", "4"]
            finally:
                writer.disconnect()
                reader.disconnect()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
