"""Theorem 1 (Section 4): the training objective with output scale lambda, vanilla SGD on the
shift W', the risk it reaches, and the rules by which we choose lambda and eta.

The paper's algorithm (SGD): W is the random initialization (Definition 3.3), W' the shift;
starting from W'_0 = 0, each iteration t = 1..T draws one sample (x*, y*) from the training set
and updates

    W'_t = W'_{t-1} - eta * grad_{W'} Obj(x*, y*; W'_{t-1}),
    Obj(x*, y*; W') = sum_{j=3}^{L} G(lambda F_j(x*; W + W'), y*_j),

with A and B frozen. :func:`sgd` runs exactly this update (``batch=1``) and, clearly
labelled, a minibatch variant (``batch>1``: the gradient of the minibatch mean).

Speed: a single-sample step is bound by moving W through memory, not by arithmetic. The loop
keeps W + W' as one array (Fortran order on NumPy, so that the rank-(L-1) update is one
in-place BLAS ``gemm``), validates the inputs once up front and calls the private forward
fast path's building blocks directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import backend
from .backend import blas_threads as _blas_threads
from .backend import single_threaded  # noqa: F401 (re-exported for the checks)
from .rnn import Weights, _forward_pf, _loss, _prepare, back_operators, check_labels, forward_trace

Array = Any

__all__ = ["SGDResult", "sgd", "risk", "outputs_scaled", "step_size", "output_scale",
           "gradient_trace", "Hyper", "choose_hyperparameters", "readout_baseline"]


@dataclass
class SGDResult:
    """What :func:`sgd` returns.

    Attributes
    ----------
    shift : the final shift W'_T, an (m, m) array on the weights' backend; evaluate the trained
        network with ``outputs(weights, x, shift=result.shift)``.
    objective : (T,) NumPy array; entry t-1 is Obj(x*, y*; W'_{t-1}) of the sample (or the mean
        over the minibatch) drawn at iteration t, *before* its update. When every sample is
        used once (``sampling="once"``) this is an unbiased estimate of the population risk
        of W'_{t-1}, so ``objective.mean()`` estimates the theorem's averaged risk.
    record_steps : steps t at which records were taken (0, record_every, 2 record_every, ..., T).
    frobenius : ||W'_t||_F at ``record_steps``.
    risks : Obj averaged over the evaluation set at ``record_steps`` (None without one).
    """

    shift: Array
    objective: np.ndarray
    record_steps: np.ndarray
    frobenius: np.ndarray
    risks: np.ndarray | None
    lam: float
    eta: float
    batch: int
    loss: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.objective.shape[0])

    def averaged_risk(self) -> float:
        """(1/T) sum_{t=0}^{T-1} R(W'_t) of Theorem 1, from the recorded evaluation risks by
        the trapezoid rule over [0, T] (needs an evaluation set)."""
        if self.risks is None:
            raise ValueError("averaged_risk needs an evaluation set (eval_x, eval_y)")
        t = self.record_steps.astype(float)
        if t[-1] <= 0:
            return float(self.risks[0])
        return float(np.trapezoid(self.risks, t) / t[-1])

    def final_risk(self) -> float:
        """Risk of the last iterate W'_T on the evaluation set."""
        if self.risks is None:
            raise ValueError("final_risk needs an evaluation set (eval_x, eval_y)")
        return float(self.risks[-1])


def _check_hyper(lam: float, eta: float, steps: int, batch: int) -> None:
    if not np.isscalar(lam) or not np.isfinite(lam) or not 0 < float(lam) <= 1:
        raise ValueError(f"the output scale lambda must lie in (0, 1] (Section 4), got {lam!r}")
    if not np.isscalar(eta) or not np.isfinite(eta) or float(eta) < 0:
        raise ValueError(f"the step size eta must be a finite number >= 0, got {eta!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps (the number of SGD iterations T) must be an integer >= 0, "
                         f"got {steps!r}")
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")


class _Stepper:
    """One SGD step on W + W' kept as one array ``Wc`` (updated in place).

    ``single`` takes one sample (the paper's SGD): 1-D hidden vectors, matrix-vector products
    and one rank-(L-1) update. ``batch`` takes a minibatch (the labelled variant). Both return
    the step's objective as a 0-d array on the backend (never read on the host here)."""

    def __init__(self, weights: Weights, Wc: Array, lam: float, eta: float, loss: str) -> None:
        self.xp = backend.xp()
        self.Wc = Wc
        self.A_T = self.xp.ascontiguousarray(weights.A.T)
        self.B = self.xp.ascontiguousarray(weights.B)
        self.B_T = self.xp.ascontiguousarray(weights.B.T)
        self.lam = float(lam)
        self.eta = float(eta)
        self.loss = loss
        self.gemm = None
        self.buf = None
        if backend.name() == "numpy" and Wc.flags.f_contiguous:
            from scipy.linalg import blas  # noqa: PLC0415

            self.gemm = blas.get_blas_funcs("gemm", (Wc,))

    def _update(self, dGs: Array, Hs: Array, in_place: bool) -> None:
        """Wc <- Wc - eta * dGs^T Hs (dGs, Hs: (k, m)).

        ``in_place``: one BLAS gemm that accumulates into Wc (SciPy's BLAS on NumPy): two
        passes over Wc, the right choice for the memory-bound single-sample step. Otherwise the
        product goes through NumPy's own BLAS into a buffer (SciPy bundles a second OpenBLAS
        whose threads, when both pools are multi-threaded, fight NumPy's for the cores)."""
        if in_place and self.gemm is not None:
            self.gemm(-self.eta, dGs.T, Hs.T, beta=1.0, c=self.Wc, overwrite_c=1, trans_b=1)
            return
        if self.buf is None:
            self.buf = self.xp.empty_like(self.Wc)
        self.xp.matmul(dGs.T, Hs, out=self.buf)
        self.buf *= -self.eta
        self.Wc += self.buf

    def single(self, x1: Array, v1: Array) -> Array:
        """x1 (L+1, d_x+1) one actual input, v1 (L-2, d) its labels; returns Obj (0-d)."""
        xp = self.xp
        Wc = self.Wc
        dot, maximum, multiply = xp.dot, xp.maximum, xp.multiply
        Lp1 = x1.shape[0]
        L = Lp1 - 1
        H = x1 @ self.A_T  # (L+1, m): A x_l, overwritten in place by h_l
        H[0] = 0
        g = xp.empty_like(H[0])
        maximum(H[1], 0, out=H[1])
        for l in range(2, Lp1):
            dot(Wc, H[l - 1], out=g)
            g += H[l]
            maximum(g, 0, out=H[l])
        u = H[3:] @ self.B_T  # (L-2, d)
        u *= self.lam
        val, dval = _loss(self.loss, u, v1)
        obj = val.sum()
        if self.eta == 0.0:
            return obj
        dYB = (self.lam * dval) @ self.B  # (L-2, m): dObj/dh_j through y_j, j = 3..L
        mask = H[2:] > 0  # D_l for l = 2..L (g_l > 0 <=> h_l > 0)
        dG = xp.empty((L - 1, Wc.shape[0]), dtype=Wc.dtype)  # dObj/dg_l, l = 2..L
        delta = dYB[L - 3].copy()
        for l in range(L, 1, -1):
            multiply(delta, mask[l - 2], out=dG[l - 2])
            if l > 2:
                dot(dG[l - 2], Wc, out=delta)
                if l > 3:
                    delta += dYB[l - 4]
        self._update(dG, H[1:L], in_place=True)
        return obj

    def batch(self, xb: Array, vb: Array) -> Array:
        """xb (L+1, b, d_x+1) position-first inputs, vb (L-2, b, d); returns the mean Obj
        (0-d)."""
        xp = self.xp
        Wc = self.Wc
        Lp1, b, _ = xb.shape
        L = Lp1 - 1
        m = Wc.shape[0]
        WcT = Wc.T
        H = xb @ self.A_T  # (L+1, b, m): A x_l, overwritten in place by h_l
        H[0] = 0
        g = xp.empty((b, m), dtype=Wc.dtype)
        xp.maximum(H[1], 0, out=H[1])
        for l in range(2, Lp1):
            xp.matmul(H[l - 1], WcT, out=g)
            g += H[l]
            xp.maximum(g, 0, out=H[l])
        u = H[3:] @ self.B_T  # (L-2, b, d)
        u *= self.lam
        val, dval = _loss(self.loss, u, vb)
        obj = val.sum() / b
        if self.eta == 0.0:
            return obj
        dYB = ((self.lam / b) * dval) @ self.B  # (L-2, b, m)
        mask = H[2:] > 0
        dG = xp.empty((L - 1, b, m), dtype=Wc.dtype)
        delta = dYB[L - 3].copy()
        for l in range(L, 1, -1):
            xp.multiply(delta, mask[l - 2], out=dG[l - 2])
            if l > 2:
                xp.matmul(dG[l - 2], Wc, out=delta)
                if l > 3:
                    delta += dYB[l - 4]
        self._update(dG.reshape((L - 1) * b, m), H[1:L].reshape((L - 1) * b, m),
                     in_place=False)
        return obj


def _per_sample_objective(Wc: Array, weights: Weights, x_pf: Array, v_pf: Array, lam: float,
                          loss: str, chunk: int = 4096) -> np.ndarray:
    """Obj(x*, y*; W') of every sample (NumPy array (n,)), in batched forward passes, read on
    the host once."""
    xp = backend.xp()
    n = x_pf.shape[1]
    parts = []
    for s in range(0, n, chunk):
        H, _ = _forward_pf(Wc, weights.A, xp.ascontiguousarray(x_pf[:, s:s + chunk]), False)
        u = lam * (H[3:] @ weights.B.T)
        val, _ = _loss(loss, u, v_pf[:, s:s + chunk])
        parts.append(val.sum(axis=0))
    if not parts:
        return np.empty(0)
    return backend.to_numpy(xp.concatenate(parts)).astype(np.float64)


def _risk_pf(Wc: Array, weights: Weights, x_pf: Array, v_pf: Array, lam: float, loss: str,
             chunk: int = 4096) -> Array:
    """Mean Obj over the samples of (x_pf, v_pf) at W + W' = Wc: a 0-d array on the backend
    (no host read)."""
    xp = backend.xp()
    n = x_pf.shape[1]
    total = None
    for s in range(0, n, chunk):
        H, _ = _forward_pf(Wc, weights.A, xp.ascontiguousarray(x_pf[:, s:s + chunk]), False)
        u = lam * (H[3:] @ weights.B.T)
        val, _ = _loss(loss, u, v_pf[:, s:s + chunk])
        part = val.sum().astype(np.float64)
        total = part if total is None else total + part
    return total / n


def risk(weights: Weights, x: Array, y_star: Array, lam: float, shift: Array | None = None,
         loss: Literal["l2", "logistic"] = "l2") -> float:
    """Mean over the samples of Obj(x*, y*; W') = sum_{j=3}^L G(lam F_j(x*; W + W'), y*_j):
    the empirical (or, on fresh samples, estimated population) risk of Theorem 1."""
    x_pf = _prepare(weights, x)
    v = check_labels(y_star, x_pf.shape[1], x_pf.shape[0] - 1, weights.d, loss, weights.W.dtype)
    Wc = weights.W if shift is None else weights.W + backend.to_backend(shift, weights.W.dtype)
    return float(_risk_pf(Wc, weights, x_pf, v, float(lam), loss))


def outputs_scaled(weights: Weights, x: Array, lam: float, shift: Array | None = None) -> Array:
    """lambda F_l(x; W + W') for all positions, (n, L+1, d): the quantity compared with y*."""
    from .rnn import outputs  # noqa: PLC0415

    return lam * outputs(weights, x, shift=shift)


#: the most SGD steps between two host reads of the per-step objectives (and so the most steps
#: replayed when a stop or a divergence falls inside such a segment)
SEGMENT = 256


@dataclass
class _Plan:
    """The validated inputs of one :func:`sgd` run, on the backend."""

    x_one: Array  # (N, L+1, d_x+1): one gather per step
    v_one: Array  # (N, L-2, d)
    idx: np.ndarray  # (steps, batch) sample indices, drawn on the host
    idx_dev: Array  # the same on the backend (minibatch gathers without host reads)
    marks: list[int]  # the steps at which the host looks: records and segment ends, up to T
    records: set[int]  # the steps recorded (0 is recorded before the loop)
    ev: tuple[Array, Array] | None  # evaluation set, position-first


def _plan(weights: Weights, x: Array, y_star: Array, steps: int, seed: int, batch: int,
          loss: str, sampling: str, record_every: int | None, record_at: Any,
          callback: Any, eval_x: Array | None, eval_y: Array | None,
          stop_below: float | None, stop_window: int) -> _Plan:
    """Validate the arguments of :func:`sgd` (clear ValueErrors) and lay out the run."""
    xp = backend.xp()
    x_pf = _prepare(weights, x)
    Lp1, N, _ = x_pf.shape
    L = Lp1 - 1
    v = check_labels(y_star, N, L, weights.d, loss, weights.W.dtype)
    if sampling not in ("uniform", "once"):
        raise ValueError(f"sampling must be 'uniform' or 'once', got {sampling!r}")
    if sampling == "once" and steps * batch > N:
        raise ValueError(f"sampling='once' uses each sample at most once: steps * batch = "
                         f"{steps * batch} exceeds N = {N}")
    if record_every is not None and (not isinstance(record_every, (int, np.integer))
                                     or record_every < 1):
        raise ValueError(f"record_every must be an integer >= 1, got {record_every!r}")
    if record_every is not None and record_at is not None:
        raise ValueError("give record_every or record_at, not both")
    at: set[int] = set()
    if record_at is not None:
        at = {int(t) for t in np.asarray(record_at).ravel()}
        if any(t < 0 or t > steps for t in at):
            raise ValueError(f"record_at must lie in [0, steps = {steps}]")
    if stop_below is not None and (not np.isfinite(stop_below)
                                   or not isinstance(stop_window, (int, np.integer))
                                   or stop_window < 1):
        raise ValueError("stop_below must be finite and stop_window an integer >= 1")
    if (eval_x is None) != (eval_y is None):
        raise ValueError("give both eval_x and eval_y, or neither")
    ev = None
    if eval_x is not None:
        ex = _prepare(weights, eval_x)
        if ex.shape[0] != Lp1:
            raise ValueError(f"eval_x has L = {ex.shape[0] - 1}, the training set L = {L}")
        ev = (ex, check_labels(eval_y, ex.shape[1], L, weights.d, loss, weights.W.dtype))
    g = np.random.default_rng(seed)
    if sampling == "uniform":
        idx = g.integers(0, N, size=(steps, batch))
    else:
        idx = g.permutation(N)[: steps * batch].reshape(steps, batch)
    every = record_every or (steps + 1 if record_at is not None else max(steps, 1))
    records = {t for t in range(1, steps + 1) if t % every == 0} | {t for t in at if t > 0}
    if steps:
        records.add(steps)
    recording = record_every is not None or record_at is not None or callback is not None \
        or ev is not None
    if not recording:
        records = set()
    marks = sorted(records | set(range(SEGMENT, steps, SEGMENT)) | ({steps} if steps else set()))
    return _Plan(x_one=xp.ascontiguousarray(x_pf.transpose(1, 0, 2)),
                 v_one=xp.ascontiguousarray(v.transpose(1, 0, 2)), idx=idx,
                 idx_dev=backend.to_backend(idx) if batch > 1 else idx, marks=marks,
                 records=records | ({0} if recording else set()), ev=ev)


class _Recorder:
    """The records of a run: ||W'_t||_F and the evaluation risk kept on the backend, read on
    the host once at the end; ``callback(t, W'_t)`` at each record."""

    def __init__(self, weights: Weights, Wc: Array, plan: _Plan, lam: float, loss: str,
                 callback: Callable[[int, Array], None] | None, frozen: bool) -> None:
        self.weights, self.Wc, self.plan = weights, Wc, plan
        self.lam, self.loss, self.callback, self.frozen = lam, loss, callback, frozen
        self.active = bool(plan.records)
        self.t: list[int] = []
        self.frob: list[Array] = []
        self.risk: list[Array] = []

    def __call__(self, t: int) -> None:
        if not self.active:
            return
        xp = backend.xp()
        shift = self.Wc - self.weights.W
        self.t.append(t)
        self.frob.append(xp.sqrt((shift * shift).sum()))
        if self.plan.ev is not None:
            self.risk.append(self.risk[0] if self.frozen and self.risk else
                             _risk_pf(self.Wc, self.weights, *self.plan.ev, self.lam, self.loss))
        if self.callback is not None:
            self.callback(t, shift)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        xp = backend.xp()

        def host(v: list[Array]) -> np.ndarray:
            return backend.to_numpy(xp.stack(v)).astype(np.float64) if v else np.zeros(0)

        return (np.asarray(self.t, dtype=int), host(self.frob),
                host(self.risk) if self.plan.ev is not None else None)


class _Stop:
    """The host-side scan of the per-step objectives: divergence (a non-finite objective) and
    the early stop on the moving average (the same running sum, step by step, as a per-step
    check would keep)."""

    def __init__(self, stop_below: float | None, window: int) -> None:
        self.stop_below, self.window = stop_below, window
        self.sum = 0.0

    def scan(self, obj: np.ndarray, start: int, end: int) -> tuple[str, int] | None:
        """The first event among steps start+1..end (obj holds every objective up to end):
        ("diverged", t) or ("stopped", t); None if neither."""
        saved = self.sum
        for t in range(start + 1, end + 1):
            o = obj[t - 1]
            if not math.isfinite(o):
                self.sum = saved
                return "diverged", t
            if self.stop_below is not None:
                self.sum += o - (obj[t - 1 - self.window] if t > self.window else 0.0)
                if t >= self.window and self.sum <= self.stop_below * self.window:
                    return "stopped", t
        return None


def _frozen_objectives(step_obj: np.ndarray, per: np.ndarray, idx: np.ndarray,
                       stop_below: float | None, window: int) -> int:
    """eta = 0: every step's objective from one batched pass (``per``: each sample's Obj);
    returns the step at which the early stop would have fired (or the number of steps)."""
    steps = step_obj.shape[0]
    if steps:
        step_obj[:] = per[idx].mean(axis=1)
    if stop_below is not None and steps >= window:
        c = np.cumsum(np.r_[0.0, step_obj])
        hit = np.nonzero((c[window:] - c[:-window]) <= stop_below * window)[0]
        if hit.size:
            return int(hit[0] + window)
    return steps


def sgd(weights: Weights, x: Array, y_star: Array, lam: float, eta: float, steps: int,
        seed: int = 0, batch: int = 1, loss: Literal["l2", "logistic"] = "l2", *,
        sampling: Literal["uniform", "once"] = "uniform",
        record_every: int | None = None,
        record_at: Any = None,
        callback: Callable[[int, Array], None] | None = None,
        eval_x: Array | None = None, eval_y: Array | None = None,
        stop_below: float | None = None, stop_window: int = 100,
        blas_threads: int | None | Literal["auto"] = "auto",
        progress: bool = False) -> SGDResult:
    """Run T = ``steps`` iterations of the SGD of Section 4 on the shift W' (W'_0 = 0).

    Parameters
    ----------
    weights : the random initialization W, A, B (only W + W' moves).
    x, y_star : the training set Z: actual inputs (N, L+1, d_x+1) and labels (N, L-2, d).
    lam : the output scale lambda in (0, 1].
    eta : the step size eta >= 0 (eta = 0 is the frozen-W control).
    batch : 1 is the paper's vanilla SGD (one sample per iteration); ``batch > 1`` is the
        *minibatch variant* (not the paper's algorithm): the gradient of the mean of Obj over
        ``batch`` samples drawn per iteration.
    sampling : ``"uniform"`` draws each sample uniformly from Z with replacement, as the
        paper's SGD does; ``"once"`` uses every sample at most once in a random order (online
        SGD on fresh samples; needs steps * batch <= N), so that N = T * batch.
    record_every : record ||W'_t||_F (and the evaluation risk) at t = 0, record_every, ...,
        and at T; ``callback(t, shift)`` is called there with the current W'_t (a fresh array).
    record_at : alternatively, an explicit increasing list of steps to record at (0 and T are
        always added); e.g. a geometric grid resolves the fast initial drop of the risk.
    eval_x, eval_y : an optional evaluation set (fresh samples) for ``risks``.
    stop_below : stop early once the mean of the last ``stop_window`` per-step objectives is
        <= ``stop_below`` (with ``sampling="once"`` that mean estimates the current population
        risk); ``objective`` then has fewer than ``steps`` entries.
    blas_threads : OpenBLAS threads during the loop; ``"auto"`` uses one thread for the
        single-sample steps (latency bound) and leaves the minibatch variant alone; ``None``
        never touches the setting.
    progress : show a tqdm progress bar.

    Returns an :class:`SGDResult` (final ``shift``, per-step ``objective``, records).

    On a device the per-step objectives stay there and are read on the host once per segment:
    at the records and at least every :data:`SEGMENT` steps (200 steps without records read
    them once). A divergence or an early stop found in a segment is handled exactly as a
    per-step check would: W' is restored to the segment's start and the steps are replayed up
    to the step found.
    """
    _check_hyper(lam, eta, steps, batch)
    plan = _plan(weights, x, y_star, steps, seed, batch, loss, sampling, record_every,
                 record_at, callback, eval_x, eval_y, stop_below, stop_window)
    xp = backend.xp()
    m = weights.m
    backend.guard_memory(2 * m * m * weights.W.dtype.itemsize, "W + W' and a copy of it")
    Wc = xp.array(weights.W, order="F" if backend.name() == "numpy" else "C", copy=True)
    step = _Stepper(weights, Wc, lam, eta, loss)
    frozen = float(eta) == 0.0  # W' stays 0: records repeat, objectives in one batched pass
    record = _Recorder(weights, Wc, plan, float(lam), loss, callback, frozen)
    obj = np.empty(steps)
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=steps, desc=f"SGD (batch {batch})", mininterval=0.5)
    if blas_threads == "auto":
        blas_threads = 1 if batch == 1 else None
    t0 = time.perf_counter()
    record(0)
    with _blas_threads(blas_threads):
        if frozen:
            per = _per_sample_objective(Wc, weights, plan.x_one.transpose(1, 0, 2),
                                        plan.v_one.transpose(1, 0, 2), float(lam), loss)
            done = _frozen_objectives(obj, per, plan.idx, stop_below, stop_window)
            for t in sorted({t for t in plan.records if 0 < t <= done} | {done}) if steps \
                    else []:
                record(t)
        else:
            done = _run_segments(step, plan, obj, record, _Stop(stop_below, stop_window), bar)
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.update(done - bar.n)
        bar.close()
    rec_t, rec_f, rec_r = record.arrays()
    return SGDResult(shift=xp.ascontiguousarray(Wc - weights.W), objective=obj[:done],
                     record_steps=rec_t, frobenius=rec_f, risks=rec_r, lam=float(lam),
                     eta=float(eta), batch=int(batch), loss=loss, seconds=seconds)


