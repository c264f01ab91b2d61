"""A strict CPU stand-in for CuPy, for tests only (never part of the package).

It makes the package's CuPy path testable on a machine without a GPU. A device array is a
wrapped NumPy array that behaves as ``cupy.ndarray`` does where it matters:

* no implicit host conversion: ``np.asarray(a)`` raises (``__array__`` refuses), and a NumPy
  array operand in a ufunc, an operator, ``__setitem__`` (unless 0-d) or a function of this
  module raises ``TypeError``; only ``asarray``/``array`` (and NumPy index arrays, as in CuPy)
  move host data onto the "device";
* NumPy's functions called on device arrays dispatch here (NEP 13 ``__array_ufunc__`` and NEP 18
  ``__array_function__``, as CuPy does) and return device arrays; reductions and scalar
  indexing return 0-d device arrays, not NumPy scalars;
* every host synchronization is counted: ``float``, ``int``, ``bool``, ``__index__``,
  ``.item()``, ``.tolist()``, ``.get()``, ``asnumpy``, formatting, and explicit
  ``synchronize()`` calls (see :func:`counts`, :func:`counting`);
* the pieces of the CuPy API the package uses: ``cuda.runtime``, ``cuda.Device().mem_info``,
  the default memory pool (which tracks the bytes of live arrays, with CuPy's caching: freed
  blocks stay in the pool until ``free_all_blocks``), ``random.default_rng`` (a different bit
  generator from NumPy's, so that no test can rely on equal numbers across backends),
  ``linalg``, ``fft``.

Put ``tests/fakecupy`` first on ``sys.path`` (``pytest --standin`` does, and
``GPU_CHECK_DRY=1 scripts/gpu-check.sh`` sets ``PYTHONPATH``) and ``import cupy`` finds it.
"""

from __future__ import annotations

import builtins
import functools
import os
import sys
import traceback
import types
import weakref
from collections import Counter
from typing import Any

import numpy as _np

__version__ = "14.0.0+standin"
STANDIN = True  #: lets a script tell the stand-in from a real CuPy

# ------------------------------------------------------------------------------------------
# Counters
# ------------------------------------------------------------------------------------------

_COUNTS: Counter[str] = Counter()
_SITES: Counter[str] = Counter()
_TRACE = bool(os.environ.get("FAKECUPY_TRACE"))
_HERE = os.path.dirname(os.path.abspath(__file__))


def _caller() -> str:
    for fr in reversed(traceback.extract_stack()[:-2]):
        if not fr.filename.startswith(_HERE):
            return f"{os.path.relpath(fr.filename)}:{fr.lineno} {fr.name}"
    return "?"


def _sync(kind: str) -> None:
    """Record one host synchronization of the given kind (the host waits for the device)."""
    _COUNTS["syncs"] += 1
    _COUNTS[kind] += 1
    if _TRACE:
        _SITES[f"{kind} at {_caller()}"] += 1


def counts() -> dict[str, int]:
    """Counters since the last :func:`reset_counts`: ``syncs`` (all host synchronizations),
    one entry per kind (``float``, ``int``, ``bool``, ``index``, ``item``, ``tolist``, ``get``,
    ``format``, ``synchronize``) and ``h2d`` (host-to-device copies)."""
    return dict(_COUNTS)


def sync_sites() -> dict[str, int]:
    """Where the syncs happened (needs ``FAKECUPY_TRACE=1`` or :func:`counting(trace=True)`)."""
    return dict(_SITES)


def reset_counts() -> None:
    _COUNTS.clear()
    _SITES.clear()


class counting:
    """Context manager: count the syncs inside the block (``.syncs``, ``.counts``, ``.sites``).

    ``with cupy.counting() as c: ...; assert c.syncs <= 10``."""

    def __init__(self, trace: bool = False) -> None:
        self.trace = trace
        self.counts: dict[str, int] = {}
        self.sites: dict[str, int] = {}

    def __enter__(self) -> counting:
        global _TRACE
        self._saved = (Counter(_COUNTS), Counter(_SITES), _TRACE)
        _COUNTS.clear()
        _SITES.clear()
        _TRACE = self.trace or _TRACE
        return self

    def __exit__(self, *exc: Any) -> None:
        global _TRACE
        self.counts, self.sites = dict(_COUNTS), dict(_SITES)
        before, sites, _TRACE = self._saved
        _COUNTS.update(before)
        _SITES.update(sites)

    @property
    def syncs(self) -> int:
        return self.counts.get("syncs", 0)


