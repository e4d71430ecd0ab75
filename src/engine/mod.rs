//! engine: DataFusion over the lake (STYLE.md §1).
//!
//! - [`udf`]: thin adapters from SQL to the pure engines (`extract::attribution`,
//!   `extract::behave::numeric`), one file per function, one [`udf::register_all`].
//! - [`sql`]: the statements in `sql/*.sql` (embedded), their parameters, and the
//!   read-only guard used by `driftlake sql`.
//! - [`context`]: the DataFusion context with fixed options and our UDFs, and
//!   the derived-table computations the runner writes (`attribution_state`).
//! - [`rank_sort`]: the in-memory `ORDER BY` (ranks instead of comparisons)
//!   that replaces DataFusion's sort when there is no memory limit.
//! - [`lake_tables`]: registers every table of a lake as a `ListingTable`
//!   (hive `date=` partitions as a column); tables with a commit manifest
//!   are read through it, so stray or replaced files are never seen.
//!
//! The engine queries only tables that are registered and never builds object
//! store credentials itself; URLs go through `crate::source::open_url`.

pub mod context;
pub mod lake_tables;
pub mod rank_sort;
pub mod rows;
pub mod sql;
pub mod udf;

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// DataFusion failed planning or running a statement.
    #[error("query failed")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// An operator needed more memory than the memory limit allows and
    /// could not spill (or spilling was not enough).
    #[error(
        "a query needed more memory than the memory limit of {limit_mib} MiB allows \
         (raise [engine] memory_limit or --memory-limit)"
    )]
    MemoryLimit {
        /// The limit, MiB.
        limit_mib: usize,
        /// DataFusion's error (names the largest consumers).
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// Arrow failed building or converting a batch.
    #[error("arrow failed")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// The lake URL could not be opened or listed.
    #[error("cannot open lake {url}")]
    Lake {
        /// The lake URL as given.
        url: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A statement parameter is missing or malformed.
    #[error("parameter {0}")]
    Param(String),
    /// A statement would write and writing was not allowed.
    #[error("{0}")]
    WriteRefused(String),
    /// A statement file is unknown or cannot be used.
    #[error("statement {0}")]
    Statement(String),
}

/// Engine result alias.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
