#!/usr/bin/env python3
"""Check `mmm design-experiment` against refits (docs/decisions.md, "Experiment design").

For each seed: simulate data from fixtures/ensemble/right.toml at the known parameters of
fixtures/recovery/truth_normal.toml (`mmm simulate --seed SEED`) and fit it (`mmm run
--no-refits`, run A). Design one lift test on A (channel x1 on even seeds, x2 on odd ones;
switched off over the last WEEKS training weeks; standard error REL x the test's true lift):
the predicted expected width of the channel's central ROAS interval after the test, and its
10%-90% range over simulated outcomes. Then run the experiment: the true lift of that test
(truth.json of `mmm simulate` on the spec with the test added; the data are the same draw)
plus Normal(0, se) noise is added to the spec as a lift test, the data are refitted (run B),
and the ROAS interval of B is measured with the same estimator (`mmm design-experiment B`'s
`roas`, the central interval over B's draws).

Reported: per seed the predicted and the actual shrinkage (1 - width after / width before);
their mean difference over seeds with its standard error (the Monte Carlo error of the study:
one simulated outcome per seed); and how many actual widths fall inside the predicted
10%-90% range (nominal 80%, binomial band 0.8 +- 1.96 sqrt(0.16 / N)).

How to run (from the repository root, after `cargo build --release --workspace`; standard
library only):

    python3 scripts/experiment_design_study.py --seeds 20 --out /tmp/experiment_study

MMM (environment) names the binary, default $CARGO_TARGET_DIR/release/mmm, else
target/release/mmm. Writes OUT/study.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

from mmm_cli import mmm

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures/ensemble/right.toml"
DATA = ROOT / "fixtures/pymc_example/data.csv"
TRUTH = ROOT / "fixtures/recovery/truth_normal.toml"


def lift_test(channel: str, start: str, end: str, lift: float, se: float) -> str:
    return (
        f'\n[[lift_tests]]\nchannel = "{channel}"\nstart = "{start}"\nend = "{end}"\n'
        f"lift = {lift!r}\nstandard_error = {se!r}\nspend_change = -1.0\n"
    )


def design(run: Path, weeks: int, se: float | None) -> dict:
    args = ["design-experiment", str(run), "--weeks", str(weeks), "--json"]
    if se is not None:
        args += ["--standard-error", repr(se)]
    return json.loads(mmm(*args))


def one_seed(seed: int, out: Path, weeks: int, rel: float) -> dict:
    d = out / f"seed{seed}"
    channel = "x1" if seed % 2 == 0 else "x2"
    sim = ["--data", str(DATA), "--truth", str(TRUTH), "--seed", str(seed)]
    mmm("simulate", "--spec", str(SPEC), *sim, "--out", str(d / "sim"))
    mmm("run", "--spec", str(SPEC), "--data", str(d / "sim/data.csv"), "--out", str(d / "a"),
        "--no-refits")
    # The test's window (last WEEKS training weeks) from a first design, then its true lift.
    probe = next(c for c in design(d / "a", weeks, 1.0)["candidates"] if c["channel"] == channel)
    with_test = d / "with_test.toml"
    with_test.write_text(SPEC.read_text() + lift_test(channel, probe["start"], probe["end"], 0.0, 1.0))
    mmm("simulate", "--spec", str(with_test), *sim, "--out", str(d / "sim_test"))
    same = (d / "sim/data.csv").read_bytes() == (d / "sim_test/data.csv").read_bytes()
    assert same, "adding a lift test changed the simulated data"
    true_lift = json.loads((d / "sim_test/truth.json").read_text())["lift_tests"][0]["lift"]
    se = rel * abs(true_lift)
    predicted = next(c for c in design(d / "a", weeks, se)["candidates"] if c["channel"] == channel)
    # The experiment: its measured lift, added to the spec; refit.
    measured = true_lift + se * random.Random(seed).gauss(0.0, 1.0)
    refit_spec = d / "refit.toml"
    refit_spec.write_text(SPEC.read_text() + lift_test(channel, probe["start"], probe["end"], measured, se))
    mmm("run", "--spec", str(refit_spec), "--data", str(d / "sim/data.csv"), "--out", str(d / "b"),
        "--no-refits")
    after = next(c for c in design(d / "b", weeks, se)["candidates"] if c["channel"] == channel)
    before = predicted["roas"]["upper"] - predicted["roas"]["lower"]
    actual = after["roas"]["upper"] - after["roas"]["lower"]
    row = {
        "seed": seed,
        "channel": channel,
        "true_lift": true_lift,
        "standard_error": se,
        "measured_lift": measured,
        "width_before": before,
        "predicted_width": predicted["expected_width"],
        "predicted_width_10": predicted["width_10"],
        "predicted_width_90": predicted["width_90"],
        "actual_width": actual,
        "predicted_shrinkage": predicted["expected_shrinkage"],
        "actual_shrinkage": 1.0 - actual / before,
        "inside_10_90": predicted["width_10"] <= actual <= predicted["width_90"],
        "share_low_ess": predicted["share_low_ess"],
    }
    print(
        f"seed {seed:3d} {channel}: shrinkage predicted {row['predicted_shrinkage']:.3f}, "
        f"actual {row['actual_shrinkage']:.3f}; width after {actual:.1f} in predicted "
        f"[{row['predicted_width_10']:.1f}, {row['predicted_width_90']:.1f}]: {row['inside_10_90']}",
        flush=True,
    )
    return row


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    diffs = [r["actual_shrinkage"] - r["predicted_shrinkage"] for r in rows]
    mean = sum(diffs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / (n - 1))
    inside = sum(r["inside_10_90"] for r in rows)
    band = 1.96 * math.sqrt(0.8 * 0.2 / n)
    return {
        "cases": n,
        "mean_predicted_shrinkage": sum(r["predicted_shrinkage"] for r in rows) / n,
        "mean_actual_shrinkage": sum(r["actual_shrinkage"] for r in rows) / n,
        "mean_difference": mean,
        "standard_error_of_difference": sd / math.sqrt(n),
        "z": mean / (sd / math.sqrt(n)),
        "inside_10_90": inside,
        "inside_band": [0.8 - band, 0.8 + band],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--weeks", type=int, default=8)
    p.add_argument("--relative-se", type=float, default=0.2)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    rows = [one_seed(s, a.out, a.weeks, a.relative_se) for s in seeds]
    summary = summarize(rows)
    print(json.dumps(summary, indent=2))
    (a.out / "study.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
