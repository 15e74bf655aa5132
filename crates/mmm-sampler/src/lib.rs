//! nuts-rs adapter: parallel seeded chains, progress, draws to Arrow/Parquet (the fit stage)
