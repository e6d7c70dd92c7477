"""Use case: open a reader connection and read with blocking reads.

python examples/blocking_reader.py [how many messages, default 1]
"""

import sys

from _common import BOOTSTRAP, HOST, PORT, TOPIC

import msgbus


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    mcfg = msgbus.MsgBusConfig(
        bus_tech=msgbus.BusTechKafka,
        host=HOST,
        port=PORT,
        bootstrap_servers=BOOTSTRAP,
        blocking=msgbus.Blocking,
        direction=msgbus.BusReader,
        connect_retries=10,
        topic=TOPIC,
    )
    try:
        mbus_r = msgbus.connect(mcfg)
    except msgbus.MsgBusError as err:
        print("Error connecting to bus:", err)
        return 1
    # connect() returns once the reader is positioned: anything written from now on is read.
    print("blocking reader: connected", flush=True)

    for _ in range(count):
        # First check if a message is available (if desired); message_read()
        # would simply wait for one otherwise.
        if mbus_r.message_available() != 0:
            print(f"blocking reader: {mbus_r.message_available()} message(s) available", flush=True)
        try:
            msg = mbus_r.message_read()
        except msgbus.MsgBusError as err:
            print("ERROR reading message:", err)
            return 1
        print(f"blocking reader: Message received: '{msg}'", flush=True)

    mbus_r.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
