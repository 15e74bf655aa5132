#!/usr/bin/env python3
"""Regenerate crates/mmm-diagnostics/tests/data/arviz_stacking_golden.json.

Golden values for model weights: the Rust test
crates/mmm-diagnostics/tests/it/stacking.rs computes PSIS-LOO
(mmm_diagnostics::loo) and then the model weights (mmm_diagnostics::stacking)
on the pointwise log-likelihoods stored here, and compares them with what
ArviZ's az.compare returns on the same log-likelihoods.

How to run (from the repository root), with the pinned versions of
scripts/requirements-arviz.txt:

    python3 -m venv .venv
    .venv/bin/python -m pip install -r scripts/requirements-arviz.txt
    .venv/bin/python scripts/arviz_stacking_reference.py

Each case is a set of 2 to 4 models of one data set, each model a Normal
regression whose posterior draws are Gaussian around its least-squares fit (one
chain, so r_eff = 1). The cases cover one dominant model (the other gets weight
0 at the optimum), a near tie (with and without a regressor of small effect), an
interior optimum over three models (two of them fitted to one half of the data
each), a four-model mix with weights on the boundary and an exact tie (two identical log-likelihood matrices: the
objective is flat along the tie, and both ArviZ and the Rust solver, starting
from equal weights, keep the tied models equal).

Per case the file records, per model, ArviZ's
  az.compare(method="stacking")      -> "stacking" (SLSQP, ArviZ's defaults)
  az.compare(method="pseudo-BMA")    -> "pseudo_bma"
  az.compare(method="BB-pseudo-BMA", b_samples=100000, seed=SEED)
                                     -> "bb_pseudo_bma" (Monte Carlo error about
                                        bb_sd / sqrt(100000))
and, as a check of ArviZ's own convergence, the stacking optimum solved to a
tight tolerance here ("stacking_tight": SLSQP with ftol=1e-15 on the same
objective), plus bb_sd, the standard deviation of a model's weight over the
bootstrap replicates (the Rust test uses it to bound the Monte Carlo error of
its own 1000-replicate estimate). Values are rounded to 12 decimals before
ArviZ sees them (exact round trip through JSON).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import arviz as az  # noqa: E402
import scipy  # noqa: E402
from scipy.optimize import Bounds, LinearConstraint, minimize  # noqa: E402

logging.disable(logging.WARNING)

SEED = 20180601
DRAWS = 120
BB_SAMPLES = 100_000
OUT = (
    Path(__file__).resolve().parent.parent
    / "crates"
    / "mmm-diagnostics"
    / "tests"
    / "data"
    / "arviz_stacking_golden.json"
)


def fit_draws(rng, X, y, draws):
    """Log-likelihood [draw][obs] of a Normal regression y ~ N(X b, s) with draws of (b, s)
    Gaussian around the least-squares fit (log s around the residual scale)."""
    n, p = X.shape
    b_hat, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ b_hat
    s_hat = np.sqrt(resid @ resid / max(n - p, 1))
    cov = s_hat**2 * np.linalg.inv(X.T @ X)
    b = rng.multivariate_normal(b_hat, cov, size=draws)
    s = np.exp(np.log(s_hat) + rng.standard_normal(draws) / np.sqrt(2 * n))
    mu = b @ X.T
    ll = scipy.stats.norm.logpdf(y[None, :], mu, s[:, None])
    return np.round(ll, 12)


def data(rng, n):
    x = np.linspace(-1.0, 1.0, n)
    z = rng.standard_normal(n)
    return x, z


def weights(lls):
    """ArviZ's weights, keyed by model, for log-likelihood matrices [draw][obs]."""
    idatas = {
        f"m{k}": az.from_dict(
            posterior={"mu": np.zeros((1, ll.shape[0]))},
            log_likelihood={"y": ll[None, :, :]},
        )
        for k, ll in enumerate(lls)
    }
    names = list(idatas)
    loos = {m: az.loo(idatas[m], pointwise=True) for m in names}
    out = {}
    for key, kwargs in [
        ("stacking", {"method": "stacking"}),
        ("pseudo_bma", {"method": "pseudo-BMA"}),
        ("bb_pseudo_bma", {"method": "BB-pseudo-BMA", "b_samples": BB_SAMPLES, "seed": SEED}),
    ]:
        df = az.compare(loos, ic="loo", **kwargs)
        out[key] = [float(df.loc[m, "weight"]) for m in names]
    elpd_i = np.stack([loos[m].loo_i.values for m in names], axis=1)
    out["stacking_tight"] = tight_stacking(elpd_i)
    out["bb_sd"] = bb_sd(elpd_i)
    out["elpd_loo"] = [float(loos[m].elpd_loo) for m in names]
    out["loo_i"] = [[float(v) for v in loos[m].loo_i.values] for m in names]
    return out


def tight_stacking(elpd_i):
    """ArviZ's stacking objective (in its order: models sorted by elpd_loo, best first) solved
    with ftol=1e-15, the weights returned in input order."""
    order = np.argsort(-elpd_i.sum(axis=0), kind="stable")
    e = np.exp(elpd_i[:, order])
    k = e.shape[1]
    res = minimize(
        fun=lambda w: -np.sum(np.log(e @ w)),
        x0=np.full(k, 1.0 / k),
        jac=lambda w: -np.sum(e / (e @ w)[:, None], axis=0),
        bounds=Bounds(np.zeros(k), np.ones(k)),
        constraints=LinearConstraint(np.ones(k), lb=1.0, ub=1.0),
        options={"ftol": 1e-15, "maxiter": 10_000},
    )
    w = np.empty(k)
    w[order] = res.x
    return [float(v) for v in w]


