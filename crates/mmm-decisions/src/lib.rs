//! Counterfactual contributions, ROI/ROAS with intervals (the decide stage)
