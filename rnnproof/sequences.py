"""Input sequences: the embedding of Definition 3.1, the null sequence x^(0) of Section 5.2,
validation (Definitions 3.1 and 3.2) and the padding of footnote 3.

Shapes (batch first; position axis of length L+1, index l holds the paper's position l):

* true inputs ``x_star``: (n, L-2, d_x), the tokens x*_2 .. x*_{L-1};
* actual inputs ``x``: (n, L+1, d_x+1), ``x[:, 0] = 0`` and ``x[:, l]`` = x_l for 1 <= l <= L.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend

UNIT_TOL = 1e-6


def _as_float_array(a: Any, what: str) -> np.ndarray:
    arr = backend.to_numpy(a)
    if not np.issubdtype(np.asarray(arr).dtype, np.number):
        raise ValueError(f"{what} must be numeric, got dtype {np.asarray(arr).dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains non-finite values (NaN or inf)")
    return arr


def _where_it_is(a: Any, what: str) -> tuple[Any, Any]:
    """``(array, module)``: host data as a NumPy array (checked on the host, no device sync),
    a device array on the active backend (checked there); after checking that it is numeric."""
    dt = getattr(a, "dtype", None)
    dt = np.asarray(a).dtype if dt is None else np.dtype(dt)
    if dt.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {dt}")
    if isinstance(a, np.ndarray) or not hasattr(a, "get"):
        return np.asarray(a), np
    a = backend.to_backend(a)
    return a, (np if isinstance(a, np.ndarray) else backend.xp())


def check_eps_x(eps_x: float) -> float:
    """Validate eps_x in (0, 1) (Definition 3.1)."""
    if not np.isscalar(eps_x) or not np.isfinite(eps_x) or not 0.0 < float(eps_x) < 1.0:
        raise ValueError(f"eps_x must lie in (0, 1) (Definition 3.1), got {eps_x!r}")
    return float(eps_x)


def validate_true_input(x_star: Any) -> np.ndarray:
    """Check a true input sequence (Section 3): shape (n, L-2, d_x) with L >= 3, d_x >= 2,
    finite, every token of unit norm with last coordinate 1/2. Returns a float64 NumPy copy."""
    x = _as_float_array(x_star, "x_star")
    if x.ndim != 3:
        raise ValueError(f"x_star must have shape (n, L-2, d_x), got shape {x.shape}")
    n, t, d_x = x.shape
    if n < 1 or t < 1:
        raise ValueError(f"x_star needs n >= 1 sequences of L-2 >= 1 tokens, got shape {x.shape}")
    if d_x < 2:
        raise ValueError(f"d_x must be >= 2 (a coordinate for the bias 1/2 and one more), "
                         f"got d_x = {d_x}")
    norms = np.linalg.norm(x, axis=-1)
    bad = np.abs(norms - 1.0) > UNIT_TOL
    if bad.any():
        k = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"every true token must have unit norm ||x*_l|| = 1 (Section 3); "
                         f"token {k} has norm {norms[k]:.6g} (use pad_to_unit, footnote 3)")
    last = np.abs(x[..., -1] - 0.5) > UNIT_TOL
    if last.any():
        k = tuple(int(i) for i in np.argwhere(last)[0])
        raise ValueError(f"every true token must have last coordinate [x*_l]_dx = 1/2 "
                         f"(Section 3); token {k} has {x[k][-1]:.6g} (use pad_to_unit)")
    return x


def embed(x_star: Any, eps_x: float, dtype: Any = np.float64) -> Any:
    """The actual input x of Definition 3.1 built from the true input x*.

    x_1 = (0^{d_x}, 1), x_l = (eps_x x*_l, 0) for 2 <= l <= L-1, x_L = (0^{d_x}, eps_x).
    Returns an array (n, L+1, d_x+1) on the active backend, in float64 unless ``dtype`` says
    otherwise (every entry point casts its input to the weights' dtype, so float64 loses
    nothing); index 0 is zero padding. x* is validated and laid out where the backend keeps
    its arrays (a host x* is copied to the device once).
    """
    eps_x = check_eps_x(eps_x)
    xs, xm = _where_it_is(x_star, "x_star")
    _check_true_tokens(xs, xm)
    return _embed_unchecked(backend.to_backend(xs), eps_x, dtype)


def _check_true_tokens(x: Any, xp: Any) -> None:
    """The conditions of :func:`validate_true_input` evaluated by the array module ``xp`` of x
    (on the device for a device array), read through one small summary (the offending token is
    looked up only on failure)."""
    if x.ndim != 3:
        raise ValueError(f"x_star must have shape (n, L-2, d_x), got shape {tuple(x.shape)}")
    n, t, d_x = x.shape
    if n < 1 or t < 1:
        raise ValueError(f"x_star needs n >= 1 sequences of L-2 >= 1 tokens, got shape "
                         f"{tuple(x.shape)}")
    if d_x < 2:
        raise ValueError(f"d_x must be >= 2 (a coordinate for the bias 1/2 and one more), "
                         f"got d_x = {d_x}")
    xf = x.astype(np.float64)
    bad_norm = xp.abs(xp.sqrt((xf * xf).sum(-1)) - 1.0) > UNIT_TOL
    bad_last = xp.abs(xf[..., -1] - 0.5) > UNIT_TOL
    ok = backend.to_numpy(xp.stack([xp.all(xp.isfinite(xf)), xp.any(bad_norm),
                                    xp.any(bad_last)]))  # the one host read
    if ok[0] and not ok[1] and not ok[2]:
        return
    validate_true_input(x)  # the failure path: the host version names the bad token
    raise AssertionError("unreachable: the device and host validations disagree")


def _embed_unchecked(xs: Any, eps_x: float, dtype: Any = np.float64) -> Any:
    """The layout of Definition 3.1 without validation (for negative controls), on the
    backend of ``xs`` (NumPy for a NumPy array)."""
    xp = np if isinstance(xs, np.ndarray) else backend.xp()
    n, t, d_x = xs.shape
    L = t + 2
    x = xp.zeros((n, L + 1, d_x + 1), dtype=dtype)
    x[:, 1, d_x] = 1.0
    x[:, 2:L, :d_x] = eps_x * xs
    x[:, L, d_x] = eps_x
    return x


def null_sequence(L: int, d_x: int, eps_x: float, dtype: Any = np.float64) -> Any:
    """The null sequence x^(0) of Section 5.2, shape (1, L+1, d_x+1), on the active backend
    (float64 unless ``dtype`` says otherwise).

    x^(0)_1 = (0^{d_x}, 1) and x^(0)_l = (0^{d_x}, eps_x) for 2 <= l <= L.
    """
    eps_x = check_eps_x(eps_x)
    if int(L) != L or L < 3:
        raise ValueError(f"L must be an integer >= 3 (positions 3..L carry labels), got {L!r}")
    if int(d_x) != d_x or d_x < 2:
        raise ValueError(f"d_x must be an integer >= 2, got {d_x!r}")
    x = np.zeros((1, int(L) + 1, int(d_x) + 1))
    x[0, 1, d_x] = 1.0
    x[0, 2:, d_x] = eps_x
    return backend.to_backend(x, dtype)


def check_actual_input(x: Any, d_x: int | None = None, dtype: Any = None) -> Any:
    """Validate an actual input (n, L+1, d_x+1): finite, L >= 3, ``x[:, 0] = 0``,
    ``||x_1|| = 1`` and all ``||x_l||`` equal for 2 <= l <= L (Definition 3.2, normalized;
    the common value is eps_x). Returns the array on the active backend in ``dtype`` (default:
    the backend's default dtype).

    The conditions are evaluated where the array is (host data on the host before it is moved,
    a device array on the device) and only a summary of eight numbers is read from there; x
    itself is never copied back."""
    xd, xp = _where_it_is(x, "x")
    if xd.ndim != 3:
        raise ValueError(f"x must have shape (n, L+1, d_x+1), got shape {tuple(xd.shape)}")
    n, Lp1, dp1 = xd.shape
    if Lp1 < 4:
        raise ValueError(f"x must have L+1 >= 4 positions (L >= 3), got {Lp1}")
    if d_x is not None and dp1 != d_x + 1:
        raise ValueError(f"x has last axis {dp1} but the weights expect d_x+1 = {d_x + 1}")
    xf = xd.astype(np.float64)
    norms = xp.sqrt((xf[:, 1:] * xf[:, 1:]).sum(-1))  # (n, L)
    first, rest = norms[:, 0], norms[:, 1:]
    eps = rest[:, :1]
    s = backend.to_numpy(xp.stack([v.astype(np.float64) for v in (  # the one host read
        xp.all(xp.isfinite(xf)), xp.all(xf[:, 0] == 0),
        xp.any(xp.abs(first - 1.0) > UNIT_TOL), first.min(), first.max(),
        xp.any(xp.abs(rest - eps) > UNIT_TOL * xp.maximum(1.0, eps)) | xp.any(eps <= 0),
        rest.min(), rest.max())]))
    if not s[0]:
        raise ValueError("x contains non-finite values (NaN or inf)")
    if not s[1]:
        raise ValueError("x[:, 0] must be zero: index 0 is padding for the paper's h_0 = 0")
    if s[2]:
        raise ValueError("x is not normalized (Definition 3.2): ||x_1|| must be 1, got "
                         f"{s[3]:.6g}..{s[4]:.6g}")
    if s[5]:
        raise ValueError("x is not normalized (Definition 3.2): ||x_l|| must equal the same "
                         f"eps_x > 0 for all 2 <= l <= L, got norms in "
                         f"[{s[6]:.6g}, {s[7]:.6g}]")
    return backend.to_backend(xd, dtype or backend.default_dtype())


def pad_to_unit(v: Any, literal: bool = False) -> np.ndarray:
    """Footnote 3: turn raw tokens v with ||v|| <= 1, shape (..., k), into admissible true
    tokens x* of dimension d_x = k + 2 (unit norm, last coordinate 1/2).

    ``literal=True`` applies the footnote as printed: append sqrt(1 - ||v||^2) and then 1/2.
    That gives ||x*||^2 = 1 + 1/4, not 1 (see the Findings page). The default corrects it:
    x* = (c v, c sqrt(1 - ||v||^2), 1/2) with c = sqrt(3)/2, so ||x*|| = 1 exactly and the
    direction of v is kept (only its scale changes, by the constant c).
    """
    a = _as_float_array(v, "v")
    if a.ndim < 1 or a.shape[-1] < 1:
        raise ValueError(f"v must have a last axis of length >= 1, got shape {a.shape}")
    sq = np.sum(a * a, axis=-1, keepdims=True)
    if np.any(sq > 1.0 + UNIT_TOL):
        raise ValueError("footnote 3 needs ||v|| <= 1 for every token, got a norm of "
                         f"{np.sqrt(sq.max()):.6g}")
    fill = np.sqrt(np.clip(1.0 - sq, 0.0, None))
    c = 1.0 if literal else np.sqrt(3.0) / 2.0
    half = np.full_like(fill, 0.5)
    return np.concatenate([c * a, c * fill, half], axis=-1)
