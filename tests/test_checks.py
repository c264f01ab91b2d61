"""Every registered check passes at the quick profile, and each negative control fails."""

import re
from pathlib import Path

import pytest

from rnnproof import checks

BOOK = Path(__file__).resolve().parents[1] / "book"
CASES = [(cid, None) for cid in checks.ids()] + [
    (cid, c) for cid in checks.ids() for c in checks.REGISTRY[cid].controls]


@pytest.mark.parametrize("check_id,control", CASES,
                         ids=[f"{i}" if c is None else f"{i}[control={c}]" for i, c in CASES])
def test_check(check_id: str, control: str | None) -> None:
    res = checks.run(check_id, profile="quick", seed=0, control=control)
    assert res.id == check_id and res.measured, "a check must report what it measured"
    if control is None:
        assert res.passed, res.table()
    else:
        assert not res.passed, f"negative control {control!r} did not fail:\n{res.table()}"


def test_every_check_has_a_control() -> None:
    assert all(checks.REGISTRY[c].controls for c in checks.ids())


def test_every_label_is_defined_in_the_book() -> None:
    defined = set()
    for md in BOOK.glob("*.md"):
        defined |= set(re.findall(r"^:label:\s*(\S+)", md.read_text(), flags=re.M))
    missing = {c.label for c in checks.REGISTRY.values()} - defined
    assert not missing, f"checks name labels no chapter defines: {sorted(missing)}"


def test_unknown_check_and_control_are_clear_errors() -> None:
    with pytest.raises(KeyError, match="no check registered"):
        checks.run("lemma-99")
    with pytest.raises(ValueError, match="no negative control"):
        checks.run("definition-3.1", control="nonsense")


def test_cache_round_trip(tmp_path: Path) -> None:
    a = checks.run("definition-3.1", cache_dir=tmp_path)
    b = checks.run("definition-3.1", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert a.summary()["measured"] == b.summary()["measured"] and b.passed == a.passed
