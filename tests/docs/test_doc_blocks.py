"""Docs that cannot go stale: every Python and shell block of README.md and docs/ runs here.

A document's ```python blocks run in order in one fresh interpreter, sharing one namespace (a
later block uses what an earlier one defined, as a reader following the page would). Each
```sh/```bash/```console block runs in bash (``-e -o pipefail``) from the repository's root. Both
run with the session's broker in ``MSGBUS_BOOTSTRAP`` (what ``eval "$(msgbus kafka start
--print-env)"`` sets) and this environment's ``msgbus`` and ``python`` first on PATH.

A block may say, on the line right before it, how it runs instead:

- ``<!-- not-run: REASON -->``: not run; the reason must say why (checked below);
- ``<!-- run: pytest -->``: a test module of a user's suite, run by pytest with ``-W error`` and
  the one ini line the pytest plugin documents.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from msgbus.testing import LocalKafka, pytest_plugin

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
GUIDE_PAGES = sorted(p for p in (REPO / "docs").glob("*.md") if p.name not in ("index.md", "changelog.md"))
RUN_TIMEOUT = 240.0

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*(not-run|run)\s*:\s*(.*?)\s*-->$")
_SHELL = {"sh", "bash", "console"}


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # of the opening fence, 1-based
    language: str
    source: str
    mark: str  # "", "not-run" or "run"
    detail: str  # the reason of a not-run, the runner of a run

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def blocks_of(document: Path) -> list[Block]:
    lines = document.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next((i for i in range(index + 1, len(lines)) if lines[i].startswith("```")), len(lines))
        mark = _MARK.match(lines[index - 1].strip()) if index else None
        found.append(
            Block(
                document,
                index + 1,
                opening.group(1),
                "\n".join(lines[index + 1 : end]) + "\n",
                mark.group(1) if mark else "",
                mark.group(2) if mark else "",
            )
        )
        index = end + 1
    return found


def _runnable(document: Path, languages: set[str]) -> list[Block]:
    return [b for b in blocks_of(document) if b.language in languages and not b.mark]


def _id(document: Path) -> str:
    return str(document.relative_to(REPO))


# -- what every block must be (no broker) -------------------------------------------------------


def test_every_code_block_runs_or_says_why_not() -> None:
    wrong = []
    for document in DOCUMENTS:
        for block in blocks_of(document):
            if block.mark == "not-run" and len(block.detail.split()) < 3:
                wrong.append(f"{block.where}: not-run needs a reason of a few words, not {block.detail!r}")
            elif block.mark == "run" and (block.detail != "pytest" or block.language != "python"):
                wrong.append(f"{block.where}: the only runner is `<!-- run: pytest -->` on a python block")
            elif block.language in ("", "text") and not block.mark:
                continue  # output, wire formats, usage lines: nothing to run
            elif not block.mark and block.language not in {"python"} | _SHELL:
                wrong.append(f"{block.where}: a ```{block.language} block is neither run nor marked not-run")
    assert not wrong, "\n".join(wrong)


def test_the_block_reader_sees_marks_and_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n<!-- not-run: needs a real cluster here -->\n```sh\nrm -rf /\n```\n"
        "<!-- run: pytest -->\n```python\ndef test_x(): pass\n```\n```\nplain\n```\n"
    )
    got = [(b.line, b.language, b.mark, b.detail, b.source) for b in blocks_of(page)]
    assert got == [
        (2, "python", "", "", "x = 1\n"),
        (6, "sh", "not-run", "needs a real cluster here", "rm -rf /\n"),
        (10, "python", "run", "pytest", "def test_x(): pass\n"),
        (13, "", "", "", "plain\n"),
    ]


def test_every_guide_page_is_linked_from_the_readme_and_in_the_site() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    site = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in GUIDE_PAGES:
        assert f"](docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
        assert f": {page.name}" in site, f"mkdocs.yml's nav does not list {page.name}"


# -- running them --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_env(kafka: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A reader's shell after `eval "$(msgbus kafka start --print-env)"`, on the session's broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSGBUS_", "PYTEST"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MSGBUS_BOOTSTRAP"] = kafka.bootstrap_servers
    # `msgbus kafka start` in a block records its broker here, not in the user's state file.
    env["MSGBUS_STATE_DIR"] = str(tmp_path_factory.mktemp("msgbus-state"))
    env["KAFKA_PASSWORD"] = "not-a-real-password"  # docs/security.md reads it into a config
    return env


_DRIVER = textwrap.dedent(
    """
    import json, sys, traceback
    namespace = {"__name__": "__main__"}
    for where, source in json.load(sys.stdin):
        try:
            exec(compile(source, where, "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"the block at {where} failed", file=sys.stderr)
            sys.exit(1)
    """
)


@pytest.mark.integration
@pytest.mark.parametrize("document", [d for d in DOCUMENTS if _runnable(d, {"python"})], ids=_id)
def test_a_documents_python_blocks_run_in_order(document: Path, docs_env: dict[str, str]) -> None:
    blocks = [[b.where, b.source] for b in _runnable(document, {"python"})]
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER],
        input=json.dumps(blocks),
        cwd=REPO,
        env=docs_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


def _shell_blocks() -> list[Block]:
    return [b for d in DOCUMENTS for b in _runnable(d, _SHELL)]


@pytest.mark.integration
@pytest.mark.parametrize("block", _shell_blocks(), ids=lambda b: b.where)
def test_a_shell_block_runs(block: Block, docs_env: dict[str, str]) -> None:
    try:
        proc = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.source],
            cwd=REPO,
            env=docs_env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    finally:
        # A block that started a broker and failed before its `msgbus kafka stop` must not leave it running.
        if (Path(docs_env["MSGBUS_STATE_DIR"]) / "localkafka-state.json").exists():
            stop = [shutil.which("msgbus", path=docs_env["PATH"]) or "msgbus", "kafka", "stop"]
            subprocess.run(stop, env=docs_env, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{block.where}:\n{block.source}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


def _pytest_blocks() -> list[Block]:
    return [b for d in DOCUMENTS for b in blocks_of(d) if b.mark == "run" and b.detail == "pytest"]


def documented_ini_line() -> str:
    lines = [line.strip() for line in (pytest_plugin.__doc__ or "").splitlines()]
    return next(line for line in lines if line.startswith("asyncio_default_fixture_loop_scope ="))


@pytest.mark.parametrize("block", _pytest_blocks(), ids=lambda b: b.where)
def test_a_test_module_block_passes_under_pytest(block: Block, tmp_path: Path) -> None:
    (tmp_path / "test_from_docs.py").write_text(block.source, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{documented_ini_line()}\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, f"{block.where}:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    assert " passed" in proc.stdout and "failed" not in proc.stdout
