"""The SGD of Section 4: single-sample steps against the memory bound and against torch
autograd; the minibatch variant against the GEMM roofline.

A single-sample step is L-1 forward and L-2 backward matrix-vector products with W + W' (each
needs all of it, and each depends on the previous one) and one rank-(L-1) in-place update
(read and write): 2L - 1 passes over the m x m matrix. When W + W' does not fit in the caches
every pass comes from memory, so the step cannot beat (2L - 1) m^2 itemsize / bandwidth, with
the bandwidth measured here as a large array copy (bytes read + written per second).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnproof import backend, embed, init_weights, train
from rnnproof.concept import random_true_inputs

from .common import best_time, gemm_roofline, row, sync


def copy_bandwidth(nbytes: int = 256 * 2**20) -> float:
    """Bytes moved per second (read + write) by a large array copy on the active backend."""
    xp = backend.xp()
    n = nbytes // 8
    src = xp.ones(n)
    dst = xp.empty(n)
    t = best_time(lambda: xp.copyto(dst, src), repeat=5)
    return 2.0 * n * 8 / t


def _last_level_cache() -> int | None:
    """Bytes of the CPU's last-level cache (Linux sysfs), None if unknown or on a GPU."""
    if backend.name() != "numpy":
        return None
    import glob  # noqa: PLC0415

    best = None
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            txt = open(path).read().strip()
        except OSError:
            continue
        mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(txt[-1:], 1)
        val = int(txt.rstrip("KMG")) * mult
        best = val if best is None else max(best, val)
    return best


def _data(n: int, m: int, L: int, d_x: int = 8, d: int = 1, dtype: Any = None):
    w = init_weights(m, d_x, d, seed=0, dtype=dtype)
    x = embed(random_true_inputs(n, L, d_x, 0), 0.5).astype(w.W.dtype)
    y = np.random.default_rng(0).standard_normal((n, L - 2, d)) * 0.1
    return w, x, y


def _step_seconds(w: Any, x: Any, y: Any, steps: int, batch: int = 1, repeat: int = 3,
                  threads: Any = "auto") -> float:
    best = np.inf
    for _ in range(repeat):
        res = train.sgd(w, x, y, 0.5, 1e-6, steps, seed=1, batch=batch, blas_threads=threads)
        sync()
        best = min(best, res.seconds / steps)
    return best


def single_sample(m: int, L: int, bw: float) -> list[dict[str, Any]]:
    steps = max(20, min(2000, int(3e8 / (m * m * L))))
    w, x, y = _data(256, m, L)
    ours = _step_seconds(w, x, y, steps)
    item = w.W.dtype.itemsize
    passes = 2 * L - 1
    bound = passes * m * m * item / bw
    compulsory = 3 * m * m * item / bw
    llc = _last_level_cache()
    fits = llc is not None and 2 * m * m * item <= llc  # W + W' fits with room to spare
    size = f"m={m}, L={L}, {w.W.dtype.name}"
    mib = passes * m * m * item / 2**20
    note = (f"{1 / ours:,.0f} steps/s; bound = {passes} passes of W+W' ({mib:.1f} "
            f"MiB) at {bw / 1e9:.1f} GB/s copy bandwidth; against the 3-pass compulsory "
            f"traffic: {compulsory / ours:.2f}x" + ("; W+W' fits in the last-level cache, so "
                                                    "the bound is not binding" if fits else ""))
    return [row("SGD single-sample step", size, ours, "memory bound (2L-1 passes / copy BW)",
                bound / ours, ">= 0.5x", note)]


