"""docs/rebalances.md: its Python snippets run, and every group_protocol it names is a valid choice."""

from __future__ import annotations

import re
from pathlib import Path

from msgbus._backends.kafka._config import GROUP_PROTOCOLS

DOC = Path(__file__).resolve().parents[2] / "docs" / "rebalances.md"


def test_its_snippets_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_it_names_every_choice_and_no_other() -> None:
    named = set(re.findall(r'`"([a-z-]+)"`', DOC.read_text(encoding="utf-8")))
    assert set(GROUP_PROTOCOLS) <= named
    assert {n for n in named if n.startswith(("classic", "consumer"))} == set(GROUP_PROTOCOLS)
