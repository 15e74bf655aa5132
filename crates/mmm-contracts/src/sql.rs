//! The ingestion queries (long-format pivots, daily-to-period aggregation) over Arrow batches.
//!
//! Each query is a typed [`Query`], not SQL text: the queries are ours, so a parser would only
//! add code that no user input reaches. Three engines run them: a built-in one (the default:
//! hash grouping in this process, every sum from zero in row order, mean = sum / count, as
//! DataFusion's group accumulators form them), Apache DataFusion in this process (feature
//! `datafusion`) and a DataFusion Ballista cluster (feature `ballista`). They give the same
//! tables byte for byte while DataFusion reads its input in one piece (the ingest fixtures);
//! on inputs it splits over partitions (millions of rows), its partial sums are added in
//! another order, so a sum can differ in its last bit (1-2 ulp; docs/benchmarks.md). The
//! built-in engine's sums do not depend on partitioning. DataFusion is half of
//! a cold build's CPU time (docs/benchmarks.md, "Build time and binary size"), so only builds
//! that ask for it carry it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use mmm_core::spec::Aggregation;

/// An ingestion query over one input batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Input `day: Int32, geo: Utf8, col: Int32, value: Float64`; one row per (day, geo) in
    /// that order, one Float64 column per name k holding the sum of `value` over the rows with
    /// `col = k`, null when there are none:
    /// `SELECT day, geo, SUM(CASE WHEN col = k THEN value END) AS name_k .. GROUP BY day, geo
    /// ORDER BY day, geo`.
    Pivot {
        /// The output columns, by code.
        names: Vec<String>,
    },
    /// Input `period: Int32, day: Int32, geo: Utf8, c0, c1, ..: Float64`; one row per
    /// (period, geo) in that order with `day` (the period), `geo`, `n_inputs` (distinct days)
    /// and, for each k, column c_k aggregated as asked (sum, mean, or the value of the latest
    /// day) and named name_k:
    /// `SELECT period AS day, geo, COUNT(DISTINCT day) AS n_inputs, AGG(c_k) AS name_k ..
    /// GROUP BY period, geo ORDER BY period, geo`.
    Periods {
        /// Each input column's output name and aggregation, by k.
        columns: Vec<(String, Aggregation)>,
    },
}

/// Where the ingestion queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SqlEngine {
    /// The built-in engine, in this process.
    #[default]
    Local,
    /// Apache DataFusion, in this process (a build with `--features datafusion`).
    DataFusion,
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
            "datafusion" => Ok(Self::DataFusion),
            "ballista" | "ballista-standalone" => Ok(Self::BallistaStandalone),
            url if url.starts_with("df://") => Ok(Self::BallistaRemote(url.to_string())),
            other => Err(format!(
                "'{other}' is not a query engine: use local (built in), datafusion (in this \
                 process), ballista (in-process scheduler and executor) or a Ballista scheduler \
                 URL df://HOST:PORT"
            )),
        }
    }
}

/// Why an ingestion query failed. Each variant keeps the engine's own error as its source; the
/// message shows it too.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// DataFusion could not plan or run the query, or register its input.
    #[cfg(feature = "datafusion")]
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// The query's input batch lacks a column of the type the query reads (a bug in the caller).
    #[error("the query input has no {kind} column '{name}'")]
    Input {
        /// The column.
        name: String,
        /// The Arrow type the query expects there.
        kind: &'static str,
    },
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
    /// DataFusion was asked for, but this build has none.
    #[error("this build has no DataFusion engine (build mmm with `--features datafusion`)")]
    NoDataFusion,
}

