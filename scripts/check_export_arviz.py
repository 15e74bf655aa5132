#!/usr/bin/env python3
"""Open an `mmm export` store (Zarr directory or NetCDF-4 file) with ArviZ and check it
against the run.

    .venv/bin/python scripts/check_export_arviz.py STORE RUN_DIR

A STORE ending in `.nc` is opened with `az.from_netcdf` (h5netcdf), any other as Zarr through
xarray's datatree.

Checks (exit 1 with the differences on failure, 0 when all hold):
- every group of the export loads into az.InferenceData;
- az.summary's R-hat, bulk and tail ESS of every posterior element equal the run's
  diagnose/diagnostics.json to 1e-6 relative (both are ArviZ's rank-normalized split R-hat
  and ESS; the element `beta[channel=tv]` is matched to the parameter `beta[tv]`);
- az.loo(pointwise=True) equals diagnostics.json's elpd_loo, p_loo and se to 1e-6 relative;
- sample_stats holds post-warm-up draws only (as many as the posterior);
- the coordinates carry the channel names (and geo names under a hierarchy);
- `diverging` reads back as booleans.

The tests `export::zarr_export_opens_in_arviz_and_matches_the_run` and
`export::netcdf_export_opens_in_arviz_and_matches_the_run` in crates/mmm-cli run it with the
project's test virtualenv (scripts/install_test_services.sh).
"""

from __future__ import annotations

import json
import sys
import warnings

import arviz as az
import numpy as np
import xarray as xr

RTOL = 1e-6


def element_name(var: str, labels: dict[str, str], dims: list[str]) -> str:
    """Our parameter name of one element: `stem[a,b]`, with `key=` kept for geo labels."""
    if not dims:
        return var
    parts = []
    for d in dims:
        value = labels[d]
        parts.append(f"geo={value}" if d == "geo" or d.endswith("_geo") else value)
    return f"{var}[{','.join(parts)}]"


def main() -> int:
    store, run = sys.argv[1], sys.argv[2]
    warnings.simplefilter("ignore")
    if store.endswith(".nc"):
        idata = az.from_netcdf(store)
    else:
        idata = az.InferenceData.from_datatree(xr.open_datatree(store, engine="zarr"))
    diag = json.load(open(f"{run}/diagnose/diagnostics.json"))
    problems: list[str] = []
    expected_groups = {
        "posterior", "sample_stats", "log_likelihood", "posterior_predictive",
        "observed_data", "constant_data", "prior", "prior_predictive",
    }
    missing = expected_groups - set(idata.groups())
    if missing:
        problems.append(f"groups missing: {sorted(missing)}")
    ours = {p["name"]: p for p in diag["parameters"]}
    summary = az.summary(idata, kind="diagnostics", round_to="none")
    post = idata.posterior
    seen = 0
    for var in post.data_vars:
        da = post[var]
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        for idx in np.ndindex(*[da.sizes[d] for d in dims]):
            labels = {d: str(da[d].values[i]) for d, i in zip(dims, idx)}
            row_name = var if not dims else f"{var}[{', '.join(labels[d] for d in dims)}]"
            name = element_name(var, labels, dims)
            if name not in ours:
                problems.append(f"{row_name}: no parameter {name} in diagnostics.json")
                continue
            seen += 1
            row = summary.loc[row_name]
            for col_ours, col_az in [("rhat", "r_hat"), ("ess_bulk", "ess_bulk"),
                                     ("ess_tail", "ess_tail")]:
                a, b = ours[name][col_ours], float(row[col_az])
                if not np.isclose(a, b, rtol=RTOL, atol=0):
                    problems.append(f"{name} {col_ours}: run {a!r}, ArviZ {b!r}")
    if seen != len(ours):
        problems.append(f"{seen} posterior elements matched, diagnostics.json has {len(ours)}")
    loo = az.loo(idata, pointwise=True)
    for key, ours_key in [("elpd_loo", "elpd_loo"), ("p_loo", "p_loo"), ("se", "se")]:
        a, b = diag["loo"][ours_key], float(loo[key])
        if not np.isclose(a, b, rtol=RTOL, atol=0):
            problems.append(f"loo {key}: run {a!r}, ArviZ {b!r}")
    n_post = post.sizes["chain"] * post.sizes["draw"]
    ss = idata.sample_stats
    if ss.sizes["chain"] * ss.sizes["draw"] != n_post:
        problems.append("sample_stats is not the post-warm-up grid of the posterior")
    if ss["diverging"].dtype != bool:
        problems.append(f"diverging reads back as {ss['diverging'].dtype}, not bool")
    if "channel" not in post.coords or len(post.coords["channel"]) == 0:
        problems.append("no channel coordinate in the posterior")
    if "geo" in idata.observed_data.dims and "geo" not in post.coords:
        problems.append("geo panel without a geo coordinate in the posterior")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"ok: {seen} parameters, elpd_loo {float(loo['elpd_loo']):.6f}, "
          f"groups {sorted(idata.groups())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
