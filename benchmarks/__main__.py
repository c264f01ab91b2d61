"""Run every ``benchmarks/bench_*.py`` (each exposes ``run(quick) -> list[dict]``), print one
table and write it to ``benchmarks/results/<machine>.md``.

    python -m benchmarks [--quick] [--only NAME ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rnnproof import __version__, backend

HERE = Path(__file__).resolve().parent


def machine_name() -> str:
    if backend.name() == "cupy":
        dev = backend.device_description().split(" on ")[1].split(",")[0]
        return "gpu-" + "".join(c if c.isalnum() else "-" for c in dev).strip("-").lower()
    return f"cpu-{os.cpu_count()}core-{platform.machine()}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--only", nargs="*", default=None, help="bench module names (e.g. core)")
    p.add_argument("--out", default=None, help="also write the table to this file")
    args = p.parse_args(argv)
    rows = []
    for mod in sorted(m.name for m in pkgutil.iter_modules([str(HERE)])):
        if not mod.startswith("bench_"):
            continue
        if args.only and mod.removeprefix("bench_") not in args.only:
            continue
        t0 = time.perf_counter()
        print(f"running {mod} ...", file=sys.stderr, flush=True)
        rows += importlib.import_module(f"benchmarks.{mod}").run(args.quick)
        print(f"  {mod} took {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    head = ("| benchmark | size | ours (s) | reference | ratio | goal | note |\n"
            "|---|---|---|---|---|---|---|")
    body = "\n".join(
        f"| {r['benchmark']} | {r['size']} | {r['seconds']:.4g} | {r['reference']} | "
        f"{r['ratio']:.2f}x | {r['goal']} | {r.get('note', '')} |" for r in rows)
    text = (f"# Benchmarks on {machine_name()}\n\nrnnproof {__version__}; "
            f"{backend.device_description()}; {'quick' if args.quick else 'full'} sizes; "
            f"{time.strftime('%Y-%m-%d')}.\nRatio: reference time / our time (above 1: faster "
            f"than the reference); for memory rows, reference bytes / our bytes.\n\n"
            f"{head}\n{body}\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if not args.quick and not args.only:
        out = HERE / "results" / f"{machine_name()}.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
