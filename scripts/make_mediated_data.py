#!/usr/bin/env python3
"""Writes the inputs of the mediation study (docs/causal.md): 104 weeks of spend on 7 channels
where TV and Search spend chase a seasonal demand factor, a demand proxy, price, temperature and
a holiday flag, and a placeholder brand-awareness column that `mmm simulate` / `mmm recovery`
redraw from the mediator's equation. Standard library only.

    python3 scripts/make_mediated_data.py --seed 7 --out fixtures/mediated   # DIR/data.csv
"""
import argparse
import datetime as dt
import math
import pathlib
import random

parser = argparse.ArgumentParser()
parser.add_argument("--weeks", type=int, default=104)
parser.add_argument("--seed", type=int, default=7)
parser.add_argument("--out", required=True)
args = parser.parse_args()

rng = random.Random(args.seed)
start = dt.date(2023, 1, 2)
channels = ["tv", "video", "search", "social", "display", "radio", "print"]
level = {"tv": 10_000, "video": 4_000, "search": 5_000, "social": 3_000,
         "display": 2_000, "radio": 1_500, "print": 1_000}
# Share of each channel's budget that follows demand (TV and Search chase it).
chase = {"tv": 0.8, "search": 0.9}
on_rate = {"tv": 0.7, "video": 0.8, "radio": 0.6, "print": 0.5}
rows = []
ar = 0.0
for t in range(args.weeks):
    week = start + dt.timedelta(days=7 * t)
    ar = 0.7 * ar + rng.gauss(0, 0.08)
    demand = 1.0 + 0.25 * math.sin(2 * math.pi * t / 52.18 + 0.6) + ar
    spend = []
    for c in channels:
        k = chase.get(c, 0.0)
        base = level[c] * ((1 - k) + k * demand) * rng.uniform(0.6, 1.4)
        live = rng.random() < on_rate.get(c, 1.0)
        spend.append(round(base if live else 0.0, 2))
    price = round(1.0 + 0.05 * math.sin(t / 7.0) - (0.08 if rng.random() < 0.1 else 0.0), 4)
    temperature = round(12 + 10 * math.sin(2 * math.pi * (t - 13) / 52.18) + rng.gauss(0, 2), 2)
    holiday = 1.0 if week.month == 12 and week.day >= 18 or week.month == 11 and 22 <= week.day <= 28 else 0.0
    awareness = round(35 + rng.gauss(0, 1), 3)
    rows.append([week.isoformat(), str(round(100_000 * rng.uniform(0.9, 1.1), 2))] + [str(s) for s in spend]
                + [f"{demand:.4f}", str(price), str(temperature), str(holiday), str(awareness)])

out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
with open(out / "data.csv", "w") as f:
    f.write(",".join(["week", "sales"] + channels
                     + ["demand_index", "price", "temperature", "holiday", "awareness"]) + "\n")
    for r in rows:
        f.write(",".join(r) + "\n")
