"""The Elman ReLU RNN of Definition 3.3 and the analysis objects of Definition 4.1 and
equation (5.1).

Conventions (SPEC section 3): batch first; per-position arrays have a position axis of
length L+1 and index l holds the paper's position l (index 0 is h_0 = 0, and g, D, y are zero
there). Internally the recurrence runs position-first so that every step is one contiguous
matrix product; public functions return batch-first views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import backend
from .sequences import check_actual_input

Array = Any  # numpy.ndarray or cupy.ndarray


@dataclass(frozen=True)
class Weights:
    """W (m, m), A (m, d_x+1), B (d, m) of Definition 3.3."""

    W: Array
    A: Array
    B: Array

    def __post_init__(self) -> None:
        # on the active backend, all three in W's dtype (the default dtype if W is not float)
        W = backend.to_backend(self.W)
        dtype = W.dtype if W.dtype.kind == "f" else backend.default_dtype()
        for nm in ("W", "A", "B"):
            object.__setattr__(self, nm, backend.to_backend(getattr(self, nm), dtype))
        m = self.W.shape[0] if self.W.ndim == 2 else -1
        if self.W.ndim != 2 or self.W.shape[1] != m:
            raise ValueError(f"W must be a square (m, m) matrix, got shape {tuple(self.W.shape)}")
        if self.A.ndim != 2 or self.A.shape[0] != m or self.A.shape[1] < 3:
            raise ValueError(f"A must have shape (m, d_x+1) = ({m}, d_x+1) with d_x >= 2, got "
                             f"{tuple(self.A.shape)}")
        if self.B.ndim != 2 or self.B.shape[1] != m:
            raise ValueError(f"B must have shape (d, m) = (d, {m}), got {tuple(self.B.shape)}")

    @property
    def m(self) -> int:
        return int(self.W.shape[0])

    @property
    def d_x(self) -> int:
        return int(self.A.shape[1]) - 1

    @property
    def d(self) -> int:
        return int(self.B.shape[0])


@dataclass(frozen=True)
class LowRank:
    """A matrix kept as factors, U @ V.T with U, V of shape (m, r) (SPEC section 4: W* of
    Definition 5.3 is never formed as a dense m x m array)."""

    U: Array
    V: Array

    def __post_init__(self) -> None:
        # both factors on the active backend, in U's dtype (the default dtype if not float)
        U = backend.to_backend(self.U)
        dtype = U.dtype if U.dtype.kind == "f" else backend.default_dtype()
        object.__setattr__(self, "U", backend.to_backend(U, dtype))
        object.__setattr__(self, "V", backend.to_backend(self.V, dtype))
        if self.U.ndim != 2 or self.U.shape != self.V.shape:
            raise ValueError(f"LowRank needs U and V of the same shape (m, r), got "
                             f"{tuple(self.U.shape)} and {tuple(self.V.shape)}")

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.U.shape[0]), int(self.V.shape[0]))

    @property
    def dtype(self) -> np.dtype:
        return self.U.dtype

    def astype(self, dtype: Any) -> LowRank:
        """The same factors in ``dtype`` (the same object if they already are)."""
        dtype = np.dtype(dtype)
        return self if dtype == self.U.dtype else LowRank(self.U.astype(dtype),
                                                          self.V.astype(dtype))

    def apply_rows(self, H: Array) -> Array:
        """Rows of H times the transpose, H @ (U V^T)^T = (H V) U^T: row-wise W* h."""
        lr = self.astype(H.dtype)
        return (H @ lr.V) @ lr.U.T

    def frobenius_norm(self) -> float:
        """||U V^T||_F from the r x r Gram matrices, without forming U V^T (one host read)."""
        xp = backend.xp()
        g = (self.U.T @ self.U) * (self.V.T @ self.V)
        return float(xp.sqrt(xp.maximum(g.sum(), 0.0)))

    def dense(self) -> Array:
        """The dense m x m matrix (for tests at small m; guarded against large m)."""
        m = self.shape[0]
        backend.guard_memory(m * m * self.U.dtype.itemsize, f"a dense {m}x{m} W*")
        return self.U @ self.V.T


def init_weights(m: int, d_x: int, d: int, seed: int, dtype: Any = None) -> Weights:
    """Random initialization of Definition 3.3.

    Entries of W (m x m) and A (m x (d_x+1)) are i.i.d. N(0, 2/m) and those of B (d x m) are
    i.i.d. N(0, 1/d); the paper's N(mu, sigma) names the variance.
    """
    for nm, v, lo in (("m", m, 1), ("d_x", d_x, 2), ("d", d, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{nm} must be an integer >= {lo}, got {v!r}")
    dtype = np.dtype(dtype or backend.default_dtype())
    backend.guard_memory(m * m * dtype.itemsize, f"the recurrent weight W ({m}x{m})")
    g = backend.rng(seed)
    W = g.standard_normal((m, m), dtype=dtype) * dtype.type(np.sqrt(2.0 / m))
    A = g.standard_normal((m, d_x + 1), dtype=dtype) * dtype.type(np.sqrt(2.0 / m))
    B = g.standard_normal((d, m), dtype=dtype) * dtype.type(np.sqrt(1.0 / d))
    return Weights(W=W, A=A, B=B)


@dataclass(frozen=True)
class Trace:
    """Forward quantities of Definitions 3.3 and 4.1, each (n, L+1, m), batch first:
    h_l, g_l = W h_{l-1} + A x_l, and D_l = 1{g_l >= 0} (the diagonal of D_l, as booleans)."""

    h: Array
    g: Array
    D: Array


def _effective_W(weights: Weights, shift: Array | None) -> Array:
    if shift is None:
        return weights.W
    if tuple(shift.shape) != (weights.m, weights.m):
        raise ValueError(f"shift W' must have shape (m, m) = {(weights.m, weights.m)}, "
                         f"got {tuple(shift.shape)}")
    backend.guard_memory(weights.m ** 2 * weights.W.dtype.itemsize, "W + W'")
    return weights.W + backend.to_backend(shift, weights.W.dtype)


def _prepare(weights: Weights, x: Array) -> Array:
    """Validate x (on the backend, one small host summary) and return it position-first,
    (L+1, n, d_x+1), contiguous, on the backend in the weights' dtype."""
    x = check_actual_input(x, weights.d_x, dtype=weights.W.dtype)
    return backend.xp().ascontiguousarray(x.transpose(1, 0, 2))