/// Run `query` over `batch` on `engine`; returns the result as one batch. Every query orders its
/// own output, so the engines give the same rows in the same order (values as the module doc
/// says: equal but for the last bit of sums DataFusion adds in partitions).
pub fn query(
    batch: RecordBatch,
    query: &Query,
    engine: &SqlEngine,
) -> Result<RecordBatch, SqlError> {
    match engine {
        SqlEngine::Local => builtin(&batch, query),
        #[cfg(feature = "datafusion")]
        SqlEngine::DataFusion => on_datafusion::local(batch, query),
        #[cfg(not(feature = "datafusion"))]
        SqlEngine::DataFusion => Err(SqlError::NoDataFusion),
        #[cfg(feature = "ballista")]
        SqlEngine::BallistaStandalone | SqlEngine::BallistaRemote(_) => {
            on_datafusion::ballista(batch, query, engine)
        }
        #[cfg(not(feature = "ballista"))]
        SqlEngine::BallistaStandalone | SqlEngine::BallistaRemote(_) => Err(SqlError::NoBallista),
    }
}

fn builtin(batch: &RecordBatch, query: &Query) -> Result<RecordBatch, SqlError> {
    match query {
        Query::Pivot { names } => pivot(batch, names),
        Query::Periods { columns } => periods(batch, columns),
    }
}

/// The input column `name` as an array of type `A`.
fn column<'a, A: Array + 'static>(
    batch: &'a RecordBatch,
    name: &str,
    kind: &'static str,
) -> Result<&'a A, SqlError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<A>())
        .ok_or_else(|| SqlError::Input {
            name: name.to_string(),
            kind,
        })
}

/// Groups of rows by (key, geo): each row's group index, and the groups in (key, geo) order.
fn groups<'a>(keys: &Int32Array, geos: &'a StringArray) -> (Vec<usize>, Vec<(i32, &'a str)>) {
    let mut index: HashMap<(i32, &str), usize> = HashMap::new();
    let mut first_seen = Vec::new();
    let of_row = (0..keys.len())
        .map(|i| {
            let key = (keys.value(i), geos.value(i));
            *index.entry(key).or_insert_with(|| {
                first_seen.push(key);
                first_seen.len() - 1
            })
        })
        .collect();
    (of_row, first_seen)
}

/// The groups' output order: group indices sorted by (key, geo).
fn sorted(first_seen: &[(i32, &str)]) -> Vec<usize> {
    let order: BTreeMap<(i32, &str), usize> = first_seen
        .iter()
        .enumerate()
        .map(|(g, &k)| (k, g))
        .collect();
    order.into_values().collect()
}

/// The (key, geo) columns of the sorted groups, the key named `key_name`.
fn key_columns(
    first_seen: &[(i32, &str)],
    order: &[usize],
    key_name: &str,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let keys: Int32Array = order.iter().map(|&g| Some(first_seen[g].0)).collect();
    let geos: StringArray = order.iter().map(|&g| Some(first_seen[g].1)).collect();
    (
        vec![
            Field::new(key_name, DataType::Int32, false),
            Field::new("geo", DataType::Utf8, false),
        ],
        vec![Arc::new(keys), Arc::new(geos)],
    )
}

/// [`Query::Pivot`]: sums start at 0 and add in row order, as DataFusion's sum does.
fn pivot(batch: &RecordBatch, names: &[String]) -> Result<RecordBatch, SqlError> {
    let days = column::<Int32Array>(batch, "day", "Int32")?;
    let geos = column::<StringArray>(batch, "geo", "Utf8")?;
    let codes = column::<Int32Array>(batch, "col", "Int32")?;
    let values = column::<Float64Array>(batch, "value", "Float64")?;
    let (group_of, first_seen) = groups(days, geos);
    let width = names.len();
    let mut sums: Vec<Option<f64>> = vec![None; first_seen.len() * width];
    for (i, &g) in group_of.iter().enumerate() {
        let Ok(k) = usize::try_from(codes.value(i)) else {
            continue;
        };
        if k < width {
            let slot = &mut sums[g * width + k];
            *slot = Some(slot.unwrap_or(0.0) + values.value(i));
        }
    }
    let order = sorted(&first_seen);
    let (mut fields, mut arrays) = key_columns(&first_seen, &order, "day");
    for (k, name) in names.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float64, true));
        let column: Float64Array = order.iter().map(|&g| sums[g * width + k]).collect();
        arrays.push(Arc::new(column));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// One group's running aggregate of one column.
