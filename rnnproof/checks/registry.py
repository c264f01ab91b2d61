"""The check registry: one registered check per claim of the paper.

A *check* turns one claim into a measurement. It is registered under an id that follows the
paper's numbering (``lemma-5.1a``), names the label of the statement it confirms in the book
(``lemma-5.1``), declares its :class:`~rnnproof.verdicts.Rule` (prediction, margin and where
the margin comes from, alternatives, alpha), and has a size table per profile and at least one
negative control: a named, deliberately broken input under which its verdict must leave
{exact, confirmed, corrected}.

The check function measures and returns an :class:`Outcome` whose ``evidence`` the rule reads;
:func:`run` grades it, so the verdict is computed from the data, never chosen by the check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..verdicts import PASSING, VERDICTS, Finding, Rule


@dataclass
class Outcome:
    """What a check function returns; :func:`run` grades it and adds the identity and context.

    ``evidence`` holds what the rule reads (estimates, fits, deviations), ``measured`` the
    numbers shown and glued in the book, ``finding`` the finding (required when the rule
    has a corrected statement and the printed one fails)."""

    measured: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    regime: dict[str, Any] = field(default_factory=dict)
    finding: Finding | None = None
    figure: dict[str, Any] | None = None


@dataclass
class CheckResult:
    """The result of one check: claim, regime, measured numbers, rule, grades and verdict."""

    id: str
    label: str
    claim: str
    verdict: str
    rule: dict[str, Any]
    grades: list[dict[str, Any]]
    measured: dict[str, Any]
    regime: dict[str, Any]
    profile: str
    seed: int
    control: str | None
    backend: str
    dtype: str
    seconds: float
    finding: dict[str, str] | None = None
    figure: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        """The verdict is exact, confirmed or corrected."""
        return self.verdict in PASSING

    def summary(self) -> dict[str, Any]:
        """JSON-ready dictionary (figure data left out)."""
        d = dataclasses.asdict(self)
        d.pop("figure")
        d["passed"] = self.passed
        return _jsonable(d)

    def headline(self) -> str:
        """The grades' headlines, one per line (the numbers against the rule)."""
        return "\n".join(g["headline"] for g in self.grades)

    def table(self) -> str:
        """A Markdown table: verdict, claim, grades, then regime and measured quantities."""
        rows = [("verdict", self.verdict), ("claim", self.claim)]
        rows += [(f"{g['verdict']}", g["headline"]) for g in self.grades]
        rows += [(f"regime: {k}", _fmt(v)) for k, v in self.regime.items()]
        rows += [(f"measured: {k}", _fmt(v)) for k, v in self.measured.items()]
        if self.finding:
            rows.append(("finding", self.finding.get("title", "")))
        body = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows)
        return (f"| `{self.id}` ({self.profile}, seed {self.seed}, {self.backend} "
                f"{self.dtype}) | |\n|---|---|\n{body}")

    def _repr_markdown_(self) -> str:
        return self.table()


CheckFn = Callable[[Mapping[str, Any], int, "str | None"], Outcome]


@dataclass(frozen=True)
class Check:
    """A registered check: its id, the book label it confirms, its claim, sizes, controls."""

    id: str
    label: str
    claim: str
    fn: CheckFn
    sizes: Mapping[str, Mapping[str, Any]]
    controls: tuple[str, ...]
    rule: Rule
    depends: tuple[str, ...] = ()
    control_notes: Mapping[str, str] = field(default_factory=dict)




REGISTRY: dict[str, Check] = {}


