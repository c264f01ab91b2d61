"""The check registry: one registered check per claim of the paper.

A *check* turns one claim into a measurement. It is registered under an id that follows the
paper's numbering (``lemma-5.1a``), names the label of the statement it confirms in the book
(``lemma-5.1``), and has a size table per profile and at least one negative control: a named,
deliberately broken input under which it must report ``passed = False``.
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


@dataclass
class Outcome:
    """What a check function returns; :func:`run` adds the identity and the context."""

    passed: bool
    measured: dict[str, Any]
    bound: dict[str, Any] = field(default_factory=dict)
    tolerance: str = ""
    regime: dict[str, Any] = field(default_factory=dict)
    finding: str | None = None
    figure: dict[str, Any] | None = None


@dataclass
class CheckResult:
    """The result of one check: claim, regime, measured numbers, bound, verdict."""

    id: str
    label: str
    claim: str
    passed: bool
    measured: dict[str, Any]
    bound: dict[str, Any]
    tolerance: str
    regime: dict[str, Any]
    profile: str
    seed: int
    control: str | None
    backend: str
    seconds: float
    finding: str | None = None
    figure: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready dictionary (figure data left out)."""
        d = dataclasses.asdict(self)
        d.pop("figure")
        return _jsonable(d)

    def table(self) -> str:
        """A Markdown table of regime, measured quantities and bounds."""
        rows = [("status", "PASS" if self.passed else "FAIL"), ("claim", self.claim)]
        rows += [(f"regime: {k}", _fmt(v)) for k, v in self.regime.items()]
        rows += [(f"measured: {k}", _fmt(v)) for k, v in self.measured.items()]
        rows += [(f"bound: {k}", _fmt(v)) for k, v in self.bound.items()]
        if self.tolerance:
            rows.append(("tolerance", self.tolerance))
        if self.finding:
            rows.append(("finding", self.finding))
        body = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows)
        return f"| `{self.id}` ({self.profile}, seed {self.seed}) | |\n|---|---|\n{body}"

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
    depends: tuple[str, ...] = ()


REGISTRY: dict[str, Check] = {}


def register(id: str, *, label: str, claim: str, quick: Mapping[str, Any],
             full: Mapping[str, Any] | None = None, controls: tuple[str, ...],
             depends: tuple[str, ...] = ()) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(sizes, seed, control) -> Outcome`` as the check ``id``.

    ``quick``/``full`` are the size tables of the two profiles (``full`` defaults to
    ``quick``); ``controls`` names the negative controls (at least one), each a deliberately
    broken input that ``fn`` must build when called with ``control=name``; ``depends`` lists
    the labels of statements this claim relies on (drawn in the dependency graph).
    """
    if not controls:
        raise ValueError(f"check {id!r} must declare at least one negative control")

    def deco(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"check id {id!r} registered twice")
        REGISTRY[id] = Check(id=id, label=label, claim=claim, fn=fn,
                             sizes={"quick": dict(quick), "full": dict(full or quick)},
                             controls=tuple(controls), depends=tuple(depends))
        return fn

    return deco


def _source_hash() -> str:
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
        key += _source_hash()
        path = Path(cache_dir) / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
        if path.exists():
            return _load(path)
    t0 = time.perf_counter()
    out = check.fn(check.sizes[prof], seed, control)
    if not isinstance(out, Outcome):
        raise TypeError(f"check {id!r} returned {type(out).__name__}, not Outcome")
    res = CheckResult(id=id, label=check.label, claim=check.claim, passed=bool(out.passed),
                      measured=out.measured, bound=out.bound, tolerance=out.tolerance,
                      regime=out.regime, profile=prof, seed=seed, control=control,
                      backend=backend.name(), seconds=time.perf_counter() - t0,
                      finding=out.finding, figure=out.figure)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        d = res.summary()
        d["figure"] = _jsonable(res.figure)
        path.write_text(json.dumps(d))
    return res


def _load(path: Path) -> CheckResult:
    d = json.loads(path.read_text())
    d["figure"] = _arrays(d["figure"])
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