def _run_segments(step: _Stepper, plan: _Plan, obj: np.ndarray, record: _Recorder,
                  stop: _Stop, bar: Any) -> int:
    """The SGD loop: steps run in segments between the host's looks (``plan.marks``); each
    segment's objectives stay on the backend and are read at its end, in one copy. Returns
    the number of steps done (fewer than T after a divergence or an early stop)."""
    xp = backend.xp()
    steps = obj.shape[0]
    obj_dev = xp.empty(steps, dtype=np.float64)
    single = plan.idx.shape[1] == 1

    def run(t0: int, t1: int) -> None:
        for t in range(t0 + 1, t1 + 1):
            if single:
                k = int(plan.idx[t - 1, 0])
                obj_dev[t - 1] = step.single(plan.x_one[k], plan.v_one[k])
            else:
                ii = plan.idx_dev[t - 1]
                obj_dev[t - 1] = step.batch(plan.x_one[ii].transpose(1, 0, 2),
                                            plan.v_one[ii].transpose(1, 0, 2))

    start = 0
    for end in plan.marks:
        snapshot = step.Wc.copy(order="K")
        run(start, end)
        obj[start:end] = backend.to_numpy(obj_dev[start:end])  # the segment's one host read
        event = stop.scan(obj, start, end)
        if event is not None:
            kind, t = event
            step.Wc[...] = snapshot  # replay up to the step found
            run(start, t)
            if kind == "diverged":
                obj[t:] = np.inf
            record(t)
            return t if kind == "stopped" else steps
        if end in plan.records:
            record(end)
        if bar is not None:
            bar.update(end - bar.n)
        start = end
    return steps


