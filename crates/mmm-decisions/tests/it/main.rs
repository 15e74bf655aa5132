mod likelihoods;
mod optimizer;
mod review;
