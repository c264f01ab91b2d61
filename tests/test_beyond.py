"""The chapter *Beyond the paper*: the helper modules (lazy, lipschitz, offnorm, lossscale) and,
for every scaling criterion, synthetic data at the check's own design (same x grid, same
replicates, the scatter measured on the real data): data made to the claim are confirmed at
nearly every replication, data made to the competing law are not."""

import math

import numpy as np
import pytest

from rnnproof import backend, concept, init_weights, lipschitz, lossscale, offnorm
from rnnproof import initialization as ini
from rnnproof.checks import REGISTRY
from rnnproof.checks import beyond as B
from rnnproof.rnn import hidden_states
from rnnproof.verdicts import CONFIRMED, PASSING

REPS = 200


def _share(verdicts: list[str]) -> float:
    return float(np.mean([v == CONFIRMED for v in verdicts]))


def _grade(cid: str, evidence: dict) -> str:
    return REGISTRY[cid].rule.grade(evidence)[0]


# ------------------------------------------------------------------------------ helpers


def test_common_slope_recovers_a_shared_exponent():
    rng = np.random.default_rng(0)
    m = np.tile([64, 128, 256, 512], 6)
    g = np.repeat(["a", "b"], 12)
    y = np.where(g == "a", 1.0, 5.0) * m ** -0.5 * np.exp(0.01 * rng.standard_normal(m.size))
    est = B.common_slope(m, y, g)
    assert est.value == pytest.approx(-0.5, abs=0.01) and est.df == m.size - 3


def test_lipschitz_factor_closed_form():
    assert lipschitz.lipschitz_factor(2.0, [1.0, 1.0, 1.0], 3.0) == pytest.approx(3 * (4 + 2 + 1))
    with pytest.raises(ValueError):
        lipschitz.lipschitz_factor(-1.0, [1.0], 1.0)


def test_lipschitz_factor_bounds_the_output_change():
    """||F_L(W_1) - F_L(W_2)|| <= Lip_L ||W_1 - W_2||_2 on actual runs of the recurrence."""
    w = init_weights(64, 4, 1, 0)
    x = ini.probe_inputs(6, 0.5, 3, 4, 0)
    dW = backend.rng(1).standard_normal((64, 64)) * 0.01
    from rnnproof.rnn import outputs

    dF = np.abs(backend.to_numpy(outputs(w, x, dW) - outputs(w, x)))[:, -1].max()
    beta = max(ini.spectral_norm(w.W), ini.spectral_norm(w.W + dW))
    h = backend.to_numpy(hidden_states(w, x))
    hn = np.sqrt((h ** 2).sum(-1)).max(axis=0)[1:6]
    h2 = backend.to_numpy(hidden_states(w, x, dW))
    hn = np.maximum(hn, np.sqrt((h2 ** 2).sum(-1)).max(axis=0)[1:6])
    lip = lipschitz.lipschitz_factor(beta, hn, ini.spectral_norm(w.B))
    assert dF <= lip * ini.spectral_norm(dW)


def test_unchecked_recurrence_matches_the_package_on_normalized_inputs():
    w = init_weights(32, 4, 1, 2)
    x = ini.probe_inputs(5, 0.3, 2, 4, 1)
    assert np.allclose(backend.to_numpy(offnorm.hidden_states_any(w, x)),
                       backend.to_numpy(hidden_states(w, x)), rtol=0, atol=1e-14)
    x0 = x[:1]
    assert np.allclose(offnorm.null_distance_limit(x, x0), ini.null_distance_limit(x, x0))


def test_tokens_padded_and_unpadded():
    st = offnorm.Setting(0.3, 0.5, False)
    xs, u = offnorm.tokens(5, 5, 4, st, 0)
    assert np.allclose(np.linalg.norm(xs, axis=-1), 0.5)
    xp, _ = offnorm.tokens(5, 5, 4, offnorm.Setting(0.3, 0.5, True), 0)
    assert xp.shape[-1] == 6 and np.allclose(np.linalg.norm(xp, axis=-1), 1.0)
    assert not st.normalized and offnorm.Setting(0.3, 0.5, True).normalized
    with pytest.raises(ValueError, match="token norm"):
        offnorm.Setting(0.3, 1.5)
    with pytest.raises(ValueError, match="eps_x"):
        offnorm.actual_inputs(xs, 1.5)


