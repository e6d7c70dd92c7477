"""The release as a user gets it: the built wheel in a clean virtualenv, away from the source tree.

``MSGBUS_DIST`` names a directory holding the sdist and wheel (``make dist`` writes dist/ and
``make test`` passes it); without it the session builds both into a temporary directory, so
a run of tests/release alone never tests a stale dist/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import msgbus

from .venvs import BUILD_TIMEOUT, INSTALL_TIMEOUT, REPO, Dist, ReleaseVenv, check


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    version = msgbus.__version__
    given = os.environ.get("MSGBUS_DIST")
    if given:
        where = Path(given) if Path(given).is_absolute() else REPO / given
    else:
        where = tmp_path_factory.mktemp("dist")
        proc = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(where), str(REPO)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
        check(proc, "python -m build")
    wheels = sorted(where.glob(f"hms_msgbus-{version}-*.whl"))
    sdists = sorted(where.glob(f"hms_msgbus-{version}.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"want one wheel and one sdist of {version} in {where}"
    return Dist(wheel=wheels[0], sdist=sdists[0])


@pytest.fixture(scope="session")
def release_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> ReleaseVenv:
    base = tmp_path_factory.mktemp("release")
    assert REPO not in base.parents, "the release venv must live outside the source tree"
    root = base / "venv"
    workdir = base / "user"
    workdir.mkdir()
    # `python -m venv` from the dev venv makes a venv on the base interpreter: none of the dev packages.
    check(
        subprocess.run([sys.executable, "-m", "venv", str(root)], capture_output=True, text=True, timeout=120),
        "python -m venv",
    )
    python = root / "bin" / "python"
    # What a user installs: the wheel (its dependencies from the index) and a test runner of their own.
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(dist.wheel), "pytest>=8", "pytest-asyncio>=0.24"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    check(proc, "pip install the wheel")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    return ReleaseVenv(root=root, python=python, bin=root / "bin", site_packages=Path(site), workdir=workdir)
