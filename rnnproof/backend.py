"""Array backend: NumPy (default) or CuPy, dtype, seeded RNG, memory guard.

Environment variables
---------------------
``RNNPROOF_BACKEND``  ``numpy`` | ``cupy`` | ``auto`` (default ``auto``: CuPy when it imports
                      *and* a device answers, otherwise NumPy).
``RNNPROOF_DTYPE``    overrides the default dtype (float64 on NumPy, float32 on CuPy).
``RNNPROOF_PROFILE``  ``quick`` | ``full`` (default: quick on NumPy, full on CuPy).

Arrays move between the backends only here: :func:`to_backend` (host data onto the device,
or the reverse on NumPy) and :func:`to_numpy` (the one explicit device-to-host copy, a host
sync on CuPy); every public entry point of the package converts its inputs with them.
:func:`available_bytes` and :class:`peak_bytes` see CuPy's memory pool on a GPU.

This is the only module that imports CuPy.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

log = logging.getLogger("rnnproof")

PROFILES = ("quick", "full")


class MemoryBudgetError(MemoryError):
    """Raised before an allocation that would not fit in the available memory."""


@functools.cache
def _select() -> tuple[str, ModuleType]:
    wanted = os.environ.get("RNNPROOF_BACKEND", "auto").strip().lower()
    if wanted not in ("numpy", "cupy", "auto"):
        raise ValueError(
            f"RNNPROOF_BACKEND={wanted!r} is not one of 'numpy', 'cupy', 'auto'")
    if wanted == "numpy":
        return "numpy", np
    try:
        import cupy  # noqa: PLC0415 (optional dependency, only imported here)

        cupy.cuda.runtime.getDeviceCount()
        cupy.zeros(1).sum().item()  # a device must answer, not just the import
    except Exception as exc:  # CuPy may import and then fail on the first device call
        if wanted == "cupy":
            raise RuntimeError(
                f"RNNPROOF_BACKEND=cupy but CuPy cannot use a device: {exc!r}") from exc
        log.info("rnnproof: CuPy unavailable (%s); using NumPy", type(exc).__name__)
        return "numpy", np
    log.info("rnnproof: using CuPy")
    return "cupy", cupy


def name() -> str:
    """Name of the active backend: ``'numpy'`` or ``'cupy'``."""
    return _select()[0]


def xp() -> ModuleType:
    """The active array module (``numpy`` or ``cupy``)."""
    return _select()[1]


def default_dtype() -> np.dtype:
    """float64 on NumPy, float32 on CuPy, unless ``RNNPROOF_DTYPE`` says otherwise."""
    env = os.environ.get("RNNPROOF_DTYPE")
    if env:
        dt = np.dtype(env)
        if dt.kind != "f":
            raise ValueError(f"RNNPROOF_DTYPE={env!r} is not a floating-point dtype")
        return dt
    return np.dtype(np.float32 if name() == "cupy" else np.float64)


def profile(requested: str | None = None) -> str:
    """The size profile: ``requested``, else ``RNNPROOF_PROFILE``, else quick/full by backend."""
    p = requested or os.environ.get("RNNPROOF_PROFILE") or (
        "full" if name() == "cupy" else "quick")
    if p not in PROFILES:
        raise ValueError(f"profile {p!r} is not one of {PROFILES}")
    return p


def rng(seed: int) -> Any:
    """A seeded random generator of the active backend (same seed, same numbers)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return xp().random.default_rng(int(seed))


def to_numpy(a: Any) -> np.ndarray:
    """Copy an array of either backend to a NumPy array (no copy if already NumPy).

    This is the one explicit device-to-host copy: on CuPy it is ``a.get()`` (a host sync)."""
    if isinstance(a, np.ndarray):
        return a
    get = getattr(a, "get", None)
    return np.asarray(get() if callable(get) else a)


def to_backend(a: Any, dtype: Any = None) -> Any:
    """``a`` on the active backend, in ``dtype`` (None keeps the array's own dtype).

    Host data goes to the device on CuPy (one host-to-device copy) and device data comes back
    to the host on NumPy, so an input from the other backend is converted rather than mixed
    into a product. No copy when ``a`` is already there in that dtype."""
    if name() == "numpy":
        a = to_numpy(a) if not isinstance(a, np.ndarray) and hasattr(a, "get") else a
        return np.asarray(a, dtype=dtype)
    return xp().asarray(a, dtype=dtype)


def asarray(a: Any, dtype: Any = None) -> Any:
    """Move ``a`` onto the active backend with the default (or given) dtype."""
    return to_backend(a, dtype or default_dtype())


def is_device() -> bool:
    """True when arrays live on a device (the CuPy backend), where every host read syncs."""
    return name() == "cupy"


def sync() -> None:
    """Wait until the device has finished all queued work (a no-op on NumPy)."""
    if name() == "cupy":
        xp().cuda.Device().synchronize()