def torch_single_sample(m: int, L: int) -> list[dict[str, Any]]:
    size = f"m={m}, L={L}, float64"
    if backend.is_device():
        return [row("SGD single-sample step", size, float("nan"), "torch autograd, same SGD",
                    float("nan"), ">= 1.0x", "skipped on a GPU: the torch loop here is CPU")]
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        return [row("SGD single-sample step", size, float("nan"), "torch autograd, same SGD",
                    float("nan"), ">= 1.0x", "torch not installed: skipped")]
    steps = max(20, min(1000, int(1e8 / (m * m * L))))
    w, x, y = _data(256, m, L)
    ours = _step_seconds(w, x, y, steps)
    lam, eta = 0.5, 1e-6
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # ours runs its single-sample steps on one BLAS thread too
    W = torch.tensor(backend.to_numpy(w.W), requires_grad=True)
    A = torch.tensor(backend.to_numpy(w.A))
    B = torch.tensor(backend.to_numpy(w.B))
    X = torch.tensor(backend.to_numpy(x))
    Y = torch.tensor(y)
    idx = np.random.default_rng(1).integers(0, X.shape[0], size=steps)

    def torch_loss(k: int) -> Any:
        Ax = X[k, 1:] @ A.T  # positions 1..L
        h = torch.relu(Ax[0])
        loss = torch.zeros((), dtype=torch.float64)
        for pos in range(2, L + 1):
            h = torch.relu(W @ h + Ax[pos - 1])
            if pos >= 3:
                loss = loss + 0.5 * ((lam * (B @ h) - Y[k, pos - 3]) ** 2).sum()
        return loss

    def run_torch() -> None:
        for k in idx:
            torch_loss(int(k)).backward()
            with torch.no_grad():
                W.sub_(eta * W.grad)
            W.grad = None

    try:
        t_torch = best_time(run_torch, repeat=3) / steps
    finally:
        torch.set_num_threads(n_threads)
    # agreement: one step from the same W on the same sample
    w2 = train.sgd(w, x[idx[:1]], y[idx[:1]], lam, 1.0, 1, seed=0)
    W.data = torch.tensor(backend.to_numpy(w.W))
    torch_loss(int(idx[0])).backward()
    agree = float(np.abs(-W.grad.numpy() - backend.to_numpy(w2.shift)).max())
    return [row("SGD single-sample step", size, ours, f"torch {torch.__version__} autograd, "
                "same SGD", t_torch / ours, ">= 1.0x",
                f"{1 / ours:,.0f} vs {1 / t_torch:,.0f} steps/s, both on one thread; max "
                f"|update difference| = {agree:.1e}")]


def minibatch(b: int, m: int, L: int, threads: int | None) -> list[dict[str, Any]]:
    """The minibatch variant against bare products, both under the same BLAS thread setting
    (``threads``: 1, or None for the machine's default)."""
    steps = max(5, min(200, int(3e9 / (b * m * m * L))))
    w, x, y = _data(4 * b, m, L)
    ours = _step_seconds(w, x, y, steps, batch=b, threads=threads)
    # the same products bare: L-1 forward and L-2 backward (b, m) x (m, m), one rank-(L-1)b update
    shapes = [(b, m, m)] * (L - 1) + [(b, m, m)] * (L - 2) + [(m, (L - 1) * b, m)]
    with backend.blas_threads(threads):
        roof = gemm_roofline(shapes, w.W.dtype)
    flops = 2.0 * b * m * m * (3 * L - 4)
    label = "1 BLAS thread" if threads == 1 else "default BLAS threads"
    return [row("SGD minibatch step (variant)",
                f"batch={b}, m={m}, L={L}, {w.W.dtype.name}, {label}",
                ours, "GEMM roofline (same products, same threads)", roof / ours, ">= 0.8x",
                f"{flops / ours / 1e9:.1f} GFLOP/s against {flops / roof / 1e9:.1f}")]


def run(quick: bool) -> list[dict[str, Any]]:
    bw = copy_bandwidth(256 * 2**20 if quick else 512 * 2**20)
    rows: list[dict[str, Any]] = []
    for m in ((256, 2048) if quick else (256, 1024, 2048, 4096)):
        rows += single_sample(m, 8, bw)
    rows += torch_single_sample(256 if quick else 1024, 8)
    for threads in ((1,) if quick or backend.name() != "numpy" else (1, None)):
        rows += minibatch(64, 512, 8, threads) if quick else minibatch(256, 1024, 8, threads)
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
