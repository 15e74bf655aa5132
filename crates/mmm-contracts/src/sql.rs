//! DataFusion SQL over Arrow batches (pivots and period aggregation), on this process or on an
//! Apache DataFusion Ballista cluster.

use arrow::array::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};

/// Where the ingestion SQL runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SqlEngine {
    /// Single-node DataFusion in this process.
    #[default]
    Local,
    /// A Ballista scheduler and executor started inside this process (`standalone`).
    BallistaStandalone,
    /// A running Ballista cluster, by its scheduler URL (`df://host:port`). The executors must
    /// see this machine's temporary directory (the query's input is staged there as Parquet).
    BallistaRemote(String),
}

impl std::str::FromStr for SqlEngine {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "local" => Ok(Self::Local),
            "ballista" | "ballista-standalone" => Ok(Self::BallistaStandalone),
            url if url.starts_with("df://") => Ok(Self::BallistaRemote(url.to_string())),
            other => Err(format!(
                "'{other}' is not an SQL engine: use local, ballista (in-process scheduler and \
                 executor) or a Ballista scheduler URL df://HOST:PORT"
            )),
        }
    }
}

/// Quote an SQL identifier (column name) for DataFusion.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Why the ingestion SQL failed. Each variant keeps the engine's own error as its source; the
/// message shows it too, as the flattened messages did.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// DataFusion could not plan or run the query, or register its input.
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow could not assemble the result batch.
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The input could not be staged as Parquet for Ballista's executors.
    #[error("{0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The staging directory for Ballista's input could not be created.
    #[error("staging directory: {0}")]
    Staging(#[source] std::io::Error),
    /// A staged input file could not be created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime the query runs on could not be started.
    #[error("{0}")]
    Runtime(#[source] std::io::Error),
    /// The Ballista scheduler could not be reached or started, or the query failed on it.
    #[error("Ballista: {0}")]
    Ballista(#[source] Box<SqlError>),
    /// Ballista was asked for, but this build has none.
    #[error("this build has no Ballista support (build mmm with `--features ballista`)")]
    NoBallista,
}

/// Run `query` over `batch` registered as table `t` on `engine`; returns the result as one
/// batch. Every query orders its own output, so the engines give identical results.
pub fn query(batch: RecordBatch, query: &str, engine: &SqlEngine) -> Result<RecordBatch, SqlError> {
    match engine {
        SqlEngine::Local => local(batch, query),
        #[cfg(feature = "ballista")]
        SqlEngine::BallistaStandalone | SqlEngine::BallistaRemote(_) => {
            ballista_query(batch, query, engine)
        }
        #[cfg(not(feature = "ballista"))]
        SqlEngine::BallistaStandalone | SqlEngine::BallistaRemote(_) => Err(SqlError::NoBallista),
    }
}

fn local(batch: RecordBatch, query: &str) -> Result<RecordBatch, SqlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(SqlError::Runtime)?;
    runtime.block_on(async {
        // Two partitions match the target machine; results are ordered by the query itself.
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        ctx.register_batch("t", batch)?;
        collect(&ctx, query).await
    })
}

async fn collect(ctx: &SessionContext, query: &str) -> Result<RecordBatch, SqlError> {
    let frame = ctx.sql(query).await?;
    let out_schema = frame.schema().inner().clone();
    let batches = frame.collect().await?;
    Ok(arrow::compute::concat_batches(&out_schema, &batches)?)
}

/// The query on Ballista: executors read files, not this process's memory, so the input is
/// staged as a Parquet file in a temporary directory and registered from there.
#[cfg(feature = "ballista")]
fn ballista_query(
    batch: RecordBatch,
    query: &str,
    engine: &SqlEngine,
) -> Result<RecordBatch, SqlError> {
    use ballista::prelude::{SessionConfigExt, SessionContextExt};
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::ParquetReadOptions;

    let on_ballista = |e: SqlError| SqlError::Ballista(Box::new(e));
    let staging = tempfile::tempdir().map_err(SqlError::Staging)?;
    let path = staging.path().join("t.parquet");
    let file = std::fs::File::create(&path).map_err(|source| SqlError::Io {
        path: path.clone(),
        source,
    })?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(SqlError::Runtime)?;
    let location = path.to_string_lossy().into_owned();
    runtime.block_on(async {
        let config = SessionConfig::new_with_ballista().with_target_partitions(2);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let ctx = match engine {
            SqlEngine::BallistaRemote(url) => SessionContext::remote_with_state(url, state).await,
            _ => SessionContext::standalone_with_state(state).await,
        }
        .map_err(|e| on_ballista(e.into()))?;
        ctx.register_parquet("t", &location, ParquetReadOptions::default())
            .await?;
        collect(&ctx, query).await.map_err(on_ballista)
    })
}
