"""Execute the book's chapters as notebooks, without Jupyter Book (scripts/gpu-check.sh, step 5).

    python scripts/run_chapters.py --out WORK/chapters --deadline UNIX_TIME [--jobs K]
        [--cell-timeout S] [CHAPTER ...]

Each chapter of ``_toc.yml`` (MyST text notebooks, ``book/*.md``) is read with jupytext and
run with nbclient on a fresh IPython kernel, in ``book/``, with the environment of this
process (so ``RNNPROOF_BACKEND=cupy`` executes it on CuPy). ``{glue}`` needs myst-nb, which is
not installed there: a first cell puts a stand-in ``myst_nb.glue`` in the kernel that records
the glued values (written to ``<chapter>.glue.json``). Chapters run ``--jobs`` at a time; the
status and findings pages last, reusing the check results the chapters cached (set
``RNNPROOF_CHECK_CACHE`` to share them). Every executed notebook is written to ``--out`` as
``<chapter>.ipynb`` (also when a cell fails, with the error in it), and ``--out/summary.json``
lists each chapter's status and seconds. Exit status 0 when every chapter ran without error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAST = ("findings", "status")  # pages that read what the other chapters computed

GLUE_STUB = '''\
import json as _json, sys as _sys, types as _types
_glued = {}
def _glue(name, value, display=True):
    _glued[name] = str(value)
_m = _types.ModuleType("myst_nb"); _m.glue = _glue; _sys.modules["myst_nb"] = _m
def _dump_glue(path):
    with open(path, "w") as fh:
        _json.dump(_glued, fh, indent=1)
'''


def chapters() -> list[str]:
    """Chapter names (``book/<name>.md``) in the order of ``_toc.yml``, the root first."""
    text = (ROOT / "_toc.yml").read_text()
    names = re.findall(r"^\s*(?:root|-\s*file):\s*book/([\w.-]+)\s*$", text, flags=re.M)
    return list(dict.fromkeys(names))


def run_one(name: str, out: Path, cell_timeout: int, deadline: float) -> dict[str, Any]:
    import jupytext  # noqa: PLC0415
    import nbformat  # noqa: PLC0415
    from nbclient import NotebookClient  # noqa: PLC0415
    from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: PLC0415

    t0 = time.perf_counter()
    nb = jupytext.read(ROOT / "book" / f"{name}.md", fmt="md:myst")
    glue_path = (out / f"{name}.glue.json").resolve()
    nb.cells.insert(0, nbformat.v4.new_code_cell(GLUE_STUB))
    nb.cells.append(nbformat.v4.new_code_cell(f"_dump_glue({str(glue_path)!r})"))
    left = int(min(deadline - time.time(), 10 ** 6))
    if left < 10:
        return {"chapter": name, "status": "not-run", "reason": "no time left", "seconds": 0.0}
    client = NotebookClient(nb, timeout=min(cell_timeout, left), kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "book")}})
    status, detail = "ok", ""
    timer = threading.Timer(max(1, left), _interrupt, args=(client,))
    timer.start()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        status, detail = ("timed-out" if isinstance(exc, CellTimeoutError) else "error",
                          str(exc)[-3000:])
    except Exception as exc:  # noqa: BLE001 (a kernel that dies, a deadline interrupt)
        status, detail = "error", repr(exc)[-3000:]
    finally:
        timer.cancel()
    nbformat.write(nb, out / f"{name}.ipynb")
    return {"chapter": name, "status": status, "seconds": time.perf_counter() - t0,
            "detail": detail}


def _interrupt(client: Any) -> None:
    """The deadline passed during a chapter: stop its kernel (the chapter reports an error)."""
    km = getattr(client, "km", None)
    if km is not None:
        try:
            km.interrupt_kernel()
            km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001
            pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="chapters (default: all of _toc.yml)")
    p.add_argument("--out", required=True)
    p.add_argument("--deadline", type=float,
                   default=float(os.environ.get("STEP_DEADLINE", "inf")),
                   help="unix time (default: $STEP_DEADLINE, set by gpu-check.sh)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cell-timeout", type=int, default=600)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.names or chapters()
    first = [n for n in names if n not in LAST]
    last = [n for n in names if n in LAST]
    results: list[dict[str, Any]] = []

    def job(name: str) -> dict[str, Any]:
        r = run_one(name, out, args.cell_timeout, args.deadline)
        print(f"{r['chapter']:24s} {r['status']:10s} {r['seconds']:7.1f} s", flush=True)
        return r

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results += list(pool.map(job, first))
    for name in last:
        results.append(job(name))
    (out / "summary.json").write_text(json.dumps(results, indent=1))
    bad = [r["chapter"] for r in results if r["status"] != "ok"]
    print(f"{len(results) - len(bad)} of {len(results)} chapters ran without error"
          + (f"; not: {', '.join(bad)}" if bad else ""), flush=True)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
