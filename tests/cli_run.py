"""Running the ``msgbus`` command in a child process, as the CLI tests of every directory do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence

#: Bound on one run of the command.
TIMEOUT = 120


def run_msgbus(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    drop: tuple[str, ...] = ("MSGBUS_",),
) -> subprocess.CompletedProcess[str]:
    """``python -m msgbus ARGS``: this environment without the variables starting with ``drop``, plus ``env``.

    ``stdin`` is the input (None: /dev/null).
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "msgbus", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=TIMEOUT,
        check=False,
    )


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