def test_padded_target_is_the_same_function_of_the_raw_tokens():
    """F*_pad(pad_to_unit(c u)) = F*(c u): (3.1) evaluated term by term on the raw tokens."""
    from rnnproof.indicator import target_values

    tgt = B.nonlinear_target(5)
    xp, u = offnorm.tokens(7, 5, 5, offnorm.Setting(0.5, 0.5, True), 3)
    raw = np.zeros((7, 6, 1))
    for t in tgt.terms:
        raw[:, t.j, t.s] += target_values(t.phi, 0.5 * u[:, t.i - 2] @ t.w_star)
    assert np.allclose(offnorm.padded_target(tgt)(xp), raw, atol=1e-12)


def test_sup_bound_bounds_the_labels():
    tgt = concept.random_target(5, 5, 1, 1, (concept.z ** 2,), seed=1)
    f = tgt.labels(concept.random_true_inputs(2000, 5, 5, 0))
    assert np.abs(f).max() <= lossscale.sup_bound(tgt) + 1e-12


def test_temperature_above_the_output_scale_is_refused():
    tgt = B.nonlinear_target(6)
    with pytest.raises(ValueError, match="lambda"):
        lossscale.steps_to_target(tgt, "logistic", 3.0, 16, 10, 0, 0.1)
    with pytest.raises(ValueError, match="family"):
        lossscale.steps_to_target(tgt, "hinge", 1.0, 16, 10, 0, 0.1)


# ------------------------------------------------------------------ synthetic-data tests


def _width_design(ms, reps, exponent, sdlog, rng, groups=None):
    m = np.repeat(ms, reps).astype(float)
    y = m ** exponent * np.exp(sdlog * rng.standard_normal(m.size))
    return m, y


@pytest.mark.parametrize("exponent,want", [(-0.5, True), (-0.25, False), (0.0, False),
                                           (-1.0, False)])
def test_kernel_limit_rule_at_its_design(exponent, want):
    sz = REGISTRY["kernel-limit"].sizes["quick"]
    rng = np.random.default_rng(11)
    out = []
    for _ in range(REPS):
        m, y = _width_design(sz["m"], sz["reps"], exponent, 0.3, rng)  # measured sdlog 0.2-0.55
        ev = B.kernel_limit_evidence(m, 7 * y) | {"factorized": 0.0, "summed": 0.0}
        out.append(_grade("kernel-limit", ev))
    assert _share(out) >= 0.95 if want else _share(out) <= 0.05


def _lazy_design(exponent, rng):
    sz = REGISTRY["kernel-lazy"].sizes["quick"]
    ms, grp, kc = [], [], []
    for name, sd, c in (("non-linear", 0.3, 0.4), ("theorem-1", 0.5, 1.0)):  # measured sdlog
        m, y = _width_design(sz["m"], sz["reps"], exponent, sd, rng)
        ms += m.tolist()
        kc += (c * 8 ** -exponent * y).tolist()
        grp += [name] * m.size
    return B.lazy_evidence(ms, kc, kc, grp)


@pytest.mark.parametrize("exponent,max_share", [(0.0, 0.0), (-0.1, 0.05), (-1.3, 0.05)])
def test_kernel_lazy_rule_rejects_the_competitors(exponent, max_share):
    rng = np.random.default_rng(5)
    out = [_grade("kernel-lazy", _lazy_design(exponent, rng)) for _ in range(REPS)]
    assert _share(out) <= max_share


def test_kernel_lazy_rule_confirms_the_kernel_regime():
    rng = np.random.default_rng(6)
    out = [_grade("kernel-lazy", _lazy_design(-0.5, rng)) for _ in range(REPS)]
    assert _share(out) >= 0.95


@pytest.mark.parametrize("exponent,want", [(-0.5, True), (-0.4, True), (-0.15, False),
                                           (0.0, False), (-1.1, False)])
def test_null_distance_rule_at_its_design(exponent, want):
    sz = REGISTRY["off-norm-null-distance"].sizes["quick"]
    rng = np.random.default_rng(12)
    out = [_grade("off-norm-null-distance",
                  B.null_distance_evidence(*_width_design(sz["m"], sz["reps"], exponent, 0.35,
                                                          rng)))
           for _ in range(REPS)]
    assert _share(out) >= 0.95 if want else _share(out) <= 0.05


def _beta_design(beta, rad_rate, rng):
    sz = REGISTRY["beta-factor"].sizes["quick"]
    Ls = np.repeat(sz["Ls"], sz["seeds"]).astype(float)
    lip = np.array([lipschitz.lipschitz_factor(beta, np.sqrt(1 + 0.25 * np.arange(L - 1)), 1.0)
                    for L in Ls]) * np.exp(0.02 * rng.standard_normal(Ls.size))
    rad = 2.0 * Ls * np.exp(rad_rate * Ls + 0.05 * rng.standard_normal(Ls.size))
    return B.beta_evidence(Ls, np.full(Ls.size, beta), lip, rad)


