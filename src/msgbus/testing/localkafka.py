"""A real Apache Kafka (KRaft) cluster on loopback, run from Maven Central jars.

``LocalKafka`` resolves the broker jars once per Kafka version with Maven
(``kafka-pom.xml`` shipped in this package) into a cache directory, formats a
fresh data directory per start and launches one combined broker+controller
JVM per node.  It is meant for tests::

    with LocalKafka() as kafka:
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})

Every JVM is stopped when the context exits, when ``stop()`` is called, when
the object is garbage collected, or at interpreter exit, whichever is first.

This module is the public face of ``_localkafka``, where LocalKafka and its parts live.
"""

from __future__ import annotations

# Names imported ``as`` themselves are re-exported (mypy --strict needs the alias)
# for the code that imports them from this module: bench/, the Makefile, tests.
from ._localkafka.broker_props import HOST as HOST
from ._localkafka.cluster import DEFAULT_JVM_FLAGS as DEFAULT_JVM_FLAGS
from ._localkafka.cluster import LocalKafka as LocalKafka
from ._localkafka.maven import DEFAULT_KAFKA_VERSION as DEFAULT_KAFKA_VERSION
from ._localkafka.maven import KafkaToolingError as KafkaToolingError
from ._localkafka.maven import default_cache_dir as default_cache_dir
from ._localkafka.maven import default_kafka_version as default_kafka_version
from ._localkafka.maven import ensure_jars as ensure_jars
from ._localkafka.maven import resolve_with_maven as resolve_with_maven
from ._localkafka.processes import MARKER_PROPERTY as MARKER_PROPERTY
from ._localkafka.processes import KafkaStartupError as KafkaStartupError
from ._localkafka.security import KafkaSecurity as KafkaSecurity
from ._localkafka.security import SecurityPlan as SecurityPlan

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "KafkaStartupError",
    "KafkaToolingError",
    "LocalKafka",
]
