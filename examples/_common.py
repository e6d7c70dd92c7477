"""Where the examples find the broker: MSGBUS_HOST / MSGBUS_PORT, else localhost:9092."""

import os

HOST = os.environ.get("MSGBUS_HOST", "localhost")
PORT = int(os.environ.get("MSGBUS_PORT", "9092"))
TOPIC = os.environ.get("MSGBUS_TOPIC", "hb_events")
