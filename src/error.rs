//! The crate error type: module errors fold into it via `#[from]`
//! (STYLE §3, delta-rs `DeltaResult`).
//!
//! Bad *input* is never an `Err` here: it is a skip or a dead letter. An
//! `Err` means an input could not be read at all (it is then recorded as
//! failed in `_inputs` and the run goes on), or the run itself cannot
//! proceed (bad job file, unreachable lake).

use crate::job::JobError;
use crate::sink::SinkError;
use crate::source::SourceError;

/// Errors from the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, listing or reading an object store.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Writing the lake.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Reading or validating a job file.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A DataFusion stage (attribution) failed.
    #[error("the attribution stage failed")]
    Engine(#[from] crate::engine::EngineError),
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime")]
    Runtime(#[source] std::io::Error),
    /// The worker thread pool could not start.
    #[error("cannot start the worker pool")]
    ThreadPool(#[source] rayon::ThreadPoolBuildError),
}

/// Crate result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