#[derive(Clone, Copy)]
enum Running {
    /// Sum (from 0, in row order) and count: the sum, or sum / count for the mean.
    Sum(f64, u64),
    /// The value at the latest day so far.
    Latest(i32, f64),
}

/// [`Query::Periods`]: sums and means as DataFusion's group accumulators form them (sum from 0
/// in row order; mean = sum / count), the latest day's value for `Last`.
fn periods(
    batch: &RecordBatch,
    columns: &[(String, Aggregation)],
) -> Result<RecordBatch, SqlError> {
    let periods = column::<Int32Array>(batch, "period", "Int32")?;
    let days = column::<Int32Array>(batch, "day", "Int32")?;
    let geos = column::<StringArray>(batch, "geo", "Utf8")?;
    let inputs = (0..columns.len())
        .map(|k| column::<Float64Array>(batch, &format!("c{k}"), "Float64"))
        .collect::<Result<Vec<_>, _>>()?;
    let (group_of, first_seen) = groups(periods, geos);
    let mut distinct_days = vec![HashSet::new(); first_seen.len()];
    let mut running: Vec<Option<Running>> = vec![None; first_seen.len() * columns.len()];
    for (i, &g) in group_of.iter().enumerate() {
        let day = days.value(i);
        distinct_days[g].insert(day);
        for (k, (input, (_, how))) in inputs.iter().zip(columns).enumerate() {
            let v = input.value(i);
            let slot = &mut running[g * columns.len() + k];
            *slot = Some(match (how, *slot) {
                (Aggregation::Last, Some(Running::Latest(d, latest))) if d > day => {
                    Running::Latest(d, latest)
                }
                (Aggregation::Last, _) => Running::Latest(day, v),
                (_, Some(Running::Sum(s, n))) => Running::Sum(s + v, n + 1),
                (_, _) => Running::Sum(0.0 + v, 1),
            });
        }
    }
    let order = sorted(&first_seen);
    let (mut fields, mut arrays) = key_columns(&first_seen, &order, "day");
    fields.push(Field::new("n_inputs", DataType::Int64, false));
    let counts: Int64Array = order
        .iter()
        .map(|&g| Some(distinct_days[g].len() as i64))
        .collect();
    arrays.push(Arc::new(counts));
    for (k, (name, how)) in columns.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float64, true));
        let mut out = Float64Builder::with_capacity(order.len());
        for &g in &order {
            out.append_option(running[g * columns.len() + k].map(|r| match (r, how) {
                (Running::Sum(s, n), Aggregation::Mean) => s / n as f64,
                (Running::Sum(s, _), _) => s,
                (Running::Latest(_, v), _) => v,
            }));
        }
        arrays.push(Arc::new(out.finish()));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The queries on Apache DataFusion (in this process) or Ballista, as DataFrame plans.
#[cfg(feature = "datafusion")]
mod on_datafusion {
    use arrow::array::RecordBatch;
    use datafusion::dataframe::DataFrame;
    use datafusion::functions_aggregate::expr_fn::{avg, count_distinct, last_value, sum};
    use datafusion::prelude::{SessionConfig, SessionContext, col, lit, when};
    use mmm_core::spec::Aggregation;

    use super::{Query, SqlEngine, SqlError};

