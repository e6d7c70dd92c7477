"""The release's wheel and sdist, and a clean virtualenv holding the wheel (see conftest.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Bounds, generous for a loaded 2-core machine: no subprocess may hang the suite.
BUILD_TIMEOUT = 300.0
INSTALL_TIMEOUT = 600.0


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class ReleaseVenv:
    root: Path
    python: Path
    bin: Path
    site_packages: Path
    workdir: Path  # outside the repository: users' files and the cwd of every run

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a user's shell would have with this venv activated, nothing of the repo's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        env.update(extra or {})
        return env

    def run(
        self, *args: str | Path, timeout: float, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            cwd=self.workdir,
            env=self.env(extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
