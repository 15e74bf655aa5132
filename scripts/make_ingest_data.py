#!/usr/bin/env python3
"""Generate the ingestion fixtures (Python standard library only; deterministic).

  python3 scripts/make_ingest_data.py [OUT_DIR]      (default: fixtures/ingest)

Writes
  national_long.csv   long format (Period, Geography, Product, Campaign, Outlet, Creative,
                      VariableName, VariableValue): 156 weeks, 20 variables, channel spend split
                      over campaigns (mapped by campaign_map.csv), impressions per campaign.
  campaign_map.csv    campaign -> channel.
  national_truth.csv  the wide weekly table the long file must become (date, geo, y, channels,
                      controls), values computed here before the long split.
  geo_daily.csv       wide daily geo panel (date, geo, y, tv, search, price, promo), 4 geos.
  geo_truth.csv       its weekly (Monday-start) table per geo: spend and y summed, price mean,
                      promo summed, complete weeks only.
"""
import csv
import datetime as dt
import math
import os
import random
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "ingest")
CHANNELS = ["tv", "radio", "search", "social"]
EXTRA_CHANNELS = ["display", "ooh"]  # present in the export, not modeled
CAMPAIGNS = {
    "tv": ["TV_Brand_Spring", "TV_Brand_Autumn", "TV_Promo"],
    "radio": ["Radio_Drive"],
    "search": ["SEA_Generic", "SEA_Brand"],
    "social": ["Social_Video", "Social_Static"],
    "display": ["Display_Retarget"],
    "ooh": ["OOH_Billboards"],
}


def adstock(x, alpha):
    out, carry = [], 0.0
    for v in x:
        carry = v + alpha * carry
        out.append(carry)
    return out


def sat(x, lam):
    return [(1 - math.exp(-lam * v)) / (1 + math.exp(-lam * v)) for v in x]


def fmt(v):
    return repr(round(v, 6))


def national(rng):
    weeks = 156
    start = dt.date(2022, 1, 3)  # a Monday
    dates = [start + dt.timedelta(weeks=k) for k in range(weeks)]
    spend = {}
    for j, ch in enumerate(CHANNELS + EXTRA_CHANNELS):
        on = [rng.random() < 0.8 for _ in range(weeks)]
        spend[ch] = [round((1000 + 400 * j) * (0.5 + rng.random()) * o, 2) for o in on]
    price = [round(10 + 0.5 * math.sin(2 * math.pi * k / 52) + rng.gauss(0, 0.2), 3) for k in range(weeks)]
    promo = [1.0 if rng.random() < 0.1 else 0.0 for _ in range(weeks)]
    temperature = [round(12 + 8 * math.sin(2 * math.pi * (k - 13) / 52) + rng.gauss(0, 1.5), 2) for k in range(weeks)]
    y = [50000.0 - 2000 * p + 5000 * pr for p, pr in zip(price, promo)]
    for j, ch in enumerate(CHANNELS):
        scale = max(spend[ch])
        eff = sat([v / scale for v in adstock(spend[ch], 0.3 + 0.1 * j)], 2.0)
        y = [a + (8000 - 1000 * j) * e for a, e in zip(y, eff)]
    y = [round(v + rng.gauss(0, 600), 2) for v in y]
    rows = []
    for k, d in enumerate(dates):
        p = d.isoformat()
        rows.append([p, "", "all", "", "", "", "sales", fmt(y[k])])
        rows.append([p, "", "all", "", "", "", "price", fmt(price[k])])
        rows.append([p, "", "all", "", "", "", "promo", fmt(promo[k])])
        rows.append([p, "", "all", "", "", "", "temperature", fmt(temperature[k])])
        for ch, camps in CAMPAIGNS.items():
            # Split the week's spend over the channel's campaigns in cents, so sums are exact.
            cents = round(spend[ch][k] * 100)
            shares = [rng.random() + 0.1 for _ in camps]
            parts = [int(cents * s / sum(shares)) for s in shares]
            parts[-1] = cents - sum(parts[:-1])
            for camp, c in zip(camps, parts):
                outlet = "national_tv" if ch == "tv" else ch
                rows.append([p, "", "all", camp, outlet, camp.lower() + "_v1", "spend", fmt(c / 100)])
                rows.append([p, "", "all", camp, outlet, camp.lower() + "_v1", "impressions", str(c * 3)])
    rng.shuffle(rows)  # the reader must not rely on row order
    with open(os.path.join(OUT, "national_long.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Period", "Geography", "Product", "Campaign", "Outlet", "Creative", "VariableName", "VariableValue"])
        w.writerows(rows)
    with open(os.path.join(OUT, "campaign_map.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["campaign", "channel"])
        for ch, camps in CAMPAIGNS.items():
            for c in camps:
                w.writerow([c, ch])
    with open(os.path.join(OUT, "national_truth.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "geo", "sales"] + CHANNELS + ["price", "promo"])
        for k, d in enumerate(dates):
            w.writerow([d.isoformat(), "national", fmt(y[k])] + [fmt(spend[c][k]) for c in CHANNELS] + [fmt(price[k]), fmt(promo[k])])


def geo_panel(rng):
    geos = ["north", "south", "east", "west"]
    start = dt.date(2022, 1, 5)  # a Wednesday: the first and last weeks are partial
    days = 735
    dates = [start + dt.timedelta(days=k) for k in range(days)]
    rows, truth = [], {}
    for gi, g in enumerate(geos):
        size = 1.0 + 0.5 * gi
        tv = [round(size * 200 * (0.5 + rng.random()) * (rng.random() < 0.7), 2) for _ in range(days)]
        search = [round(size * 80 * (0.5 + rng.random()), 2) for _ in range(days)]
        price = [round(5 + 0.3 * math.sin(2 * math.pi * k / 365) + rng.gauss(0, 0.05), 3) for k in range(days)]
        promo = [1.0 if rng.random() < 0.05 else 0.0 for _ in range(days)]
        tv_eff = sat([v / max(tv) for v in adstock(tv, 0.5)], 2.0)
        se_eff = sat([v / max(search) for v in adstock(search, 0.2)], 2.0)
        y = [round(size * (3000 - 300 * price[k] + 400 * promo[k] + 900 * tv_eff[k] + 500 * se_eff[k]) + rng.gauss(0, 50), 2) for k in range(days)]
        for k, d in enumerate(dates):
            rows.append([d.isoformat(), g, fmt(y[k]), fmt(tv[k]), fmt(search[k]), fmt(price[k]), fmt(promo[k])])
            week = d - dt.timedelta(days=d.weekday())
            t = truth.setdefault((week, g), {"n": 0, "y": 0.0, "tv": 0.0, "search": 0.0, "price": 0.0, "promo": 0.0})
            t["n"] += 1
            for key, v in (("y", y[k]), ("tv", tv[k]), ("search", search[k]), ("price", price[k]), ("promo", promo[k])):
                t[key] += v
    with open(os.path.join(OUT, "geo_daily.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "geo", "y", "tv", "search", "price", "promo"])
        w.writerows(rows)
    with open(os.path.join(OUT, "geo_truth.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "geo", "y", "tv", "search", "price", "promo"])
        for (week, g), t in sorted(truth.items()):
            if t["n"] == 7:
                w.writerow([week.isoformat(), g] + [repr(v) for v in (t["y"], t["tv"], t["search"], t["price"] / 7, t["promo"])])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    national(random.Random(20240501))
    geo_panel(random.Random(20240502))