# ------------------------------------------------------------------------------------------
# The memory pool (bytes of live device arrays, with CuPy's block caching)
# ------------------------------------------------------------------------------------------

_DEVICE_BYTES = int(float(os.environ.get("FAKECUPY_DEVICE_GIB", "16")) * 2**30)


class MemoryPool:
    """CuPy's device memory pool, modelled: ``used_bytes`` are held by live arrays; a freed
    block stays cached (``free_bytes``) and is reused before the pool grows; ``total_bytes`` is
    used + cached; ``free_all_blocks`` returns the cache to the device."""

    def __init__(self) -> None:
        self._used = 0
        self._cached = 0
        self._limit = 0

    def used_bytes(self) -> int:
        return self._used

    def free_bytes(self) -> int:
        return self._cached

    def total_bytes(self) -> int:
        return self._used + self._cached

    def free_all_blocks(self, stream: Any = None) -> None:
        self._cached = 0

    def n_free_blocks(self) -> int:
        return 1 if self._cached else 0

    def set_limit(self, size: int | None = None, fraction: float | None = None) -> None:
        self._limit = int(size if size is not None else (fraction or 0) * _DEVICE_BYTES)

    def get_limit(self) -> int:
        return self._limit

    def _malloc(self, n: int) -> None:
        if n > self._cached and n - self._cached > _DEVICE_BYTES - self.total_bytes():
            raise OutOfMemoryError(n, _DEVICE_BYTES - self.total_bytes())
        self._cached -= min(n, self._cached)
        self._used += n

    def _free(self, n: int) -> None:
        self._used -= n
        self._cached += n


class PinnedMemoryPool:
    def used_bytes(self) -> int:
        return 0

    def free_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0


class OutOfMemoryError(MemoryError):
    def __init__(self, size: int, avail: int) -> None:
        super().__init__(f"Out of memory allocating {size:,} bytes (stand-in device has "
                         f"{avail:,} bytes free)")


_POOL = MemoryPool()
_PINNED = PinnedMemoryPool()
_TRACKED: dict[int, int] = {}


def get_default_memory_pool() -> MemoryPool:
    return _POOL


def get_default_pinned_memory_pool() -> PinnedMemoryPool:
    return _PINNED


def _release(key: int, n: int) -> None:
    if _TRACKED.pop(key, None) is not None:
        _POOL._free(n)


def _track(a: _np.ndarray) -> None:
    root = a
    while isinstance(root.base, _np.ndarray):
        root = root.base
    key = id(root)
    if key in _TRACKED:
        return
    n = int(root.nbytes)
    _POOL._malloc(n)
    _TRACKED[key] = n
    weakref.finalize(root, _release, key, n)


# ------------------------------------------------------------------------------------------
# Conversions at the boundary
# ------------------------------------------------------------------------------------------

_SCALARS = (int, float, complex, bool, _np.generic)


def _refuse(x: Any, where: str) -> None:
    raise TypeError(f"Unsupported type {type(x)} in {where}: the stand-in device refuses host "
                    f"(NumPy) arrays; move them with cupy.asarray first")


def _unwrap(x: Any, where: str) -> Any:
    """Device arrays -> their NumPy storage; NumPy arrays refused; lists/tuples recursively."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        _refuse(x, where)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, where) for v in x)
    return x


def _wrap(r: Any) -> Any:
    """NumPy results -> device arrays (NumPy scalars become 0-d device arrays)."""
    if isinstance(r, _np.ndarray):
        if r.dtype == object:
            raise TypeError("the stand-in device holds no object arrays")
        return ndarray._from_numpy(r)
    if isinstance(r, _np.generic):
        return ndarray._from_numpy(_np.asarray(r))
    if isinstance(r, tuple):
        vals = [_wrap(v) for v in r]
        return type(r)(*vals) if hasattr(r, "_fields") else tuple(vals)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


def _index(key: Any) -> Any:
    """An index: device arrays unwrapped; NumPy arrays and lists accepted (CuPy copies them to
    the device, counted as h2d)."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, _np.ndarray):
        _COUNTS["h2d"] += 1
        return key
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, list) and any(isinstance(k, ndarray) for k in key):
        return [_index(k) for k in key]
    return key


