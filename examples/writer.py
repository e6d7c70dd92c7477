"""Use case: open a writer connection and write messages.

python examples/writer.py ["message" ...]
"""

import sys

from _common import connect

import msgbus


def main() -> int:
    mbus_w = connect(msgbus.BusWriter)  # see _common.py: the config, and msgbus.connect()
    if mbus_w is None:
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
