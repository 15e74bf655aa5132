//! Sampler correctness on densities with known answers, independent of the MMM model.

mod known_posteriors;
mod gates;