# --------------------------------------------------------------------------------------
# The rules for lambda and eta
# --------------------------------------------------------------------------------------


def gradient_trace(weights: Weights, x: Array, n_max: int = 8) -> float:
    """kappa / lambda^2: the mean over (up to ``n_max``) samples of
    sum_{j=3}^{L} sum_{s} ||grad_W F_{j,s}(x; W)||_F^2, computed exactly from Back_{i->j}.

    grad_W F_{j,s} = sum_{i=2}^{j} (D_i Back_{i->j}^T e_s) h_{i-1}^T, so its squared Frobenius
    norm is sum_{i,i'} <D_i b_i, D_i' b_i'> <h_{i-1}, h_{i'-1}> with b_i = Back_{i->j}^T e_s.
    This is the trace of the per-sample Gauss-Newton matrix of Obj (for lambda = 1), an upper
    bound on its largest eigenvalue.
    """
    xp = backend.xp()
    xs = x[:n_max]
    back = back_operators(weights, xs)  # (n, L+1, L+1, d, m)
    tr = forward_trace(weights, xs)
    n, Lp1 = back.shape[0], back.shape[1]
    L = Lp1 - 1
    Dm = tr.D.astype(back.dtype)  # (n, L+1, m)
    total = 0.0
    for j in range(3, L + 1):
        a = back[:, 2:j + 1, j] * Dm[:, 2:j + 1, None, :]  # (n, i=2..j, d, m)
        hh = tr.h[:, 1:j]  # h_{i-1} for i = 2..j: (n, j-1, m)
        ga = xp.einsum("nisk,npsk->nsip", a, a)
        gh = xp.einsum("nik,npk->nip", hh, hh)
        total += float((ga * gh[:, None]).sum())
    return total / n


