mod experiments;
mod guardrails;
mod likelihoods;
mod mediators;
mod optimizer;
mod plans;
mod review;