    /// `query` as a DataFusion plan over the input table `t`.
    fn plan(t: DataFrame, query: &Query) -> datafusion::error::Result<DataFrame> {
        let by = |key: &str| vec![col(key).sort(true, false), col("geo").sort(true, false)];
        match query {
            Query::Pivot { names } => {
                let pivots = names
                    .iter()
                    .enumerate()
                    .map(|(k, n)| {
                        let cell = when(col("col").eq(lit(k as i32)), col("value")).end()?;
                        Ok(sum(cell).alias(n))
                    })
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                t.aggregate(vec![col("day"), col("geo")], pivots)?
                    .sort(by("day"))
            }
            Query::Periods { columns } => {
                let mut per_period = vec![count_distinct(col("day")).alias("n_inputs")];
                per_period.extend(columns.iter().enumerate().map(|(k, (name, how))| {
                    let input = col(format!("c{k}"));
                    match how {
                        Aggregation::Sum => sum(input),
                        Aggregation::Mean => avg(input),
                        Aggregation::Last => last_value(input, vec![col("day").sort(true, false)]),
                    }
                    .alias(name)
                }));
                t.aggregate(vec![col("period"), col("geo")], per_period)?
                    .sort(by("period"))?
                    .with_column_renamed("period", "day")
            }
        }
    }

