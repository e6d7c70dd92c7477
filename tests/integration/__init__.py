"""Integration tests: msgbus against a real Apache Kafka broker (LocalKafka)."""
