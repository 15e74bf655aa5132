mod guardrails;
mod likelihoods;
mod optimizer;
mod plans;
mod review;
