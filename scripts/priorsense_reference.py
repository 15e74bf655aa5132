#!/usr/bin/env python3
"""Regenerate crates/mmm-diagnostics/tests/data/priorsense_golden.json.

Golden values for power-scaling prior and likelihood sensitivity (Kallioinen, Paananen,
Buerkner & Vehtari 2023): the Rust test crates/mmm-diagnostics/tests/it/sensitivity.rs runs
mmm_diagnostics::sensitivity on the draws stored here and compares with what this script
computes.

How to run (from the repository root), with the pinned versions of
scripts/requirements-arviz.txt:

    python3 -m venv .venv
    .venv/bin/python -m pip install -r scripts/requirements-arviz.txt
    .venv/bin/python scripts/priorsense_reference.py

There is no R on the build machines, so this script is the reference: it implements the
formulas of the R package priorsense (github.com/n-kall/priorsense at d13f150:
R/powerscale_sensitivity.R, R/powerscale_gradients.R, R/powerscale.R,
R/scaled_log_ratio.R, R/cjs.R) and of the Pareto smoothing it calls, posterior::pareto_smooth
(github.com/stan-dev/posterior at 0c94631: R/pareto_smooth.R, R/gpd.R), line by line in
numpy, independently of the Rust code:

- log importance ratios (alpha - 1) * log p_c(theta_s), alpha = 0.99 and 1.01
  (`scaled_log_ratio`); p_c the joint prior (sum of the groups), one prior group, or the
  likelihood;
- `pareto_smooth(x, r_eff = NULL, are_log_weights = TRUE)`: r_eff = ess_tail(x) / S where
  priorsense's draws array reaches `.ess_quantile`'s `as.matrix` as a single column (chains
  one after the other), so the tail ESS is that of one chain of S draws; ArviZ's
  az.ess(method="tail") on shape (1, S) computes it (the same Vehtari et al. 2021 estimator
  as posterior's); tail length floor(3 sqrt(S / r_eff)) when S r_eff > 225, else floor(S / 5);
  `ps_tail` on the right tail with posterior's `gpdfit` (weakly informative prior on k, NA
  when the first quartile is not above the minimum) and `qgeneralized_pareto`;
  ArviZ's az.psislw is not used: its tail length is ceil(min(S / 5, 3 sqrt(S / r_eff))),
  not posterior's, so it smooths a different number of draws;
- weights normalized as posterior::weights(normalize = TRUE);
- `cjs_dist(x, x, NULL, w)` with `metric = TRUE, unsigned = TRUE` (the branch for a weighted
  copy of the same draws: natural bins, `na.rm = TRUE` sums);
- sensitivity (d_upper / log2(1.01) + d_lower / -log2(0.99)) / 2 and priorsense's diagnosis
  at 0.05.

Each case is y_i ~ Normal(mu, sigma) with a prior on mu and sigma, posterior draws made to
look like MCMC output (AR(1) chains around the approximate posterior; one case repeats draws
as a sampler that stays put does). Values are rounded to 12 decimals before anything is
computed from them (exact round trip through JSON). A Pareto k that posterior returns as NA
is written as null.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import arviz as az  # noqa: E402
import scipy  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

logging.disable(logging.WARNING)

SEED = 20240530
LOWER_ALPHA = 0.99
UPPER_ALPHA = 1.01
THRESHOLD = 0.05
EPS = np.finfo(float).eps
OUT = (
    Path(__file__).resolve().parent.parent
    / "crates"
    / "mmm-diagnostics"
    / "tests"
    / "data"
    / "priorsense_golden.json"
)


def is_constant(x):
    """posterior's is_constant: abs(max - min) < machine epsilon."""
    return abs(np.max(x) - np.min(x)) < EPS


def ess_tail_one_chain(x):
    """posterior::ess_tail of priorsense's draws array, flattened to one chain."""
    return float(az.ess(np.asarray(x)[None, :], method="tail"))


def ps_tail_length(ndraws, r_eff):
    """posterior's ps_tail_length."""
    if ndraws * r_eff > 225:
        return math.floor(3 * math.sqrt(ndraws / r_eff))
    return math.floor(ndraws / 5)


