"""NumPy against CuPy on shared weights (drawn once on the host): hidden states, outputs, Back,
the linear response, the gradient, 50 SGD steps, W* (Definition 5.3), a remainder scan and a
Rademacher Gram matrix must agree, in float64 and in float32, to the "chain" tolerance of
``rnnproof.stats.TOLERANCES`` for that dtype. Run by scripts/gpu-check.sh (on the stand-in in
its dry run). Prints one line per quantity, then AGREE or DISAGREE (exit status 0 or 1).
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np


def compute(backend_name: str, dtype: str, seed: int = 0) -> dict[str, np.ndarray]:
    os.environ["RNNPROOF_BACKEND"] = backend_name
    os.environ["RNNPROOF_DTYPE"] = dtype
    import sympy as sp  # noqa: PLC0415

    import rnnproof as rp  # noqa: PLC0415
    from rnnproof import backend, coupling, rademacher, train  # noqa: PLC0415
    from rnnproof.concept import random_target, random_true_inputs, z  # noqa: PLC0415
    from rnnproof.construction import construct_w_star  # noqa: PLC0415

    backend.reset()
    rng = np.random.default_rng(seed)
    m, d_x, d, L, n = 256, 6, 3, 8, 4
    W = rng.standard_normal((m, m)) * np.sqrt(2 / m)
    A = rng.standard_normal((m, d_x + 1)) * np.sqrt(2 / m)
    B = rng.standard_normal((d, m)) / np.sqrt(d)
    w = rp.Weights(W.astype(dtype), A, B)  # host arrays: the API moves them
    x = rp.embed(random_true_inputs(n, L, d_x, seed), 0.1)
    U, V = rng.standard_normal((m, 3)), rng.standard_normal((m, 3))
    y = rng.standard_normal((n, L - 2, d))
    obj, grad = rp.objective_and_grad(w, x, y, 0.5)
    xs = rp.embed(random_true_inputs(64, L, d_x, seed + 1), 0.5)
    ys = rng.standard_normal((64, L - 2, d)) * 0.1
    run = train.sgd(w, xs, ys, 0.5, 1e-3, 50, record_every=10)
    tgt = random_target(L, d_x, d, 2, [z ** 2, sp.sin(z)], seed=3)
    wstar = construct_w_star(w, tgt, 0.3, 1e-2, math.sqrt(2.0) * 0.3).W_star
    scan = coupling.remainder_scan(w, x, rp.LowRank(U, V).dense() / 10.0, [0.5, 2.0])
    a, h = rademacher.gradient_factors(w, x, L)
    out = {"h": rp.hidden_states(w, x), "y": rp.outputs(w, x), "back": rp.back_operators(w, x),
           "f": rp.linear_response(w, x, rp.LowRank(U, V)), "grad": grad,
           "obj": np.array(obj), "sgd_objective": run.objective, "sgd_shift": run.shift,
           "sgd_frobenius": run.frobenius, "w_star_U": wstar.U, "w_star_V": wstar.V,
           "remainder": scan["remainder"], "gram": rademacher.gram(a, h)}
    return {k: backend.to_numpy(v).astype(np.float64) for k, v in out.items()}


def main() -> int:
    from rnnproof import backend  # noqa: PLC0415
    from rnnproof.stats import tolerance  # noqa: PLC0415

    worst_ok = True
    for dtype in ("float64", "float32"):
        t0 = time.perf_counter()
        a = compute("numpy", dtype)
        t1 = time.perf_counter()
        b = compute("cupy", dtype)
        t2 = time.perf_counter()
        tol = tolerance("chain", dtype)
        print(f"{dtype}: numpy {t1 - t0:.1f} s, cupy {t2 - t1:.1f} s "
              f"({backend.device_description()}); tolerance {tol:g} (chain)")
        for k in a:
            err = float(np.abs(a[k] - b[k]).max() / max(np.abs(a[k]).max(), 1e-300))
            ok = err <= tol
            worst_ok &= ok
            print(f"  {k:14s} max relative difference {err:.2e} {'ok' if ok else 'TOO LARGE'}")
    print("AGREE" if worst_ok else "DISAGREE")
    return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
