"""LocalKafka and its parts: Java, Maven and the jar cache, the server properties, the JVMs, the admin
client, TLS and SASL, and the detached cluster of ``msgbus kafka``.

``msgbus.testing.localkafka`` is the public face; ``cluster.LocalKafka`` is the class.
"""
