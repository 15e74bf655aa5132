#!/usr/bin/env python3
"""Writes the spend and controls of a synthetic weekly geo panel (wide: one row per week and
geo) with a placeholder target; `mmm simulate` then draws the target from the geo hierarchy at
known parameters (heterogeneous per-geo effects), which makes the fixture's truth.json.
Standard library only; fixed seed.

    python3 scripts/make_geo_panel.py --geos 8 --weeks 104 --channels 3 --out fixtures/geo/panel.csv
"""
import argparse
import datetime as dt
import math
import pathlib
import random

parser = argparse.ArgumentParser()
parser.add_argument("--geos", type=int, default=8)
parser.add_argument("--weeks", type=int, default=104)
parser.add_argument("--channels", type=int, default=3)
parser.add_argument("--seed", type=int, default=20261123)
parser.add_argument("--out", required=True)
args = parser.parse_args()

random.seed(args.seed)
start = dt.date(2023, 1, 2)
geos = [f"g{g + 1:02d}" for g in range(args.geos)]
channels = [f"ch{c + 1}" for c in range(args.channels)]
# Geo sizes spread over a factor of ~10, as regions of a country are.
size = {g: math.exp(random.uniform(-1.2, 1.2)) for g in geos}
rows = []
for g in geos:
    # Each geo spends in its own mix: a geo-specific level per channel and on/off flighting.
    level = {c: size[g] * random.uniform(300, 3000) for c in channels}
    on_rate = {c: random.uniform(0.5, 0.95) for c in channels}
    for t in range(args.weeks):
        week = start + dt.timedelta(days=7 * t)
        spend = [
            round(level[c] * random.uniform(0.3, 1.7), 2) if random.random() < on_rate[c] else 0.0
            for c in channels
        ]
        price = round(1.0 + 0.08 * math.sin(t / 9.0 + size[g]) + random.gauss(0, 0.02), 4)
        # Placeholder target (replaced by `mmm simulate`), of the geo's size.
        target = round(size[g] * 100_000 * random.uniform(0.9, 1.1), 2)
        rows.append([week.isoformat(), g, str(target)] + [str(s) for s in spend] + [str(price)])

# The sizes, for the spec's [geo.population] table (size = "population").
print("[geo.population]")
for g in geos:
    print(f"{g} = {size[g] * 1_000_000:.0f}")

out = pathlib.Path(args.out)
out.parent.mkdir(parents=True, exist_ok=True)
with open(out, "w") as f:
    f.write(",".join(["week", "region", "sales"] + channels + ["price"]) + "\n")
    for r in rows:
        f.write(",".join(r) + "\n")
