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
    /// A DataFusion stage (attribution, agent profiles, drift events) failed.
    #[error("a DataFusion stage failed")]
    Engine(#[from] crate::engine::EngineError),
    /// A spec manifest could not be read or is invalid: the job stops
    /// before anything is written (telemetry-correlation.md §3).
    #[error("the spec manifests cannot be used")]
    Spec(#[source] crate::telemetry::stage::GraphError),
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime")]
    Runtime(#[source] std::io::Error),
    /// The `[engine] spill_dir` cannot be created.
    #[error("cannot create the spill directory {}", path.display())]
    SpillDir {
        /// The directory as configured.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The run's spool of new session rows failed (its directory or a
    /// file in it).
    #[error("the spool of new session rows failed")]
    Spool(#[source] crate::pipeline::spool::SpoolError),
    /// The worker thread pool could not start.
    #[error("cannot start the worker pool")]
    ThreadPool(#[source] rayon::ThreadPoolBuildError),
}

/// Crate result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `err` and its sources joined with `: `, skipping a source whose text the
/// message so far already holds (object_store and DataFusion errors repeat
/// their source in their own text, so a plain chain prints it several times).
pub fn chain_text(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::chain_text;

    #[derive(Debug)]
    struct E(String, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_source_repeated_in_its_parent_is_printed_once() {
        let inner = E("404 Not Found: NoSuchBucket".into(), None);
        let mid = E(
            "list request failed: 404 Not Found: NoSuchBucket".into(),
            Some(Box::new(inner)),
        );
        let top = E("cannot list s3://b/lake".into(), Some(Box::new(mid)));
        assert_eq!(
            chain_text(&top),
            "cannot list s3://b/lake: list request failed: 404 Not Found: NoSuchBucket"
        );
        let plain = E("a".into(), Some(Box::new(E("b".into(), None))));
        assert_eq!(chain_text(&plain), "a: b");
    }
}
