"""The finite-width tangent kernel K_m (rnnproof.kernel.summed_tangent_kernel) of N sequences
against the GEMM roofline of the same arithmetic (issue 12: N = 512, m = 4096, L = 10 in under
30 s on the 2-core CPU)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnproof import embed, init_weights, kernel
from rnnproof.concept import random_true_inputs

from .common import best_times, gemm_products, row


def summed_kernel(n: int, m: int, L: int, d: int = 1, repeat: int = 3) -> list[dict[str, Any]]:
    dtype = np.float32
    w = init_weights(m, 8, d, seed=0, dtype=dtype)
    x = embed(random_true_inputs(n, L, 8, 0), 0.5).astype(dtype)
    I = L - 1  # noqa: E741  (positions i = 2..L carry a backward vector)
    # the same arithmetic as bare GEMMs: forward_trace (L-1 products (n, m) x (m, m)), the
    # backward sweep (L-2 products), and the two Gram matrices of the (n I, m) stacks, which BLAS
    # computes as symmetric rank-k updates (half a GEMM each: one (n I, m, n I) GEMM for both)
    shapes = [(n, m, m)] * (L - 1) + [(n, m, m)] * (L - 2) + [(n * I, m, n * I)]
    ours, roof = best_times(lambda: kernel.summed_tangent_kernel(w, x),
                            gemm_products(shapes, dtype), repeat=repeat)
    size = f"N={n}, m={m}, L={L}, d={d}, float32"
    return [row("tangent kernel K_m (summed outputs)", size, ours,
                "GEMM roofline (same products)", roof / ours, ">= 0.7x",
                f"{ours:.1f} s (goal: < 30 s)")]


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return summed_kernel(64, 512, 6)
    return summed_kernel(512, 4096, 10, repeat=1)