@dataclass(frozen=True)
class Hyper:
    """Hyper-parameters chosen by the stated rules (see :func:`choose_hyperparameters`)."""

    lam: float
    eta: float
    kappa: float
    eps_x: float
    rule: str


def output_scale(L: int, d: int, c: float = 1.0) -> float:
    """Our rule for lambda: lambda = min(1, c / sqrt((L - 2) d)).

    The paper takes lambda = Theta~(eps / (L^2 d)) so that the initial network's output
    lambda F(x; W) is negligible against the labels. At initialization each of the (L-2) d
    outputs F_{j,s} is of size ~ ||h_j|| / sqrt(d)... ~ 1/sqrt(d) per coordinate, so
    lambda = 1/sqrt((L-2) d) keeps the initial contribution to Obj at about 1/2, whatever L
    and d, while leaving the shift W' = O(1/lambda) small enough for the first-order regime
    at the widths we can afford. Fixed once; never tuned per check.
    """
    if L < 3 or d < 1:
        raise ValueError(f"output_scale needs L >= 3 and d >= 1, got L={L}, d={d}")
    return float(min(1.0, c / math.sqrt((L - 2) * d)))


def step_size(weights: Weights, x: Array, lam: float, c: float = 1.0) -> tuple[float, float]:
    """Our rule for eta: eta = c / kappa with kappa = lambda^2 * :func:`gradient_trace`.

    For the l2 loss in the first-order regime each per-sample step contracts the residual along
    the gradient when eta * lambda_max < 2; kappa (a trace) bounds lambda_max, so c = 1 is a
    safe step. Like the paper's eta = Theta~(1 / (eps L^2 d^2 m)) it scales as 1/m (kappa grows
    like m). Returns (eta, kappa).
    """
    kappa = float(lam) ** 2 * gradient_trace(weights, x)
    return c / kappa, kappa