#: the inner dimension of the augmented product is padded to a multiple of this (aligned rows)
_PAD = 16


def _forward_pf(W: Array, A: Array, x_pf: Array, keep_g: bool) -> tuple[Array, Array | None]:
    """The recurrence, position-first: returns H (L+1, n, m) and optionally G (L+1, n, m).

    A large batch on NumPy without G takes :func:`_forward_augmented` (one product per position,
    the input projection inside it); otherwise each position is W h_{l-1} into g_l, A x_l into a
    reused buffer, their sum and the ReLU."""
    xp = backend.xp()
    Lp1, n, _ = x_pf.shape
    m = W.shape[0]
    if not keep_g and backend.name() == "numpy" and n >= 32 and m >= 256:
        return _forward_augmented(W, A, x_pf), None
    H = xp.empty((Lp1, n, m), dtype=W.dtype)
    H[0] = 0
    G = xp.empty((Lp1, n, m), dtype=W.dtype) if keep_g else None
    WT, AT = W.T, A.T
    ax = xp.empty((n, m), dtype=W.dtype)  # A x_l, one position at a time (no (L+1, n, m) copy)
    for l in range(1, Lp1):
        g = G[l] if keep_g else H[l]
        if l == 1:
            xp.matmul(x_pf[1], AT, out=g)  # h_0 = 0
        else:
            xp.matmul(H[l - 1], WT, out=g)
            xp.matmul(x_pf[l], AT, out=ax)
            g += ax
        xp.maximum(g, 0, out=H[l])
    if keep_g:
        G[0] = 0
    return H, G


