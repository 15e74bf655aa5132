//! The design refitted on a shorter training window (rolling-origin cross-validation): every
//! scaling factor is recomputed on the new window only, so nothing after it leaks in.

use std::collections::BTreeMap;

use mmm_core::Spec;
use mmm_core::spec::GeoSize;

use crate::panel::GeoDesign;
use crate::{Design, max_abs};

/// Scaling factors of one design: target, then per channel and per control (name -> divisor).
struct WindowScales {
    target: f64,
    channels: BTreeMap<String, f64>,
    controls: BTreeMap<String, f64>,
}

impl Design {
    /// The same periods with only the first `n_train` as training window, target, spend (with
    /// its carry-in history) and scaled controls rescaled by their max-abs over that window.
    /// `None` when `n_train` is 0, beyond the data, or leaves the target or a channel without a
    /// non-zero value.
    pub fn with_training_window(&self, spec: &Spec, n_train: usize) -> Option<Design> {
        if n_train == 0 || n_train > self.len() {
            return None;
        }
        let window_max = |values: &[f64], old: f64| max_abs(&values[..n_train]) * old;
        let positive = |s: f64| (s.is_finite() && s > 0.0).then_some(s);
        let target = positive(window_max(&self.target_scaled, self.scales.target))?;
        let mut channels = BTreeMap::new();
        for (c, name) in self.channel_names.iter().enumerate() {
            let s = window_max(&self.channels[c], self.channel_scale(name));
            channels.insert(name.clone(), positive(s)?);
        }
        let mut controls = BTreeMap::new();
        for (k, control) in spec.controls.iter().enumerate() {
            if control.scale && k < self.regressors.len() {
                let s = window_max(&self.regressors[k], self.control_scale(&control.name));
                // A control that is zero throughout the window keeps scale 1, as the features
                // stage does.
                controls.insert(control.name.clone(), positive(s).unwrap_or(1.0));
            }
        }
        for (j, m) in spec.mediators.iter().enumerate() {
            let k = spec.controls.len() + j;
            if let Some(values) = self.regressors.get(k) {
                let s = window_max(values, self.control_scale(&m.name));
                controls.insert(m.name.clone(), positive(s)?);
            }
        }
        let scales = WindowScales {
            target,
            channels,
            controls,
        };
        Some(self.rescaled(spec, n_train, &scales))
    }

    fn channel_scale(&self, name: &str) -> f64 {
        self.scales.channels.get(name).copied().unwrap_or(1.0)
    }

    fn control_scale(&self, name: &str) -> f64 {
        self.scales.controls.get(name).copied().unwrap_or(1.0)
    }

    /// The design in original units divided by `to`, with the first `n_train` periods as
    /// training window.
    fn rescaled(&self, spec: &Spec, n_train: usize, to: &WindowScales) -> Design {
        let mut d = self.clone();
        let rescale = |values: &mut Vec<f64>, old: f64, new: f64| {
            for v in values.iter_mut() {
                *v = *v * old / new;
            }
        };
        rescale(&mut d.target_scaled, self.scales.target, to.target);
        d.scales.target = to.target;
        for (c, name) in self.channel_names.iter().enumerate() {
            let (old, new) = (self.channel_scale(name), to.channels[name]);
            rescale(&mut d.channels[c], old, new);
            // Carry-in spend keeps the channel's scale, so its adstock still adds up.
            if let Some(h) = d.carry_in.channels.get_mut(c) {
                rescale(h, old, new);
            }
            d.scales.channels.insert(name.clone(), new);
        }
        for (k, control) in spec.controls.iter().enumerate() {
            if let (Some(&new), Some(values)) =
                (to.controls.get(&control.name), d.regressors.get_mut(k))
            {
                rescale(values, self.control_scale(&control.name), new);
                d.scales.controls.insert(control.name.clone(), new);
            }
        }
        for (j, m) in spec.mediators.iter().enumerate() {
            let k = spec.controls.len() + j;
            if let (Some(&new), Some(values)) = (to.controls.get(&m.name), d.regressors.get_mut(k))
            {
                rescale(values, self.control_scale(&m.name), new);
                d.scales.controls.insert(m.name.clone(), new);
            }
        }
        d.n_train = n_train;
        d.scales.train_rows = n_train;
        d.scales.holdout_rows = self.len() - n_train;
        d
    }
}

