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
    # A user's suite has its own settings; pytest-asyncio (a dev dependency) warns without this one.
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")
    result.assert_outcomes(passed=4)


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
