"""Where the examples find the broker.

MSGBUS_BOOTSTRAP (host:port[,host:port...], as `msgbus kafka start` prints it) when set;
else MSGBUS_HOST and MSGBUS_PORT; else localhost:9092. The topic: MSGBUS_TOPIC, else hb_events.
"""

import os

HOST = os.environ.get("MSGBUS_HOST") or "localhost"
PORT = int(os.environ.get("MSGBUS_PORT") or "9092")
# When set, MsgBusConfig uses it and not HOST and PORT.
BOOTSTRAP = os.environ.get("MSGBUS_BOOTSTRAP", "")
TOPIC = os.environ.get("MSGBUS_TOPIC") or "hb_events"