def _host_data(x: Any) -> Any:
    """Host data for asarray/array: device arrays pass through; anything NumPy accepts is copied
    to the 'device' (one h2d)."""
    if isinstance(x, (list, tuple)) and any(isinstance(v, ndarray) for v in x):
        return type(x)(_host_data(v) for v in x)
    return x


# ------------------------------------------------------------------------------------------
# The device array
# ------------------------------------------------------------------------------------------


def _binop(name: str, reflected: bool = False) -> Any:
    fn = getattr(_np, name)

    def op(self: ndarray, other: Any) -> Any:
        if isinstance(other, _np.ndarray):
            _refuse(other, f"the operator {name}")
        if not isinstance(other, (ndarray, *_SCALARS)):
            return NotImplemented
        o = other._a if isinstance(other, ndarray) else other
        return _wrap(fn(o, self._a) if reflected else fn(self._a, o))

    op.__name__ = f"__{'r' if reflected else ''}{name}__"
    return op


def _iop(name: str) -> Any:
    fn = getattr(_np, name)

    def op(self: ndarray, other: Any) -> Any:
        if isinstance(other, _np.ndarray):
            _refuse(other, f"the in-place operator {name}")
        if not isinstance(other, (ndarray, *_SCALARS)):
            return NotImplemented
        fn(self._a, other._a if isinstance(other, ndarray) else other, out=self._a)
        return self

    return op


def _unop(name: str) -> Any:
    fn = getattr(_np, name)

    def op(self: ndarray) -> Any:
        return _wrap(fn(self._a))

    return op


