"""Fail fast, and quietly: a broker nobody can reach is reported at once, Ctrl-C ends connect().

No broker is needed: a free loopback port nobody listens on, and a host name that cannot resolve.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from integration.helpers import closed_port, run_bounded

import msgbus

SCRIPT = Path(__file__).with_name("_proc_connect.py")
CONNECT_TIMEOUT = 10.0


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader], ids=["writer", "reader"])
@pytest.mark.parametrize("where", ["dead-port", "unresolvable-host"])
def test_an_unreachable_broker_ends_each_attempt_early(
    direction: msgbus.BusDir, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="msgbus")
    host, port = ("127.0.0.1", closed_port()) if where == "dead-port" else ("no-such-broker.invalid", 9092)
    cfg = msgbus.MsgBusConfig(
        host=host, port=port, topic="never", direction=direction, connect_retries=2, connect_timeout=CONNECT_TIMEOUT
    )
    started = time.monotonic()
    with pytest.raises(msgbus.ConnectError) as info:
        run_bounded(lambda: msgbus.connect(cfg), 60)
    elapsed = time.monotonic() - started
    assert f"at {host}:{port} after 2 attempt(s)" in str(info.value)
    assert ("Connection refused" if where == "dead-port" else "resolve") in str(info.value)
    retries = [r.getMessage() for r in caplog.records if "connect attempt" in r.getMessage()]
    assert len(retries) == 1 and "connect attempt 1 " in retries[0]
    # Librdkafka knows within milliseconds; waiting out connect_timeout twice took 20 s.
    # Both attempts (and the 0.25 s back-off) together end before one connect_timeout.
    assert elapsed < CONNECT_TIMEOUT, elapsed


@pytest.mark.parametrize("direction", ["writer", "reader"])
@pytest.mark.parametrize("delay", [0.1, 1.3], ids=["in-back-off", "in-attempt"])
def test_retrying_for_ever_warns_at_once_ends_on_ctrl_c_and_stays_quiet(direction: str, delay: float) -> None:
    bootstrap = f"127.0.0.1:{closed_port()}"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), direction, bootstrap, str(delay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    times = json.loads(result.stdout.strip().splitlines()[-1])
    # The first failed attempt is reported within about a second, not after connect_timeout (10 s).
    assert times["first_warning"] < 3.0, times
    # Ctrl-C does not wait for the attempt under way (it did for up to 10 s).
    assert times["interrupted"] < 2.0, times
    # No logging configured: librdkafka's FAIL line (about 20 a second) and the client
    # error reach stderr once each, not once per reconnect.
    lines = result.stderr.splitlines()
    assert sum("FAIL" in line and "Connection refused" in line for line in lines) == 1, result.stderr[-3000:]
    client_errors = [line for line in lines if line.startswith(f"{direction} on never: ")]
    assert sum("Connection refused" in line for line in client_errors) == 1, result.stderr[-3000:]
