"""The backend: selection, dtype, profile, RNG, conversions, the memory guard and the peak.

Backend-agnostic (part of the device subset): arrays are compared on the host through
``backend.to_numpy``, never by identity."""

import os
import sys
import types

import numpy as np
import pytest

from rnnproof import backend

ENV = ("RNNPROOF_BACKEND", "RNNPROOF_DTYPE", "RNNPROOF_PROFILE")


@pytest.fixture(autouse=True)
def _restore_backend():
    """Tests here change the backend settings: restore them, and the cached choice, after."""
    saved = {k: os.environ.get(k) for k in ENV}
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    backend.reset()


def test_default_is_numpy_float64_quick(monkeypatch):
    monkeypatch.setenv("RNNPROOF_BACKEND", "numpy")
    monkeypatch.delenv("RNNPROOF_DTYPE", raising=False)
    monkeypatch.delenv("RNNPROOF_PROFILE", raising=False)
    backend.reset()
    assert backend.name() == "numpy" and backend.xp() is np and not backend.is_device()
    assert backend.default_dtype() == np.float64 and backend.profile() == "quick"


def test_auto_picks_a_backend_that_answers(monkeypatch):
    monkeypatch.setenv("RNNPROOF_BACKEND", "auto")
    backend.reset()
    assert backend.name() in ("numpy", "cupy")


@pytest.mark.parametrize("broken", ["missing", "no device"])
def test_cupy_request_without_a_device_is_a_clear_error(monkeypatch, broken):
    if broken == "missing":
        monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    else:
        def no_device():
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

        fake = types.ModuleType("cupy")
        fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
            getDeviceCount=no_device))
        monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setenv("RNNPROOF_BACKEND", "cupy")
    backend.reset()
    with pytest.raises(RuntimeError, match="RNNPROOF_BACKEND=cupy but CuPy cannot use a device"):
        backend.name()
    monkeypatch.setenv("RNNPROOF_BACKEND", "auto")
    backend.reset()
    assert backend.name() == "numpy"  # auto falls back, said once in the log


def test_bad_settings_are_clear_errors(monkeypatch):
    monkeypatch.setenv("RNNPROOF_BACKEND", "tpu")
    backend.reset()
    with pytest.raises(ValueError, match="RNNPROOF_BACKEND"):
        backend.name()
    monkeypatch.setenv("RNNPROOF_BACKEND", "numpy")
    backend.reset()
    monkeypatch.setenv("RNNPROOF_DTYPE", "int32")
    with pytest.raises(ValueError, match="floating-point"):
        backend.default_dtype()
    with pytest.raises(ValueError, match="profile"):
        backend.profile("huge")


def test_dtype_override(monkeypatch):
    monkeypatch.setenv("RNNPROOF_DTYPE", "float32")
    from rnnproof import init_weights
    w = init_weights(8, 3, 2, seed=0)
    assert w.W.dtype == w.A.dtype == w.B.dtype == np.float32


def test_memory_guard_names_size_and_way_out():
    with pytest.raises(backend.MemoryBudgetError, match="GiB.*lower the width m"):
        backend.guard_memory(10 ** 15, "a test array")
    from rnnproof import init_weights
    with pytest.raises(MemoryError, match="recurrent weight W"):
        init_weights(10 ** 7, 3, 2, seed=0)


def test_rng_and_to_numpy():
    a = backend.rng(3).standard_normal(4)
    a_host = backend.to_numpy(a)
    assert isinstance(a_host, np.ndarray) and a_host.shape == (4,)
    assert np.array_equal(a_host, backend.to_numpy(backend.rng(3).standard_normal(4)))
    assert not np.array_equal(a_host, backend.to_numpy(backend.rng(4).standard_normal(4)))
    if not backend.is_device():  # on NumPy, to_numpy is not a copy
        assert np.shares_memory(backend.to_numpy(a), a)
    with pytest.raises(ValueError, match="seed"):
        backend.rng(-1)


def test_to_backend_converts_and_keeps_or_sets_the_dtype():
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = backend.to_backend(host)
    assert a.dtype == np.float32 and isinstance(a, backend.xp().ndarray)
    b = backend.to_backend(host, np.float64)
    assert b.dtype == np.float64
    np.testing.assert_array_equal(backend.to_numpy(b), host)
    assert backend.to_backend(a).dtype == np.float32  # already there: kept
    assert backend.asarray(host).dtype == backend.default_dtype()
    assert backend.to_backend([[1.0, 2.0]]).shape == (1, 2)


def test_available_bytes_and_peak_are_positive():
    assert backend.available_bytes() > 2 ** 20
    with backend.peak_bytes() as peak:
        tmp = backend.xp().ones((256, 1024))  # 2 MiB
        tmp += 1
        del tmp
    assert peak.bytes >= 256 * 1024 * 8 and peak.source
    backend.sync()  # a no-op on NumPy, a device synchronization on CuPy
