//! Sampler correctness on densities with known answers, independent of the MMM model.

mod gates;
mod known_posteriors;
mod recovery_likelihoods;
mod recovery_transforms;
