"""Forward recurrence and the stacked Back sweep against the GEMM roofline, torch.nn.RNN and
separate chains; the linear response through low-rank W* against dense W*."""

from __future__ import annotations

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

from .common import best_time, best_times, gemm_products, peak_host_bytes, row


def _setup(n: int, m: int, L: int, d_x: int, d: int, dtype: Any) -> tuple[Any, Any]:
    w = init_weights(m, d_x, d, seed=0, dtype=dtype)
    x = embed(random_true_inputs(n, L, d_x, 0), 0.1).astype(dtype)
    return w, x


def forward(n: int, m: int, L: int) -> list[dict[str, Any]]:
    dtype = np.float32
    w, x = _setup(n, m, L, 8, 4, dtype)
    # the recurrence needs L-1 products (n, m) x (m, m): h_0 = 0 makes the first one vanish
    ours, roof = best_times(lambda: hidden_states(w, x),
                            gemm_products([(n, m, m)] * (L - 1), dtype))
    size = f"n={n}, m={m}, L={L}, float32"
    rows = [row("forward recurrence", size, ours, "GEMM roofline (same products)", roof / ours,
                ">= 0.95x")]
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        rows.append(row("forward recurrence", size, ours, "torch.nn.RNN(relu)", float("nan"),
                        ">= 1.0x", "torch not installed: skipped"))
        return rows
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rnn = torch.nn.RNN(x.shape[2], m, nonlinearity="relu", bias=False, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(backend.to_numpy(w.A)))
        rnn.weight_hh_l0.copy_(torch.from_numpy(backend.to_numpy(w.W)))
    xt = torch.from_numpy(np.ascontiguousarray(backend.to_numpy(x)[:, 1:]))

    def run_torch() -> Any:
        with torch.no_grad():
            return rnn(xt)[0]

    ours, ref = best_times(lambda: hidden_states(w, x), run_torch)
    agree = float(np.abs(run_torch().numpy() - backend.to_numpy(hidden_states(w, x))[:, 1:]).max())
    rows.append(row("forward recurrence", size, ours, f"torch.nn.RNN(relu) {torch.__version__}",
                    ref / ours, ">= 1.0x", f"max |h - h_torch| = {agree:.1e}"))
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
    t_low, mem_low = peak_host_bytes(lambda: linear_response(w, x, lr))

    def dense() -> Any:
        return linear_response(w, x, lr.dense())

    t_dense, mem_dense = peak_host_bytes(dense)
    size = f"n={n}, m={m}, L={L}, rank={rank}, float64"
    return [row("linear response f(W*), time", size, t_low, "dense W*", t_dense / t_low,
                "> 1x"),
            row("linear response f(W*), peak memory", size, t_low, "dense W*",
                mem_dense / max(mem_low, 1), "> 1x",
                f"peak {mem_low / 2**20:.1f} MiB vs {mem_dense / 2**20:.1f} MiB")]


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return (forward(128, 512, 10) + back_sweep(8, 512, 8, 2)
                + lowrank_response(8, 1024, 8, 6))
    return (forward(512, 2048, 20) + back_sweep(16, 2048, 12, 2)
            + lowrank_response(16, 4096, 12, 10))
