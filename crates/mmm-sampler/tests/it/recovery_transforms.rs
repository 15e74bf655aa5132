//! Recovery from data simulated with known parameters for the non-default transforms: channel
//! c0 uses the transform under test, c1 the fixture's geometric + logistic. A seeded target is
//! simulated from fixed parameters and fitted with NUTS; each channel's true mean training
//! contribution (its ROI times a constant: the spend is fixed) must lie in its 90% posterior
//! interval, widened on each side by two Monte Carlo standard errors of that quantile, and every
//! parameter's truth within four posterior standard deviations (plus Monte Carlo error) of its
//! posterior mean.

use std::sync::Arc;

use mmm_core::Spec;
use mmm_core::summary::{quantile_sorted, sorted};
use mmm_diagnostics::convergence::{mcse_mean, mcse_quantile, rhat};
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;
use mmm_sampler::{NutsOptions, sample};

const GAMMA: &str = "{ family = \"gamma\", shape = 2.0, rate = 1.0 }";

fn spec(adstock: &str, saturation: &str, order: &str) -> Spec {
    let text = format!(
        "[model]\nname = \"recovery\"\n[data]\ndate_column = \"d\"\ntarget = \"y\"\n\
         [[controls]]\nname = \"z\"\nprior = {{ family = \"normal\", mu = 0.0, sigma = 1.0 }}\n\
         [intercept]\nprior = {{ family = \"normal\", mu = 0.0, sigma = 2.0 }}\n\
         [likelihood]\nfamily = \"normal\"\nsigma_prior = {{ family = \"half_normal\", sigma = 1.0 }}\n\
         [[channels]]\nname = \"c0\"\norder = \"{order}\"\nadstock = {adstock}\nsaturation = {saturation}\n\
         [[channels]]\nname = \"c1\"\nadstock = {{ kind = \"geometric\", l_max = 4, normalize = true, alpha_prior = {{ family = \"beta\", alpha = 1.0, beta = 3.0 }} }}\nsaturation = {{ kind = \"logistic\", lam_prior = {{ family = \"gamma\", shape = 3.0, rate = 1.0 }}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}\n"
    );
    let spec = Spec::from_toml_str(&text).expect("spec");
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    spec
}

/// Mean training contribution of channel c at constrained `theta`.
fn contribution(model: &MmmModel, theta: &[f64], c: usize) -> f64 {
    let mut term = vec![0.0; model.periods()];
    model.channel_term(theta, c, &mut term);
    term[..model.train_periods()].iter().sum::<f64>() / model.train_periods() as f64
}

fn recover(spec: Spec, truths: &[(&str, f64)], seed: u64) {
    let mut d = crate::random_design(4242, 1.0);
    let base = MmmModel::new(&spec, &d).expect("model");
    let names = base.param_names();
    let truth: Vec<f64> = names
        .iter()
        .map(|n| match n.as_str() {
            "intercept" => 0.2,
            "gamma_control[z]" => 0.4,
            "adstock_alpha[c1]" => 0.5,
            "saturation_lam[c1]" => 1.5,
            "beta[c1]" => 0.4,
            "beta[c0]" => 0.6,
            "sigma" => 0.05,
            other => truths
                .iter()
                .find(|(k, _)| *k == other)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("no truth for {other}")),
        })
        .collect();
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(seed);
    let n = d.len();
    let (mut mean, mut y) = (vec![0.0; n], vec![0.0; n]);
    base.predictive_draw(&truth, &mut rng, &mut mean, &mut y);
    d.target_scaled = y;
    let model = Arc::new(MmmModel::new(&spec, &d).expect("model of simulated data"));
    let opts = NutsOptions {
        chains: 2,
        tune: 600,
        draws: 600,
        seed,
        target_accept: 0.9,
        max_tree_depth: 10,
        mass_matrix: mmm_core::spec::MassMatrix::Diag,
        init: mmm_core::spec::InitStrategy::Uniform,
        start: None,
        jitter: 0.1,
        initial_step: None,
        threads: 2,
        progress: false,
        stop: None,
    };
    let trace = sample(model.clone(), &opts).expect("sampling");
    let label = format!(
        "{} + {} ({:?})",
        spec.channels[0].adstock.kind(),
        spec.channels[0].saturation.kind(),
        spec.channels[0].order
    );
    for (j, name) in names.iter().enumerate() {
        let owned = trace.param_chains(j);
        let chains: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
        let all: Vec<f64> = owned.iter().flatten().copied().collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let sd = (all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        let r = rhat(&chains);
        assert!(r < 1.05, "{label} {name}: R-hat {r}");
        let tol = 4.0 * sd + 4.0 * mcse_mean(&chains);
        assert!(
            (m - truth[j]).abs() < tol,
            "{label} {name}: posterior mean {m} (sd {sd}) vs truth {}",
            truth[j]
        );
    }
    let d = trace.names.len();
    for c in 0..2 {
        let per_chain: Vec<Vec<f64>> = trace
            .values
            .iter()
            .map(|v| {
                v.chunks_exact(d)
                    .map(|theta| contribution(&model, theta, c))
                    .collect()
            })
            .collect();
        let chains: Vec<&[f64]> = per_chain.iter().map(Vec::as_slice).collect();
        let all = sorted(&per_chain.concat());
        let (lo, hi) = (quantile_sorted(&all, 0.05), quantile_sorted(&all, 0.95));
        let (elo, ehi) = (
            2.0 * mcse_quantile(&chains, 0.05),
            2.0 * mcse_quantile(&chains, 0.95),
        );
        let want = contribution(&model, &truth, c);
        eprintln!("{label} channel {c}: truth {want:.4}, 90% interval [{lo:.4}, {hi:.4}]");
        assert!(
            lo - elo <= want && want <= hi + ehi,
            "{label} channel {c}: true contribution {want} outside the 90% interval [{lo}, {hi}] \
             (+- MC error {elo}, {ehi})"
        );
    }
}

