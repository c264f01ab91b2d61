import numpy as np
import pytest

from rnnproof import backend


def test_default_is_numpy_float64_quick(monkeypatch):
    monkeypatch.setenv("RNNPROOF_BACKEND", "numpy")
    monkeypatch.delenv("RNNPROOF_DTYPE", raising=False)
    monkeypatch.delenv("RNNPROOF_PROFILE", raising=False)
    backend.reset()
    assert backend.name() == "numpy" and backend.xp() is np
    assert backend.default_dtype() == np.float64 and backend.profile() == "quick"


def test_auto_falls_back_to_numpy_without_a_device(monkeypatch):
    monkeypatch.setenv("RNNPROOF_BACKEND", "auto")
    backend.reset()
    try:
        assert backend.name() in ("numpy", "cupy")
    finally:
        monkeypatch.setenv("RNNPROOF_BACKEND", "numpy")
        backend.reset()


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
    assert init_weights(8, 3, 2, seed=0).W.dtype == np.float32


def test_memory_guard_names_size_and_way_out():
    with pytest.raises(backend.MemoryBudgetError, match="GiB.*lower the width m"):
        backend.guard_memory(10 ** 15, "a test array")
    from rnnproof import init_weights
    with pytest.raises(MemoryError, match="recurrent weight W"):
        init_weights(10 ** 7, 3, 2, seed=0)


def test_rng_and_to_numpy():
    a = backend.rng(3).standard_normal(4)
    assert np.array_equal(a, backend.rng(3).standard_normal(4))
    assert backend.to_numpy(a) is a
    with pytest.raises(ValueError, match="seed"):
        backend.rng(-1)
