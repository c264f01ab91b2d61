"""Timing helpers shared by the benchmarks: best-of-k wall time, the GEMM roofline, peak memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from rnnproof import backend


def sync() -> None:
    """Wait for the device (no-op on NumPy)."""
    backend.sync()


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


def best_times(*fns: Callable[[], Any], repeat: int = 7,
               clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Best time of each function, measured interleaved (a, b, a, b, ...) so that a change of
    machine load hits both sides of a ratio alike. ``clock=time.thread_time`` measures the CPU
    time of the calling thread instead of the wall time: for single-threaded code on a shared
    machine it leaves out the time the thread waited for a core."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            sync()
            t0 = clock()
            fn()
            sync()
            best[k] = min(best[k], clock() - t0)
    return best


def gemm_products(shapes: list[tuple[int, int, int]], dtype: Any) -> Callable[[], None]:
    """Bare matrix products (rows, inner, cols) with preallocated outputs: the machine's GEMM
    roofline for the same arithmetic as the code under test. As in the recurrence, every
    product of the same shape reuses the same operands (one W)."""
    xp = backend.xp()
    g = backend.rng(0)
    right: dict[tuple[int, int], Any] = {}
    left: dict[tuple[int, int], Any] = {}
    ops = []
    for r, k, c in shapes:
        if (k, c) not in right:
            right[(k, c)] = g.standard_normal((k, c), dtype=dtype)
        if (r, k) not in left:
            left[(r, k)] = g.standard_normal((r, k), dtype=dtype)
        ops.append((left[(r, k)], right[(k, c)], xp.empty((r, c), dtype=dtype)))

    def run() -> None:
        for a, b, out in ops:
            xp.matmul(a, b, out=out)

    return run


def gemm_roofline(shapes: list[tuple[int, int, int]], dtype: Any, repeat: int = 5) -> float:
    """Best time of :func:`gemm_products` for ``shapes``."""
    return best_time(gemm_products(shapes, dtype), repeat=repeat)


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


def peak_bytes(fn: Callable[[], Any]) -> tuple[float, int, str]:
    """(seconds, peak bytes, what was measured) for one call of ``fn`` on the active backend:
    host memory (tracemalloc) on NumPy, CuPy's memory pool on a GPU
    (:class:`rnnproof.backend.peak_bytes`)."""
    with backend.peak_bytes() as peak:
        t0 = time.perf_counter()
        fn()
        sync()
        dt = time.perf_counter() - t0
    return dt, peak.bytes, peak.source


def row(benchmark: str, size: str, seconds: float, reference: str, ratio: float, goal: str,
        note: str = "") -> dict[str, Any]:
    """One row of the results table (ratio > 1: we are faster than the reference)."""
    return dict(benchmark=benchmark, size=size, seconds=seconds, reference=reference,
                ratio=ratio, goal=goal, note=note)
