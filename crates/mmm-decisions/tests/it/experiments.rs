//! Experiment design's preposterior analysis against the conjugate normal case, where the
//! posterior after a test has a closed form.

use mmm_decisions::experiment::{preposterior_widths, sorted_order, weighted_interval};
use mmm_model::rand::SeedableRng;
use mmm_model::rand_distr::{Distribution, StandardNormal};

/// `n` draws of Normal(mean, sd), seeded.
fn normal_draws(n: usize, mean: f64, sd: f64, seed: u64) -> Vec<f64> {
    let mut rng = mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            mean + sd * z
        })
        .collect()
}

#[test]
fn equal_weights_give_the_sample_quantiles() {
    let x = normal_draws(4001, 0.0, 1.0, 3);
    let w = vec![1.0 / x.len() as f64; x.len()];
    let i = weighted_interval(&x, &w, &sorted_order(&x), 0.9);
    let mut s = x.clone();
    s.sort_by(f64::total_cmp);
    // The smallest value whose cumulative weight reaches 5% is the 201st of 4001 (rounding of
    // the running sum may take the neighbour); the upper bound the 3801st.
    assert!(
        (i.lower - s[200]).abs() <= s[201] - s[199],
        "{} vs {}",
        i.lower,
        s[200]
    );
    assert!(
        (i.upper - s[3800]).abs() <= s[3801] - s[3799],
        "{} vs {}",
        i.upper,
        s[3800]
    );
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    assert!((i.mean - mean).abs() < 1e-12);
}

/// A quantity q ~ Normal(m, s) and a test measuring k q with standard error se: the posterior
/// of q given any result is normal with sd s se' / sqrt(s^2 + se'^2), se' = se / k, so the
/// interval shrinks by 1 - se' / sqrt(s^2 + se'^2) whatever the result.
#[test]
fn conjugate_normal_shrinkage_is_recovered() {
    let (m, s, k) = (3.0, 0.5, 40.0);
    let q = normal_draws(8000, m, s, 11);
    let lifts: Vec<f64> = q.iter().map(|v| k * v).collect();
    for (se, seed) in [(10.0, 1), (20.0, 2), (40.0, 3)] {
        let se_q: f64 = se / k;
        let expected = 1.0 - se_q / (s * s + se_q * se_q).sqrt();
        let outcomes = preposterior_widths(&lifts, &q, se, 0.9, 300, seed);
        let today = weighted_interval(
            &q,
            &vec![1.0 / q.len() as f64; q.len()],
            &sorted_order(&q),
            0.9,
        );
        let widths: Vec<f64> = outcomes.iter().map(|o| o.width).collect();
        let mean_width = widths.iter().sum::<f64>() / widths.len() as f64;
        let shrinkage = 1.0 - mean_width / today.width();
        // Monte Carlo error: each reweighted interval rests on an effective sample of a few
        // hundred to thousands of draws (quantile error of a few percent of the width, averaged
        // over 300 outcomes), and today's width on 8,000 draws.
        assert!(
            (shrinkage - expected).abs() < 0.03,
            "se {se}: shrinkage {shrinkage:.4} against the closed form {expected:.4}"
        );
        // In the conjugate case the width does not depend on the result: the spread over
        // outcomes is Monte Carlo error only.
        let sd = (widths.iter().map(|w| (w - mean_width).powi(2)).sum::<f64>()
            / (widths.len() - 1) as f64)
            .sqrt();
        assert!(
            sd < 0.1 * mean_width,
            "se {se}: widths vary by {sd} around {mean_width}"
        );
    }
}