@pytest.mark.parametrize("beta,rad_rate,want", [(2.8, 0.0, True), (1.2, 0.0, False),
                                                (2.8, math.log(2.0), False),
                                                (0.85, 0.0, False)])
def test_beta_factor_rule_at_its_design(beta, rad_rate, want):
    rng = np.random.default_rng(7)
    out = []
    for _ in range(REPS):
        ev = _beta_design(beta, rad_rate, rng)
        ev.pop("spectral_fit")
        ev.pop("rademacher_fit")
        out.append(_grade("beta-factor", ev))
    assert _share(out) >= 0.95 if want else _share(out) <= 0.05


@pytest.mark.parametrize("exponent,want", [(0.0, True), (-0.2, True), (-1.0, False),
                                           (1.0, False)])
def test_on_target_rule_at_its_design(exponent, want):
    sz = REGISTRY["off-norm-lemma-5.2a"].sizes["quick"]
    rng = np.random.default_rng(13)
    eps = np.asarray(sz["eps"])
    out = []
    for _ in range(REPS):
        # per draw: a level (the draw's finite-width noise) and a small scatter along eps_x
        # (measured: per-draw slopes spread by about 0.25)
        E = (0.05 * np.exp(0.3 * rng.standard_normal((sz["draws"], 1)))
             * eps[None] ** (exponent + 0.25 * rng.standard_normal((sz["draws"], 1)))
             * np.exp(0.1 * rng.standard_normal((sz["draws"], eps.size))))
        ev = B.on_target_evidence(eps, E) | {"design_normalized": 0.004, "unpadded_margin": -0.1,
                                             "eps_e": 0.01}
        out.append(_grade("off-norm-lemma-5.2a", ev))
    assert _share(out) >= 0.95 if want else _share(out) <= 0.05


@pytest.mark.parametrize("slope,want", [(-0.13, True), (0.0, False), (0.1, False)])
def test_budget_rule_at_its_design(slope, want):
    sz = REGISTRY["off-norm-theorem-1"].sizes["quick"]
    rng = np.random.default_rng(14)
    eps = np.repeat(sz["eps"], sz["seeds"]).astype(float)
    c = np.repeat(sz["c"], sz["seeds"]).astype(float)
    out = []
    for _ in range(REPS):
        se = 0.15 * eps ** slope * np.exp(0.12 * rng.standard_normal(eps.size))  # measured sd
        sc = 0.15 * c ** (2.5 * slope) * np.exp(0.12 * rng.standard_normal(c.size))
        out.append(_grade("off-norm-theorem-1", B.budget_evidence(eps, se, c, sc)))
    assert _share(out) >= 0.95 if want else _share(out) <= 0.05


@pytest.mark.parametrize("exponent,want", [(0.2, True), (1.0, True), (3.0, False)])
def test_footnote_4_rule_at_its_design(exponent, want):
    sz = REGISTRY["footnote-4"].sizes["quick"]
    rng = np.random.default_rng(15)
    out = []
    for _ in range(REPS):
        def table(x: tuple) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            lvl = 2000 * np.exp(0.3 * rng.standard_normal((sz["seeds"], 1)))  # per seed
            return lvl * x[None] ** exponent * np.exp(0.08 * rng.standard_normal(
                (sz["seeds"], x.size)))

        ev = {"reached": True, "b_exponent": B.loss_evidence(sz["b"], table(sz["b"])),
              "l_exponent": B.loss_evidence(sz["l"], table(sz["l"]))}
        out.append(_grade("footnote-4", ev))
    assert _share(out) >= 0.95 if want else _share(out) <= 0.05


def test_kernel_regression_rule_needs_the_kernel_to_keep_up():
    ev = {"krr_minus_rnn_non-linear": B.mean_estimate([0.3, 0.31, 0.29]),
          "eps_non-linear": 0.14, "krr_minus_rnn_theorem-1": B.mean_estimate([-0.1, -0.09]),
          "eps_theorem-1": 0.15, "krr_over_linear": 0.3}
    assert _grade("kernel-regression", ev) not in PASSING
    ev["krr_minus_rnn_non-linear"] = B.mean_estimate([-0.2, -0.21, -0.19])
    assert _grade("kernel-regression", ev) == CONFIRMED
