"""Sweeps: every check at many seeds and profiles, as tasks on Dask's distributed scheduler.

One (check, seed, profile) is one Dask task running :func:`rnnproof.checks.run`. Without a
scheduler address the sweep starts a ``LocalCluster`` of single-threaded worker processes;
with one (``tcp://HOST:PORT``) it uses that cluster: one started by ``dask scheduler`` and
``dask worker``, by dask-jobqueue on a batch queue, or by dask-cuda's ``LocalCUDACluster`` (one
worker per GPU, with ``RNNPROOF_BACKEND=cupy``).

Results go to a JSON-lines file, one line per finished task, appended as it finishes: the fields
of ``check --json`` plus seed, profile, backend, dtype, package version and the package's source
hash. Rerunning with the same file resumes: a task already in the file (same id, seed, profile
and source hash, without an error) is not run again. A task that raises is written as a row with
its error and counted; it never stops the sweep. Ctrl-C ends the sweep cleanly with the finished
rows kept.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verdicts import VERDICTS

#: The ``schema`` field of every row; a file whose lines lack it is foreign and refused.
SCHEMA = "rnnproof-sweep/1"
#: Seconds to wait for an external scheduler before giving up.
CONNECT_TIMEOUT = 30.0


class SweepError(ValueError):
    """Bad input to a sweep, found before any task starts."""


# --------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------


def parse_seeds(spec: str) -> list[int]:
    """Seeds from ``"0-19"`` (a range, both ends included), ``"0,3,7"`` (a list) or a mix
    (``"0-4,10,12-13"``); sorted, without repeats."""
    parts = [p.strip() for p in str(spec).split(",")]
    if not any(parts):
        raise SweepError(f"empty seed specification {spec!r}; give e.g. 0-19 or 0,3,7")
    seeds: set[int] = set()
    for part in parts:
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            raise SweepError(f"malformed seed specification {spec!r} at {part!r}; give "
                             f"non-negative integers as e.g. 0-19 or 0,3,7")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if lo > hi:
            raise SweepError(f"seed range {part!r} is empty (start > end)")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a sweep file. A line that is not JSON, or not a sweep row, is refused with
    its line number (the file is never overwritten)."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    with p.open() as fh:
        for k, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SweepError(f"{p}: line {k} is not JSON ({exc.msg}); refusing to append "
                                 f"to a corrupt sweep file") from None
            if not isinstance(row, dict) or row.get("schema") != SCHEMA:
                raise SweepError(f"{p}: line {k} is not an rnnproof sweep row (no schema "
                                 f"{SCHEMA!r}); refusing to append to a foreign file")
            rows.append(row)
    return rows


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise SweepError(f"the output {path} is a directory; give a .jsonl file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SweepError(f"cannot write {path}: folder {parent} does not exist")
    try:
        with path.open("a"):
            pass
    except OSError as exc:
        raise SweepError(f"cannot write {path}: {exc.strerror}") from None


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One (check, seed, profile) run."""

    id: str
    seed: int
    profile: str

    @property
    def key(self) -> str:
        return f"{self.id}|{self.seed}|{self.profile}"


def run_task(check_id: str, seed: int, profile: str) -> dict[str, Any]:
    """Run one check on this worker (one BLAS thread) and return its row."""
    from . import __version__, backend, checks  # noqa: PLC0415

    with backend.blas_threads(1):
        res = checks.run(check_id, profile=profile, seed=seed)
    row = res.summary()
    row.update(schema=SCHEMA, version=__version__, source_hash=checks.source_hash(),
               error=None)
    return row


def _guarded(task: Callable[[str, int, str], dict[str, Any]], check_id: str, seed: int,
             profile: str) -> dict[str, Any]:
    """Run ``task`` on a worker; an exception becomes an error row, never a failed future."""
    t0 = time.perf_counter()
    try:
        return task(check_id, seed, profile)
    except Exception as exc:  # a raising check is a result of the sweep, not its end
        from . import __version__, backend, checks  # noqa: PLC0415

        return {"schema": SCHEMA, "id": check_id, "seed": seed, "profile": profile,
                "verdict": None, "passed": False, "backend": backend.name(),
                "dtype": backend.default_dtype().name, "version": __version__,
                "source_hash": checks.source_hash(), "seconds": time.perf_counter() - t0,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=8)}


def pending(tasks: Iterable[Task], rows: Iterable[Mapping[str, Any]],
            source: str) -> list[Task]:
    """The tasks not yet in ``rows`` for this source hash (rows with an error are retried)."""
    done = {f"{r['id']}|{r['seed']}|{r['profile']}" for r in rows
            if r.get("source_hash") == source and not r.get("error")}
    return [t for t in tasks if t.key not in done]


# --------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------


@dataclass
class SweepRun:
    """What :func:`run_sweep` did: tasks planned, skipped (already in the file), finished,
    raised, and whether it was interrupted; ``rows`` are the rows written in this run."""

    planned: int
    skipped: int
    finished: int = 0
    errors: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    verdicts: Counter = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _client(scheduler: str | None, workers: int | None, timeout: float) -> tuple[Any, Any]:
    import logging  # noqa: PLC0415

    from distributed import Client, LocalCluster  # noqa: PLC0415

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout), None
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"could not reach the Dask scheduler at {scheduler} within "
                             f"{timeout:g} s ({type(exc).__name__}); is `dask scheduler` "
                             f"running there?") from None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR,
                           env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                "MKL_NUM_THREADS": "1"})
    return Client(cluster), cluster


