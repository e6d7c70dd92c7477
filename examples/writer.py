"""Use case: open a writer connection and write messages.

python examples/writer.py ["message" ...]
"""

import sys

from _common import BOOTSTRAP, HOST, PORT, TOPIC

import msgbus


def main() -> int:
    # Message bus connection configuration
    mcfg = msgbus.MsgBusConfig(
        bus_tech=msgbus.BusTechKafka,
        host=HOST,
        port=PORT,
        bootstrap_servers=BOOTSTRAP,
        blocking=msgbus.Blocking,
        direction=msgbus.BusWriter,
        connect_retries=10,
        topic=TOPIC,
    )

    # Connect to message bus
    try:
        mbus_w = msgbus.connect(mcfg)
    except msgbus.MsgBusError as err:
        print("Error connecting to bus:", err)
        return 1

    # Blocking: each write returns once the broker has acknowledged it.
    for msg in sys.argv[1:] or ["The Rain In Spain"]:
        try:
            mbus_w.message_write(msg)
        except msgbus.MsgBusError as err:
            print("ERROR writing message to bus:", err)
        else:
            print(f"Message written: '{msg}'")

    # Closing a connection
    mbus_w.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
