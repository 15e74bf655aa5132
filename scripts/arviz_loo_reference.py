#!/usr/bin/env python3
"""Regenerate crates/mmm-diagnostics/tests/data/arviz_loo_golden.json.

Golden values for PSIS-LOO and WAIC: the Rust test
crates/mmm-diagnostics/tests/it/loo.rs computes mmm_diagnostics::loo on the
draws stored here and compares with what ArviZ's az.loo / az.waic return.

How to run (from the repository root), with the pinned versions of
scripts/requirements-arviz.txt:

    python3 -m venv .venv
    .venv/bin/python -m pip install -r scripts/requirements-arviz.txt
    .venv/bin/python scripts/arviz_loo_reference.py

Each case is a Normal linear regression y_i ~ N(a + b x_i, s) with posterior
draws made to look like MCMC output (AR(1) chains around the least-squares
posterior) and a few outlying observations, so that some Pareto k are large
and the Pareto smoothing path is exercised. Values are rounded to 12
decimals before ArviZ sees them (exact round trip through JSON). ArviZ gets
the parameters as its posterior group (it derives r_eff from their ESS) and
the pointwise log-likelihood as its log_likelihood group. Infinite k (too
short a tail to fit) is written as null.
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

logging.disable(logging.WARNING)

SEED = 20240517
OUT = (
    Path(__file__).resolve().parent.parent
    / "crates"
    / "mmm-diagnostics"
    / "tests"
    / "data"
    / "arviz_loo_golden.json"
)


def ar1(rng, n_chains, n_draws, rho):
    z = rng.standard_normal((n_chains, n_draws))
    out = np.empty_like(z)
    out[:, 0] = z[:, 0]
    for t in range(1, n_draws):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * z[:, t]
    return out


def case(rng, name, n_chains, n_draws, n_obs, outliers, rho):
    x = np.linspace(-1, 1, n_obs)
    y = 1.0 + 2.0 * x + 0.5 * rng.standard_normal(n_obs)
    y[:outliers] += 1.8
    a = np.round(1.0 + 0.08 * ar1(rng, n_chains, n_draws, rho), 12)
    b = np.round(2.0 + 0.12 * ar1(rng, n_chains, n_draws, rho), 12)
    s = np.round(np.exp(np.log(0.55) + 0.1 * ar1(rng, n_chains, n_draws, rho)), 12)
    mu = a[..., None] + b[..., None] * x
    ll = np.round(scipy.stats.norm.logpdf(y, mu, s[..., None]), 12)
    idata = az.from_dict(
        posterior={"a": a, "b": b, "s": s}, log_likelihood={"y": ll}
    )
    loo = az.loo(idata, pointwise=True)
    waic = az.waic(idata, pointwise=True)
    ess = az.ess(idata.posterior, method="mean")
    r_eff = float(np.mean([float(ess[v]) for v in ["a", "b", "s"]]) / (n_chains * n_draws))
    if n_chains == 1:
        r_eff = 1.0
    k = [None if not np.isfinite(v) else float(v) for v in loo.pareto_k.values]
    return {
        "name": name,
        "n_chains": n_chains,
        "n_draws": n_draws,
        "params": {"a": a.tolist(), "b": b.tolist(), "s": s.tolist()},
        "log_lik": ll.tolist(),
        "values": {
            "r_eff": r_eff,
            "elpd_loo": float(loo.elpd_loo),
            "se": float(loo.se),
            "p_loo": float(loo.p_loo),
            "good_k": float(loo.good_k),
            "warning": bool(loo.warning),
            "pareto_k": k,
            "loo_i": [float(v) for v in loo.loo_i.values],
            "elpd_waic": float(waic.elpd_waic),
            "waic_se": float(waic.se),
            "p_waic": float(waic.p_waic),
            "waic_warning": bool(waic.warning),
        },
    }


def main():
    rng = np.random.default_rng(SEED)
    cases = [
        case(rng, "four_chains_outliers", 4, 250, 40, 3, 0.6),
        case(rng, "two_chains_clean", 2, 500, 30, 0, 0.3),
        case(rng, "one_chain", 1, 300, 25, 2, 0.5),
        case(rng, "short_tail_k_infinite", 1, 20, 10, 1, 0.0),
    ]
    versions = {
        "python": sys.version.split()[0],
        "arviz": az.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    OUT.write_text(json.dumps({"versions": versions, "seed": SEED, "cases": cases}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