def gpdfit(x):
    """posterior's gpdfit(x, wip = TRUE, min_grid_pts = 30) on sorted x; None for NA."""
    n = len(x)
    prior = 3
    m = 30 + math.floor(math.sqrt(n))
    jj = np.arange(1, m + 1)
    xstar = x[math.floor(n / 4 + 0.5) - 1]
    if not xstar > x[0]:
        return None
    theta = 1 / x[n - 1] + (1 - np.sqrt(m / (jj - 0.5))) / prior / xstar
    k = np.mean(np.log1p(-np.outer(theta, x)), axis=1)
    l_theta = n * (np.log(-theta / k) - k - 1)
    w_theta = np.exp(l_theta - scipy.special.logsumexp(l_theta))
    theta_hat = np.sum(theta * w_theta)
    k_hat = np.mean(np.log1p(-theta_hat * x))
    sigma_hat = -k_hat / theta_hat
    k_hat = (k_hat * n + 0.5 * 10) / (n + 10)
    if np.isnan(k_hat):
        return math.inf, math.nan
    return float(k_hat), float(sigma_hat)


def qgeneralized_pareto(p, mu, sigma, k):
    """posterior's qgeneralized_pareto (lower tail)."""
    if np.isnan(sigma) or sigma <= 0:
        return np.full(len(p), np.nan)
    if k == 0:
        return mu - sigma * np.log1p(-p)
    return mu + sigma * np.expm1(-k * np.log1p(-p)) / k


def pareto_smooth(log_ratios):
    """posterior::pareto_smooth(x, r_eff = NULL, are_log_weights = TRUE): (x, khat or None)."""
    x = np.array(log_ratios, dtype=float)
    if not np.all(np.isfinite(x)) or is_constant(x):
        return x, None, None
    s = len(x)
    r_eff = ess_tail_one_chain(x) / s
    if np.isnan(r_eff):
        return x, None, None
    tail = max(ps_tail_length(s, r_eff), 5)
    if tail >= s:
        return x, None, tail
    # ps_tail(tail = "right", are_log_weights = TRUE)
    x = x - np.max(x)
    order = np.argsort(x, kind="stable")
    tail_ids = order[s - tail:]
    draws_tail = x[tail_ids]
    if is_constant(draws_tail):
        return x, None, tail
    cutoff = x[order[s - tail - 1]]
    if cutoff == x[order[s - tail]]:
        cutoff = cutoff - EPS
    max_tail = np.max(draws_tail)
    fit = gpdfit(np.exp(draws_tail) - math.exp(cutoff))
    if fit is None:
        return x, None, tail
    k, sigma = fit
    if np.isfinite(k):
        p = (np.arange(1, tail + 1) - 0.5) / tail
        smoothed = np.log(qgeneralized_pareto(p, math.exp(cutoff), sigma, k))
        smoothed[smoothed > max_tail] = max_tail
        x[tail_ids] = smoothed
    return x, k, tail


def weights(log_weights):
    return np.exp(log_weights - scipy.special.logsumexp(log_weights))


def _cjs(x, wp, wq):
    """priorsense's .cjs_dist(x, x, wp, wq, metric = TRUE), the identical-draws branch."""
    idx = np.argsort(x, kind="stable")
    xs, wp, wq = x[idx], wp[idx], wq[idx]
    binwidth = np.diff(xs)
    px = np.cumsum(wp / np.sum(wp))[:-1]
    qx = np.cumsum(wq / np.sum(wq))[:-1]
    px_int = np.sum(px * binwidth)
    qx_int = np.sum(qx * binwidth)
    with np.errstate(divide="ignore", invalid="ignore"):
        pq = binwidth * (px * (np.log2(px) - np.log2(0.5 * px + 0.5 * qx)))
        qp = binwidth * (qx * (np.log2(qx) - np.log2(0.5 * qx + 0.5 * px)))
    cjs_pq = np.nansum(pq) + 0.5 / np.log(2) * (qx_int - px_int)
    cjs_qp = np.nansum(qp) + 0.5 / np.log(2) * (px_int - qx_int)
    return math.sqrt((cjs_pq + cjs_qp) / (px_int + qx_int))


def cjs_dist(x, w):
    """cjs_dist(x, x, x_weights = NULL, y_weights = w, unsigned = TRUE)."""
    base = np.full(len(x), 1 / len(x))
    return max(_cjs(x, base, w), _cjs(-x, base, w))


def diagnosis(prior, lik):
    if prior >= THRESHOLD and lik >= THRESHOLD:
        return "prior-data conflict"
    if prior > THRESHOLD and lik < THRESHOLD:
        return "strong prior / weak likelihood"
    return "none"


def perturbation(log_density, quantities):
    out = {"khat": [], "tail_length": [], "weighted_mean": {}, "cjs": {}}
    for alpha in (LOWER_ALPHA, UPPER_ALPHA):
        lw, k, tail = pareto_smooth(log_density * (alpha - 1))
        w = weights(lw)
        out["khat"].append(None if k is None or not np.isfinite(k) else float(k))
        out["tail_length"].append(tail)
        for name, q in quantities.items():
            out["weighted_mean"].setdefault(name, []).append(float(np.sum(w * q)))
            out["cjs"].setdefault(name, []).append(cjs_dist(q, w))
    out["sensitivity"] = {
        name: (d[1] / math.log2(UPPER_ALPHA) + d[0] / -math.log2(LOWER_ALPHA)) / 2
        for name, d in out["cjs"].items()
    }
    return out


