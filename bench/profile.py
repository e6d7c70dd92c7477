"""``python -m bench.profile``: where msgbus's read and write time goes, next to the raw loops.

Starts a LocalKafka, fills a topic, and samples the read workers with py-spy;
writes bench/results/profile-read.txt and profile-write.txt (self time per function and per thread).
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from msgbus.testing import LocalKafka

from .common import PERF_JVM_FLAGS, RESULTS
from .measure import prefill

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


def _profile(kind: str, systems: tuple[str, ...], args: str, tmp: Path) -> list[str]:
    """Each system's worker of ``kind`` under py-spy: its result line and the summary of its samples."""
    py_spy = Path(sys.executable).with_name("py-spy")
    lines: list[str] = []
    for system in systems:
        out = tmp / f"{kind}-{system}.txt"
        cmd = [str(py_spy), "record", "-r", "1000", "--threads", "-f", "raw", "-o", str(out), "--"]
        cmd += [sys.executable, "-m", "bench.workers", kind, system, args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        result = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
        lines += [f"=== {system}: {result}", *_summary(out), ""]
    return lines


def main() -> int:
    with LocalKafka(jvm_flags=PERF_JVM_FLAGS, heap_mb=1024) as kafka, tempfile.TemporaryDirectory() as tmp:
        bootstrap = kafka.bootstrap_servers
        kafka.create_topic("profile-src")
        prefill(bootstrap, "profile-src", N + 10, 100)
        read = [
            "py-spy samples (--threads, 1000 Hz) of the read workers, reading",
            f"{N:,} 100-byte messages from a filled topic. Idle waits are not sampled.",
            "",
        ]
        read += _profile(
            "read",
            ("raw", "msgbus_read", "msgbus_cb"),
            json.dumps({"bootstrap": bootstrap, "topic": "profile-src", "n": N}),
            Path(tmp),
        )
        (RESULTS / "profile-read.txt").write_text("\n".join(read) + "\n")
        kafka.create_topic("profile-write")
        write = [
            "py-spy samples (--threads, 1000 Hz) of the NonBlocking write workers,",
            f"writing {N:,} 100-byte messages and flushing. Idle waits are not sampled.",
            "",
        ]
        args = json.dumps({"bootstrap": bootstrap, "topic": "profile-write", "n": N, "size": 100})
        write += _profile("write_nb", ("raw", "msgbus"), args, Path(tmp))
        (RESULTS / "profile-write.txt").write_text("\n".join(write) + "\n")
    print("\n".join(read))
    print("\n".join(write))
    return 0


if __name__ == "__main__":
    sys.exit(main())
