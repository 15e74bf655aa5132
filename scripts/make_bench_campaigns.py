#!/usr/bin/env python3
"""Generate the ingestion benchmark input (standard library only; deterministic).

  python3 scripts/make_bench_campaigns.py OUT_DIR [--days 1826 --campaigns 200 --geos 10]

Writes OUT_DIR/campaigns.csv (long format: Period, Geography, Campaign, VariableName,
VariableValue; one spend row per day, geo and campaign, plus daily sales and price per geo),
OUT_DIR/campaign_map.csv (campaign -> one of 10 channels) and OUT_DIR/spec.toml (daily input
aggregated to Monday weeks). Defaults give 5 years x 200 campaigns x 10 geos = 3.65 million
campaign rows.
"""
import argparse
import datetime as dt
import os
import random

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--days", type=int, default=1826)
p.add_argument("--campaigns", type=int, default=200)
p.add_argument("--geos", type=int, default=10)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = random.Random(42)
channels = [f"ch{k}" for k in range(10)]
campaigns = [f"camp_{k:03d}" for k in range(a.campaigns)]
geos = [f"geo_{g:02d}" for g in range(a.geos)]
start = dt.date(2020, 1, 6)  # a Monday
with open(os.path.join(a.out, "campaign_map.csv"), "w") as fh:
    fh.write("campaign,channel\n")
    for k, c in enumerate(campaigns):
        fh.write(f"{c},{channels[k % len(channels)]}\n")
levels = [rng.uniform(5, 50) for _ in campaigns]
with open(os.path.join(a.out, "campaigns.csv"), "w") as fh:
    fh.write("Period,Geography,Campaign,VariableName,VariableValue\n")
    for d in range(a.days):
        day = (start + dt.timedelta(days=d)).isoformat()
        for g in geos:
            lines = [f"{day},{g},,sales,{round(rng.uniform(9000, 11000), 2)}\n",
                     f"{day},{g},,price,{round(rng.uniform(9, 11), 3)}\n"]
            for c, lvl in zip(campaigns, levels):
                lines.append(f"{day},{g},{c},spend,{round(lvl * rng.random(), 2)}\n")
            fh.write("".join(lines))
chan = "\n".join(
    f'[[channels]]\nname = "{c}"\nadstock = {{ kind = "geometric", l_max = 4, alpha_prior = {{ family = "beta", alpha = 1.0, beta = 3.0 }} }}\n'
    f'saturation = {{ kind = "logistic", lam_prior = {{ family = "gamma", shape = 3.0, rate = 1.0 }}, beta_prior = {{ family = "half_normal", sigma = 2.0 }} }}\n'
    for c in channels)
with open(os.path.join(a.out, "spec.toml"), "w") as fh:
    fh.write(f"""[model]
name = "bench_campaigns"

[data]
date_column = "Period"
target = "sales"
layout = "long"
input_period_days = 1
as_of = "2030-01-01"

{chan}
[[controls]]
name = "price"
prior = {{ family = "normal", mu = 0.0, sigma = 2.0 }}
""")