impl GeoDesign {
    /// Every geo's design with only the first `n_train` periods as training window, rescaled
    /// as the features stage scales a panel but from that window alone: geo sizes (when they
    /// are mean targets), then target and spend / size and / the max over geos of that over the
    /// window, and scaled controls / their max-abs over the window in any geo. `None` when
    /// `n_train` is 0, beyond the data, or leaves the target or a channel without a non-zero
    /// value in every geo.
    pub fn with_training_window(&self, spec: &Spec, n_train: usize) -> Option<GeoDesign> {
        let periods = self.designs.first()?.len();
        if n_train == 0 || n_train > periods || self.designs.iter().any(|d| d.len() != periods) {
            return None;
        }
        let original = |values: &[f64], scale: f64| -> Vec<f64> {
            values[..n_train].iter().map(|v| v * scale).collect()
        };
        let sizes: Vec<f64> = match spec.geo.size {
            GeoSize::MeanTarget => {
                let means: Vec<f64> = self
                    .designs
                    .iter()
                    .map(|d| {
                        original(&d.target_scaled, d.scales.target)
                            .iter()
                            .sum::<f64>()
                            / n_train as f64
                    })
                    .collect();
                let mean = means.iter().sum::<f64>() / means.len() as f64;
                means.iter().map(|m| m / mean).collect()
            }
            _ => self
                .geos
                .iter()
                .map(|g| self.scales.sizes.get(g).copied())
                .collect::<Option<_>>()?,
        };
        if sizes.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return None;
        }
        let positive = |s: f64| (s.is_finite() && s > 0.0).then_some(s);
        // The largest size-adjusted window value over geos of one column.
        let pooled = |column: &dyn Fn(&Design) -> (&[f64], f64), by_size: bool| -> f64 {
            self.designs
                .iter()
                .zip(&sizes)
                .map(|(d, s)| {
                    let (values, scale) = column(d);
                    max_abs(&original(values, scale)) / if by_size { *s } else { 1.0 }
                })
                .fold(0.0, f64::max)
        };
        let target = positive(pooled(&|d| (&d.target_scaled, d.scales.target), true))?;
        let first = &self.designs[0];
        let mut channels = BTreeMap::new();
        for (c, name) in first.channel_names.iter().enumerate() {
            let s = pooled(&|d| (&d.channels[c], d.channel_scale(name)), true);
            channels.insert(name.clone(), positive(s)?);
        }
        let mut controls = BTreeMap::new();
        for (k, control) in spec.controls.iter().enumerate() {
            if control.scale && k < first.regressors.len() {
                let s = pooled(
                    &|d| (&d.regressors[k], d.control_scale(&control.name)),
                    false,
                );
                controls.insert(control.name.clone(), positive(s).unwrap_or(1.0));
            }
        }
        let designs = self
            .designs
            .iter()
            .zip(&sizes)
            .map(|(d, size)| {
                let to = WindowScales {
                    target: target * size,
                    channels: channels
                        .iter()
                        .map(|(k, v)| (k.clone(), v * size))
                        .collect(),
                    controls: controls.clone(),
                };
                d.rescaled(spec, n_train, &to)
            })
            .collect();
        let mut scales = self.scales.clone();
        scales.sizes = self.geos.iter().cloned().zip(sizes).collect();
        scales.target = target;
        scales.channels = channels;
        scales.controls.extend(controls);
        Some(GeoDesign {
            geos: self.geos.clone(),
            designs,
            scales,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::panel::{GeoDesign, GeoScales};
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

    /// A design with one channel and no controls, from original-unit target and spend.
    fn unit(target: &[f64], target_scale: f64, spend: &[f64], spend_scale: f64) -> Design {
        Design {
            dates: (0..target.len() as i32).map(|k| 19723 + 7 * k).collect(),
            n_train: target.len(),
            target_scaled: target.iter().map(|v| v / target_scale).collect(),
            channel_names: vec!["x1".into()],
            channels: vec![spend.iter().map(|v| v / spend_scale).collect()],
            regressor_names: vec![],
            regressors: vec![],
            scales: Scales {
                target: target_scale,
                channels: BTreeMap::from([("x1".to_string(), spend_scale)]),
                controls: BTreeMap::new(),
                train_rows: target.len(),
                holdout_rows: 0,
                method: "test".into(),
            },
            carry_in: CarryIn::default(),
        }
    }

    fn geo_spec(size: &str) -> mmm_core::Spec {
        mmm_core::Spec::from_toml_str(&format!(
            r#"
[model]
name = "t"
[data]
date_column = "date"
target = "y"
geo_column = "region"
[[channels]]
name = "x1"
adstock = {{ kind = "geometric", l_max = 3, alpha_prior = {{ family = "beta", alpha = 1.0, beta = 3.0 }} }}
saturation = {{ kind = "logistic", lam_prior = {{ family = "gamma", shape = 3.0, rate = 1.0 }}, beta_prior = {{ family = "half_normal", sigma = 2.0 }} }}
[geo]
model = "hierarchical"
size = "{size}"
[geo.population]
a = 1
b = 3
"#
        ))
        .expect("spec")
    }

    /// Two geos of relative sizes 0.5 and 1.5 (population), scaled over four training weeks.
    fn panel() -> GeoDesign {
        let (target_factor, spend_factor) = (20.0, 10.0);
        let sizes = [("a", 0.5), ("b", 1.5)];
        let a = unit(
            &[2.0, 4.0, 6.0, 8.0],
            target_factor * 0.5,
            &[1.0, 2.0, 0.0, 5.0],
            spend_factor * 0.5,
        );
        let b = unit(
            &[3.0, 3.0, 12.0, 30.0],
            target_factor * 1.5,
            &[0.0, 3.0, 15.0, 9.0],
            spend_factor * 1.5,
        );
        GeoDesign {
            geos: vec!["a".into(), "b".into()],
            designs: vec![a, b],
            scales: GeoScales {
                size: "population".into(),
                sizes: sizes.iter().map(|(g, s)| (g.to_string(), *s)).collect(),
                target: target_factor,
                channels: BTreeMap::from([("x1".to_string(), spend_factor)]),
                controls: BTreeMap::new(),
                method: "test".into(),
            },
        }
    }

    fn original(d: &Design) -> (Vec<f64>, Vec<f64>) {
        (
            d.target_scaled
                .iter()
                .map(|v| v * d.scales.target)
                .collect(),
            d.channels[0]
                .iter()
                .map(|v| v * d.scales.channels["x1"])
                .collect(),
        )
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0))
    }

