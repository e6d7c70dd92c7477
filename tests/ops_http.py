"""Asking an ops endpoint (``msgbus.serve_ops``) over HTTP, as a probe or Prometheus would."""

from __future__ import annotations

import urllib.error
import urllib.request


def get(url: str) -> tuple[int, str]:
    """(status code, body) of a GET; a 5xx answer is an answer, not an error."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