def bb_sd(elpd_i):
    """Standard deviation over Bayesian-bootstrap replicates of each model's pseudo-BMA weight
    (ArviZ's BB-pseudo-BMA replicates, 10000 of them)."""
    n = elpd_i.shape[0]
    rng = np.random.default_rng(SEED)
    u = rng.dirichlet(np.ones(n), size=10_000)
    z = (u @ elpd_i) * n
    w = np.exp(z - z.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return [float(v) for v in w.std(axis=0)]


def case(name, lls):
    return {
        "name": name,
        "log_lik": [ll.tolist() for ll in lls],
        "values": weights(lls),
    }


def main():
    rng = np.random.default_rng(SEED)
    cases = []

    # One dominant model: the data need z; the second model leaves it out.
    n = 40
    x, z = data(rng, n)
    y = 1.0 + 2.0 * x + 3.0 * z + 0.5 * rng.standard_normal(n)
    full = np.column_stack([np.ones(n), x, z])
    no_z = np.column_stack([np.ones(n), x])
    cases.append(
        case("dominant", [fit_draws(rng, full, y, DRAWS), fit_draws(rng, no_z, y, DRAWS)])
    )

    # Near tie: z has a small effect, so the models with and without it predict almost equally.
    n = 30
    x, z = data(rng, n)
    y = 1.0 + 2.0 * x + 0.15 * z + 0.5 * rng.standard_normal(n)
    full = np.column_stack([np.ones(n), x, z])
    no_z = np.column_stack([np.ones(n), x])
    cases.append(
        case(
            "near_tie",
            [fit_draws(rng, no_z, y, DRAWS), fit_draws(rng, full, y, DRAWS)],
        )
    )

    # Interior optimum: slope 2 on the left half, 3.5 on the right; one model per half.
    n = 50
    x, _ = data(rng, n)
    y = 1.0 + np.where(x < 0, 2.0 * x, 3.5 * x) + 0.3 * rng.standard_normal(n)
    left, right = x < 0, x >= 0
    X = np.column_stack([np.ones(n), x])
    lls = []
    for half in (left, right):
        b_hat, *_ = np.linalg.lstsq(X[half], y[half], rcond=None)
        ll = fit_draws_at(rng, X, y, b_hat, 0.35, DRAWS)
        lls.append(ll)
    lls.append(fit_draws(rng, X, y, DRAWS))
    cases.append(case("interior_three", lls))

    # Four models: full, without z, intercept only, and the full model with a wider noise.
    n = 60
    x, z = data(rng, n)
    y = 0.5 + 1.5 * x + 0.6 * z + 0.6 * rng.standard_normal(n)
    full = np.column_stack([np.ones(n), x, z])
    no_z = np.column_stack([np.ones(n), x])
    ones = np.ones((n, 1))
    b_hat, *_ = np.linalg.lstsq(full, y, rcond=None)
    cases.append(
        case(
            "four_models",
            [
                fit_draws(rng, full, y, DRAWS),
                fit_draws(rng, no_z, y, DRAWS),
                fit_draws(rng, ones, y, DRAWS),
                fit_draws_at(rng, full, y, b_hat, 0.9, DRAWS),
            ],
        )
    )

    # Exact tie: two identical matrices and a third, weaker model.
    n = 35
    x, z = data(rng, n)
    y = 1.0 + 2.0 * x + 0.4 * z + 0.5 * rng.standard_normal(n)
    full = np.column_stack([np.ones(n), x, z])
    no_z = np.column_stack([np.ones(n), x])
    tied = fit_draws(rng, full, y, DRAWS)
    cases.append(case("exact_tie", [tied, tied.copy(), fit_draws(rng, no_z, y, DRAWS)]))

    versions = {
        "python": sys.version.split()[0],
        "arviz": az.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    payload = {"versions": versions, "seed": SEED, "bb_samples": BB_SAMPLES, "cases": cases}
    OUT.write_text(json.dumps(payload) + "\n")
    for c in cases:
        v = c["values"]
        gap = max(abs(a - b) for a, b in zip(v["stacking"], v["stacking_tight"]))
        print(f"{c['name']}: stacking {np.round(v['stacking'], 6)} (ArviZ vs tight {gap:.1e}), "
              f"pseudo-BMA {np.round(v['pseudo_bma'], 6)}, BB {np.round(v['bb_pseudo_bma'], 6)}")
    print(f"wrote {OUT}")


def fit_draws_at(rng, X, y, b_center, s, draws):
    """Log-likelihood [draw][obs] of y ~ N(X b, s) with b drawn around `b_center` (a fit on part
    of the data, or a model with a wrong noise scale) and s fixed."""
    n, _ = X.shape
    cov = s**2 * np.linalg.inv(X.T @ X)
    b = rng.multivariate_normal(b_center, cov, size=draws)
    mu = b @ X.T
    ll = scipy.stats.norm.logpdf(y[None, :], mu, s)
    return np.round(ll, 12)


if __name__ == "__main__":
    main()
