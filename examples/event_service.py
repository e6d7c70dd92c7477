"""A consumer service shaped like a session-event handler: what msgbus does for it, it need not write.

A named group shares the topic with the service's other replicas; each event is
JSON; a failing event is retried with back-off, then written to a dead-letter
topic; /livez, /readyz and /metrics serve Kubernetes and Prometheus.
Run: MSGBUS_BOOTSTRAP=host:port OPS_PORT=8080 python examples/event_service.py
"""

import json
import os
import signal
import threading

from _common import BOOTSTRAP, HOST, PORT, TOPIC

import msgbus


def handle(event: dict[str, object]) -> None:
    """The service's own work; raising means "try again later"."""
    if "session" not in event:
        raise ValueError(f"an event without a session: {event}")
    print("session event:", event["session"], event.get("status"), flush=True)


def main() -> None:
    cfg = msgbus.MsgBusConfig(
        host=HOST,
        port=PORT,
        bootstrap_servers=BOOTSTRAP,
        topic=TOPIC,
        direction=msgbus.BusReader,
        group_id="session-events",  # the replicas share the events; a restart resumes at the commit
        offset_reset="earliest",
        connect_retries=10,
        on_handler_error=msgbus.Retry(attempts=3, backoff=0.2, then=msgbus.DeadLetter(f"{TOPIC}.dlq")),
        stuck_after=60.0,  # /livez fails if events wait and none is finished for a minute,
        max_hold=120.0,  # or one event is in the handler for two minutes
        timings=True,  # handler durations in /metrics
    )
    ops = msgbus.serve_ops(int(os.environ.get("OPS_PORT", "8080")), host=os.environ.get("OPS_HOST", "0.0.0.0"))
    with msgbus.connect(cfg) as reader:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        reader.register_cb(lambda text: handle(json.loads(text)))  # bad JSON raises too: retried, then dead-lettered
        print("ready", flush=True)
        stop.wait()
    ops.close()


if __name__ == "__main__":
    main()