#[test]
fn hill_saturation_is_recovered() {
    let spec = spec(
        "{ kind = \"geometric\", l_max = 4, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }",
        &format!(
            "{{ kind = \"hill\", k_prior = {GAMMA}, s_prior = {GAMMA}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}"
        ),
        "adstock_first",
    );
    let truths = [
        ("adstock_alpha[c0]", 0.3),
        ("saturation_k[c0]", 0.4),
        ("saturation_s[c0]", 1.8),
    ];
    recover(spec, &truths, 21);
}

#[test]
fn michaelis_menten_saturation_first_is_recovered() {
    let spec = spec(
        "{ kind = \"geometric\", l_max = 4, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }",
        &format!(
            "{{ kind = \"michaelis_menten\", k_prior = {GAMMA}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}"
        ),
        "saturation_first",
    );
    let truths = [("adstock_alpha[c0]", 0.4), ("saturation_k[c0]", 0.5)];
    recover(spec, &truths, 22);
}

#[test]
fn weibull_cdf_adstock_is_recovered() {
    let spec = spec(
        &format!(
            "{{ kind = \"weibull_cdf\", l_max = 6, shape_prior = {GAMMA}, scale_prior = {GAMMA} }}"
        ),
        "{ kind = \"logistic\", lam_prior = { family = \"gamma\", shape = 3.0, rate = 1.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }",
        "adstock_first",
    );
    let truths = [
        ("adstock_shape[c0]", 1.5),
        ("adstock_scale[c0]", 2.0),
        ("saturation_lam[c0]", 2.0),
    ];
    recover(spec, &truths, 23);
}

#[test]
fn delayed_geometric_adstock_is_recovered() {
    let spec = spec(
        "{ kind = \"delayed_geometric\", l_max = 6, alpha_prior = { family = \"beta\", alpha = 2.0, beta = 2.0 }, theta_prior = { family = \"truncated_normal\", mu = 1.0, sigma = 2.0, lower = 0.0, upper = 5.0 } }",
        &format!(
            "{{ kind = \"exponential\", lam_prior = {GAMMA}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}"
        ),
        "adstock_first",
    );
    let truths = [
        ("adstock_alpha[c0]", 0.5),
        ("adstock_theta[c0]", 2.0),
        ("saturation_lam[c0]", 1.5),
    ];
    recover(spec, &truths, 24);
}

#[test]
fn power_saturation_is_recovered() {
    // The power curve x^p with its default exponent prior Beta(2, 2), adstock first, on spend
    // that is 0 in about a quarter of the weeks (the slope p x^(p-1) is unbounded near 0).
    let spec = spec(
        "{ kind = \"geometric\", l_max = 4, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }",
        "{ kind = \"power\", beta_prior = { family = \"half_normal\", sigma = 2.0 } }",
        "adstock_first",
    );
    let truths = [("adstock_alpha[c0]", 0.4), ("saturation_p[c0]", 0.35)];
    recover(spec, &truths, 25);
}
