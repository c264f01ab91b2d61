"""The sweep on dask.distributed: a LocalCluster of 2 processes, an external scheduler and worker
started as subprocesses, resuming, a task that raises, Ctrl-C, the report, and bad input."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from rnnproof import checks, sweep  # noqa: E402
from rnnproof.sweep import SweepError  # noqa: E402

CHEAP = ["definition-3.1", "footnote-3"]


def test_parse_seeds() -> None:
    assert sweep.parse_seeds("0-3") == [0, 1, 2, 3]
    assert sweep.parse_seeds("5,1,3-4,1") == [1, 3, 4, 5]
    for bad, msg in (("", "empty"), ("4-2", "empty"), ("x", "malformed"), ("1,,2", "malformed"),
                     ("-1", "malformed")):
        with pytest.raises(SweepError, match=msg):
            sweep.parse_seeds(bad)


def test_bad_input_is_refused_before_any_task(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="unknown check ids"):
        sweep.run_sweep(["lemma-99"], [0], tmp_path / "a.jsonl")
    with pytest.raises(SweepError, match="does not exist"):
        sweep.run_sweep(CHEAP, [0], tmp_path / "no" / "a.jsonl")
    with pytest.raises(SweepError, match="directory"):
        sweep.run_sweep(CHEAP, [0], tmp_path)
    with pytest.raises(SweepError, match="no seeds"):
        sweep.run_sweep(CHEAP, [], tmp_path / "a.jsonl")
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text(json.dumps({"schema": sweep.SCHEMA, "id": "x", "seed": 0,
                                   "profile": "quick"}) + "\n{not json\n")
    with pytest.raises(SweepError, match="line 2 is not JSON"):
        sweep.run_sweep(CHEAP, [0], corrupt)
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"a": 1}\n')
    with pytest.raises(SweepError, match="line 1 is not an rnnproof sweep row"):
        sweep.run_sweep(CHEAP, [0], foreign)
    assert foreign.read_text() == '{"a": 1}\n'  # never overwritten


def test_unreachable_scheduler_names_the_address(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    with pytest.raises(SweepError, match="tcp://127.0.0.1:9"):
        sweep.run_sweep(CHEAP, [0], tmp_path / "a.jsonl", scheduler="tcp://127.0.0.1:9",
                        timeout=2, progress=False)
    assert time.perf_counter() - t0 < 30


def _raise_on_seed_1(check_id: str, seed: int, profile: str) -> dict:
    if seed == 1:
        raise RuntimeError("deliberate failure")
    return sweep.run_task(check_id, seed, profile)


def test_local_cluster_resume_errors_and_report(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    run = sweep.run_sweep(CHEAP, [0, 1, 2], out, workers=2, progress=False,
                          task=_raise_on_seed_1)
    assert run.planned == 6 and run.finished == 6 and run.errors == 2
    rows = sweep.read_rows(out)
    assert len(rows) == 6
    good = [r for r in rows if not r["error"]]
    assert all({"verdict", "seed", "profile", "backend", "dtype", "version", "source_hash",
                "measured", "rule"} <= set(r) for r in good)
    assert {r["seed"] for r in rows if r["error"]} == {1}
    assert all("deliberate failure" in r["error"] for r in rows if r["error"])
    # a rerun resumes: finished tasks are not run again, the raising ones are retried
    again = sweep.run_sweep(CHEAP, [0, 1, 2], out, workers=2, progress=False)
    assert again.skipped == 4 and again.finished == 2 and again.errors == 0
    stab = {s.id: s for s in sweep.stability(sweep.read_rows(out))}
    assert set(stab) == set(CHEAP) and all(s.seeds == 3 and s.errors == 0 for s in stab.values())
    assert all(s.stability == 1.0 for s in stab.values())
    md = sweep.report_markdown(list(stab.values()))
    assert "| `definition-3.1` |" in md and "100%" in md


def test_ctrl_c_keeps_finished_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import distributed

    real = distributed.as_completed

    def interrupted(futures):
        for k, f in enumerate(real(futures)):
            if k == 1:
                raise KeyboardInterrupt
            yield f

    monkeypatch.setattr(distributed, "as_completed", interrupted)
    out = tmp_path / "s.jsonl"
    run = sweep.run_sweep(CHEAP, [0, 1], out, workers=2, progress=False)
    assert run.interrupted and run.finished == 1
    assert len(sweep.read_rows(out)) == 1


def test_external_scheduler_and_worker(tmp_path: Path) -> None:
    dask_cli = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
    sched_file = tmp_path / "scheduler.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    sched = subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(sched_file)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = None
    try:
        for _ in range(200):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        worker = subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1",
                                   "--nworkers", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        out = tmp_path / "ext.jsonl"
        run = sweep.run_sweep(CHEAP[:1], [0, 1], out, scheduler=address, timeout=30,
                              progress=False)
        assert run.finished == 2 and run.errors == 0
        assert {r["seed"] for r in sweep.read_rows(out)} == {0, 1}
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)


def test_cli(tmp_path: Path) -> None:
    env = dict(os.environ, RNNPROOF_BACKEND="numpy")
    run = lambda *a: subprocess.run([sys.executable, "-m", "rnnproof", *a],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=300)
    p = run("sweep", "lemma-99", "--seeds", "0-1", "--out", str(tmp_path / "x.jsonl"))
    assert p.returncode == 2 and "unknown check ids" in p.stderr
    p = run("sweep", "definition-3.1", "--seeds", "3-1", "--out", str(tmp_path / "x.jsonl"))
    assert p.returncode == 2 and "empty" in p.stderr
    out = tmp_path / "s.jsonl"
    p = run("sweep", "definition-3.1", "--seeds", "0-1", "--workers", "1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    p = run("sweep-report", str(out))
    assert p.returncode == 0 and "definition-3.1" in p.stdout and "100%" in p.stdout
    assert (tmp_path / "s.md").exists()
    assert checks.REGISTRY  # the registry imports in the test process too