def choose_hyperparameters(weights: Weights, x: Array, eps_x: float) -> Hyper:
    """lambda by :func:`output_scale`, eta by :func:`step_size` (c = 1 both), for inputs x."""
    L = int(x.shape[1]) - 1
    lam = output_scale(L, weights.d)
    eta, kappa = step_size(weights, x, lam)
    return Hyper(lam=lam, eta=eta, kappa=kappa, eps_x=float(eps_x),
                 rule="lambda = 1/sqrt((L-2) d); eta = 1/kappa, kappa = lambda^2 tr(J^T J)")


def paper_hyperparameters(reference: Hyper, L0: int, m0: int, L: int, m: int) -> Hyper:
    """The paper's scalings of Theorem 1, lambda = c_1 / (L^2 d) and
    eta = c_2 / (L^2 d^2 m) (the Theta~ of the theorem, eps held fixed), with the constants
    fixed once at (L0, m0) by ``reference`` (the hyper-parameters used there):
    lambda = reference.lam (L0 / L)^2 and eta = reference.eta (L0 / L)^2 (m0 / m) (d is the
    same at every L, so its powers cancel). Both shrink as L grows; the function-space step
    eta lambda^2 tr(J^T J) falls like L^-4 when the trace grows like L^2 m."""
    if min(L0, L) < 3 or min(m0, m) < 1:
        raise ValueError(f"paper_hyperparameters needs L0, L >= 3 and m0, m >= 1, got "
                         f"L0={L0}, L={L}, m0={m0}, m={m}")
    lam = reference.lam * (L0 / L) ** 2
    eta = reference.eta * (L0 / L) ** 2 * (m0 / m)
    return Hyper(lam=float(lam), eta=float(eta), kappa=float("nan"), eps_x=reference.eps_x,
                 rule=f"paper: lambda ~ 1/(L^2 d), eta ~ 1/(L^2 d^2 m), constants fixed at "
                      f"L = {L0}, m = {m0}")


