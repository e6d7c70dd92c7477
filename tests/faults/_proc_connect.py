"""A connect that never succeeds, in a process of its own, interrupted by SIGINT as Ctrl-C would.

``python _proc_connect.py writer|reader BOOTSTRAP DELAY``: connects with
connect_retries=0 (for ever) and connect_timeout=10, with no logging configured
(so the library's lines reach stderr through logging's last resort). DELAY seconds
after the first retry warning, it sends itself SIGINT. Prints one JSON line on
stdout: "first_warning" (seconds from connect() to the first retry warning) and
"interrupted" (seconds from the SIGINT to connect() raising KeyboardInterrupt).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time

import msgbus


def main(argv: list[str]) -> None:
    # Python's own Ctrl-C handler, even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    direction = msgbus.BusWriter if argv[1] == "writer" else msgbus.BusReader
    bootstrap, delay = argv[2], float(argv[3])
    cfg = msgbus.MsgBusConfig(
        bootstrap_servers=bootstrap, topic="never", direction=direction, connect_retries=0, connect_timeout=10
    )
    times: dict[str, float] = {}
    warned = threading.Event()
    started = time.monotonic()

    def watch(record: logging.LogRecord) -> bool:
        # A filter, not a handler: with a handler, logging's last resort would not print.
        if "connect attempt 1 " in record.getMessage() and not warned.is_set():
            times["first_warning"] = time.monotonic() - started
            warned.set()
        return True

    logging.getLogger("msgbus").addFilter(watch)

    def interrupt() -> None:
        if warned.wait(60):
            time.sleep(delay)
        times["sigint"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, name="test-interrupt", daemon=True).start()
    try:
        msgbus.connect(cfg)
    except KeyboardInterrupt:
        times["interrupted"] = time.monotonic() - times["sigint"]
    else:
        raise AssertionError("connected to a dead broker")
    print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main(sys.argv)
