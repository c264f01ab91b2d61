"""The whole book at the quick profile, cold (fresh build folder) and cached (built again)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import row

ROOT = Path(__file__).resolve().parents[1]


def _build(out: Path) -> float:
    # both caches inside the fresh folder: the first build is cold (no check results and no
    # scaling studies from an earlier run), the second reuses what the first stored
    env = dict(os.environ, RNNPROOF_PROFILE="quick", RNNPROOF_BACKEND="numpy",
               RNNPROOF_CHECK_CACHE=str(out / "_build" / ".checks"),
               RNNPROOF_STUDY_CACHE=str(out / "_build" / ".studies"))
    jb = Path(sys.executable).with_name("jupyter-book")
    t0 = time.perf_counter()
    subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out)], env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        cold = _build(Path(tmp))
        cached = _build(Path(tmp))
    return [row("whole book, quick profile", f"{os.cpu_count()} cores", cached,
                "the same build cold", cold / cached, "> 1x",
                f"cold {cold:.0f} s, cached {cached:.0f} s")]
