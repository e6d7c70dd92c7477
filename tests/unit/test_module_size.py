"""No Python module in the repository over 400 lines (ARCHITECTURE.md: small modules with one job each)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TREES = ("src", "bench", "tests", "examples", "interop")
LIMIT = 400


def oversized(root: Path, trees: tuple[str, ...], limit: int) -> list[str]:
    found = []
    for tree in trees:
        for path in sorted((root / tree).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_no_module_is_over_the_limit() -> None:
    assert oversized(REPO, TREES, LIMIT) == [], f"split these (at most {LIMIT} lines each)"


def test_the_check_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "short.py").write_text("x = 1\n" * LIMIT)
    (tmp_path / "src" / "pkg" / "long.py").write_text("x = 1\n" * (LIMIT + 1))
    assert oversized(tmp_path, ("src",), LIMIT) == [f"src/pkg/long.py: {LIMIT + 1} lines"]
