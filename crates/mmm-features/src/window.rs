//! The design refitted on a shorter training window (rolling-origin cross-validation): every
//! scaling factor is recomputed on the new window only, so nothing after it leaks in.

use mmm_core::Spec;

use crate::{Design, max_abs};

impl Design {
    /// The same periods with only the first `n_train` as training window, target, spend (with
    /// its carry-in history) and scaled controls rescaled by their max-abs over that window. `None` when `n_train` is 0,
    /// beyond the data, or leaves the target or a channel without a non-zero value.
    pub fn with_training_window(&self, spec: &Spec, n_train: usize) -> Option<Design> {
        if n_train == 0 || n_train > self.len() {
            return None;
        }
        let mut d = self.clone();
        let rescale = |values: &mut Vec<f64>, old: f64| -> Option<f64> {
            let original: Vec<f64> = values.iter().map(|v| v * old).collect();
            let s = max_abs(&original[..n_train]);
            if !(s.is_finite() && s > 0.0) {
                return None;
            }
            *values = original.iter().map(|v| v / s).collect();
            Some(s)
        };
        d.scales.target = rescale(&mut d.target_scaled, self.scales.target)?;
        for (c, name) in self.channel_names.iter().enumerate() {
            let old = self.scales.channels.get(name).copied().unwrap_or(1.0);
            let s = rescale(&mut d.channels[c], old)?;
            d.scales.channels.insert(name.clone(), s);
            // Carry-in spend keeps the channel's scale, so its adstock still adds up.
            if let Some(h) = d.carry_in.channels.get_mut(c) {
                *h = h.iter().map(|v| v * old / s).collect();
            }
        }
        for (k, control) in spec.controls.iter().enumerate() {
            if !control.scale || k >= d.regressors.len() {
                continue;
            }
            let old = self
                .scales
                .controls
                .get(&control.name)
                .copied()
                .unwrap_or(1.0);
            // A control that is zero throughout the window keeps scale 1, as the features stage does.
            let s = rescale(&mut d.regressors[k], old).unwrap_or_else(|| {
                d.regressors[k] = d.regressors[k].iter().map(|v| v * old).collect();
                1.0
            });
            d.scales.controls.insert(control.name.clone(), s);
        }
        d.n_train = n_train;
        d.scales.train_rows = n_train;
        d.scales.holdout_rows = self.len() - n_train;
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::{CarryIn, Design, Scales};

    #[test]
    fn a_shorter_window_rescales_the_carry_in_with_its_channel() {
        let spec = mmm_core::Spec::from_toml_str(
            r#"
[model]
name = "t"
[data]
date_column = "date"
target = "y"
start = "2024-01-01"
[[channels]]
name = "x1"
adstock = { kind = "geometric", l_max = 3, alpha_prior = { family = "beta", alpha = 1.0, beta = 3.0 } }
saturation = { kind = "logistic", lam_prior = { family = "gamma", shape = 3.0, rate = 1.0 }, beta_prior = { family = "half_normal", sigma = 2.0 } }
"#,
        )
        .expect("spec");
        // Spend 1..=8 scaled by its max 8; carry-in spend 4 and 6.
        let design = Design {
            dates: (0..8).map(|k| 19723 + 7 * k).collect(),
            n_train: 8,
            target_scaled: (1..=8).map(|v| v as f64 / 8.0).collect(),
            channel_names: vec!["x1".into()],
            channels: vec![(1..=8).map(|v| v as f64 / 8.0).collect()],
            regressor_names: vec![],
            regressors: vec![],
            scales: Scales {
                target: 8.0,
                channels: BTreeMap::from([("x1".to_string(), 8.0)]),
                controls: BTreeMap::new(),
                train_rows: 8,
                holdout_rows: 0,
                method: "test".into(),
            },
            carry_in: CarryIn {
                dates: vec![19709, 19716],
                channels: vec![vec![0.5, 0.75]],
            },
        };
        let short = design.with_training_window(&spec, 4).expect("window");
        assert_eq!(short.scales.channels["x1"], 4.0);
        assert_eq!(short.carry_in.channels[0], [1.0, 1.5]);
        assert_eq!(short.carry_in.dates, design.carry_in.dates);
    }
}
