//! Power-scaling sensitivity on a simulated fit: data drawn from the model at known parameters
//! (seed 20240531) and fitted with NUTS (seed 7). Channel c0's coefficient has a tight prior
//! far from its true value (LogNormal(ln 0.3, 0.05) against a true 0.6, 14 prior sds away on
//! the log scale): prior and data disagree, so its ROAS, contribution and marginal ROAS must
//! read "prior-data conflict". Channel c1 has the fixture's weak priors: the data decide its
//! figures, which must read "none". The labels are exact for these seeds. With these seeds the
//! sensitivities (prior, likelihood) are: c0 ROAS 0.132, 0.192 and marginal ROAS 0.358, 0.352;
//! c1 ROAS 0.020, 0.089 and marginal ROAS 0.038, 0.104. A far stronger conflict (prior
//! LogNormal(ln 0.1, 0.1)) also pushes c1 over the threshold: c0's prior then moves c1's
//! figures through their posterior correlation (c1 absorbs what c0 cannot explain), which the
//! per-group sensitivities show (`media[c0]` 0.10 on c1's ROAS).

use std::collections::BTreeMap;
use std::sync::Arc;

use mmm_core::Spec;
use mmm_core::spec::{InitStrategy, MassMatrix};
use mmm_diagnostics::refits::RefitSubject;
use mmm_diagnostics::sensitivity::{Diagnosis, power_scaling, sensitivity_inputs};
use mmm_features::{Design, Scales};
use mmm_model::rand::SeedableRng;
use mmm_model::{MmmModel, Posterior};
use mmm_sampler::{NutsOptions, sample};

const LOGISTIC: &str =
    "kind = \"logistic\", lam_prior = { family = \"gamma\", shape = 3.0, rate = 1.0 }";
const GEOMETRIC: &str = "{ kind = \"geometric\", l_max = 4, normalize = true, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }";

fn spec() -> Spec {
    let text = format!(
        "[model]\nname = \"sensitivity\"\n[data]\ndate_column = \"d\"\ntarget = \"y\"\n\
         [[controls]]\nname = \"z\"\nprior = {{ family = \"normal\", mu = 0.0, sigma = 1.0 }}\n\
         [intercept]\nprior = {{ family = \"normal\", mu = 0.0, sigma = 2.0 }}\n\
         [likelihood]\nfamily = \"normal\"\nsigma_prior = {{ family = \"half_normal\", sigma = 1.0 }}\n\
         [[channels]]\nname = \"c0\"\nadstock = {GEOMETRIC}\nsaturation = {{ {LOGISTIC}, beta_prior = {{ family = \"log_normal\", mu = -1.203973, sigma = 0.05 }} }}\n\
         [[channels]]\nname = \"c1\"\nadstock = {GEOMETRIC}\nsaturation = {{ {LOGISTIC}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}\n"
    );
    let spec = Spec::from_toml_str(&text).expect("spec");
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    spec
}

/// 160 weeks of two channels' spend (a quarter of the weeks dark) and a control.
fn design() -> Design {
    let n = 160;
    let mut state = 4242_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let channels: Vec<Vec<f64>> = (0..2)
        .map(|_| {
            (0..n)
                .map(|_| if next() < 0.25 { 0.0 } else { next() })
                .collect()
        })
        .collect();
    let z: Vec<f64> = (0..n).map(|_| next() - 0.5).collect();
    Design {
        dates: (0..n as i32).map(|t| 17_000 + 7 * t).collect(),
        n_train: n,
        target_scaled: vec![1.0; n],
        channel_names: vec!["c0".into(), "c1".into()],
        channels,
        regressor_names: vec!["control[z]".into()],
        regressors: vec![z],
        scales: Scales {
            target: 1.0,
            channels: BTreeMap::new(),
            controls: BTreeMap::new(),
            train_rows: n,
            holdout_rows: 0,
            method: "test".into(),
        },
        carry_in: Default::default(),
    }
}

