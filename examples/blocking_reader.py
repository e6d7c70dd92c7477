"""Use case: open a reader connection and read with blocking reads.

python examples/blocking_reader.py [how many messages, default 1]
"""

import sys

from _common import connect

import msgbus


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    mbus_r = connect(msgbus.BusReader)  # see _common.py: the config, and msgbus.connect()
    if mbus_r is None:
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