class ndarray:
    """A device array of the stand-in (a wrapped NumPy array; see the module docstring)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100.0

    def __init__(self, shape: Any, dtype: Any = float, order: str = "C") -> None:
        self._a = _np.empty(shape, dtype=dtype, order=order)
        _track(self._a)

    @classmethod
    def _from_numpy(cls, a: _np.ndarray) -> ndarray:
        obj = object.__new__(cls)
        obj._a = a
        _track(a)
        return obj

    # ---- host conversion: refused implicitly, counted explicitly
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def get(self, stream: Any = None, order: str = "C", out: Any = None,
            blocking: bool = True) -> _np.ndarray:
        _sync("get")
        res = _np.array(self._a, order=order if order != "A" else "K", copy=True)
        if out is not None:
            out[...] = res
            return out
        return res

    def set(self, arr: Any, stream: Any = None) -> None:
        _COUNTS["h2d"] += 1
        self._a[...] = _np.asarray(arr)

    def item(self, *args: Any) -> Any:
        _sync("item")
        return self._a.item(*args)

    def tolist(self) -> Any:
        _sync("tolist")
        return self._a.tolist()

    def __float__(self) -> float:
        _sync("float")
        return float(self._a)

    def __int__(self) -> int:
        _sync("int")
        return int(self._a)

    def __complex__(self) -> complex:
        _sync("complex")
        return complex(self._a)

    def __bool__(self) -> builtins.bool:
        _sync("bool")
        return builtins.bool(self._a)

    def __index__(self) -> int:
        if self._a.dtype.kind not in "iub" or self._a.ndim != 0:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        _sync("index")
        return int(self._a)

    def __format__(self, spec: str) -> str:
        _sync("format")
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __repr__(self) -> str:
        _sync("format")
        return repr(self._a).replace("array(", "array(", 1)

    def __str__(self) -> str:
        _sync("format")
        return str(self._a)

    def __reduce__(self) -> Any:
        raise TypeError("the stand-in device arrays do not pickle (as cupy, use .get())")

    # ---- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(_np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))
    device = property(lambda self: Device(0))

    @property
    def base(self) -> Any:
        return None if self._a.base is None else _wrap(self._a.base)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(self._a.shape[0]):
            yield _wrap(self._a[i])

    def __hash__(self) -> int:
        raise TypeError("unhashable type: 'cupy.ndarray'")

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._a[_index(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, _np.ndarray) and value.ndim > 0:
            _refuse(value, "__setitem__ (CuPy: non-scalar numpy.ndarray cannot be used for fill)")
        self._a[_index(key)] = value._a if isinstance(value, ndarray) else value

    # ---- NEP 13 and NEP 18
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        where = f"numpy.{ufunc.__name__}"
        args = [_unwrap(x, where) for x in inputs]
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o, where) for o in out)
        for k in ("where",):
            if k in kwargs:
                kwargs[k] = _unwrap(kwargs[k], where)
        res = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(res)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        mod = func.__module__.split(".")[1:]  # numpy.linalg -> linalg
        target: Any = sys.modules[__name__]
        try:
            for part in mod:
                target = getattr(target, part)
            impl = getattr(target, func.__name__)
        except AttributeError:
            return NotImplemented
        if impl is func:  # never hand a NumPy function back to itself
            return NotImplemented
        return impl(*args, **kwargs)

    # ---- methods (CuPy's ndarray methods, on the device)
    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> ndarray:
        return _wrap(self._a.astype(dtype, order=order, copy=copy))

    def copy(self, order: str = "C") -> ndarray:
        return _wrap(self._a.copy(order=order))

    def fill(self, value: Any) -> None:
        if isinstance(value, _np.ndarray) and value.ndim > 0:
            _refuse(value, "fill")
        self._a.fill(value._a if isinstance(value, ndarray) else value)

    def view(self, dtype: Any = None) -> ndarray:
        return _wrap(self._a.view() if dtype is None else self._a.view(dtype))

    def __getattr__(self, name: str) -> Any:
        meth = getattr(_np.ndarray, name, None)
        if meth is None or name.startswith("_") or name in _NO_METHOD:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            where = f"cupy.ndarray.{name}"
            kw = {k: _unwrap(v, where) for k, v in kwargs.items()}
            out = kwargs.get("out")
            res = getattr(self._a, name)(*_unwrap(args, where), **kw)
            return out if isinstance(out, ndarray) else _wrap(res)

        return call

    # arithmetic
    __add__, __radd__ = _binop("add"), _binop("add", True)
    __sub__, __rsub__ = _binop("subtract"), _binop("subtract", True)
    __mul__, __rmul__ = _binop("multiply"), _binop("multiply", True)
    __truediv__, __rtruediv__ = _binop("true_divide"), _binop("true_divide", True)
    __floordiv__, __rfloordiv__ = _binop("floor_divide"), _binop("floor_divide", True)
    __mod__, __rmod__ = _binop("remainder"), _binop("remainder", True)
    __pow__, __rpow__ = _binop("power"), _binop("power", True)
    __matmul__, __rmatmul__ = _binop("matmul"), _binop("matmul", True)
    __and__, __rand__ = _binop("bitwise_and"), _binop("bitwise_and", True)
    __or__, __ror__ = _binop("bitwise_or"), _binop("bitwise_or", True)
    __xor__, __rxor__ = _binop("bitwise_xor"), _binop("bitwise_xor", True)
    __lt__, __le__ = _binop("less"), _binop("less_equal")
    __gt__, __ge__ = _binop("greater"), _binop("greater_equal")
    __eq__, __ne__ = _binop("equal"), _binop("not_equal")
    __iadd__, __isub__, __imul__ = _iop("add"), _iop("subtract"), _iop("multiply")
    __itruediv__, __ipow__ = _iop("true_divide"), _iop("power")
    __iand__, __ior__, __ixor__ = _iop("bitwise_and"), _iop("bitwise_or"), _iop("bitwise_xor")
    __neg__, __pos__, __abs__ = _unop("negative"), _unop("positive"), _unop("absolute")
    __invert__ = _unop("invert")

    def __imatmul__(self, other: Any) -> Any:
        return NotImplemented


_NO_METHOD = {"tofile", "tobytes", "dump", "dumps", "byteswap", "getfield", "setfield",
              "setflags", "resize", "ctypes", "data"}


# ------------------------------------------------------------------------------------------
# Module functions
# ------------------------------------------------------------------------------------------


def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    """Device array from device or host data (host data is copied: one h2d)."""
    if isinstance(a, ndarray):
        return a if dtype is None or _np.dtype(dtype) == a.dtype else a.astype(dtype)
    _COUNTS["h2d"] += 1
    data = _host_data(a)
    data = _unwrap(data, "asarray") if isinstance(data, (list, tuple)) and any(
        isinstance(v, ndarray) for v in data) else data
    return _wrap(_np.array(data, dtype=dtype, order=order or "K", copy=True))


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    if isinstance(obj, ndarray):
        res = _np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return obj if res is obj._a else _wrap(res)
    _COUNTS["h2d"] += 1
    return _wrap(_np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))


asanyarray = asarray


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None,
            blocking: bool = True) -> _np.ndarray:
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return _np.asarray(a, order=order)


def get_array_module(*args: Any) -> types.ModuleType:
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


def _make(fn: Any, name: str) -> Any:
    """A module function: unwrap device arguments (refusing host arrays), call NumPy, wrap."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        where = f"cupy.{name}"
        out = kwargs.get("out")
        kw = {k: _unwrap(v, where) for k, v in kwargs.items()}
        res = fn(*_unwrap(args, where), **kw)
        return out if isinstance(out, ndarray) else _wrap(res)

    return call