def ar1(rng, n_chains, n_draws, rho):
    z = rng.standard_normal((n_chains, n_draws))
    out = np.empty_like(z)
    out[:, 0] = z[:, 0]
    for t in range(1, n_draws):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * z[:, t]
    return out


def sticky(rng, draws, stay):
    """Repeat the previous draw with probability `stay` (ties, as a sampler that stays put)."""
    out = draws.copy()
    for c in range(out.shape[0]):
        for t in range(1, out.shape[1]):
            if rng.random() < stay:
                out[c, t] = out[c, t - 1]
    return out


def case(rng, name, chains, draws, n_obs, data_mean, prior_mean, prior_sd, rho, stay=0.0):
    y = data_mean + rng.standard_normal(n_obs)
    sigma_hat = max(float(np.std(y)), 0.3)
    # Approximate posterior of mu (sigma near its estimate) and of ln sigma.
    prec = 1 / prior_sd**2 + n_obs / sigma_hat**2
    post_mean = (prior_mean / prior_sd**2 + np.sum(y) / sigma_hat**2) / prec
    mu = post_mean + ar1(rng, chains, draws, rho) / math.sqrt(prec)
    sigma = np.exp(np.log(sigma_hat) + ar1(rng, chains, draws, rho) / math.sqrt(2 * n_obs))
    if stay > 0:
        mu, sigma = sticky(rng, mu, stay), sticky(np.random.default_rng(1), sigma, stay)
    flat = lambda a: np.round(a.reshape(-1), 12)  # chain after chain
    mu, sigma = flat(mu), flat(sigma)
    log_prior = {
        "mu": flat(scipy.stats.norm.logpdf(mu, prior_mean, prior_sd)),
        "sigma": flat(scipy.stats.halfnorm.logpdf(sigma, scale=2.0)),
    }
    log_lik = flat(np.sum(scipy.stats.norm.logpdf(y[None, :], mu[:, None], sigma[:, None]), axis=1))
    quantities = {"mu": mu, "sigma": sigma, "snr": np.round(mu / sigma, 12)}
    joint = log_prior["mu"] + log_prior["sigma"]
    perturbations = {
        "prior": perturbation(joint, quantities),
        "likelihood": perturbation(log_lik, quantities),
    }
    for group, values in log_prior.items():
        perturbations[f"prior:{group}"] = perturbation(values, quantities)
    diagnoses = {
        q: diagnosis(
            perturbations["prior"]["sensitivity"][q], perturbations["likelihood"]["sensitivity"][q]
        )
        for q in quantities
    }
    return {
        "name": name,
        "chains": chains,
        "draws": draws,
        "log_prior": {g: v.tolist() for g, v in log_prior.items()},
        "log_lik": log_lik.tolist(),
        "quantities": {q: v.tolist() for q, v in quantities.items()},
        "expected": {"perturbations": perturbations, "diagnosis": diagnoses},
    }


def main():
    rng = np.random.default_rng(SEED)
    cases = [
        case(rng, "data_dominate", 4, 250, 60, 1.0, 0.0, 10.0, 0.5),
        case(rng, "prior_data_conflict", 4, 250, 20, 3.0, 0.0, 0.4, 0.6),
        case(rng, "strong_prior_weak_likelihood", 2, 400, 3, 0.0, 0.0, 0.05, 0.4),
        case(rng, "repeated_draws", 2, 300, 15, 1.0, 1.5, 0.5, 0.3, stay=0.3),
        case(rng, "short_one_chain", 1, 60, 10, 0.0, 0.0, 1.0, 0.2),
    ]
    versions = {
        "python": sys.version.split()[0],
        "arviz": az.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "priorsense": "d13f150",
        "posterior": "0c94631",
    }
    OUT.write_text(json.dumps({"versions": versions, "seed": SEED, "cases": cases}) + "\n")
    for c in cases:
        p = c["expected"]["perturbations"]
        print(c["name"], c["expected"]["diagnosis"], "khat prior", p["prior"]["khat"],
              "lik", p["likelihood"]["khat"],
              {q: (round(p["prior"]["sensitivity"][q], 4), round(p["likelihood"]["sensitivity"][q], 4))
               for q in c["quantities"]})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
