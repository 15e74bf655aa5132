//! The stages of a run, named once: their directory names, pipeline order and which of them
//! every `mmm run` directory holds.

/// One stage of the pipeline (its run-directory name is [`Stage::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Data contract: `validate/`.
    Validate,
    /// Design matrix and scales: `features/`.
    Features,
    /// NUTS posterior: `fit/`.
    Fit,
    /// Convergence, predictive checks, refits and gates: `diagnose/`.
    Diagnose,
    /// Contributions, ROAS, curves: `decide/`.
    Decide,
    /// Budget optimizer: `optimize/`.
    Optimize,
    /// Spend plans from a file: `scenario/`.
    Scenario,
    /// Comparison with earlier runs: `compare/`.
    Compare,
    /// Decisions from a stacked ensemble of runs on the same data: `ensemble/`.
    Ensemble,
    /// HTML report and model card: `report/`.
    Report,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 10] = [
        Stage::Validate,
        Stage::Features,
        Stage::Fit,
        Stage::Diagnose,
        Stage::Decide,
        Stage::Optimize,
        Stage::Scenario,
        Stage::Compare,
        Stage::Ensemble,
        Stage::Report,
    ];

    /// The stage's directory name (and `stage` field of its manifest).
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Validate => "validate",
            Stage::Features => "features",
            Stage::Fit => "fit",
            Stage::Diagnose => "diagnose",
            Stage::Decide => "decide",
            Stage::Optimize => "optimize",
            Stage::Scenario => "scenario",
            Stage::Compare => "compare",
            Stage::Ensemble => "ensemble",
            Stage::Report => "report",
        }
    }

    /// The stage of a directory name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// True for the stages every run directory of `mmm run` has.
    pub const fn required(self) -> bool {
        matches!(
            self,
            Stage::Validate
                | Stage::Features
                | Stage::Fit
                | Stage::Diagnose
                | Stage::Decide
                | Stage::Report
        )
    }

    /// True for the stages `mmm run` may write (the required ones and `compare`).
    pub const fn made_by_run(self) -> bool {
        self.required() || matches!(self, Stage::Compare)
    }

    /// True for the stages that read an upstream stage of their run (all but `validate`,
    /// which reads the data, and `compare` and `ensemble`, which read other runs).
    pub const fn reads_upstream(self) -> bool {
        !matches!(self, Stage::Validate | Stage::Compare | Stage::Ensemble)
    }

    /// The required stages, in pipeline order.
    pub fn required_stages() -> impl Iterator<Item = Stage> {
        Self::ALL.into_iter().filter(|s| s.required())
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_pipeline_order() {
        for (i, s) in Stage::ALL.iter().enumerate() {
            assert_eq!(Stage::from_name(s.name()), Some(*s));
            assert_eq!(Stage::ALL.iter().position(|t| t == s), Some(i));
        }
        assert_eq!(Stage::from_name("optimise"), None);
        let required: Vec<&str> = Stage::required_stages().map(Stage::name).collect();
        assert_eq!(
            required,
            [
                "validate", "features", "fit", "diagnose", "decide", "report"
            ]
        );
        assert!(Stage::Compare.made_by_run() && !Stage::Optimize.made_by_run());
        assert!(!Stage::Validate.reads_upstream() && Stage::Report.reads_upstream());
        assert!(!Stage::Ensemble.made_by_run() && !Stage::Ensemble.reads_upstream());
    }
}
