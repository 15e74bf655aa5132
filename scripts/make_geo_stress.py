#!/usr/bin/env python3
"""Writes a hard geo panel and its truth file for `mmm simulate`: geos whose channel
effectiveness differs (each geo's beta is the typical geo's times a factor drawn log-uniformly
in [0.3, 1.8]) and whose budgets FOLLOW that effectiveness (a geo spends more on the channels
that work there), plus a price control and on/off flighting. The truth file pins every geo's
deviation `beta_geo_z[geo=G,C]` so the factors are known; the rest is drawn by `mmm simulate`.
Standard library only.

    python3 scripts/make_geo_stress.py --seed 1 --out DIR   # DIR/panel.csv, DIR/truth.toml
"""
import argparse
import datetime as dt
import math
import pathlib
import random

parser = argparse.ArgumentParser()
parser.add_argument("--geos", type=int, default=8)
parser.add_argument("--weeks", type=int, default=91)
parser.add_argument("--channels", type=int, default=4)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--beta-geo-sd", type=float, default=0.5)
parser.add_argument("--out", required=True)
args = parser.parse_args()

rng = random.Random(args.seed)
start = dt.date(2023, 1, 2)
geos = [f"g{g + 1:02d}" for g in range(args.geos)]
channels = [f"ch{c + 1}" for c in range(args.channels)]
size = {g: math.exp(rng.uniform(-1.2, 1.2)) for g in geos}
factor = {(g, c): math.exp(rng.uniform(math.log(0.3), math.log(1.8))) for g in geos for c in channels}
rows = []
for g in geos:
    # Budgets follow effectiveness: a channel's level in a geo rises with its factor there.
    level = {c: size[g] * rng.uniform(500, 2500) * factor[(g, c)] for c in channels}
    on_rate = {c: rng.uniform(0.55, 0.95) for c in channels}
    for t in range(args.weeks):
        week = start + dt.timedelta(days=7 * t)
        spend = [
            round(level[c] * rng.uniform(0.3, 1.7), 2) if rng.random() < on_rate[c] else 0.0
            for c in channels
        ]
        price = round(1.0 + 0.08 * math.sin(t / 9.0 + size[g]) + rng.gauss(0, 0.02), 4)
        target = round(size[g] * 100_000, 2)
        rows.append([week.isoformat(), g, str(target)] + [str(s) for s in spend] + [str(price)])

out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
with open(out / "panel.csv", "w") as f:
    f.write(",".join(["week", "region", "sales"] + channels + ["price"]) + "\n")
    for r in rows:
        f.write(",".join(r) + "\n")
# Each geo's size, for a spec's [geo.population] table (size = "population").
with open(out / "population.toml", "w") as f:
    f.write("[geo.population]\n")
    for g in geos:
        f.write(f"{g} = {size[g] * 1_000_000:.0f}\n")
with open(out / "truth.toml", "w") as f:
    f.write(f"seed = {args.seed}\n[parameters]\n")
    f.write("intercept = 0.6\nintercept_geo_sd = 0.1\n\"gamma_control[price]\" = -0.2\nsigma = 0.05\n")
    for i, c in enumerate(channels):
        f.write(f'"adstock_alpha[{c}]" = {0.2 + 0.1 * i}\n"saturation_lam[{c}]" = {1.5 + 0.5 * i}\n')
        f.write(f'"beta[{c}]" = {0.2 - 0.02 * i}\n"beta_geo_sd[{c}]" = {args.beta_geo_sd}\n')
    # Each geo's deviation: ln(factor) = sd * z, centred so the typical geo is the mean.
    for c in channels:
        logs = [math.log(factor[(g, c)]) for g in geos]
        m = sum(logs) / len(logs)
        for g, v in zip(geos, logs):
            f.write(f'"beta_geo_z[geo={g},{c}]" = {(v - m) / args.beta_geo_sd:.6f}\n')