class _Ufunc:
    """A NumPy ufunc as CuPy exposes it (call, reduce, accumulate, outer) on device arrays."""

    def __init__(self, uf: Any) -> None:
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.nargs = uf.nin, uf.nout, uf.nargs
        self._call = _make(uf, uf.__name__)  # made once: a call per use is slow

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name not in ("reduce", "accumulate", "outer", "at", "reduceat"):
            raise AttributeError(name)
        return _make(getattr(self._uf, name), f"{self.__name__}.{name}")


# CuPy has these with NumPy's signature but no NumPy-array inputs; anything else NumPy has is
# forwarded the same way by the module __getattr__ below (creation functions included).
_HOST_ONLY = {"errstate", "seterr", "geterr", "vectorize", "frompyfunc", "save", "load",
              "savez", "loadtxt", "savetxt", "genfromtxt", "fromfile", "memmap", "printoptions",
              "set_printoptions", "testing", "ma", "char", "rec", "ctypeslib", "lib", "f2py",
              "polynomial", "matlib", "emath", "dtypes", "exceptions", "typing"}
_PASS = (type, _np.dtype)

for _n in ("float16", "float32", "float64", "complex64", "complex128", "int8", "int16",
           "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool_", "intp",
           "dtype", "finfo", "iinfo", "newaxis", "pi", "e", "inf", "nan", "integer",
           "floating", "number", "generic", "issubdtype", "result_type", "can_cast",
           "promote_types", "isscalar"):
    globals()[_n] = getattr(_np, _n)


def ndim(a: Any) -> int:
    return a.ndim if isinstance(a, ndarray) else _np.ndim(a)


def shape(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, ndarray) else _np.shape(a)


def size(a: Any, axis: int | None = None) -> int:
    if isinstance(a, ndarray):
        return a.size if axis is None else a.shape[axis]
    return _np.size(a, axis)


bool = _np.bool_  # noqa: A001 (cupy.bool is numpy.bool)


def __getattr__(name: str) -> Any:
    if name.startswith("__") or name in _HOST_ONLY:
        raise AttributeError(f"module 'cupy' has no attribute {name!r}")
    obj = getattr(_np, name, None)
    if obj is None:
        raise AttributeError(f"module 'cupy' has no attribute {name!r}")
    if isinstance(obj, _np.ufunc):
        val: Any = _Ufunc(obj)
    elif callable(obj) and not isinstance(obj, _PASS):
        val = _make(obj, name)
    else:
        val = obj
    globals()[name] = val
    return val


def _namespace(name: str, source: Any, extra: dict[str, Any] | None = None) -> types.ModuleType:
    mod = types.ModuleType(f"cupy.{name}")

    def getattr_(attr: str) -> Any:
        obj = getattr(source, attr, None)
        if obj is None or attr.startswith("__"):
            raise AttributeError(f"module 'cupy.{name}' has no attribute {attr!r}")
        val = _make(obj, f"{name}.{attr}") if callable(obj) and not isinstance(obj, type) \
            else obj
        setattr(mod, attr, val)
        return val

    mod.__getattr__ = getattr_  # type: ignore[method-assign]
    for k, v in (extra or {}).items():
        setattr(mod, k, v)
    sys.modules[mod.__name__] = mod
    return mod


