"""Timing helpers shared by the benchmarks: best-of-k wall time, the GEMM roofline, peak memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from rnnproof import backend


def sync() -> None:
    """Wait for the device (no-op on NumPy)."""
    if backend.name() == "cupy":
        backend.xp().cuda.Device().synchronize()


def best_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` after ``warmup`` calls (seconds)."""
    for _ in range(warmup):
        fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_roofline(shapes: list[tuple[int, int, int]], dtype: Any, repeat: int = 5) -> float:
    """Time of bare matrix products (rows, inner, cols) with preallocated outputs: the
    machine's GEMM roofline for the same arithmetic as the code under test."""
    xp = backend.xp()
    g = backend.rng(0)
    ops = []
    for r, k, c in shapes:
        a = g.standard_normal((r, k), dtype=dtype)
        b = g.standard_normal((k, c), dtype=dtype)
        ops.append((a, b, xp.empty((r, c), dtype=dtype)))

    def run() -> None:
        for a, b, out in ops:
            xp.matmul(a, b, out=out)

    return best_time(run, repeat=repeat)


def peak_host_bytes(fn: Callable[[], Any]) -> tuple[float, int]:
    """(seconds, peak bytes allocated through Python/NumPy) for one call of ``fn``."""
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    sync()
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, peak


def row(benchmark: str, size: str, seconds: float, reference: str, ratio: float, goal: str,
        note: str = "") -> dict[str, Any]:
    """One row of the results table (ratio > 1: we are faster than the reference)."""
    return dict(benchmark=benchmark, size=size, seconds=seconds, reference=reference,
                ratio=ratio, goal=goal, note=note)
