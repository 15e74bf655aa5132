//! DataFusion SQL over in-memory Arrow batches (pivots and period aggregation).

use arrow::array::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};

/// Quote an SQL identifier (column name) for DataFusion.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Run `query` over `batch` registered as table `t`; returns the result as one batch.
pub fn query(batch: RecordBatch, query: &str) -> Result<RecordBatch, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        // Two partitions match the target machine; results are ordered by the query itself.
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        ctx.register_batch("t", batch).map_err(|e| e.to_string())?;
        let frame = ctx.sql(query).await.map_err(|e| e.to_string())?;
        let out_schema = frame.schema().inner().clone();
        let batches = frame.collect().await.map_err(|e| e.to_string())?;
        arrow::compute::concat_batches(&out_schema, &batches).map_err(|e| e.to_string())
    })
}
