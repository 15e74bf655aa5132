//! The mmm command-line tool: one subcommand per pipeline stage