# --------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------


def per_sample_losses(weights: Weights, x: Array, y_star: Array, lam: float,
                      shift: Array | None = None, chunk: int = 2048) -> np.ndarray:
    """The l2 objective of every sample at every output position: a NumPy array (n, L-2)
    whose entry [k, j-3] is G(lambda F_j(x_k; W + W'), y*_{k,j}) = ||lambda F_j - y*_j||^2 / 2
    (its row sums are Obj(x*, y*; W') of Section 4)."""
    from .rnn import outputs  # noqa: PLC0415

    y = np.asarray(backend.to_numpy(y_star), dtype=float)
    n = int(x.shape[0])
    if y.ndim != 3 or y.shape[0] != n or y.shape[1] != int(x.shape[1]) - 3:
        raise ValueError(f"y_star must have shape (n, L-2, d) = ({n}, {int(x.shape[1]) - 3}, "
                         f"d), got {y.shape}")
    out = np.empty(y.shape[:2])
    for s in range(0, n, chunk):
        f = float(lam) * backend.to_numpy(outputs(weights, x[s:s + chunk], shift=shift))[:, 3:]
        out[s:s + chunk] = 0.5 * ((f - y[s:s + chunk]) ** 2).sum(axis=-1)
    return out


def least_squares_baseline(x_star: np.ndarray, y_star: np.ndarray, x_star_test: np.ndarray,
                           y_test: np.ndarray) -> dict[str, Any]:
    """Least squares on the tokens: for each output position j an ordinary least-squares fit
    of y*_j on all earlier tokens x*_2..x*_{j-1} (flattened) and an intercept, on the training
    set; evaluated with the l2 objective on the test set. Returns the test ``risk`` and the
    ``per_sample`` test objective (n_test,)."""
    xs, xt = np.asarray(x_star, dtype=float), np.asarray(x_star_test, dtype=float)
    y, yt = np.asarray(y_star, dtype=float), np.asarray(y_test, dtype=float)
    n, nt = xs.shape[0], xt.shape[0]
    if y.shape[:2] != (n, xs.shape[1]) or yt.shape[:2] != (nt, xt.shape[1]):
        raise ValueError(f"least_squares_baseline needs labels (n, L-2, d) matching the "
                         f"tokens (n, L-2, d_x), got {y.shape} for {xs.shape} and {yt.shape} "
                         f"for {xt.shape}")
    per_sample = np.zeros(nt)
    for k in range(xs.shape[1]):  # output position j = k + 3 sees tokens 2..j-1 = 0..k
        X = np.column_stack([np.ones(n), xs[:, :k + 1].reshape(n, -1)])
        Xt = np.column_stack([np.ones(nt), xt[:, :k + 1].reshape(nt, -1)])
        coef, *_ = np.linalg.lstsq(X, y[:, k], rcond=None)
        per_sample += 0.5 * ((Xt @ coef - yt[:, k]) ** 2).sum(axis=1)
    return {"risk": float(per_sample.mean()), "per_sample": per_sample}


