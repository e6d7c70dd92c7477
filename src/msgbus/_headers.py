"""Kafka headers as ``message_write(msg, headers=...)`` takes them, checked and made into (name, bytes) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._errors import InvalidMessageError

#: What ``message_write`` takes: a mapping, or (name, value) pairs (a name may repeat); str values go as UTF-8.
HeadersArg = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
#: Headers as they go on the wire.
HeaderList = list[tuple[str, bytes]]


def header_list(headers: HeadersArg) -> HeaderList:
    """``headers`` as (name, bytes) pairs, in order; ``InvalidMessageError`` naming what is wrong."""
    pairs: Iterable[object] = headers.items() if isinstance(headers, Mapping) else headers
    if isinstance(headers, (str, bytes)):
        raise InvalidMessageError(f"headers must be a mapping or (name, value) pairs, not {type(headers).__name__}")
    try:
        items = list(pairs)
    except TypeError:
        raise InvalidMessageError(
            f"headers must be a mapping or (name, value) pairs, not {type(headers).__name__}"
        ) from None
    out: HeaderList = []
    for index, pair in enumerate(items):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidMessageError(f"header {index} must be a (name, value) pair, not {pair!r}")
        name, value = pair
        if not isinstance(name, str) or not name:
            raise InvalidMessageError(f"header {index}: the name must be a non-empty str, not {name!r}")
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif not isinstance(value, bytes):
            raise InvalidMessageError(f"header {name!r}: the value must be str or bytes, not {type(value).__name__}")
        out.append((name, value))
    return out