def register(id: str, *, label: str, claim: str, quick: Mapping[str, Any],
             full: Mapping[str, Any] | None = None,
             controls: tuple[str, ...] | Mapping[str, str],
             rule: Rule,
             depends: tuple[str, ...] = ()) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(sizes, seed, control) -> Outcome`` as the check ``id``.

    ``quick``/``full`` are the size tables of the two profiles (``full`` defaults to
    ``quick``); ``controls`` names the negative controls (at least one), each a deliberately
    broken input that ``fn`` must build when called with ``control=name`` (a mapping gives each
    a one-line description of what it breaks, shown in the book); ``rule`` is the
    declared rule that grades the outcome's evidence; ``depends`` lists the labels of
    statements this claim relies on (drawn in the dependency graph).
    """
    if not controls:
        raise ValueError(f"check {id!r} must declare at least one negative control")
    if not isinstance(rule, Rule):
        raise TypeError(f"check {id!r}: rule must be a verdicts.Rule, got {type(rule).__name__}")

    def deco(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"check id {id!r} registered twice")
        REGISTRY[id] = Check(id=id, label=label, claim=claim, fn=fn,
                             sizes={"quick": dict(quick), "full": dict(full or quick)},
                             controls=tuple(controls), rule=rule,
                             depends=tuple(depends),
                             control_notes=dict(controls) if isinstance(controls, Mapping)
                             else {})
        return fn

    return deco


def source_hash() -> str:
    """A hash of the package source (every .py file): results are valid for this code only."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def run(id: str, profile: str | None = None, seed: int = 0, control: str | None = None,
        cache_dir: str | os.PathLike | None = None) -> CheckResult:
    """Run the check ``id`` at ``profile`` (default: :func:`backend.profile`).

    ``control`` runs one of the check's negative controls instead. If ``cache_dir`` (or the
    environment variable ``RNNPROOF_CHECK_CACHE``) is set, results are stored there, keyed by
    id, profile, seed, control, backend, dtype and a hash of the package source, so the book's
    status page can reuse what the chapters computed.
    """
    if id not in REGISTRY:
        raise KeyError(f"no check registered under {id!r}; known: {sorted(REGISTRY)}")
    check = REGISTRY[id]
    if control is not None and control not in check.controls:
        raise ValueError(f"check {id!r} has no negative control {control!r}; "
                         f"it has {check.controls}")
    prof = backend.profile(profile)
    cache_dir = cache_dir or os.environ.get("RNNPROOF_CHECK_CACHE")
    path = None
    if cache_dir:
        key = f"{id}|{prof}|{seed}|{control}|{backend.name()}|{backend.default_dtype()}|"
        key += source_hash()
        path = Path(cache_dir) / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
        if path.exists():
            return _load(path)
    t0 = time.perf_counter()
    out = check.fn(check.sizes[prof], seed, control)
    if not isinstance(out, Outcome):
        raise TypeError(f"check {id!r} returned {type(out).__name__}, not Outcome")
    res = _grade(check, out, prof, seed, control, time.perf_counter() - t0)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        d = res.summary()
        d.pop("passed")
        d["figure"] = _jsonable(res.figure)
        path.write_text(json.dumps(d))
    return res


def _grade(check: Check, out: Outcome, prof: str, seed: int, control: str | None,
           seconds: float) -> CheckResult:
    """Apply the check's declared rule to the outcome's evidence."""
    dtype = backend.default_dtype().name
    verdict, grades = check.rule.grade(dict(out.evidence), dtype)
    if verdict not in VERDICTS:
        raise AssertionError(f"rule of {check.id!r} gave an unknown verdict {verdict!r}")
    if out.finding is not None and not isinstance(out.finding, Finding):
        raise TypeError(f"check {check.id!r}: Outcome.finding must be a verdicts.Finding, got "
                        f"{type(out.finding).__name__}")
    finding_d = out.finding.as_dict() if out.finding is not None else None
    if verdict == "corrected" and finding_d is None and control is None:
        raise ValueError(f"check {check.id!r}: a corrected verdict needs the finding it "
                         f"corrects (Outcome.finding)")
    return CheckResult(id=check.id, label=check.label, claim=check.claim, verdict=verdict,
                       rule=check.rule.describe(), grades=[g.as_dict() for g in grades],
                       measured=out.measured, regime=out.regime, profile=prof, seed=seed,
                       control=control, backend=backend.name(), dtype=dtype, seconds=seconds,
                       finding=finding_d, figure=out.figure)


def _load(path: Path) -> CheckResult:
    d = json.loads(path.read_text())
    d["figure"] = _arrays(d["figure"])
    d.pop("passed", None)
    return CheckResult(**d)


def _arrays(v: Any) -> Any:
    """Inverse of :func:`_jsonable` for figure data: numeric lists become NumPy arrays."""
    if isinstance(v, dict):
        return {k: _arrays(x) for k, x in v.items()}
    if isinstance(v, list):
        try:
            a = np.asarray(v)
        except ValueError:  # ragged
            return [_arrays(x) for x in v]
        return a if a.dtype.kind in "biuf" else [_arrays(x) for x in v]
    return v


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "get") and not isinstance(v, (np.ndarray, dict)) and hasattr(v, "shape"):
        v = backend.to_numpy(v)
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return f"[{len(v)} values]"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)
