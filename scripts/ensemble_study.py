#!/usr/bin/env python3
"""Multi-seed study of ensemble decisions (docs/decisions.md, "Ensemble decisions").

For each seed: simulate data from fixtures/ensemble/right.toml at the known parameters of
fixtures/recovery/truth_normal.toml (`mmm simulate --seed SEED`), fit the well-specified spec
(right.toml) and each misspecified one with `mmm run --no-refits` (no_events.toml: the event_1
and event_2 controls left out; x2_no_carryover.toml: x2 without adstock, l_max = 1, while the
truth has adstock_alpha[x2] = 0.2), then `mmm decide --ensemble RIGHT WRONG` per misspecified
spec. Records the stacking weight of the right spec and whether each channel's ensemble ROAS
HDI (decisions.interval = 0.94) covers the true ROAS of truth.json.

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
from pathlib import Path

from mmm_cli import mmm

ROOT = Path(__file__).resolve().parent.parent
NOMINAL = 0.94


WRONG = ["no_events", "x2_no_carryover"]


def one_seed(seed: int, out: Path) -> list[dict]:
    d = out / f"seed{seed}"
    spec_right = ROOT / "fixtures/ensemble/right.toml"
    mmm(
        "simulate",
        "--spec", str(spec_right),
        "--data", str(ROOT / "fixtures/pymc_example/data.csv"),
        "--truth", str(ROOT / "fixtures/recovery/truth_normal.toml"),
        "--out", str(d / "sim"),
        "--seed", str(seed),
    )
    specs = [("right", spec_right)] + [(w, ROOT / f"fixtures/ensemble/{w}.toml") for w in WRONG]
    for name, spec in specs:
        mmm("run", "--spec", str(spec), "--data", str(d / "sim/data.csv"),
            "--out", str(d / name), "--no-refits")
    truth = json.loads((d / "sim/truth.json").read_text())
    return [ensemble(seed, d, wrong, truth) for wrong in WRONG]


def ensemble(seed: int, d: Path, wrong: str, truth: dict) -> dict:
    out = d / f"ensemble_{wrong}"
    mmm("decide", "--ensemble", str(d / "right"), str(d / wrong), "--out", str(out))
    ens = json.loads((out / "ensemble.json").read_text())
    covered = {}
    for c in ens["channels"]:
        true = truth["channels"][c["channel"]]["roas"]
        covered[c["channel"]] = c["roas_lower"] <= true <= c["roas_upper"]
    runs = {Path(r["run"]).name: r for r in ens["runs"]}
    return {
        "seed": seed,
        "wrong": wrong,
        "weight_right": runs["right"]["stacking_weight"],
        "pseudo_bma_plus_right": runs["right"]["pseudo_bma_plus_weight"],
        "elpd_diff": runs["right"]["elpd_loo"] - runs[wrong]["elpd_loo"],
        "not_for_decisions": ens["not_for_decisions"],
        "covered": covered,
    }


def summarize(rows: list[dict]) -> dict:
    hits = [v for r in rows for v in r["covered"].values()]
    n = len(hits)
    coverage = sum(hits) / n
    half = 1.96 * math.sqrt(NOMINAL * (1 - NOMINAL) / n)
    return {
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ensemble_study"))
    a = ap.parse_args()
    rows = []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for r in one_seed(seed, a.out):
            rows.append(r)
            print(f"seed {seed}, {r['wrong']}: stacking weight on the right spec "
                  f"{r['weight_right']:.4f} (pseudo-BMA+ {r['pseudo_bma_plus_right']:.4f}, "
                  f"elpd diff {r['elpd_diff']:.1f}), ROAS covered {r['covered']}", flush=True)
    summary = {w: summarize([r for r in rows if r["wrong"] == w]) for w in WRONG}
    summary["seeds"] = a.seeds
    print(json.dumps(summary, indent=2))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "study.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
