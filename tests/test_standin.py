"""The CPU stand-in for CuPy itself (tests/fakecupy): it must be as strict as CuPy where the
package could go wrong on a GPU, or the device tests would prove nothing."""

import numpy as np
import pytest


def test_device_arrays_refuse_implicit_host_conversion(standin):
    cp = standin
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="NumPy"):
        a + np.ones(3)
    with pytest.raises(TypeError, match="NumPy"):
        np.ones(3) * a  # NEP 13: the ufunc comes to the device array, which refuses
    with pytest.raises(TypeError, match="NumPy"):
        cp.concatenate([a, np.ones((1, 3))])
    with pytest.raises(TypeError, match="NumPy"):
        a[0] = np.ones(3)
    with pytest.raises(TypeError):
        np.testing.assert_allclose(a, a)
    a[0] = np.float64(2.0)  # scalars and 0-d host values are fine, as in CuPy
    a[1, np.array([0, 2])] = 5.0  # host index arrays are copied to the device, as in CuPy
    assert a.get().tolist() == [[2.0, 2.0, 2.0], [5.0, 4.0, 5.0]]


def test_numpy_functions_dispatch_to_the_device(standin):
    cp = standin
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    for r in (np.exp(a), np.sum(a, axis=0), np.linalg.norm(a), np.where(a > 2, a, 0.0),
              a.sum(), a[0, 0], np.einsum("ij,kj->ik", a, a), cp.maximum(a, 1)):
        assert isinstance(r, cp.ndarray)  # reductions and scalar indexing stay on the device
    assert np.ndim(a) == 2 and np.shape(a) == (2, 3)
    out = cp.empty((2, 3))
    assert cp.multiply(a, 2.0, out=out) is out and out.get()[1, 2] == 10.0
    s = np.linalg.svd(a, compute_uv=False)
    assert isinstance(s, cp.ndarray) and s.shape == (2,)


def test_host_syncs_are_counted(standin):
    cp = standin
    a = cp.asarray(np.ones((4, 4)))
    with cp.counting(trace=True) as c:
        float(a.sum())
        int(a[0, 0])
        bool(a[0, 0] > 0)
        a.item(0)
        a.get()
        cp.asnumpy(a)
        f"{a.sum():.2f}"
        cp.cuda.Device().synchronize()
        b = (a @ a + 1).T  # device work only: no sync
        del b
    assert c.syncs == 8
    assert {k: c.counts[k] for k in ("float", "int", "bool", "item", "get")} == \
        {"float": 1, "int": 1, "bool": 1, "item": 1, "get": 2}
    assert all("test_standin.py" in site for site in c.sites)


def test_memory_pool_tracks_live_arrays_and_caches_freed_blocks(standin):
    cp = standin
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    used = pool.used_bytes()
    a = cp.zeros((1024, 128))  # 1 MiB
    assert pool.used_bytes() == used + 2 ** 20
    v = a[:10].T  # a view holds no memory of its own
    assert pool.used_bytes() == used + 2 ** 20
    del a, v
    assert pool.used_bytes() == used and pool.free_bytes() >= 2 ** 20  # cached, not returned
    free, total = cp.cuda.Device().mem_info
    assert free + pool.total_bytes() <= total
    pool.free_all_blocks()
    assert pool.free_bytes() == 0


def test_the_device_rng_differs_from_numpys(standin):
    cp = standin
    a = cp.random.default_rng(0).standard_normal(5, dtype=np.float32)
    assert a.dtype == np.float32 and isinstance(a, cp.ndarray)
    assert not np.allclose(a.get(), np.random.default_rng(0).standard_normal(5))
    assert np.array_equal(a.get(), cp.random.default_rng(0).standard_normal(5, np.float32).get())
