"""NumPy against CuPy on shared weights: hidden states, outputs, Back, linear response and the
gradient must agree to float64 round-off. Run by scripts/gpu-check.sh on a GPU machine."""

from __future__ import annotations

import os
import sys

import numpy as np


def compute(backend_name: str, seed: int = 0) -> dict[str, np.ndarray]:
    os.environ["RNNPROOF_BACKEND"] = backend_name
    os.environ["RNNPROOF_DTYPE"] = "float64"
    import rnnproof as rp  # noqa: PLC0415
    from rnnproof import backend  # noqa: PLC0415
    from rnnproof.concept import random_true_inputs  # noqa: PLC0415

    backend.reset()
    rng = np.random.default_rng(seed)
    m, d_x, d, L, n = 256, 6, 3, 8, 4
    W = rng.standard_normal((m, m)) * np.sqrt(2 / m)
    A = rng.standard_normal((m, d_x + 1)) * np.sqrt(2 / m)
    B = rng.standard_normal((d, m)) / np.sqrt(d)
    w = rp.Weights(*(backend.asarray(a) for a in (W, A, B)))
    x = rp.embed(random_true_inputs(n, L, d_x, seed), 0.1)
    U, V = (backend.asarray(rng.standard_normal((m, 3))) for _ in range(2))
    y = rng.standard_normal((n, L - 2, d))
    obj, grad = rp.objective_and_grad(w, x, y, 0.5)
    out = {"h": rp.hidden_states(w, x), "y": rp.outputs(w, x), "back": rp.back_operators(w, x),
           "f": rp.linear_response(w, x, rp.LowRank(U, V)), "grad": grad,
           "obj": np.array(obj)}
    return {k: backend.to_numpy(v) for k, v in out.items()}


def main() -> int:
    a, b = compute("numpy"), compute("cupy")
    worst = 0.0
    for k in a:
        err = float(np.abs(a[k] - b[k]).max() / max(np.abs(a[k]).max(), 1e-300))
        worst = max(worst, err)
        print(f"{k:6s} max relative difference numpy vs cupy: {err:.2e}")
    print("AGREE" if worst < 1e-9 else "DISAGREE")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
