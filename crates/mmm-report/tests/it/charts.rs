use mmm_report::charts::*;
