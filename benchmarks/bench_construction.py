"""Time and memory of the construction of W* (Definition 5.3) against the width m.

W* is kept as rank-(L-2) factors: the construction needs one forward pass and one stacked
backward sweep over the null sequence (a few passes over the m x m matrix W), never an m x m
array of its own. Rows: construction time against drawing W itself; peak traced memory during
the construction against one dense m x m array; storage of W* against a dense W*.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import sympy as sp

from rnnproof import backend, init_weights
from rnnproof.concept import random_target, z
from rnnproof.construction import construct_w_star

from .common import peak_bytes, row, sync

L, D_X, D, P = 5, 5, 2, 2
EPS_X, EPS_E, DELTA = 0.1, 1e-2, 1.0


def construction(m: int) -> list[dict[str, Any]]:
    tgt = random_target(L, D_X, D, P, [z ** 2, sp.sin(z), sp.exp(z) - 1], seed=3)
    eps_c = DELTA * math.sqrt(2.0) * EPS_X
    t0 = time.perf_counter()
    w = init_weights(m, D_X, D, 0)
    sync()
    t_init = time.perf_counter() - t0
    construct_w_star(w, tgt, EPS_X, EPS_E, eps_c)  # warm-up (builds and caches the H's)
    t_con, peak, source = peak_bytes(lambda: construct_w_star(w, tgt, EPS_X, EPS_E, eps_c))
    c = construct_w_star(w, tgt, EPS_X, EPS_E, eps_c)
    itemsize = np.dtype(w.W.dtype).itemsize
    dense = m * m * itemsize
    low = (c.W_star.U.size + c.W_star.V.size) * itemsize
    size = f"m={m}, L={L}, d={D}, p={P}"
    return [
        row("W* construction (Def. 5.3), time", size, t_con, "drawing W (init_weights)",
            t_init / t_con, ">= 0.5x", f"rank {c.W_star.U.shape[1]}; "
            f"{int(c.active_counts.sum())} window passes"),
        row("W* construction, peak memory", size, t_con, "one dense m x m array",
            dense / max(peak, 1), "> 1x",
            f"peak {peak / 2**20:.2f} MiB vs {dense / 2**20:.1f} MiB (W itself not counted; "
            f"{source})"),
        row("W* storage, low rank vs dense", size, t_con, "dense W*", dense / low, ">= 100x",
            f"{low / 2**10:.0f} KiB vs {dense / 2**20:.1f} MiB"),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        sizes = [2 ** 10, 2 ** 11, 2 ** 12]
    elif backend.is_device():
        sizes = [2 ** k for k in range(10, 16)]
    else:
        sizes = [2 ** k for k in range(10, 15)]
    rows: list[dict[str, Any]] = []
    for m in sizes:
        rows += construction(m)
    t = np.array([r["seconds"] for r in rows[::3]])
    ms = np.array(sizes, float)
    if len(sizes) >= 3:
        slope = float(np.polyfit(np.log(ms[-3:]), np.log(t[-3:]), 1)[0])
        rows[-3]["note"] += f"; time ~ m^{slope:.2f} over the 3 largest m"
    return rows
