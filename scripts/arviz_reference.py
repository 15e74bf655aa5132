#!/usr/bin/env python3
"""Regenerate crates/mmm-diagnostics/tests/data/arviz_golden.json.

The golden file holds deterministic test draws and the convergence diagnostics
that ArviZ computes for them; the Rust integration test
crates/mmm-diagnostics/tests/it/convergence.rs checks mmm_diagnostics::convergence
against it (relative error <= 1e-6).

How to run (from the repository root):

    python3 -m venv .venv
    .venv/bin/python -m pip install -r scripts/requirements-arviz.txt
    .venv/bin/python scripts/arviz_reference.py

The output is deterministic for the pinned versions in
scripts/requirements-arviz.txt (numpy's PCG64 stream with a fixed seed).

Draws are rounded to 12 decimal places before anything is computed, so that
their shortest decimal representation in the JSON parses to bit-identical f64
values in any correct-enough JSON reader (serde_json's default fast path is
exact for such numbers). ArviZ is called on exactly those rounded values.

Per case the file records ArviZ's
  rhat(method="rank"), ess(method="bulk"), ess(method="tail"),
  mcse(method="mean"), mcse(method="quantile", prob=0.05 and 0.5),
plus numpy's mean and sd (ddof=1) over all draws. NaN is written as null
(both in draws and in results); floats are written with repr (shortest
round-trip, i.e. full precision).
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

logging.disable(logging.WARNING)  # ArviZ logs a warning for every NaN/short case

SEED = 20210301
OUT = (
    Path(__file__).resolve().parent.parent
    / "crates"
    / "mmm-diagnostics"
    / "tests"
    / "data"
    / "arviz_golden.json"
)


def ar1(rng: np.random.Generator, n_chains: int, n_draws: int, rho: float) -> np.ndarray:
    """Stationary AR(1) chains with unit marginal variance."""
    eps = rng.normal(size=(n_chains, n_draws)) * math.sqrt(1.0 - rho * rho)
    x = np.empty((n_chains, n_draws))
    x[:, 0] = rng.normal(size=n_chains)
    for t in range(1, n_draws):
        x[:, t] = rho * x[:, t - 1] + eps[:, t]
    return x


def make_cases() -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(SEED)
    cases: list[tuple[str, str, np.ndarray]] = []
    cases.append(("ar1_rho09_4x500", "AR(1), rho = 0.9, 4 chains x 500", ar1(rng, 4, 500, 0.9)))
    cases.append(("iid_normal_4x500", "iid N(0, 1), 4 chains x 500", rng.normal(size=(4, 500))))
    poor = ar1(rng, 4, 501, 0.5) + np.array([0.0, 0.5, 1.5, 3.0])[:, None]
    cases.append(("poor_mixing_odd_4x501", "AR(1) rho 0.5 with chain offsets 0/0.5/1.5/3, odd length", poor))
    cases.append(("student_t3_4x500", "iid Student-t with 3 dof, 4 chains x 500", rng.standard_t(3.0, size=(4, 500))))
    cases.append(("single_chain_1x1000", "one AR(1) chain, rho 0.5, 1000 draws", ar1(rng, 1, 1000, 0.5)))
    cases.append(("constant_4x100", "every draw equal to 2.5", np.full((4, 100), 2.5)))
    with_nan = rng.normal(size=(4, 100))
    with_nan[2, 37] = np.nan
    cases.append(("contains_nan_4x100", "iid N(0, 1) with one NaN", with_nan))
    ties = np.round(ar1(rng, 4, 300, 0.7), 1)
    cases.append(("ties_rounded_4x300", "AR(1) rho 0.7 rounded to 0.1 (many ties)", ties))
    binary = (rng.uniform(size=(3, 200)) < 0.3).astype(float)
    cases.append(("binary_3x200", "Bernoulli(0.3) indicator draws, 3 chains x 200", binary))
    cases.append(("short_odd_2x7", "iid N(0, 1), 2 chains x 7 (short, odd)", rng.normal(size=(2, 7))))
    cases.append(("wide_8x251", "AR(1) rho 0.3, 8 chains x 251 (odd)", ar1(rng, 8, 251, 0.3)))
    cases.append(("too_short_2x3", "2 chains x 3 draws (below ArviZ minimum of 4)", rng.normal(size=(2, 3))))
    return [(name, desc, np.round(draws, 12)) for name, desc, draws in cases]


def num(x) -> float | None:
    """ArviZ returns numpy scalars for ndarray input; NaN becomes JSON null."""
    x = float(x)
    return None if math.isnan(x) else x


def main() -> int:
    out = {
        "generator": "scripts/arviz_reference.py",
        "seed": SEED,
        "versions": {
            "arviz": az.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "python": sys.version.split()[0],
        },
        "cases": [],
    }
    for name, desc, draws in make_cases():
        x = np.asarray(draws, dtype=float)
        values = {
            "rhat": num(az.rhat(x, method="rank")),
            "ess_bulk": num(az.ess(x, method="bulk")),
            "ess_tail": num(az.ess(x, method="tail")),
            "mcse_mean": num(az.mcse(x, method="mean")),
            "mcse_quantile_0.05": num(az.mcse(x, method="quantile", prob=0.05)),
            "mcse_quantile_0.5": num(az.mcse(x, method="quantile", prob=0.5)),
            "mean": num(np.mean(x)),
            "sd": num(np.std(x, ddof=1)),
        }
        out["cases"].append(
            {
                "name": name,
                "description": desc,
                "n_chains": int(x.shape[0]),
                "n_draws": int(x.shape[1]),
                "values": values,
                "draws": [[None if math.isnan(v) else float(v) for v in row] for row in x],
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1, allow_nan=False)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(out['cases'])} cases, arviz {az.__version__})")
    for case in out["cases"]:
        print(f"  {case['name']:<24} {case['values']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