/// The true parameters, by name.
fn truth(name: &str) -> f64 {
    match name {
        "intercept" => 0.2,
        "gamma_control[z]" => 0.4,
        "adstock_alpha[c0]" | "adstock_alpha[c1]" => 0.5,
        "saturation_lam[c0]" | "saturation_lam[c1]" => 1.5,
        "beta[c0]" => 0.6,
        "beta[c1]" => 0.4,
        "sigma" => 0.05,
        other => panic!("no truth for {other}"),
    }
}

/// Simulated data and the model fitted to them: the design and the draws (chain-major).
fn fit() -> (Design, MmmModel, Posterior) {
    let spec = spec();
    let mut d = design();
    let base = MmmModel::new(&spec, &d).expect("model");
    let theta: Vec<f64> = base.param_names().iter().map(|n| truth(n)).collect();
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(20240531);
    let (mut mean, mut y) = (vec![0.0; d.len()], vec![0.0; d.len()]);
    base.predictive_draw(&theta, &mut rng, &mut mean, &mut y);
    d.target_scaled = y;
    let model = Arc::new(MmmModel::new(&spec, &d).expect("model of simulated data"));
    let opts = NutsOptions {
        chains: 2,
        tune: 800,
        draws: 1000,
        seed: 7,
        target_accept: 0.9,
        max_tree_depth: 10,
        mass_matrix: MassMatrix::Diag,
        init: InitStrategy::Uniform,
        start: None,
        jitter: 0.1,
        initial_step: None,
        threads: 2,
        progress: false,
        stop: None,
    };
    let trace = sample(model.clone(), &opts).expect("sampling");
    let dim = trace.names.len();
    let mut posterior = Posterior {
        chain: Vec::new(),
        draw: Vec::new(),
        theta: Vec::new(),
    };
    for (c, values) in trace.values.iter().enumerate() {
        for (k, theta) in values.chunks_exact(dim).enumerate() {
            posterior.chain.push(c as i64);
            posterior.draw.push(k as i64);
            posterior.theta.push(theta.to_vec());
        }
    }
    (
        d,
        Arc::try_unwrap(model).unwrap_or_else(|m| (*m).clone()),
        posterior,
    )
}

#[test]
fn prior_data_conflict_is_flagged_and_a_data_driven_channel_is_not() {
    let (design, model, posterior) = fit();
    let n = model.periods();
    let log_lik: Vec<f64> = (posterior.theta.iter())
        .map(|theta| {
            let (mut mean, mut ll) = (vec![0.0; n], vec![0.0; n]);
            model.pointwise_log_likelihood(theta, &mut mean, &mut ll);
            ll[..model.train_periods()].iter().sum()
        })
        .collect();
    let order: Vec<usize> = (0..posterior.len()).collect();
    let subject = RefitSubject::National {
        design: &design,
        model: &model,
    };
    let result = power_scaling(&sensitivity_inputs(subject, &posterior, &order, log_lik));
    let row = |name: &str| {
        (result.quantities.iter())
            .find(|q| q.quantity == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    for stem in ["roas", "contribution", "marginal_roas"] {
        let (c0, c1) = (row(&format!("{stem}[c0]")), row(&format!("{stem}[c1]")));
        eprintln!(
            "{stem}: c0 prior {:?} likelihood {:?}; c1 prior {:?} likelihood {:?}",
            c0.prior, c0.likelihood, c1.prior, c1.likelihood
        );
        assert_eq!(c0.diagnosis, Diagnosis::PriorDataConflict, "{stem}[c0]");
        assert_eq!(c1.diagnosis, Diagnosis::None, "{stem}[c1]");
    }
    // The conflicting prior is c0's coefficient's: its group moves c0's ROAS most.
    let top = (row("roas[c0]").groups.iter())
        .max_by(|a, b| a.prior.unwrap_or(0.0).total_cmp(&b.prior.unwrap_or(0.0)))
        .map(|g| g.group.as_str());
    assert_eq!(top, Some("media[c0]"));
    assert!(result.perturbations.iter().all(|p| p.computed));
}