linalg = _namespace("linalg", _np.linalg)
fft = _namespace("fft", _np.fft)


# ------------------------------------------------------------------------------------------
# random: a Generator on the device (a different bit generator from NumPy's default)
# ------------------------------------------------------------------------------------------


class Generator:
    """``cupy.random.Generator``: the methods CuPy's has, returning device arrays."""

    def __init__(self, seed: Any = None) -> None:
        self._g = _np.random.Generator(_np.random.Philox(seed))

    def standard_normal(self, size: Any = None, dtype: Any = _np.float64, out: Any = None) -> Any:
        return _wrap(_np.asarray(self._g.standard_normal(size, dtype=dtype)))

    def random(self, size: Any = None, dtype: Any = _np.float64, out: Any = None) -> Any:
        return _wrap(_np.asarray(self._g.random(size, dtype=dtype)))

    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = _np.int64,
                 endpoint: builtins.bool = False) -> Any:
        return _wrap(_np.asarray(self._g.integers(low, high, size, dtype=dtype,
                                                  endpoint=endpoint)))

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None,
                dtype: Any = _np.float64) -> Any:
        return _wrap(_np.asarray(self._g.uniform(low, high, size)).astype(dtype))

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> Any:
        return _wrap(_np.asarray(self._g.normal(loc, scale, size)))

    def standard_exponential(self, size: Any = None, dtype: Any = _np.float64,
                             method: str = "inv", out: Any = None) -> Any:
        return _wrap(_np.asarray(self._g.standard_exponential(size, dtype=dtype)))


def _default_rng(seed: Any = None) -> Generator:
    return Generator(seed)


random = _namespace("random", types.SimpleNamespace(), {
    "default_rng": _default_rng, "Generator": Generator})


# ------------------------------------------------------------------------------------------
# cuda: runtime, Device, streams
# ------------------------------------------------------------------------------------------


class Device:
    """``cupy.cuda.Device``: one stand-in device (id 0)."""

    def __init__(self, device: int | None = None) -> None:
        self.id = int(device or 0)
        if self.id != 0:
            raise _CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    @property
    def mem_info(self) -> tuple[int, int]:
        """(free, total) bytes of the device: what the pool holds is not free."""
        return _DEVICE_BYTES - _POOL.total_bytes(), _DEVICE_BYTES

    @property
    def compute_capability(self) -> str:
        return "90"

    def synchronize(self) -> None:
        _sync("synchronize")

    def use(self) -> None:
        pass

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class _CUDARuntimeError(RuntimeError):
    pass


class Stream:
    def __init__(self, null: builtins.bool = False, non_blocking: builtins.bool = False) -> None:
        pass

    def synchronize(self) -> None:
        _sync("synchronize")

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


Stream.null = Stream(null=True)  # type: ignore[attr-defined]


class Event:
    def __init__(self, block: builtins.bool = False, disable_timing: builtins.bool = False,
                 interprocess: builtins.bool = False) -> None:
        self._t = 0.0

    def record(self, stream: Any = None) -> None:
        import time  # noqa: PLC0415

        self._t = time.perf_counter()

    def synchronize(self) -> None:
        _sync("synchronize")


def _get_elapsed_time(start: Event, end: Event) -> float:
    return 1000.0 * (end._t - start._t)


runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1,
    getDevice=lambda: 0,
    getDeviceProperties=lambda i: {"name": b"CPU stand-in for CuPy (tests/fakecupy)",
                                   "totalGlobalMem": _DEVICE_BYTES, "major": 9, "minor": 0,
                                   "multiProcessorCount": os.cpu_count() or 1},
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
    deviceSynchronize=lambda: _sync("synchronize"),
    CUDARuntimeError=_CUDARuntimeError,
)

cuda = _namespace("cuda", types.SimpleNamespace(), {
    "runtime": runtime, "Device": Device, "Stream": Stream, "Event": Event,
    "MemoryPool": MemoryPool, "PinnedMemoryPool": PinnedMemoryPool,
    "get_elapsed_time": _get_elapsed_time, "is_available": lambda: True,
    "OutOfMemoryError": OutOfMemoryError,
})
sys.modules["cupy.cuda.runtime"] = runtime  # type: ignore[assignment]


def is_available() -> builtins.bool:
    return True