    #[test]
    fn a_shorter_panel_window_pools_its_factors_over_geos_from_that_window_alone() {
        let panel = panel();
        let short = panel
            .with_training_window(&geo_spec("population"), 2)
            .expect("window");
        // Target / size over weeks 1-2: a (2, 4) / 0.5 -> 8; b (3, 3) / 1.5 -> 2; pooled 8.
        // Spend / size: a (1, 2) / 0.5 -> 4; b (0, 3) / 1.5 -> 2; pooled 4.
        assert_eq!(short.scales.target, 8.0);
        assert_eq!(short.scales.channels["x1"], 4.0);
        assert_eq!(short.scales.sizes["b"], 1.5);
        let scales: Vec<(f64, f64)> = short
            .designs
            .iter()
            .map(|d| (d.scales.target, d.scales.channels["x1"]))
            .collect();
        assert_eq!(scales, [(4.0, 2.0), (12.0, 6.0)]);
        for (new, old) in short.designs.iter().zip(&panel.designs) {
            assert_eq!((new.n_train, new.scales.holdout_rows), (2, 2));
            // Rescaling never changes a value in original units.
            let ((t_new, s_new), (t_old, s_old)) = (original(new), original(old));
            assert!(close(&t_new, &t_old) && close(&s_new, &s_old));
        }
        // The largest size-adjusted window value is 1 in some geo.
        assert_eq!(short.designs[0].target_scaled[1], 1.0);
        assert!(
            panel
                .with_training_window(&geo_spec("population"), 0)
                .is_none()
        );
        assert!(
            panel
                .with_training_window(&geo_spec("population"), 5)
                .is_none()
        );
    }

    #[test]
    fn mean_target_sizes_are_measured_on_the_window() {
        let short = panel()
            .with_training_window(&geo_spec("mean_target"), 2)
            .expect("window");
        // Window means: a 3, b 3, so both sizes are 1 and the pooled target factor is 4.
        let got = [
            short.scales.sizes["a"],
            short.scales.sizes["b"],
            short.scales.target,
            short.designs[1].scales.target,
        ];
        assert!(close(&got, &[1.0, 1.0, 4.0, 4.0]), "{got:?}");
    }

    #[test]
    fn a_window_without_spend_in_any_geo_is_refused() {
        let mut panel = panel();
        panel.designs[0].channels[0][..2].fill(0.0);
        panel.designs[1].channels[0][..2].fill(0.0);
        assert!(
            panel
                .with_training_window(&geo_spec("population"), 2)
                .is_none()
        );
        assert!(
            panel
                .with_training_window(&geo_spec("population"), 3)
                .is_some()
        );
    }
}
