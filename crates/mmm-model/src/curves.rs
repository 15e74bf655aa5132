//! Response curves: each channel's total response, per draw, when its training-window spend is
//! multiplied by m (the week-by-week pattern kept), counting the carry-out past the window.
//! For a model that is not additive on the response scale the response is the counterfactual
//! difference of expected responses, every other input as observed
//! ([`MmmModel::response_totals_for_multipliers`]). Here, below the decide and diagnose
//! stages, so both compute them one way.

use crate::MmmModel;

/// Spend multipliers of the curves: 0, 0.05, ..., 2.
pub fn multipliers() -> Vec<f64> {
    (0..=40).map(|i| i as f64 * 0.05).collect()
}

/// Response per draw (target units) of channel c to m times its training spend, for every m
/// in `grid` (`result[i][draw]`): sum_t term_c(m x)_t over the training window and the
/// carry-out weeks after it.
pub fn response_grid(
    model: &MmmModel,
    thetas: &[Vec<f64>],
    c: usize,
    grid: &[f64],
    target_scale: f64,
) -> Vec<Vec<f64>> {
    let nt = model.train_periods();
    let tail = model.carryover_periods(c).saturating_sub(1);
    let mut series: Vec<f64> = model.channel_spend(c)[..nt].to_vec();
    series.extend(std::iter::repeat_n(0.0, tail));
    // Per draw (in parallel blocks of draws), the totals for every multiplier.
    let per_draw: Vec<Vec<f64>> = mmm_core::parallel::map_indexed(thetas.len(), 64, |k| {
        let mut totals = vec![0.0; grid.len()];
        model.response_totals_for_multipliers(&thetas[k], c, &series, grid, &mut totals);
        totals
    });
    (0..grid.len())
        .map(|i| per_draw.iter().map(|t| t[i] * target_scale).collect())
        .collect()
}

/// Response per draw (target units) of channel c to m times its training spend.
pub fn response(
    model: &MmmModel,
    thetas: &[Vec<f64>],
    c: usize,
    m: f64,
    target_scale: f64,
) -> Vec<f64> {
    response_grid(model, thetas, c, &[m], target_scale)
        .pop()
        .unwrap_or_default()
}

/// Marginal ROAS at multiplier m per draw: d response / d spend by central differences of
/// relative step 1% (target units per currency unit); `spend` is the training spend.
pub fn marginal_roas(
    model: &MmmModel,
    thetas: &[Vec<f64>],
    c: usize,
    m: f64,
    target_scale: f64,
    spend: f64,
) -> Vec<f64> {
    // Both responses from one pass over the draws; each multiplier's arithmetic is the same
    // as a response of its own.
    let mut both = response_grid(model, thetas, c, &marginal_multipliers(m), target_scale);
    let (up, down) = (
        both.pop().unwrap_or_default(),
        both.pop().unwrap_or_default(),
    );
    (up.iter().zip(&down))
        .map(|(u, d)| marginal_from_responses(*d, *u, m, spend))
        .collect()
}

/// Relative step of [`marginal_roas`]' central differences.
const MARGINAL_STEP: f64 = 0.01;

/// The two multipliers of [`marginal_roas`] at m: max(m - h, 0) and m + h, h = 1%.
pub fn marginal_multipliers(m: f64) -> [f64; 2] {
    let h = MARGINAL_STEP;
    [(m - h).max(0.0), m + h]
}

/// [`marginal_roas`] from one draw's responses (target units) at the two
/// [`marginal_multipliers`]: (up - down) / ((m + h - max(m - h, 0)) x spend).
pub fn marginal_from_responses(down: f64, up: f64, m: f64, spend: f64) -> f64 {
    let [low, high] = marginal_multipliers(m);
    (up - down) / ((high - low) * spend)
}

/// Per draw, the spend (currency) where marginal ROI = margin x marginal ROAS - 1 first falls
/// below `hurdle` on the grid `curve` (response per multiplier and draw), interpolated linearly
/// between the midpoints where the slope is measured; +infinity when it stays above up to 2x,
/// and 0 when it starts below.
pub fn spend_at_hurdle(
    curve: &[Vec<f64>],
    grid: &[f64],
    spend: f64,
    margin: f64,
    hurdle: f64,
) -> Vec<f64> {
    let draws = curve.first().map_or(0, Vec::len);
    (0..draws)
        .map(|k| {
            let mut prev: Option<(f64, f64)> = None;
            for i in 1..grid.len() {
                let ds = (grid[i] - grid[i - 1]) * spend;
                let mroi = margin * (curve[i][k] - curve[i - 1][k]) / ds - 1.0;
                let at = 0.5 * (grid[i] + grid[i - 1]) * spend;
                if mroi < hurdle {
                    return match prev {
                        None => 0.0,
                        Some((s0, r0)) => s0 + (at - s0) * (r0 - hurdle) / (r0 - mroi),
                    };
                }
                prev = Some((at, mroi));
            }
            f64::INFINITY
        })
        .collect()
}
