"""What the examples share: where the broker is, and the connect each one starts with.

MSGBUS_BOOTSTRAP (host:port[,host:port...], as `msgbus kafka start` prints it) when set;
else MSGBUS_HOST and MSGBUS_PORT; else localhost:9092. The topic: MSGBUS_TOPIC, else hb_events.
"""

import os

import msgbus

HOST = os.environ.get("MSGBUS_HOST") or "localhost"
PORT = int(os.environ.get("MSGBUS_PORT") or "9092")
# When set, MsgBusConfig uses it and not HOST and PORT.
BOOTSTRAP = os.environ.get("MSGBUS_BOOTSTRAP", "")
TOPIC = os.environ.get("MSGBUS_TOPIC") or "hb_events"


def connect(direction: msgbus.BusDir) -> msgbus.MsgBusIO | None:
    """A writer or a reader on TOPIC, as the spec's use cases open them; None (said on stdout) if it failed."""
    # Message bus connection configuration
    mcfg = msgbus.MsgBusConfig(
        bus_tech=msgbus.BusTechKafka,
        host=HOST,
        port=PORT,
        bootstrap_servers=BOOTSTRAP,
        blocking=msgbus.Blocking,
        direction=direction,
        connect_retries=10,
        topic=TOPIC,
    )
    # Connect to message bus
    try:
        return msgbus.connect(mcfg)
    except msgbus.MsgBusError as err:
        print("Error connecting to bus:", err)
        return None