def _forward_augmented(W: Array, A: Array, x_pf: Array) -> Array:
    """h_l = sigma([h_{l-1}, x_l] [W, A]^T) for all positions (NumPy, a large batch).

    Row block l-1 of a padded buffer holds h_{l-1} followed by x_l, so each position is one
    matrix product written straight into h_l, then the ReLU in place: the only pass over memory
    beyond the product (the input projection costs a few extra columns of the inner dimension,
    padded to a multiple of :data:`_PAD`). Returns H (L+1, n, m), a view of the padded rows."""
    Lp1, n, k = x_pf.shape
    m = W.shape[0]
    kp = -(-k // _PAD) * _PAD
    backend.guard_memory(m * (m + kp) * W.dtype.itemsize, "[W A] for the forward pass")
    Hb = np.empty((Lp1, n, m + kp), dtype=W.dtype)
    Hb[0, :, :m] = 0
    Hb[:-1, :, m:m + k] = x_pf[1:]  # block l-1 carries x_l
    Hb[:, :, m + k:] = 0
    Hb[-1, :, m:] = 0
    WA = np.empty((m, m + kp), dtype=W.dtype)
    WA[:, :m] = W
    WA[:, m:m + k] = A
    WA[:, m + k:] = 0
    WAT = WA.T
    H = Hb[:, :, :m]
    np.matmul(x_pf[1], A.T, out=H[1])  # h_0 = 0
    np.maximum(H[1], 0, out=H[1])
    for l in range(2, Lp1):
        np.matmul(Hb[l - 1], WAT, out=H[l])
        np.maximum(H[l], 0, out=H[l])
    return H


def forward_trace(weights: Weights, x: Array, shift: Array | None = None) -> Trace:
    """h, g and D of Definitions 3.3 and 4.1 for actual inputs x (n, L+1, d_x+1), at W + W'.

    g_l = (W + W') h_{l-1} + A x_l, h_l = sigma(g_l), D_l = diag(1{g_l >= 0}).
    """
    x_pf = _prepare(weights, x)
    H, G = _forward_pf(_effective_W(weights, shift), weights.A, x_pf, keep_g=True)
    D = G >= 0
    D[0] = False
    return Trace(h=H.transpose(1, 0, 2), g=G.transpose(1, 0, 2), D=D.transpose(1, 0, 2))


def hidden_states(weights: Weights, x: Array, shift: Array | None = None) -> Array:
    """h_l of Definition 3.3 for actual inputs x: array (n, L+1, m) with h[:, 0] = h_0 = 0."""
    x_pf = _prepare(weights, x)
    H, _ = _forward_pf(_effective_W(weights, shift), weights.A, x_pf, keep_g=False)
    return H.transpose(1, 0, 2)


def outputs(weights: Weights, x: Array, shift: Array | None = None) -> Array:
    """y_l = B h_l = F_l(x; W + W') of Definition 3.3: array (n, L+1, d), y[:, 0] = 0."""
    return hidden_states(weights, x, shift) @ weights.B.T


def back_operators(weights: Weights, x: Array, shift: Array | None = None) -> Array:
    """All Back_{i->j} = B D_j W ... D_{i+1} W of Definition 4.1 (Back_{j->j} = B).

    Returns an array (n, L+1, L+1, d, m) with ``back[:, i, j]`` = Back_{i->j} for
    1 <= i <= j <= L and zeros elsewhere. One backward sweep carries every j at once:
    Back_{i->j} = Back_{i+1->j} D_{i+1} W for all j > i is a single stacked matrix product.
    """
    xp = backend.xp()
    x_pf = _prepare(weights, x)
    W = _effective_W(weights, shift)
    Lp1, n, _ = x_pf.shape
    L, m, d = Lp1 - 1, weights.m, weights.d
    itemsize = W.dtype.itemsize
    backend.guard_memory((Lp1 ** 2 + L) * n * d * m * itemsize,
                         f"all Back_(i->j) (n={n}, L={L}, d={d}, m={m})")
    _H, G = _forward_pf(W, weights.A, x_pf, keep_g=True)
    D = (G >= 0).astype(W.dtype)  # (L+1, n, m)
    out = xp.zeros((Lp1, Lp1, n, d, m), dtype=W.dtype)  # [i, j, n, d, m]
    out[L, L] = weights.B
    tmp = xp.empty((L, n, d, m), dtype=W.dtype)
    for i in range(L - 1, 0, -1):
        k = L - i  # j = i+1 .. L
        src = out[i + 1, i + 1:]  # Back_{i+1 -> j}, contiguous (k, n, d, m)
        t = tmp[:k]
        xp.multiply(src, D[i + 1][None, :, None, :], out=t)
        xp.matmul(t.reshape(k * n * d, m), W, out=out[i, i + 1:].reshape(k * n * d, m))
        out[i, i] = weights.B
    return out.transpose(2, 0, 1, 3, 4)


def linear_response(weights: Weights, x: Array, W_star: Array | LowRank,
                    shift: Array | None = None) -> Array:
    """The linear function f of equation (5.1), for every position j':

        f_{j'} = sum_{i'=2}^{j'} Back_{i'->j'} D_{i'} W* h_{i'-1},   array (n, L+1, d).

    Computed without forming Back, by the tangent recurrence dh_l = D_l (W dh_{l-1} +
    W* h_{l-1}), f_l = B dh_l (the i' = 1 term vanishes because h_0 = 0). ``W_star`` is a
    dense (m, m) array or a :class:`LowRank` (U, V) with W* = U V^T.
    """
    xp = backend.xp()
    m = weights.m
    if isinstance(W_star, LowRank):
        if W_star.shape != (m, m):
            raise ValueError(f"W* factors describe a {W_star.shape} matrix, expected {(m, m)}")
        apply = W_star.astype(weights.W.dtype).apply_rows
    else:
        Ws = backend.to_backend(W_star, weights.W.dtype)
        if Ws.shape != (m, m):
            raise ValueError(f"W* must have shape (m, m) = {(m, m)}, got {tuple(Ws.shape)}")

        def apply(H: Array) -> Array:
            return H @ Ws.T

    x_pf = _prepare(weights, x)
    W = _effective_W(weights, shift)
    H, G = _forward_pf(W, weights.A, x_pf, keep_g=True)
    Lp1, n, _ = x_pf.shape
    D = G >= 0
    dH = xp.zeros((Lp1, n, m), dtype=W.dtype)
    dH[2:] = apply(H[1:Lp1 - 1].reshape(-1, m)).reshape(Lp1 - 2, n, m)  # W* h_{l-1}, l=2..L
    buf = xp.empty((n, m), dtype=W.dtype)
    for l in range(2, Lp1):
        if l > 2:  # dh_1 = 0
            xp.matmul(dH[l - 1], W.T, out=buf)
            dH[l] += buf
        dH[l] *= D[l]
    return (dH @ weights.B.T).transpose(1, 0, 2)


def _loss(loss: str, u: Array, v: Array) -> tuple[Array, Array]:
    """G(u, v) summed over the d output coordinates, and dG/du (both elementwise in n)."""
    xp = backend.xp()
    if loss == "l2":
        r = u - v
        return 0.5 * (r * r).sum(axis=-1), r
    if loss == "logistic":
        z = -v * u
        return xp.logaddexp(0, z).sum(axis=-1), -v / (1 + xp.exp(-z))
    raise ValueError(f"loss must be 'l2' or 'logistic', got {loss!r}")


def check_labels(y_star: Array, n: int, L: int, d: int, loss: str,
                 dtype: Any = np.float64) -> Array:
    """Validate labels y* of shape (n, L-2, d) (positions 3..L); for the logistic loss the
    entries must be -1 or +1. Returns them position-first (L-2, n, d) on the backend, in
    ``dtype``. The checks run where the labels are (host labels on the host before they are
    moved; device labels on the device, with one small summary read)."""
    host = isinstance(y_star, np.ndarray) or not hasattr(y_star, "get")
    y = np.asarray(y_star) if host else backend.to_backend(y_star)
    ym = np if isinstance(y, np.ndarray) else backend.xp()  # checked where it is
    if y.ndim != 3 or tuple(y.shape) != (n, L - 2, d):
        raise ValueError(f"y_star must have shape (n, L-2, d) = {(n, L - 2, d)} "
                         f"(labels for positions 3..L), got {tuple(y.shape)}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y_star must be numeric, got dtype {y.dtype}")
    y = y.astype(np.float64)
    tests = [ym.all(ym.isfinite(y))]
    if loss == "logistic":
        tests.append(ym.all((y == 1.0) | (y == -1.0)))
    ok = backend.to_numpy(ym.stack(tests))  # one small read (none for host labels)
    if not ok[0]:
        raise ValueError("y_star contains non-finite values")
    if loss == "logistic" and not ok[1]:
        raise ValueError("the logistic loss needs labels in {-1, +1}")
    return backend.xp().ascontiguousarray(backend.to_backend(y.transpose(1, 0, 2), dtype))


def objective_and_grad(weights: Weights, x: Array, y_star: Array, lam: float,
                       shift: Array | None = None,
                       loss: Literal["l2", "logistic"] = "l2") -> tuple[float, Array]:
    """The objective of Section 4 and its gradient with respect to the shift W'.

    Obj(W') = mean over the batch of sum_{j=3}^{L} G(lam F_j(x; W + W'), y*_j), with
    G_l2(u, v) = ||u - v||^2 / 2 or G_logistic(u, v) = sum_s log(1 + exp(-v_s u_s)).
    The gradient is hand-written backpropagation through time; it returns (Obj, dObj/dW').
    """
    xp = backend.xp()
    if not np.isscalar(lam) or not np.isfinite(lam) or not 0 < float(lam) <= 1:
        raise ValueError(f"the output scale lambda must lie in (0, 1] (Section 4), got {lam!r}")
    x_pf = _prepare(weights, x)
    Lp1, n, _ = x_pf.shape
    L = Lp1 - 1
    v = check_labels(y_star, n, L, weights.d, loss, weights.W.dtype)
    W = _effective_W(weights, shift)
    H, G = _forward_pf(W, weights.A, x_pf, keep_g=True)
    D = G >= 0
    u = lam * (H[3:] @ weights.B.T)  # (L-2, n, d)
    val, dval = _loss(loss, u, v)
    obj = float(val.sum() / n)
    dY = (lam / n) * dval  # dObj/dy_j, j = 3..L
    dG = xp.zeros((L, n, weights.m), dtype=W.dtype)  # dObj/dg_l for l = 1..L
    delta = xp.zeros((n, weights.m), dtype=W.dtype)
    for l in range(L, 0, -1):
        if l >= 3:
            delta += dY[l - 3] @ weights.B
        dG[l - 1] = delta * D[l]
        delta = dG[l - 1] @ W
    # dObj/dW' = sum_l dG_l^T h_{l-1}: one stacked product (h_0 = 0 adds nothing)
    grad = dG[1:].reshape(-1, weights.m).T @ H[1:L].reshape(-1, weights.m)
    return obj, grad


def rollout_from(weights: Weights, x: Array, i: int, h_i: Array) -> Array:
    """Outputs y_j for j = i..L when the hidden state at position i is replaced by ``h_i``
    (n, m) and the later inputs x_{i+1..L} are kept: array (n, L+1, d), zero before i.

    This is the map whose Jacobian in h_i is Back_{i->j} (Definition 4.1)."""
    xp = backend.xp()
    x_pf = _prepare(weights, x)
    L = x_pf.shape[0] - 1
    if not 1 <= i <= L:
        raise ValueError(f"position i must satisfy 1 <= i <= L = {L}, got {i}")
    n = x_pf.shape[1]
    y = xp.zeros((L + 1, n, weights.d), dtype=weights.W.dtype)
    h = backend.to_backend(h_i, weights.W.dtype)
    y[i] = h @ weights.B.T
    for l in range(i + 1, L + 1):
        h = xp.maximum(h @ weights.W.T + x_pf[l] @ weights.A.T, 0)
        y[l] = h @ weights.B.T
    return y.transpose(1, 0, 2)
