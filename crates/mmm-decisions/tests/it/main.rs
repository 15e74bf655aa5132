mod likelihoods;
mod optimizer;
