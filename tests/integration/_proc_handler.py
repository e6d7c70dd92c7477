"""A grouped reader with a failure policy in a process of its own, for the SIGKILL-during-retry test.

``python _proc_handler.py BOOTSTRAP TOPIC GROUP OUTFILE POISON``: a callback appends each message
it handled to OUTFILE (one per line) and raises on POISON, which the policy retries with a long
back-off; it prints "ready" once connected and "failing" at the first failure of POISON.
With POISON "-", nothing fails.
"""

from __future__ import annotations

import sys
import time

import msgbus


def main(argv: list[str]) -> None:
    bootstrap, topic, group, outfile, poison = argv[1:6]
    cfg = msgbus.MsgBusConfig(
        bootstrap_servers=bootstrap,
        topic=topic,
        direction=msgbus.BusReader,
        group_id=group,
        offset_reset="earliest",
        connect_retries=10,
        connect_timeout=10,
        on_handler_error=msgbus.Retry(attempts=100, backoff=30, max_backoff=30),
    )
    bus = msgbus.connect(cfg)
    print("ready", flush=True)
    with open(outfile, "a", buffering=1, encoding="utf-8") as out:

        def handler(msg: str) -> None:
            if msg == poison:
                print("failing", flush=True)
                raise RuntimeError("poison")
            out.write(msg + "\n")

        bus.register_cb(handler)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main(sys.argv)
