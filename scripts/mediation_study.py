#!/usr/bin/env python3
"""The mediation study of docs/causal.md: data drawn by `mmm simulate` from the mediated model
(fixtures/mediated: TV and Video act partly through brand awareness, TV and Search chase
demand), each fitted with the mediated spec and with the all-controls spec (awareness as a
control), compared with the truth. Standard library only.

    python3 scripts/mediation_study.py --sims 20 --mmm target/release/mmm --out /tmp/mediation
"""
import argparse
import json
import pathlib
import subprocess

parser = argparse.ArgumentParser()
parser.add_argument("--sims", type=int, default=20)
parser.add_argument("--mmm", default="target/release/mmm")
parser.add_argument("--fixture", default="fixtures/mediated")
parser.add_argument("--out", required=True)
args = parser.parse_args()
fx = pathlib.Path(args.fixture)
out = pathlib.Path(args.out)
specs = {"mediated": fx / "spec.toml", "all_controls": fx / "spec_all_controls.toml"}


def run(*cmd):
    subprocess.run([args.mmm, *cmd, "--quiet"], check=False, stdout=subprocess.DEVNULL)


def spearman(a, b):
    rank = lambda v: {i: r for r, i in enumerate(sorted(range(len(v)), key=v.__getitem__))}
    ra, rb = rank(a), rank(b)
    n = len(a)
    return 1 - 6 * sum((ra[i] - rb[i]) ** 2 for i in range(n)) / (n * (n * n - 1))


rows = {k: [] for k in specs}
for seed in range(1, args.sims + 1):
    sim = out / f"sim{seed}"
    subprocess.run([args.mmm, "simulate", "--spec", str(specs["mediated"]), "--data",
                    str(fx / "data.csv"), "--truth", str(fx / "truth.toml"), "--out", str(sim),
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    truth = json.loads((sim / "truth.json").read_text())["channels"]
    for name, spec in specs.items():
        run_dir = out / f"{name}{seed}"
        run("run", "--spec", str(spec), "--data", str(sim / "data.csv"), "--out", str(run_dir),
            "--no-refits")
        summary = json.loads((run_dir / "decide/summary.json").read_text())
        fitted = {c["channel"]: c for c in summary["channels"]}
        gates = json.loads((run_dir / "diagnose/diagnostics.json").read_text())
        rows[name].append({"truth": truth, "fitted": fitted,
                           "passed": not gates.get("not_for_decisions", True)})

channels = list(rows["mediated"][0]["truth"])
print(f"{args.sims} simulations; 90% HDI coverage of total ROAS, mean posterior-mean / truth")
for name, sims in rows.items():
    print(f"\n{name}: gates passed in {sum(s['passed'] for s in sims)}/{len(sims)} fits")
    for c in channels:
        cov = sum(s["fitted"][c]["roas"]["lower"] <= s["truth"][c]["roas"] <= s["fitted"][c]["roas"]["upper"] for s in sims)
        ratio = sum(s["fitted"][c]["roas"]["mean"] / s["truth"][c]["roas"] for s in sims) / len(sims)
        print(f"  {c:8s} covered {cov:3d}/{len(sims)}  mean/truth {ratio:5.2f}")
    rho = sum(spearman([s["fitted"][c]["roas"]["mean"] for c in channels],
                       [s["truth"][c]["roas"] for c in channels]) for s in sims) / len(sims)
    print(f"  rank correlation of posterior-mean ROAS with the truth (mean over fits): {rho:.2f}")
