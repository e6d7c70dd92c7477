"""`make demo`: the spec's use cases end to end on a local Apache Kafka.

Starts a broker, starts a blocking reader and a callback reader (each in its
own process, as separate services would be), runs the writer, shows what each
reader got, and stops the broker.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from msgbus.testing import LocalKafka

HERE = Path(__file__).resolve().parent
MESSAGES = ["The Rain In Spain", "falls mainly on the plain", "Grüße aus Köln 🌧"]


def start(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), str(len(MESSAGES))],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "... connected": the reader is positioned
    print(line, end="")
    if "connected" not in line:
        raise SystemExit(f"{script} did not connect")
    return proc


def main() -> int:
    print("== starting a local Apache Kafka (first run downloads the jars with Maven)")
    with LocalKafka() as kafka:
        print(f"== broker up at {kafka.bootstrap_servers} in {kafka.startup_seconds:.1f} s")
        env = dict(os.environ, MSGBUS_BOOTSTRAP=kafka.bootstrap_servers, MSGBUS_TOPIC="hb_events")
        readers = [start("blocking_reader.py", env), start("callback_reader.py", env)]
        print("== writer")
        subprocess.run([sys.executable, str(HERE / "writer.py"), *MESSAGES], env=env, check=True)
        print("== readers")
        deadline = time.monotonic() + 60
        failed = False
        for proc in readers:
            try:
                out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                failed = True
            print(out, end="")
            failed |= proc.returncode != 0
        print("== stopping the broker")
    print("== demo failed" if failed else "== demo done: both readers got every message")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
