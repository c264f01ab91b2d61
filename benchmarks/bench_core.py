"""Forward recurrence and the stacked Back sweep against the GEMM roofline, torch.nn.RNN and
separate chains; the linear response through low-rank W* against dense W*.

On CuPy the same rows run on the device (larger sizes), torch on CUDA when it has a device,
and the memory rows read CuPy's memory pool (:class:`rnnproof.backend.peak_bytes`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rnnproof import (
    LowRank,
    back_operators,
    backend,
    embed,
    hidden_states,
    init_weights,
    linear_response,
)
from rnnproof.concept import random_true_inputs

from .common import best_time, best_times, gemm_products, peak_bytes, row


def _setup(n: int, m: int, L: int, d_x: int, d: int, dtype: Any) -> tuple[Any, Any]:
    w = init_weights(m, d_x, d, seed=0, dtype=dtype)
    x = embed(random_true_inputs(n, L, d_x, 0), 0.1, dtype=dtype)
    return w, x


def _torch_rnn(w: Any, x: Any) -> tuple[Any, Any, str]:
    """torch.nn.RNN(relu) with our W and A, on the device our arrays are on (CUDA for CuPy),
    and a function running it; raises ImportError/RuntimeError when that is not possible."""
    import torch  # noqa: PLC0415

    cuda = backend.is_device()
    if cuda and not torch.cuda.is_available():
        raise RuntimeError("torch has no CUDA device here")
    dev = "cuda" if cuda else "cpu"
    rnn = torch.nn.RNN(x.shape[2], w.m, nonlinearity="relu", bias=False, batch_first=True,
                       device=dev, dtype=getattr(torch, w.W.dtype.name))
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(backend.to_numpy(w.A)))
        rnn.weight_hh_l0.copy_(torch.from_numpy(backend.to_numpy(w.W)))
    xt = torch.from_numpy(np.ascontiguousarray(backend.to_numpy(x)[:, 1:])).to(dev)

    def run() -> Any:
        with torch.no_grad():
            out = rnn(xt)[0]
        if cuda:
            torch.cuda.synchronize()
        return out

    return run, torch, dev


def forward(n: int, m: int, L: int) -> list[dict[str, Any]]:
    """hidden_states against the GEMM roofline and torch.nn.RNN: wall time with the default
    threads, and (NumPy only) the CPU time of one thread with one BLAS thread and one torch
    thread, which a shared machine's load barely moves."""
    dtype = np.float32
    w, x = _setup(n, m, L, 8, 4, dtype)
    # the recurrence needs L-1 products (n, m) x (m, m): h_0 = 0 makes the first one vanish
    roofline = gemm_products([(n, m, m)] * (L - 1), dtype)
    size = f"n={n}, m={m}, L={L}, float32"
    try:
        run_torch, torch, dev = _torch_rnn(w, x)
    except (ImportError, RuntimeError) as exc:
        run_torch, torch, dev, why = None, None, None, f"skipped: {exc}"
    settings = [("default threads, wall time", None, time.perf_counter)]
    if not backend.is_device():
        settings.append(("1 thread, CPU time", 1, time.thread_time))
    rows = []
    for label, threads, clock in settings:
        saved = torch.get_num_threads() if torch is not None else None
        if torch is not None and threads is not None:
            torch.set_num_threads(threads)
        fns = [lambda: hidden_states(w, x), roofline] + ([run_torch] if run_torch else [])
        try:
            with backend.blas_threads(threads):
                times = best_times(*fns, clock=clock)
        finally:
            if saved is not None:
                torch.set_num_threads(saved)
        ours = times[0]
        rows.append(row("forward recurrence", f"{size}, {label}", ours,
                        "GEMM roofline (same products)", times[1] / ours, ">= 0.95x"))
        if run_torch is None:
            rows.append(row("forward recurrence", f"{size}, {label}", ours, "torch.nn.RNN(relu)",
                            float("nan"), ">= 1.0x", why))
            continue
        agree = float(np.abs(run_torch().cpu().numpy()
                             - backend.to_numpy(hidden_states(w, x))[:, 1:]).max())
        rows.append(row("forward recurrence", f"{size}, {label}", ours,
                        f"torch.nn.RNN(relu) {torch.__version__} ({dev})", times[2] / ours,
                        ">= 1.0x", f"max |h - h_torch| = {agree:.1e}"))
    return rows


def back_sweep(n: int, m: int, L: int, d: int) -> list[dict[str, Any]]:
    dtype = np.float32
    w, x = _setup(n, m, L, 8, d, dtype)
    # the same arithmetic as bare products: the forward (L-1 products) and, for i = L-1..1, a
    # stacked (k n d, m) x (m, m) product with k = L - i
    shapes = [(n, m, m)] * (L - 1) + [((L - i) * n * d, m, m) for i in range(L - 1, 0, -1)]
    ours, roof = best_times(lambda: back_operators(w, x), gemm_products(shapes, dtype),
                            repeat=5)
    size = f"n={n}, m={m}, L={L}, d={d}, float32"
    xp = backend.xp()
    D = None

    def separate_chains() -> None:
        # every (i, j) on its own: Back_{i->j} = B D_j W ... D_{i+1} W as its own chain
        nonlocal D
        from rnnproof.rnn import forward_trace  # noqa: PLC0415

        D = forward_trace(w, x).D.astype(dtype)
        for j in range(1, L + 1):
            for i in range(1, j + 1):
                M = xp.broadcast_to(w.B, (n, d, m))
                for k in range(j, i, -1):
                    M = (M * D[:, k][:, None, :]) @ w.W

    ref = best_time(separate_chains, repeat=1)
    return [row("all Back_(i->j), stacked sweep", size, ours, "GEMM roofline (same products)",
                roof / ours, ">= 0.8x"),
            row("all Back_(i->j), stacked sweep", size, ours,
                "separate chain per (i, j)", ref / ours, "> 1x")]


def lowrank_response(n: int, m: int, L: int, rank: int) -> list[dict[str, Any]]:
    w, x = _setup(n, m, L, 8, 4, np.float64)
    g = backend.rng(1)
    U = g.standard_normal((m, rank)) / np.sqrt(m)
    V = g.standard_normal((m, rank))
    lr = LowRank(U, V)
    t_low, mem_low, source = peak_bytes(lambda: linear_response(w, x, lr))

    def dense() -> Any:
        return linear_response(w, x, lr.dense())

    t_dense, mem_dense, _ = peak_bytes(dense)
    size = f"n={n}, m={m}, L={L}, rank={rank}, float64"
    return [row("linear response f(W*), time", size, t_low, "dense W*", t_dense / t_low,
                "> 1x"),
            row("linear response f(W*), peak memory", size, t_low, "dense W*",
                mem_dense / max(mem_low, 1), "> 1x",
                f"peak {mem_low / 2**20:.1f} MiB vs {mem_dense / 2**20:.1f} MiB ({source})")]


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return (forward(128, 512, 10) + back_sweep(8, 512, 8, 2)
                + lowrank_response(8, 1024, 8, 6))
    if backend.is_device():
        return (forward(512, 2048, 20) + forward(4096, 8192, 20)
                + back_sweep(64, 8192, 12, 2) + lowrank_response(64, 16384, 12, 10))
    return (forward(512, 2048, 20) + back_sweep(16, 2048, 12, 2)
            + lowrank_response(16, 4096, 12, 10))
