#!/usr/bin/env python3
"""Multi-seed study of ensemble decisions (docs/decisions.md, "Ensemble decisions").

For each seed: simulate data from fixtures/ensemble/right.toml at the known parameters of
fixtures/recovery/truth_normal.toml (`mmm simulate --seed SEED`), fit the well-specified spec
(right.toml) and a misspecified one (no_events.toml: the event_1 and event_2 controls left out)
with `mmm run --no-refits`, then `mmm decide --ensemble RIGHT WRONG`. Records the stacking
weight of the right spec and whether each channel's ensemble ROAS HDI
(decisions.interval = 0.94) covers the true ROAS of truth.json.

How to run (from the repository root, after `cargo build --release --workspace`; standard
library only):

    python3 scripts/ensemble_study.py --seeds 50 --out /tmp/ensemble_study

MMM (environment) names the binary, default $CARGO_TARGET_DIR/release/mmm, else
target/release/mmm. Prints one line per seed and the summary: the smallest weight on the right
spec, the coverage over channels x seeds (N) and its binomial band
nominal +- 1.96 sqrt(nominal (1 - nominal) / N). Writes OUT/study.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOMINAL = 0.94


def binary() -> str:
    if os.environ.get("MMM"):
        return os.environ["MMM"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "release" / "mmm")


def mmm(*args: str) -> None:
    done = subprocess.run([binary(), "-q", *args], capture_output=True, text=True)
    # 3: a diagnostic gate failed (results still written and marked); anything else is an error.
    if done.returncode not in (0, 3):
        sys.exit(f"mmm {' '.join(args)} exited {done.returncode}: {done.stderr}")


def one_seed(seed: int, out: Path) -> dict:
    d = out / f"seed{seed}"
    spec_right = ROOT / "fixtures/ensemble/right.toml"
    spec_wrong = ROOT / "fixtures/ensemble/no_events.toml"
    mmm(
        "simulate",
        "--spec", str(spec_right),
        "--data", str(ROOT / "fixtures/pymc_example/data.csv"),
        "--truth", str(ROOT / "fixtures/recovery/truth_normal.toml"),
        "--out", str(d / "sim"),
        "--seed", str(seed),
    )
    for name, spec in [("right", spec_right), ("wrong", spec_wrong)]:
        mmm("run", "--spec", str(spec), "--data", str(d / "sim/data.csv"),
            "--out", str(d / name), "--no-refits")
    mmm("decide", "--ensemble", str(d / "right"), str(d / "wrong"), "--out", str(d / "ensemble"))
    ens = json.loads((d / "ensemble/ensemble.json").read_text())
    truth = json.loads((d / "sim/truth.json").read_text())
    covered = {}
    for c in ens["channels"]:
        true = truth["channels"][c["channel"]]["roas"]
        covered[c["channel"]] = c["roas_lower"] <= true <= c["roas_upper"]
    runs = {Path(r["run"]).name: r for r in ens["runs"]}
    return {
        "seed": seed,
        "weight_right": runs["right"]["stacking_weight"],
        "pseudo_bma_plus_right": runs["right"]["pseudo_bma_plus_weight"],
        "elpd_diff": runs["right"]["elpd_loo"] - runs["wrong"]["elpd_loo"],
        "not_for_decisions": ens["not_for_decisions"],
        "covered": covered,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ensemble_study"))
    a = ap.parse_args()
    rows = []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        r = one_seed(seed, a.out)
        rows.append(r)
        print(f"seed {seed}: stacking weight on the right spec {r['weight_right']:.4f} "
              f"(pseudo-BMA+ {r['pseudo_bma_plus_right']:.4f}, elpd diff {r['elpd_diff']:.1f}), "
              f"ROAS covered {r['covered']}", flush=True)
    hits = [v for r in rows for v in r["covered"].values()]
    n = len(hits)
    coverage = sum(hits) / n
    half = 1.96 * math.sqrt(NOMINAL * (1 - NOMINAL) / n)
    summary = {
        "seeds": a.seeds,
        "min_weight_right": min(r["weight_right"] for r in rows),
        "mean_weight_right": sum(r["weight_right"] for r in rows) / len(rows),
        "seeds_weight_at_least_0_9": sum(r["weight_right"] >= 0.9 for r in rows),
        "coverage": coverage,
        "n": n,
        "nominal": NOMINAL,
        "band": [NOMINAL - half, NOMINAL + half],
        "within_band": NOMINAL - half <= coverage <= NOMINAL + half,
        "runs_not_for_decisions": sum(r["not_for_decisions"] for r in rows),
    }
    print(json.dumps(summary, indent=2))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "study.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
