"""Every registered check gives a verdict other than refuted at the quick profile, and each
negative control gives one outside {exact, confirmed, corrected}."""

import re
from pathlib import Path

import pytest

from rnnproof import checks, stats
from rnnproof.verdicts import PASSING, REFUTED, VERDICTS

BOOK = Path(__file__).resolve().parents[1] / "book"
CASES = [(cid, None) for cid in checks.ids()] + [
    (cid, c) for cid in checks.ids() for c in checks.REGISTRY[cid].controls]


@pytest.mark.parametrize("check_id,control", CASES,
                         ids=[f"{i}" if c is None else f"{i}[control={c}]" for i, c in CASES])
def test_check(check_id: str, control: str | None) -> None:
    res = checks.run(check_id, profile="quick", seed=0, control=control)
    assert res.id == check_id and res.measured, "a check must report what it measured"
    assert res.verdict in VERDICTS and res.grades and res.rule["criteria"]
    if control is None:
        assert res.verdict != REFUTED, res.table()
    else:
        assert res.verdict not in PASSING, \
            f"negative control {control!r} still gives {res.verdict}:\n{res.table()}"


def test_every_check_has_a_control() -> None:
    assert all(checks.REGISTRY[c].controls for c in checks.ids())


def test_the_suite_fits_its_error_budget() -> None:
    """Refutations are tested at FAMILY_ALPHA / MAX_CHECKS each (Bonferroni), so the suite may
    hold at most MAX_CHECKS checks for a spurious refuted anywhere to stay below 5%."""
    assert len(checks.REGISTRY) <= stats.MAX_CHECKS


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


def test_a_check_must_declare_its_rule() -> None:
    from rnnproof.checks import register

    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'rule'"):
        register("x-no-rule", label="theorem-1", claim="c", quick={}, controls=("a",))
    with pytest.raises(TypeError, match="verdicts.Rule"):
        register("x-bad-rule", label="theorem-1", claim="c", quick={}, controls=("a",),
                 rule="confirmed")
    assert "x-no-rule" not in checks.REGISTRY and "x-bad-rule" not in checks.REGISTRY