    pub(super) fn local(batch: RecordBatch, query: &Query) -> Result<RecordBatch, SqlError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(SqlError::Runtime)?;
        runtime.block_on(async {
            // Two partitions match the target machine; results are ordered by the query itself.
            let ctx =
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
            collect(ctx.read_batch(batch)?, query).await
        })
    }

    async fn collect(input: DataFrame, query: &Query) -> Result<RecordBatch, SqlError> {
        let frame = plan(input, query)?;
        let out_schema = frame.schema().inner().clone();
        let batches = frame.collect().await?;
        Ok(arrow::compute::concat_batches(&out_schema, &batches)?)
    }

    /// The query on Ballista: executors read files, not this process's memory, so the input is
    /// staged as a Parquet file in a temporary directory and registered from there.
    #[cfg(feature = "ballista")]
    pub(super) fn ballista(
        batch: RecordBatch,
        query: &super::Query,
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
                SqlEngine::BallistaRemote(url) => {
                    SessionContext::remote_with_state(url, state).await
                }
                _ => SessionContext::standalone_with_state(state).await,
            }
            .map_err(|e| on_ballista(e.into()))?;
            let input = ctx
                .read_parquet(location.as_str(), ParquetReadOptions::default())
                .await?;
            collect(input, query).await.map_err(on_ballista)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
        let c = batch.column_by_name(name).expect(name);
        let c = c.as_any().downcast_ref::<Float64Array>().expect("f64");
        (0..c.len())
            .map(|i| c.is_valid(i).then(|| c.value(i)))
            .collect()
    }

    fn ints(batch: &RecordBatch, name: &str) -> Vec<i64> {
        let c = arrow::compute::cast(batch.column_by_name(name).expect(name), &DataType::Int64)
            .expect("cast");
        let c = c.as_any().downcast_ref::<Int64Array>().expect("i64");
        c.values().to_vec()
    }

    fn geos(batch: &RecordBatch) -> Vec<String> {
        let c = batch.column_by_name("geo").expect("geo");
        let c = c.as_any().downcast_ref::<StringArray>().expect("utf8");
        c.iter()
            .map(|g| g.unwrap_or_default().to_string())
            .collect()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).expect("batch")
    }

    /// Rows out of order, two rows of one cell (summed), a cell no row carries (null), a code
    /// outside the names (ignored).
    fn long_rows() -> RecordBatch {
        batch(vec![
            (
                "day",
                Arc::new(Int32Array::from(vec![8, 1, 1, 8, 1, 1])) as ArrayRef,
            ),
            (
                "geo",
                Arc::new(StringArray::from(vec!["b", "b", "a", "b", "a", "a"])),
            ),
            ("col", Arc::new(Int32Array::from(vec![0, 1, 0, 0, 1, 7]))),
            (
                "value",
                Arc::new(Float64Array::from(vec![1.5, 2.0, 3.0, 0.25, 4.0, 9.0])),
            ),
        ])
    }

    #[test]
    fn pivot_sums_each_cell_and_leaves_absent_cells_null_in_day_geo_order() {
        let names = vec!["tv".to_string(), "radio".to_string()];
        let out = builtin(&long_rows(), &Query::Pivot { names }).expect("pivot");
        assert_eq!(ints(&out, "day"), vec![1, 1, 8]);
        assert_eq!(geos(&out), vec!["a", "b", "b"]);
        assert_eq!(floats(&out, "tv"), vec![Some(3.0), None, Some(1.75)]);
        assert_eq!(floats(&out, "radio"), vec![Some(4.0), Some(2.0), None]);
    }

    /// Two weeks of one geo (period 0: days 0-2, period 7: days 7-8) and one of another.
    fn daily_rows() -> RecordBatch {
        batch(vec![
            (
                "period",
                Arc::new(Int32Array::from(vec![0, 0, 7, 0, 7, 0, 0])) as ArrayRef,
            ),
            ("day", Arc::new(Int32Array::from(vec![2, 0, 8, 1, 7, 0, 1]))),
            (
                "geo",
                Arc::new(StringArray::from(vec!["x", "x", "x", "x", "x", "w", "w"])),
            ),
            (
                "c0",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])),
            ),
            (
                "c1",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])),
            ),
            (
                "c2",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])),
            ),
        ])
    }

    #[test]
    fn periods_sum_average_and_take_the_latest_day_per_period_and_geo() {
        let columns = vec![
            ("spend".to_string(), Aggregation::Sum),
            ("price".to_string(), Aggregation::Mean),
            ("stock".to_string(), Aggregation::Last),
        ];
        let out = builtin(&daily_rows(), &Query::Periods { columns }).expect("periods");
        assert_eq!(ints(&out, "day"), vec![0, 0, 7]);
        assert_eq!(geos(&out), vec!["w", "x", "x"]);
        assert_eq!(ints(&out, "n_inputs"), vec![2, 3, 2]);
        assert_eq!(
            floats(&out, "spend"),
            vec![Some(13.0), Some(7.0), Some(8.0)]
        );
        assert_eq!(
            floats(&out, "price"),
            vec![Some(7.0), Some(7.0 / 3.0), Some(4.0)]
        );
        // The latest day of (0, w) is day 1, of (0, x) day 2, of (7, x) day 8.
        assert_eq!(floats(&out, "stock"), vec![Some(7.0), Some(1.0), Some(3.0)]);
    }

    #[test]
    fn a_missing_input_column_is_an_error_naming_it() {
        let rows = long_rows().project(&[0, 1, 2]).expect("project");
        let err = builtin(&rows, &Query::Pivot { names: vec![] }).expect_err("no value column");
        assert_eq!(
            err.to_string(),
            "the query input has no Float64 column 'value'"
        );
    }

    /// The built-in engine and DataFusion give the same batches, values bit for bit.
    #[cfg(feature = "datafusion")]
    #[test]
    fn builtin_equals_datafusion() {
        let pivot = Query::Pivot {
            names: vec!["tv".into(), "radio".into(), "never".into()],
        };
        let periods = Query::Periods {
            columns: vec![
                ("spend".into(), Aggregation::Sum),
                ("price".into(), Aggregation::Mean),
                ("stock".into(), Aggregation::Last),
            ],
        };
        for (rows, query) in [(long_rows(), pivot), (daily_rows(), periods)] {
            let ours = builtin(&rows, &query).expect("builtin");
            let theirs = on_datafusion::local(rows, &query).expect("datafusion");
            assert_eq!(ours.num_rows(), theirs.num_rows());
            for field in ours.schema().fields() {
                let (a, b) = (
                    ours.column_by_name(field.name()).expect("ours"),
                    theirs.column_by_name(field.name()).expect("theirs"),
                );
                let b = arrow::compute::cast(b, a.data_type()).expect("cast");
                assert_eq!(a.to_data(), b.to_data(), "{}", field.name());
            }
        }
    }
}
