"""msgbus's pytest plugin, seen from a user's suite: the fixtures come with the installed package."""

from __future__ import annotations

import pytest

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
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


_ASYNC_SUITE = """
    import asyncio

    import pytest
    import pytest_asyncio

    import msgbus
    from msgbus import aio

    @pytest_asyncio.fixture(scope="module")
    async def module_loop():
        return asyncio.get_running_loop()

    def test_in_process(msgbus_memory, msgbus_topic):
        reader = msgbus_memory.reader(msgbus_topic)
        msgbus_memory.writer(msgbus_topic).message_write("hello")
        assert reader.message_read(timeout=5) == "hello"

    @pytest.mark.asyncio(loop_scope="module")
    async def test_async(msgbus_memory, msgbus_topic, module_loop):
        # Unset, pytest-asyncio gives a module fixture the module's loop: the plugin keeps that.
        assert asyncio.get_running_loop() is module_loop
        cfg = msgbus_memory.config(msgbus_topic, msgbus.BusWriter)
        bus = await aio.connect(cfg)
        await bus.message_write("from a task")
        await bus.disconnect()
        assert msgbus_memory.messages(msgbus_topic) == ["from a task"]
"""


def test_a_users_suite_gets_no_warnings_from_the_plugin(pytester: pytest.Pytester) -> None:
    """With pytest-asyncio installed and its loop scope unset by the user, `-W error` still passes."""
    pytest.importorskip("pytest_asyncio")
    pytester.makepyfile(_ASYNC_SUITE)
    # No config file: the user's suite sets nothing, asyncio_default_fixture_loop_scope included.
    assert not list(pytester.path.glob("*.ini")) and not list(pytester.path.glob("*.toml"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2, warnings=0)
    assert "Warning" not in result.stdout.str() + result.stderr.str()


def test_a_loop_scope_the_user_set_is_kept(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*asyncio_default_fixture_loop_scope=function*"])


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
