"""A reader in a process of its own, for the crash and memory scenarios.

``python _proc_reader.py read BOOTSTRAP TOPIC GROUP OUTFILE``: reads for ever,
appending "<sequence number> <monotonic time>" to OUTFILE for every message,
after message_read returned it (what the application finished).

``python _proc_reader.py hold BOOTSTRAP TOPIC QUEUE_SIZE``: connects a reader
with a small queue and prints "ready"; reads nothing until a line comes on
stdin, then reads until nothing comes for 10 s and prints "read <count> <in order: 1|0>".
"""

from __future__ import annotations

import sys
import time

import msgbus


def main(argv: list[str]) -> None:
    mode, bootstrap, topic = argv[1], argv[2], argv[3]
    if mode == "read":
        group, outfile = argv[4], argv[5]
        cfg = msgbus.MsgBusConfig(
            bootstrap_servers=bootstrap,
            topic=topic,
            direction=msgbus.BusReader,
            group_id=group,
            offset_reset="earliest",
            connect_retries=10,
            connect_timeout=10,
        )
        bus = msgbus.connect(cfg)
        print("ready", flush=True)
        with open(outfile, "a", buffering=1, encoding="ascii") as out:
            while True:
                msg = bus.message_read()
                assert msg is not None
                out.write(f"{int(msg.rsplit(':', 1)[1])} {time.monotonic():.6f}\n")
                time.sleep(0.002)
    elif mode == "hold":
        cfg = msgbus.MsgBusConfig(
            bootstrap_servers=bootstrap,
            topic=topic,
            direction=msgbus.BusReader,
            read_queue_size=int(argv[4]),
            connect_retries=10,
            connect_timeout=10,
        )
        bus = msgbus.connect(cfg)
        print("ready", flush=True)
        sys.stdin.readline()  # behind by as much as the test writes, until told to read
        count, previous, in_order = 0, -1, True
        while True:
            msg = bus.message_read(timeout=10)
            if msg is None:
                break
            seq = int(msg.rsplit(":", 1)[1])
            in_order = in_order and seq == previous + 1
            previous = seq
            count += 1
        print(f"read {count} {int(in_order)}", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv)
