//! Progress events of a run, for whoever shows them (the CLI draws bars on
//! a terminal, plain lines otherwise; `cli::progress`). They are tracing
//! events with the target [`TARGET`] and the fields `event` (`start`,
//! `advance`, `done`), `stage`, and, when known, `table`, `bytes`, `rows`,
//! `total_bytes`, `inputs`, so the pipeline never depends on a UI.

/// The tracing target of progress events.
pub const TARGET: &str = "driftlake::progress";

/// A stage begins; `total_bytes` (0: unknown) is the work it will report.
pub fn start(stage: &str, inputs: u64, total_bytes: u64) {
    tracing::info!(target: TARGET, event = "start", stage, inputs, total_bytes);
}

/// Work done in `stage`: `bytes` consumed, `rows` produced (`table` when a
/// table was committed).
pub fn advance(stage: &str, table: &str, bytes: u64, rows: u64) {
    tracing::info!(target: TARGET, event = "advance", stage, table, bytes, rows);
}

/// Bytes read in `stage` of an input not done yet (a large shard, as it is
/// streamed); its [`advance`] then gives the rest.
pub fn read(stage: &str, bytes: u64) {
    tracing::info!(target: TARGET, event = "read", stage, bytes);
}

/// The run is over (committed or not).
pub fn done() {
    tracing::info!(target: TARGET, event = "done", stage = "");
}
