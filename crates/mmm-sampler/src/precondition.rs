//! A density seen through a fixed affine map, so that a refit starts where a previous fit
//! ended: x = (u - center) / scale with the previous posterior's mean and sd per unconstrained
//! coordinate. In x the posterior is near standard, which is what NUTS's unit initial mass
//! matrix assumes, so a short warm-up suffices (Stan's and nutpie's warm-start idea, done by
//! reparameterizing because nuts-rs adapts its mass matrix from the identity).

use std::sync::Arc;

use crate::nuts::{LogDensity, NonFinite};

/// `inner` evaluated at u = center + scale * x; the map is linear, so the log density changes
/// by a constant (sum ln scale) that the sampler never needs and is left out.
pub struct Preconditioned<D> {
    inner: Arc<D>,
    center: Vec<f64>,
    scale: Vec<f64>,
}

impl<D: LogDensity> Preconditioned<D> {
    /// The map centered at `center` with per-coordinate `scale`; `None` when the lengths differ
    /// from the density's dimension or a value is not finite or a scale not positive.
    pub fn new(inner: Arc<D>, center: Vec<f64>, scale: Vec<f64>) -> Option<Self> {
        let d = inner.dim();
        let usable = center.len() == d
            && scale.len() == d
            && center.iter().all(|c| c.is_finite())
            && scale.iter().all(|s| s.is_finite() && *s > 0.0);
        usable.then_some(Self {
            inner,
            center,
            scale,
        })
    }

    /// u = center + scale * x.
    fn to_inner(&self, x: &[f64], u: &mut [f64]) {
        for (((u, x), c), s) in u.iter_mut().zip(x).zip(&self.center).zip(&self.scale) {
            *u = c + s * x;
        }
    }
}

/// The inner density's buffers plus the point and gradient in its coordinates.
#[derive(Clone)]
pub struct PreconditionedScratch<S> {
    inner: S,
    u: Vec<f64>,
    grad_u: Vec<f64>,
}

impl<D: LogDensity> LogDensity for Preconditioned<D> {
    type Scratch = PreconditionedScratch<D::Scratch>;

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }

    fn scratch(&self) -> Self::Scratch {
        let d = self.inner.dim();
        PreconditionedScratch {
            inner: self.inner.scratch(),
            u: vec![0.0; d],
            grad_u: vec![0.0; d],
        }
    }

    /// log p(x) = log p_u(center + scale x); d/dx = scale * d/du.
    fn logp(
        &self,
        x: &[f64],
        grad: &mut [f64],
        scratch: &mut Self::Scratch,
    ) -> Result<f64, NonFinite> {
        self.to_inner(x, &mut scratch.u);
        let lp = self
            .inner
            .logp(&scratch.u, &mut scratch.grad_u, &mut scratch.inner)?;
        for ((g, gu), s) in grad.iter_mut().zip(&scratch.grad_u).zip(&self.scale) {
            *g = gu * s;
        }
        Ok(lp)
    }

    fn constrain(&self, x: &[f64]) -> Vec<f64> {
        let mut u = vec![0.0; x.len()];
        self.to_inner(x, &mut u);
        self.inner.constrain(&u)
    }

    fn prior_point(&self, rng: &mut dyn nuts_rs::rand::Rng) -> Option<Vec<f64>> {
        let u = self.inner.prior_point(rng)?;
        Some(
            u.iter()
                .zip(&self.center)
                .zip(&self.scale)
                .map(|((u, c), s)| (u - c) / s)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normal(mu, sigma^2) per coordinate, on u.
    struct Gaussian {
        mu: Vec<f64>,
        sigma: Vec<f64>,
    }

    impl LogDensity for Gaussian {
        type Scratch = ();
        fn dim(&self) -> usize {
            self.mu.len()
        }
        fn param_names(&self) -> Vec<String> {
            (0..self.mu.len()).map(|i| format!("u{i}")).collect()
        }
        fn scratch(&self) {}
        fn logp(&self, u: &[f64], grad: &mut [f64], _: &mut ()) -> Result<f64, NonFinite> {
            let mut lp = 0.0;
            for i in 0..u.len() {
                let z = (u[i] - self.mu[i]) / self.sigma[i];
                lp -= z * z / 2.0;
                grad[i] = -z / self.sigma[i];
            }
            Ok(lp)
        }
        fn constrain(&self, u: &[f64]) -> Vec<f64> {
            u.to_vec()
        }
    }

    /// Centered at the mean with the sd as scale, the density in x is the standard normal:
    /// log p and its gradient -x at any x, and constrain maps x back to u.
    #[test]
    fn standardizing_a_gaussian_gives_the_standard_normal() {
        let inner = Arc::new(Gaussian {
            mu: vec![3.0, -1.0],
            sigma: vec![0.5, 4.0],
        });
        let p = Preconditioned::new(inner, vec![3.0, -1.0], vec![0.5, 4.0]).expect("usable");
        let mut s = p.scratch();
        let x = [0.7, -1.3];
        let mut g = [0.0; 2];
        let lp = p.logp(&x, &mut g, &mut s).expect("finite");
        assert!((lp + (0.49 + 1.69) / 2.0).abs() < 1e-12);
        assert!((g[0] + 0.7).abs() < 1e-12 && (g[1] - 1.3).abs() < 1e-12);
        let u = p.constrain(&x);
        assert!((u[0] - 3.35).abs() < 1e-12 && (u[1] + 6.2).abs() < 1e-12);
    }

    #[test]
    fn unusable_maps_are_refused() {
        let inner = Arc::new(Gaussian {
            mu: vec![0.0],
            sigma: vec![1.0],
        });
        assert!(Preconditioned::new(inner.clone(), vec![0.0, 1.0], vec![1.0]).is_none());
        assert!(Preconditioned::new(inner.clone(), vec![0.0], vec![0.0]).is_none());
        assert!(Preconditioned::new(inner, vec![f64::NAN], vec![1.0]).is_none());
    }
}
