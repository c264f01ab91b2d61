"""Command line: ``python -m rnnproof check|sweep|sweep-report|info|bench``.

    python -m rnnproof check [IDS ...] [--profile quick|full] [--seed S] [--json FILE]
        (exit status 1 when a claim is refuted)
    python -m rnnproof sweep [IDS ...] --seeds 0-19 [--profile quick|full]
                             [--scheduler ADDRESS] [--workers N] --out FILE.jsonl
    python -m rnnproof sweep-report FILE.jsonl [--markdown FILE.md]
    python -m rnnproof info
    python -m rnnproof bench [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence


def exit_status(verdicts: Iterable[str]) -> int:
    """The exit status of ``check``: 1 when any claim is ``refuted``, else 0. ``inconclusive``
    and ``out-of-reach`` are graded answers about the claim, not failures of the run."""
    return 1 if "refuted" in set(verdicts) else 0


def _check(args: argparse.Namespace) -> int:
    from collections import Counter  # noqa: PLC0415

    from tqdm import tqdm  # noqa: PLC0415

    from . import checks  # noqa: PLC0415
    from .verdicts import VERDICTS  # noqa: PLC0415

    ids = args.ids or checks.ids()
    unknown = [i for i in ids if i not in checks.REGISTRY]
    if unknown:
        print(f"unknown check ids: {unknown}; known: {checks.ids()}", file=sys.stderr)
        return 2
    results = []
    for cid in tqdm(ids, desc="checks", unit="check", file=sys.stderr):
        results.append(checks.run(cid, profile=args.profile, seed=args.seed))
    w = max(len(r.id) for r in results)
    print(f"{'check':<{w}}  {'label':<24} {'verdict':<12} {'seconds':>8}  claim")
    for r in results:
        print(f"{r.id:<{w}}  {r.label:<24} {r.verdict:<12} {r.seconds:8.2f}  {r.claim[:60]}")
    counts = Counter(r.verdict for r in results)
    npass = sum(r.passed for r in results)
    print(", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
          + f"; {npass} of {len(results)} passed (exact, confirmed or corrected)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.summary() for r in results], fh, indent=1)
    return exit_status(r.verdict for r in results)


def _sweep(args: argparse.Namespace) -> int:
    from . import sweep  # noqa: PLC0415

    try:
        seeds = sweep.parse_seeds(args.seeds)
        run = sweep.run_sweep(args.ids, seeds, args.out, profile=args.profile,
                              scheduler=args.scheduler, workers=args.workers,
                              timeout=args.timeout)
    except sweep.SweepError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{n} {v}" for v, n in sorted(run.verdicts.items()))
    print(f"{run.planned} tasks: {run.skipped} already in {args.out}, {run.finished} run "
          f"({counts or 'none'}) in {run.seconds:.1f} s; {run.errors} raised"
          + ("; interrupted, finished rows kept" if run.interrupted else ""))
    return 130 if run.interrupted else 0


def _sweep_report(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from . import sweep  # noqa: PLC0415

    if not Path(args.file).is_file():
        print(f"sweep-report: no such file {args.file}", file=sys.stderr)
        return 2
    try:
        rows = sweep.read_rows(args.file)
    except sweep.SweepError as exc:
        print(f"sweep-report: {exc}", file=sys.stderr)
        return 2
    stab = sweep.stability(rows)
    w = max([len(s.id) for s in stab] + [5])
    print(f"{'check':<{w}}  {'profile':<7} {'seeds':>5}  {'modal':<12} {'stable':>6}  counts")
    for s in stab:
        print(f"{s.id:<{w}}  {s.profile:<7} {s.seeds:>5}  {s.modal:<12} "
              f"{100 * s.stability:5.0f}%  {s.counts_text()}")
    md = Path(args.markdown or Path(args.file).with_suffix(".md"))
    md.write_text(sweep.report_markdown(stab, source=f"`{args.file}`"))
    print(f"written: {md}")
    return 0


def _info(_args: argparse.Namespace) -> int:
    from . import __version__, backend, checks  # noqa: PLC0415

    print(f"rnnproof {__version__}")
    print(f"backend: {backend.device_description()}")
    print(f"profile: {backend.profile()}")
    print(f"available memory: {backend.available_bytes() / 2**30:.1f} GiB")
    print(f"registered checks: {len(checks.REGISTRY)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    try:
        from benchmarks.__main__ import main as bench_main  # noqa: PLC0415
    except ImportError:
        print("the benchmarks/ folder is not importable: run from the repository root",
              file=sys.stderr)
        return 2
    return bench_main(["--quick"] if args.quick else [])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnnproof", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="run registered checks and print a table")
    c.add_argument("ids", nargs="*", help="check ids (default: all)")
    c.add_argument("--profile", choices=("quick", "full"), default=None)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", metavar="FILE", help="write the results as a JSON list")
    c.set_defaults(fn=_check)
    sw = sub.add_parser("sweep", help="run checks at many seeds as Dask tasks (JSON lines)")
    sw.add_argument("ids", nargs="*", help="check ids (default: all)")
    sw.add_argument("--seeds", required=True, help="a range or list: 0-19, 0,3,7, 0-4,10")
    sw.add_argument("--profile", choices=("quick", "full"), default=None)
    sw.add_argument("--scheduler", metavar="ADDRESS", default=None,
                    help="an existing Dask scheduler, e.g. tcp://HOST:8786 (default: start a "
                         "LocalCluster)")
    sw.add_argument("--workers", type=int, default=None,
                    help="LocalCluster processes, one BLAS thread each (default: one per core)")
    sw.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for the scheduler (default 30)")
    sw.add_argument("--out", required=True, metavar="FILE.jsonl",
                    help="append one JSON line per finished task; a rerun resumes")
    sw.set_defaults(fn=_sweep)
    sr = sub.add_parser("sweep-report", help="verdict counts and stability of a sweep file")
    sr.add_argument("file", metavar="FILE.jsonl")
    sr.add_argument("--markdown", metavar="FILE.md", default=None,
                    help="where to write the Markdown table (default: FILE.md)")
    sr.set_defaults(fn=_sweep_report)
    sub.add_parser("info", help="version, backend, device, profile").set_defaults(fn=_info)
    b = sub.add_parser("bench", help="run the benchmarks (as `make bench`)")
    b.add_argument("--quick", action="store_true", help="smaller sizes")
    b.set_defaults(fn=_bench)
    args = p.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