def available_bytes() -> int:
    """Memory available for new arrays.

    On CuPy: the device's free memory plus the free blocks cached by CuPy's memory pool (the
    pool reuses them before it asks the device for more). On NumPy: the host's MemAvailable."""
    if name() == "cupy":
        cp = xp()
        free, _total = cp.cuda.Device().mem_info
        return int(free) + int(cp.get_default_memory_pool().free_bytes())
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


class peak_bytes:
    """Context manager: the peak memory allocated inside the block, on the active backend.

    ``with backend.peak_bytes() as peak: ...`` then ``peak.bytes`` (int) and ``peak.source``
    (what was measured). On NumPy: the host peak traced by :mod:`tracemalloc` (NumPy reports its
    buffers to it) above the memory traced when the block began. On CuPy: the growth of CuPy's
    memory pool (device memory) during the block, after its cached free blocks are returned
    first: the pool keeps every block it has handed out, so its size is the high-water mark of
    the block's device allocations (rounded up to CuPy's block sizes: an upper bound). Host
    memory is not counted there, nor device memory taken outside the pool."""

    def __init__(self) -> None:
        self.bytes = 0
        self.source = ""
        self._started = False

    def __enter__(self) -> peak_bytes:
        if name() == "cupy":
            sync()
            pool = xp().get_default_memory_pool()
            pool.free_all_blocks()
            self._base = int(pool.total_bytes())
            self.source = "CuPy memory pool (device; block high-water mark, an upper bound)"
        else:
            import tracemalloc  # noqa: PLC0415

            self._started = not tracemalloc.is_tracing()
            if self._started:
                tracemalloc.start()
            else:
                tracemalloc.reset_peak()
            self._base = tracemalloc.get_traced_memory()[0]
            self.source = "tracemalloc (host)"
        return self

    def __exit__(self, *exc: Any) -> None:
        if name() == "cupy":
            sync()
            self.bytes = max(0, int(xp().get_default_memory_pool().total_bytes()) - self._base)
            return
        import tracemalloc  # noqa: PLC0415

        self.bytes = max(0, int(tracemalloc.get_traced_memory()[1]) - self._base)
        if self._started:
            tracemalloc.stop()


def guard_memory(nbytes: int, what: str, fraction: float = 0.8) -> None:
    """Raise :class:`MemoryBudgetError` if ``nbytes`` exceed ``fraction`` of the free memory.

    Called before every allocation of order m^2 (W, a dense shift, a dense W*, Back).
    """
    avail = available_bytes()
    if nbytes > fraction * avail:
        raise MemoryBudgetError(
            f"{what} needs {nbytes / 2**30:.2f} GiB but only {avail / 2**30:.2f} GiB is "
            f"available on the {name()} backend: lower the width m (or the batch n, the "
            f"length L), use RNNPROOF_DTYPE=float32, or keep W* as low-rank factors")


def device_description() -> str:
    """A one-line description of the backend and device, for the book's first cells."""
    if name() == "cupy":
        cp = xp()
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        dev = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return f"cupy {cp.__version__} on {dev}, dtype {default_dtype().name}"
    return f"numpy {np.__version__} on CPU ({os.cpu_count()} cores), dtype {default_dtype().name}"


def reset() -> None:
    """Forget the cached backend choice (tests that change RNNPROOF_BACKEND call this)."""
    _select.cache_clear()


_BLAS_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads")
_BLAS_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
                 "scipy_openblas_get_num_threads")


def _openblas_handles() -> list[tuple[Any, Any]]:
    """(getter, setter) of every OpenBLAS loaded in this process (NumPy and SciPy each bundle
    one). Linux only (reads /proc/self/maps); elsewhere an empty list."""
    import ctypes  # noqa: PLC0415

    import scipy.linalg.blas  # noqa: F401, PLC0415 (load SciPy's OpenBLAS too)

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower()
                            and ln.split()[-1].startswith("/")})
    except OSError:
        return []
    out = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        get = next((getattr(lib, n) for n in _BLAS_GETTERS if hasattr(lib, n)), None)
        put = next((getattr(lib, n) for n in _BLAS_SETTERS if hasattr(lib, n)), None)
        if get is not None and put is not None:
            out.append((get, put))
    return out


def single_threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run ``fn`` with OpenBLAS limited to one thread (restored afterwards). Checks
    made of many small products (SGD, Rademacher sums) gain nothing from BLAS threads but
    synchronization and, on a shared machine, contention."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with blas_threads(1):
            return fn(*args, **kwargs)

    return wrapper


class blas_threads:
    """Context manager: limit OpenBLAS to ``n`` threads (None: leave it alone), then restore.

    A single-sample SGD step is a chain of small matrix-vector products; on a loaded machine
    OpenBLAS's threads cost far more than they save there (measured: ten times slower with two
    threads on two busy cores at m = 128)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.saved: list[tuple[Any, int]] = []

    def __enter__(self) -> blas_threads:
        if self.n is not None and name() == "numpy":
            for get, put in _openblas_handles():
                self.saved.append((put, int(get())))
                put(int(self.n))
        return self

    def __exit__(self, *exc: Any) -> None:
        for put, n in self.saved:
            put(n)
        self.saved.clear()
