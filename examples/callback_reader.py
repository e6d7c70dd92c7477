"""Use case: open a reader connection and receive messages through a callback.

python examples/callback_reader.py [how many messages, default 1]
"""

import sys
import threading

from _common import connect

import msgbus

received = 0
enough = threading.Event()


def my_cbfunc(msg: str) -> None:
    global received
    print(f"callback reader: Message Received: '{msg}'", flush=True)
    received += 1
    if received >= WANTED:
        enough.set()


WANTED = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def main() -> int:
    mbus_r = connect(msgbus.BusReader)  # see _common.py: the config, and msgbus.connect()
    if mbus_r is None:
        return 1

    # Register a function to be called when messages arrive
    try:
        mbus_r.register_cb(my_cbfunc)
    except msgbus.MsgBusError as err:
        print("ERROR registering callback function:", err)
        return 1
    print("callback reader: connected", flush=True)

    # Do other stuff. my_cbfunc() is called (on a library thread) when messages arrive.
    enough.wait()

    # Un-register callback function if you no longer want to use it.
    mbus_r.unregister_cb()
    mbus_r.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
