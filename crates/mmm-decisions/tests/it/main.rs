mod optimizer;
mod likelihoods;