def readout_baseline(weights: Weights, x: Array, y_star: Array, x_test: Array,
                     y_test: Array, ridges: tuple[float, ...] = (1e-6, 1e-4, 1e-2, 1.0),
                     holdout: float = 0.25, seed: int = 0) -> dict[str, Any]:
    """The best linear readout of the *initial* hidden states: for each position j a ridge
    regression y*_j ~ V_j h_j(x; W) + c_j on the training set (ridge chosen on a held-out
    quarter from ``ridges``, then refit on all), evaluated with the l2 Obj on (x_test, y_test).

    This is the random-features baseline: it uses the same random recurrent features that SGD
    starts from, but only fits a readout per position (strictly more readout freedom than the
    network's one shared B). Returns the test ``risk``, the ``per_sample`` test objective
    (n_test,) and the median chosen ridge.
    """
    h = backend.to_numpy(forward_trace(weights, x).h)
    ht = backend.to_numpy(forward_trace(weights, x_test).h)
    y = np.asarray(backend.to_numpy(y_star), dtype=float)
    yt = np.asarray(backend.to_numpy(y_test), dtype=float)
    N = h.shape[0]
    L = h.shape[1] - 1
    g = np.random.default_rng(seed)
    perm = g.permutation(N)
    n_val = max(1, int(holdout * N))
    val, tr = perm[:n_val], perm[n_val:]

    def fits(X: np.ndarray, Y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Ridge solutions for every candidate ridge from one eigendecomposition."""
        mu_x, mu_y = X.mean(0), Y.mean(0)
        Xc, Yc = X - mu_x, Y - mu_y
        lam_, Q = np.linalg.eigh(Xc.T @ Xc)
        scale = max(float(lam_.sum()) / X.shape[1], 1e-300)
        QtB = Q.T @ (Xc.T @ Yc)
        out = []
        for r in ridges:
            V = Q @ (QtB / (np.maximum(lam_, 0.0) + r * scale)[:, None])
            out.append((V, mu_y - mu_x @ V))
        return out

    per_sample = np.zeros(ht.shape[0])
    chosen = []
    for j in range(3, L + 1):
        errs = [float(((h[val, j] @ V + c - y[val, j - 3]) ** 2).sum())
                for V, c in fits(h[tr, j], y[tr, j - 3])]
        k = int(np.argmin(errs))
        V, c = fits(h[:, j], y[:, j - 3])[k]
        per_sample += 0.5 * ((ht[:, j] @ V + c - yt[:, j - 3]) ** 2).sum(axis=1)
        chosen.append(ridges[k])
    return {"risk": float(per_sample.mean()), "per_sample": per_sample,
            "ridge_median": float(np.median(chosen))}


# --------------------------------------------------------------------------------------
# The protocol every Theorem 1 check uses
# --------------------------------------------------------------------------------------

EPS_X = 0.5  #: eps_x of Definition 3.1 used by the checks (the paper's is far smaller)
NOISE = 0.1  #: label noise standard deviation (OPT = (L-2) d NOISE^2 / 2)
EPS_REL = 0.1  #: eps = EPS_REL * (null risk - OPT): "within 10% of the explainable risk"


def embed_inputs(x_star: Any, eps_x: float = EPS_X) -> Any:
    """Actual inputs (Definition 3.1) at the eps_x the checks use."""
    from .sequences import embed  # noqa: PLC0415

    return embed(x_star, eps_x)


#: eps of the non-linear Theorem 1 checks: half the excess risk of the best linear model on the
#: tokens (concept.best_linear_fit), so that OPT + eps lies halfway between OPT and what any
#: linear function of the tokens can reach.
EPS_LINEAR = 0.5


@dataclass
class Experiment:
    """One training run of the protocol of :func:`experiment` and what it measured.

    ``test_losses`` (with ``per_sample=True``): the test objective of every sample at every
    output position j = 3..L at every record step, shape (records, n_test, L-2);
    ``baseline_losses``: the per-sample test objective (n_test,) of each baseline (with
    ``baselines=True``)."""

    result: SGDResult
    hyper: Hyper
    opt: float
    null_risk: float
    eps: float
    test_risk: float
    online_average: float
    train_risk: float | None
    weights: Weights
    test: Any
    baselines: dict[str, float] = field(default_factory=dict)
    test_losses: np.ndarray | None = None
    baseline_losses: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def target_risk(self) -> float:
        """OPT + eps."""
        return self.opt + self.eps

    def steps_to_target(self, window: int = 100) -> int | None:
        """First t at which the moving average (over ``window`` steps) of the per-step online
        objective is <= OPT + eps (None if never within the run). With ``sampling='once'``
        every step sees a fresh sample, so this estimates the iterations *and* the samples
        needed to reach OPT + eps."""
        return first_crossing(self.result.objective, self.target_risk, window)

    def running_average(self) -> np.ndarray:
        """(1/t) sum_{s<t} Obj_s for t = 1..T: with fresh samples each step, an estimate of
        Theorem 1's averaged risk (1/t) sum_{s<t} E_D[Obj(W'_s)]."""
        obj = self.result.objective
        return np.cumsum(obj) / np.arange(1, obj.size + 1)

    def averaged_losses(self) -> np.ndarray:
        """Per test sample, the objective averaged over the iterates t in [0, T] (trapezoid
        rule over the record steps): the sample's share of Theorem 1's
        (1/T) sum_{t<T} Obj(W'_t). Needs ``per_sample=True``."""
        per = self._per_sample()
        t = self.result.record_steps.astype(float)
        if t[-1] <= 0:
            return per[0].copy()
        return np.trapezoid(per, t, axis=0) / t[-1]

    def last_losses(self) -> np.ndarray:
        """Per test sample, the objective of the last iterate W'_T (n_test,). Needs
        ``per_sample=True``."""
        return self._per_sample()[-1]

    def _per_sample(self) -> np.ndarray:
        if self.test_losses is None:
            raise ValueError("per-sample losses need an experiment run with per_sample=True")
        return self.test_losses.sum(axis=-1)


def first_crossing(objective: np.ndarray, goal: float, window: int = 100) -> int | None:
    """First t at which the mean of objective[t - window : t] is <= ``goal`` (None if never)."""
    obj = np.asarray(objective, dtype=float)
    if obj.size < window:
        return None
    c = np.cumsum(np.r_[0.0, obj])
    hit = np.nonzero((c[window:] - c[:-window]) / window <= goal)[0]
    return None if hit.size == 0 else int(hit[0] + window)


def experiment(target: Any, m: int, steps: int, seed: int, *, N: int | None = None,
               sampler: Callable[[int, int], np.ndarray] | None = None,
               eps_x: float = EPS_X, noise: float = NOISE, n_test: int = 500,
               records: int = 16, baselines: bool = False, eta_factor: float = 1.0,
               shuffle_labels: bool = False, stop_at_target: bool = False,
               window: int = 100, eps: float | None = None, hyper: Hyper | None = None,
               per_sample: bool = False) -> Experiment:
    """The protocol of the Theorem 1 checks, for a target F* of the form (3.1).

    1. Data: N i.i.d. samples (x*, F*(x*) + noise), x* from ``sampler(n, seed)`` (default
       :func:`~rnnproof.concept.random_true_inputs`); N = ``steps`` (one pass: every SGD step
       sees a fresh sample) unless ``N`` is given, in which case SGD draws uniformly from the
       N samples as in the paper. A fresh test set of ``n_test`` samples.
    2. Initialization W, A, B ~ Definition 3.3 (seeded), eps_x = ``eps_x``.
    3. lambda and eta by :func:`choose_hyperparameters` unless ``hyper`` is given
       (``eta_factor`` multiplies eta: only for negative controls); vanilla SGD (batch 1) for
       ``steps`` iterations.
    4. OPT = (L-2) d noise^2 / 2, null risk = test risk of the zero predictor,
       eps = ``eps`` if given, else EPS_REL (null - OPT).

    ``shuffle_labels`` permutes the training labels across samples (a negative control: the
    inputs then carry no information about the labels). ``stop_at_target`` stops SGD once
    the moving average (``window`` steps) of the online objective is <= OPT + eps (for the
    scaling studies, which only need the number of steps to get there). ``per_sample`` keeps
    the per-sample test objective at every record step (``Experiment.test_losses``).
    ``baselines`` adds the untrained network, the readout of the initial hidden states
    (:func:`readout_baseline`) and least squares on the tokens
    (:func:`least_squares_baseline`), each with its per-sample test objective.
    """
    from . import concept  # noqa: PLC0415
    from .rnn import init_weights  # noqa: PLC0415

    L, d_x, d = target.L, target.d_x, target.d
    draw = sampler or (lambda n, s: concept.random_true_inputs(n, L, d_x, s))
    n_train = steps if N is None else N
    train_set = concept.make_dataset(target, draw(n_train, 2 * seed + 1), noise, 3 * seed + 7)
    test_set = concept.make_dataset(target, draw(n_test, 2 * seed + 2), noise, 3 * seed + 8)
    y_train = train_set.y_star
    if shuffle_labels:
        y_train = y_train[np.random.default_rng(seed + 99).permutation(n_train)]
    weights = init_weights(m, d_x, d, seed)
    x = train_set.embed(eps_x)
    xt = test_set.embed(eps_x)
    hyper = hyper or choose_hyperparameters(weights, x, eps_x)
    opt = test_set.opt
    null = test_set.null_risk()
    eps = EPS_REL * (null - opt) if eps is None else float(eps)
    grid = np.unique(np.r_[np.geomspace(1, max(steps, 1), records // 2).astype(int),
                           np.linspace(0, steps, records // 2 + 1).astype(int)])
    kept: list[np.ndarray] = []

    def keep(t: int, shift: Array) -> None:
        kept.append(per_sample_losses(weights, xt, test_set.y_star, hyper.lam, shift))

    res = sgd(weights, x, y_train, hyper.lam, hyper.eta * eta_factor, steps, seed=seed,
              sampling="once" if N is None else "uniform", record_at=grid,
              eval_x=None if per_sample else xt, eval_y=None if per_sample else test_set.y_star,
              callback=keep if per_sample else None,
              stop_below=(opt + eps) if stop_at_target else None, stop_window=window)
    losses = np.asarray(kept) if per_sample else None
    if losses is not None:
        res.risks = losses.sum(axis=-1).mean(axis=1)
    exp = Experiment(result=res, hyper=hyper, opt=opt, null_risk=null,
                     eps=eps, test_risk=res.final_risk(),
                     online_average=float(np.mean(res.objective)) if steps else float("nan"),
                     train_risk=(risk(weights, x, y_train, hyper.lam, res.shift)
                                 if N is not None else None),
                     weights=weights, test=test_set, test_losses=losses)
    if baselines:
        exp.baselines["untrained"] = float(res.risks[0])
        if losses is not None:
            exp.baseline_losses["untrained"] = losses[0].sum(axis=-1)
        ro = readout_baseline(weights, x, y_train, xt, test_set.y_star)
        ls = least_squares_baseline(train_set.x_star, y_train, test_set.x_star,
                                    test_set.y_star)
        for name, b in (("readout", ro), ("least_squares", ls)):
            exp.baselines[name] = b["risk"]
            exp.baseline_losses[name] = b["per_sample"]
    return exp


# --------------------------------------------------------------------------------------
# Steps to OPT + eps on fresh samples (the scaling studies)
# --------------------------------------------------------------------------------------


@dataclass
class OnlineRun:
    """What :func:`steps_to_goal` measured: ``steps`` (T, the first step at which the moving
    average of the online objective is <= ``goal``; None if not within ``max_steps``), the
    hyper-parameters used and the online objective of every step taken."""

    steps: int | None
    hyper: Hyper
    goal: float
    objective: np.ndarray
    shift_frobenius: float


def steps_to_goal(target: Any, m: int, seed: int, goal: float, max_steps: int, *,
                  hyper: Hyper | Callable[[Weights, Array], Hyper] | None = None,
                  first: int = 2000, growth: float = 2.0, window: int = 100,
                  eps_x: float = EPS_X, noise: float = NOISE,
                  eta_factor: float = 1.0, data_seed: int | None = None) -> OnlineRun:
    """Online SGD (every step a fresh sample of ``target`` with label noise) from W'_0 = 0
    until the moving average over ``window`` steps of the online objective is <= ``goal``.

    The samples are drawn in chunks (``first`` samples, then each chunk ``growth`` times the
    previous, up to ``max_steps`` in all) and SGD continues from the shift reached, so a run
    costs about the steps it needs. The initialization is seeded by ``seed``, the samples by
    ``data_seed`` (default ``seed``: runs at several widths can share one stream); ``hyper`` is a
    fixed :class:`Hyper`, a rule ``(weights, x) -> Hyper`` applied to the first chunk, or None
    for :func:`choose_hyperparameters`. With fresh samples the number of steps is also the
    number of samples (Theorem 1: N <= T)."""
    from . import concept  # noqa: PLC0415
    from .rnn import init_weights  # noqa: PLC0415

    if max_steps < window or first < 1 or growth < 1:
        raise ValueError(f"steps_to_goal needs max_steps >= window, first >= 1 and growth >= 1, "
                         f"got max_steps={max_steps}, window={window}, first={first}, "
                         f"growth={growth}")
    weights = init_weights(m, target.d_x, target.d, seed)
    ds = seed if data_seed is None else data_seed
    xp = backend.xp()
    shift = None
    objs: list[np.ndarray] = []
    done, k, size = 0, 0, min(first, max_steps)
    hp: Hyper | None = hyper if isinstance(hyper, Hyper) else None
    steps = None
    while done < max_steps:
        size = min(size, max_steps - done)
        xs = concept.random_true_inputs(size, target.L, target.d_x, 7919 * ds + 2 * k + 1)
        data = concept.make_dataset(target, xs, noise, 7919 * ds + 2 * k + 2)
        x = data.embed(eps_x)
        if hp is None:
            hp = hyper(weights, x) if callable(hyper) else choose_hyperparameters(
                weights, x, eps_x)
        w_now = weights if shift is None else Weights(W=weights.W + shift, A=weights.A,
                                                      B=weights.B)
        res = sgd(w_now, x, data.y_star, hp.lam, hp.eta * eta_factor, size, seed=seed + k,
                  sampling="once", stop_below=goal, stop_window=window)
        shift = res.shift if shift is None else shift + res.shift
        objs.append(res.objective)
        done += res.steps
        steps = first_crossing(np.concatenate(objs), goal, window)
        if steps is not None or not np.all(np.isfinite(res.objective)):
            break
        k += 1
        size = int(math.ceil(size * growth))
    norm = float(xp.sqrt((shift * shift).sum())) if shift is not None else 0.0
    return OnlineRun(steps=steps, hyper=hp, goal=float(goal), objective=np.concatenate(objs),
                     shift_frobenius=norm)
