"""Run registered checks one by one, the most important first, writing each result as soon as
it finishes, and stop starting new ones before a deadline (scripts/gpu-check.sh, step 3).

    python scripts/run_checks.py --profile full --jsonl OUT/checks.jsonl --dir WORK/checks \
        --deadline UNIX_TIME [--per-check SECONDS] [IDS ...]

Order: Theorem 1, Lemma 5.4, Claim G.1 and the scaling checks first (``PRIORITY``), then the
rest in registry order. Each check's ``CheckResult.summary()`` (plus ``status`` and the wall
``elapsed``) is written to ``--dir/<id>.json`` and appended as one line to ``--jsonl`` the
moment it finishes; a check that errs, or runs past ``--per-check`` seconds (or the deadline),
is recorded with that status, and the checks left when the deadline comes are listed as
``not-run``. Exit status 0 when every check that ran passed.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

#: the checks that matter most, in this order (shell patterns on the check ids)
PRIORITY = ("theorem-1", "lemma-5.4*", "claim-G.1", "theorem-1-scaling-*", "*scaling*",
            "step-4-rademacher-*", "theorem-1*")


class _Timeout(BaseException):
    """Raised by the alarm (a BaseException, so that no check's ``except Exception`` eats it)."""


def _alarm(signum: int, frame: Any) -> None:
    signal.alarm(1)  # again in a second, should this one land where it is ignored (a finalizer)
    raise _Timeout()


def ordered(ids: list[str]) -> list[str]:
    """``ids`` with the PRIORITY patterns first (each pattern's matches in registry order)."""
    out: list[str] = []
    for pat in PRIORITY:
        out += [i for i in ids if fnmatch.fnmatchcase(i, pat) and i not in out]
    return out + [i for i in ids if i not in out]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="*")
    p.add_argument("--profile", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jsonl", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--deadline", type=float,
                   default=float(os.environ.get("STEP_DEADLINE", "inf")),
                   help="unix time (default: $STEP_DEADLINE, set by gpu-check.sh)")
    p.add_argument("--per-check", type=float, default=float("inf"))
    p.add_argument("--min-left", type=float, default=10.0,
                   help="start no check with fewer seconds than this before the deadline")
    args = p.parse_args(argv)

    from rnnproof import backend, checks  # noqa: PLC0415

    ids = ordered(args.ids or checks.ids())
    unknown = [i for i in ids if i not in checks.REGISTRY]
    if unknown:
        print(f"unknown check ids: {unknown}", file=sys.stderr)
        return 2
    out_dir = Path(args.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGALRM, _alarm)
    print(f"{len(ids)} checks, {backend.device_description()}, profile "
          f"{backend.profile(args.profile)}; order: {', '.join(ids)}", flush=True)
    failed = 0
    with open(args.jsonl, "a") as jl:
        for k, cid in enumerate(ids):
            left = args.deadline - time.time()
            if left < args.min_left:
                rest = ids[k:]
                rec = {"status": "not-run", "reason": f"no time left before the deadline "
                                                      f"({left:.0f} s)", "ids": rest}
                jl.write(json.dumps(rec) + "\n")
                print(f"not run (time): {', '.join(rest)}", flush=True)
                break
            limit = max(1, int(min(args.per_check, left)))
            t0 = time.perf_counter()
            signal.alarm(limit)
            try:
                res = checks.run(cid, profile=args.profile, seed=args.seed)
                signal.alarm(0)
                rec = res.summary() | {"status": "done"}
                failed += not res.passed
                line = f"{cid:40s} {res.verdict:12s} {res.seconds:8.1f} s"
            except _Timeout:
                rec = {"id": cid, "status": "timed-out", "limit_s": limit}
                failed += 1
                line = f"{cid:40s} {'TIMED OUT':12s} {limit:8.0f} s (limit)"
            except Exception as exc:  # noqa: BLE001 (recorded, and the next check runs)
                signal.alarm(0)
                rec = {"id": cid, "status": "error", "error": repr(exc),
                       "traceback": traceback.format_exc()[-4000:]}
                failed += 1
                line = f"{cid:40s} {'ERROR':12s} {repr(exc)[:80]}"
            finally:
                signal.alarm(0)
            rec["elapsed"] = time.perf_counter() - t0
            text = json.dumps(rec, default=str)
            (out_dir / f"{cid}.json").write_text(text)
            jl.write(text + "\n")
            jl.flush()
            print(line, flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