def run_sweep(ids: Sequence[str] | None, seeds: Sequence[int], out: str | os.PathLike,
              profile: str | None = None, scheduler: str | None = None,
              workers: int | None = None, timeout: float = CONNECT_TIMEOUT,
              progress: bool = True,
              task: Callable[[str, int, str], dict[str, Any]] = run_task) -> SweepRun:
    """Run every (check, seed) of ``ids`` (default: all) x ``seeds`` at ``profile`` as Dask
    tasks, appending one row per finished task to ``out``; see the module docstring.

    ``workers`` is the LocalCluster's process count (default one per core), ignored with
    ``scheduler``; ``task`` is the function a worker runs (tests replace it)."""
    from . import backend, checks  # noqa: PLC0415

    ids = list(ids) if ids else checks.ids()
    unknown = [i for i in ids if i not in checks.REGISTRY]
    if unknown:
        raise SweepError(f"unknown check ids {unknown}; known: {checks.ids()}")
    if not seeds:
        raise SweepError("no seeds to run")
    prof = backend.profile(profile)
    path = Path(out)
    _check_writable(path)
    rows_before = read_rows(path)
    tasks = [Task(i, int(s), prof) for i in ids for s in seeds]
    todo = pending(tasks, rows_before, checks.source_hash())
    run = SweepRun(planned=len(tasks), skipped=len(tasks) - len(todo))
    if not todo:
        return run
    if workers is not None and workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers}")
    t0 = time.perf_counter()
    client, cluster = _client(scheduler, workers, timeout)
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=len(todo), desc="sweep", unit="task")
    futures = []
    try:
        from distributed import as_completed  # noqa: PLC0415

        futures = [client.submit(_guarded, task, t.id, t.seed, t.profile, pure=False,
                                 key=f"rnnproof-{t.key}-{time.time_ns()}") for t in todo]
        with path.open("a") as fh:
            for fut in as_completed(futures):
                try:
                    row = fut.result()
                except Exception as exc:  # the worker itself died
                    t = todo[futures.index(fut)]
                    row = {"schema": SCHEMA, "id": t.id, "seed": t.seed, "profile": t.profile,
                           "verdict": None, "passed": False,
                           "source_hash": checks.source_hash(),
                           "error": f"{type(exc).__name__}: {exc}"}
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                run.rows.append(row)
                run.finished += 1
                if row.get("error"):
                    run.errors += 1
                    run.verdicts["error"] += 1
                else:
                    run.verdicts[row["verdict"]] += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(dict(run.verdicts), refresh=False)
    except KeyboardInterrupt:
        run.interrupted = True
        for f in futures:
            f.cancel()
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
        run.seconds = time.perf_counter() - t0
    return run


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stability:
    """One check's verdicts over the seeds of a sweep."""

    id: str
    profile: str
    counts: dict[str, int]
    seeds: int
    modal: str
    stability: float
    errors: int

    def counts_text(self) -> str:
        return ", ".join(f"{v} {self.counts[v]}" for v in (*VERDICTS, "error")
                         if self.counts.get(v))


def latest_rows(rows: Iterable[Mapping[str, Any]],
                source: str | None = None) -> list[Mapping[str, Any]]:
    """The last row of every (id, seed, profile), optionally only for one source hash."""
    last: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        if source is None or r.get("source_hash") == source:
            last[f"{r['id']}|{r['seed']}|{r['profile']}"] = r
    return list(last.values())


def stability(rows: Iterable[Mapping[str, Any]]) -> list[Stability]:
    """Per (check, profile): verdict counts over seeds, the modal verdict and the stability
    (the share of seeds that give the modal verdict; a raising seed counts against it)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in latest_rows(rows):
        groups.setdefault((r["id"], r["profile"]), []).append(r)
    out = []
    for (cid, prof), rs in sorted(groups.items()):
        counts = Counter("error" if r.get("error") else r["verdict"] for r in rs)
        ranked = [v for v, _ in counts.most_common() if v != "error"]
        modal = ranked[0] if ranked else "error"
        out.append(Stability(cid, prof, dict(counts), len(rs), modal,
                             counts.get(modal, 0) / len(rs), counts.get("error", 0)))
    return out


def report_markdown(stab: Sequence[Stability], source: str = "") -> str:
    """The stability table as Markdown."""
    head = f"Sweep {source}\n\n" if source else ""
    lines = ["| check | profile | seeds | modal verdict | stability | verdict counts |",
             "|---|---|---|---|---|---|"]
    for s in stab:
        lines.append(f"| `{s.id}` | {s.profile} | {s.seeds} | {s.modal} | "
                     f"{100 * s.stability:.0f}% | {s.counts_text()} |")
    unstable = [s.id for s in stab if s.stability < 0.95]
    refuted = [s.id for s in stab if s.counts.get("refuted")]
    tail = (f"\n\n{len(stab)} checks; {len(stab) - len(unstable)} give their modal verdict at "
            f">= 95% of seeds" + (f"; unstable: {', '.join(unstable)}" if unstable else "")
            + (f"; refuted at some seed: {', '.join(refuted)}" if refuted else "") + ".\n")
    return head + "\n".join(lines) + tail
