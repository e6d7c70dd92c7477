"""``python -m bench.profile``: where msgbus's read and write time goes, next to the raw loops.

Starts a LocalKafka, fills a topic, and samples the read workers with py-spy;
writes bench/results/profile-read.txt and profile-write.txt (self time per function and per thread).
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
from pathlib import Path

from msgbus.testing import LocalKafka

from .run import PERF_JVM_FLAGS, RESULTS, prefill

N = 1_000_000


def _summary(raw: Path, top: int = 25) -> list[str]:
    own: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        own[frames[-1]] += n
        threads[frames[0].split(":", 1)[-1].strip()] += n
    out = [f"samples: {total}", "", "per thread:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in threads.most_common()]
    out += ["", "self time (top functions):"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return out


def main() -> int:
    py_spy = Path(sys.executable).with_name("py-spy")
    report: list[str] = [
        "py-spy samples (--threads, 1000 Hz) of the read workers, reading",
        f"{N:,} 100-byte messages from a filled topic. Idle waits are not sampled.",
        "",
    ]
    with LocalKafka(jvm_flags=PERF_JVM_FLAGS, heap_mb=1024) as kafka, tempfile.TemporaryDirectory() as tmp:
        kafka.create_topic("profile-src")
        prefill(kafka.bootstrap_servers, "profile-src", N + 10, 100)
        for system in ("raw", "msgbus_read", "msgbus_cb"):
            out = Path(tmp) / f"{system}.txt"
            args = f'{{"bootstrap": "{kafka.bootstrap_servers}", "topic": "profile-src", "n": {N}}}'
            cmd = [str(py_spy), "record", "-r", "1000", "--threads", "-f", "raw", "-o", str(out), "--"]
            cmd += [sys.executable, "-m", "bench.workers", "read", system, args]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            result = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
            report += [f"=== {system}: {result}", *_summary(out), ""]
        (RESULTS / "profile-read.txt").write_text("\n".join(report) + "\n")
        report = [
            "py-spy samples (--threads, 1000 Hz) of the NonBlocking write workers,",
            f"writing {N:,} 100-byte messages and flushing. Idle waits are not sampled.",
            "",
        ]
        kafka.create_topic("profile-write")
        for system in ("raw", "msgbus"):
            out = Path(tmp) / f"write-{system}.txt"
            args = f'{{"bootstrap": "{kafka.bootstrap_servers}", "topic": "profile-write", "n": {N}, "size": 100}}'
            cmd = [str(py_spy), "record", "-r", "1000", "--threads", "-f", "raw", "-o", str(out), "--"]
            cmd += [sys.executable, "-m", "bench.workers", "write_nb", system, args]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            result = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
            report += [f"=== {system}: {result}", *_summary(out), ""]
        (RESULTS / "profile-write.txt").write_text("\n".join(report) + "\n")
    print((RESULTS / "profile-read.txt").read_text())
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
