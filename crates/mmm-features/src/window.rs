//! The design refitted on a shorter training window (rolling-origin cross-validation): every
//! scaling factor is recomputed on the new window only, so nothing after it leaks in.

use mmm_core::Spec;

use crate::{Design, max_abs};

impl Design {
    /// The same periods with only the first `n_train` as training window, target, spend and
    /// scaled controls rescaled by their max-abs over that window. `None` when `n_train` is 0,
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
