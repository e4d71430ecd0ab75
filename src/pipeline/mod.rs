//! The run: source → decode → extract → sink (spec/lake.md §2–3, §7).
//!
//! ```text
//!  list sources ──► session logs (sid → src_ip) ──► shards & casts, in parallel
//!       │                                            fetch (tokio) → decode → extract (rayon)
//!       ▼                                                     │
//!  dlq rows for bad names                                      ▼
//!                                  spool: rows per (table, date, input) → dedupe, merge by day
//!                                                             │
//!                         repair ─► _runs running ─► commit sessions, observations, dlq
//!                                                 ─► attribution_state ─► _inputs ─► _runs committed
//! ```
//!
//! * **Parallelism.** rayon works across inputs; sessions never span shards
//!   (spec §1.2) so each shard runs sequentially inside one task. A task
//!   holds one whole object at a time, so at most `threads` shards are in
//!   flight; a shard of `[engine] stream_shards_from` bytes or more is
//!   instead read twice as a stream (`Reader::read_sessrec_streamed`:
//!   a scan for each session's last line, then each session extracted as
//!   soon as it is complete), so it holds its open sessions only.
//! * **Memory.** A task leaves its shard's rows in the run's [`spool`] (per
//!   day and table; in memory up to a budget, then on local disk) and keeps
//!   a few bytes per session. The commit takes `sessions` and
//!   `observations` a few days at a time and streams each day: its pieces
//!   merged in key order with the committed rows (`sink::merge_stream`)
//!   and written in files of `[lake] max_rows_per_file` rows as they fill
//!   (`Lake::part_writer`), so what a run holds is bounded by the shards in
//!   flight, the spool budget and one shard's rows per thread, not by its
//!   total input or the size of a day. tokio only performs the object-store I/O
//!   (`Handle::block_on` from the rayon worker); no CPU work runs on it.
//! * **Partition replace.** Every `(table, date)` an input read this run
//!   feeds is recomputed and replaced whole (sink module): rows of the
//!   inputs read this run are rebuilt, and the committed rows of every
//!   other input (one not listed this time, or one that failed to read) are
//!   carried over as they were (`sink::merge_stream`, keyed by
//!   `sessions.shard`, observations following their session;
//!   `sink::merge_rows` for the dlq, by `dlq.source`).
//!   So a run over a subset of the sources, or with an unreadable object,
//!   never deletes what an earlier run committed; a shard that was read
//!   gets exactly its current content.
//! * **Accounting.** Each input's `records_read = ok + skipped + dead`
//!   comes from the decoder; `rows_out` counts the rows it contributed
//!   after deduplication.
//! * **PII.** Payload bytes live only inside the decode/extract step of one
//!   task and are dropped with it. Rows carry labels, timings, counts,
//!   hashes and pointers only (spec §3.4).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::agents::{self, AgentRead, ReadMode};
use crate::decode::{LineSink, StreamDecoder};
use crate::error::{Error, Result};
use crate::extract::behave::extract_session;
use crate::job::JobPlan;
use crate::model::dead_letter::{DeadLetter, RecordStats};
use crate::model::observation::{Observation, Primitive, ValueKind};
use crate::model::schema::{self, DlqRow, InputRow, ObservationRow, RunRow, SessionRow, Table};
use crate::sink::{merge_rows, Lake, Partition, SinkError};
use crate::source::{self, InputKind, InputRef, Listing, RejectedName, ShardName, StoreUrl};
use spool::{Part, Piece, Spool};

pub mod progress;
pub mod scope;
pub mod spool;

pub use scope::Scope;

/// The envelope `source` of every observation (spec §3.1).
pub const OBSERVATION_SOURCE: &str = "decnet/profiler/behave_shell/extract.py";

/// The row order of a `dlq` partition (unique per row).
const DLQ_ORDER: [&str; 6] = [
    "source",
    "byte_offset",
    "line",
    "reason",
    "detail",
    "raw_sha256",
];

/// Rows per Arrow batch (DataFusion's default batch size, STYLE §7).
pub const BATCH_ROWS: usize = 8192;

/// How this run behaves (flags, not job content).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads for decode + extract (also the shards in flight).
    pub threads: usize,
    /// Take the lake even when another run's lock is there (the operator
    /// knows that run is gone).
    pub break_lock: bool,
    /// Which listed inputs are read ([`Scope`]).
    pub scope: Scope,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            break_lock: false,
            scope: Scope::Incremental,
        }
    }
}

/// How one input ended.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct InputSummary {
    /// The object's URL.
    pub source: String,
    /// `sessrec`, `asciicast`, `session_log`.
    pub kind: &'static str,
    /// Bytes (as listed).
    pub size: u64,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<String>,
    /// Records read.
    pub records_read: u64,
    /// Records used.
    pub records_ok: u64,
    /// Records skipped by a spec rule.
    pub records_skipped: u64,
    /// Records that became dead letters.
    pub records_dead: u64,
    /// Rows the input contributed.
    pub rows_out: u64,
}

/// Sessions by status.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SessionCounts {
    /// Extracted.
    pub ok: u64,
    /// No events.
    pub empty: u64,
    /// Extraction refused the session (spec A7, `t` overflow).
    pub error: u64,
    /// Dropped because another input already gave the same `evidence_ref`.
    pub duplicate: u64,
    /// Committed earlier from inputs this run did not read (not listed, or
    /// failed) and kept in the partitions it rewrote.
    pub carried: u64,
}

/// What one table commit did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TableSummary {
    /// Partitions rewritten.
    pub partitions_written: u64,
    /// Partitions whose content was unchanged (left as they were).
    pub partitions_unchanged: u64,
    /// Partitions removed because no rows were left in them.
    pub partitions_removed: u64,
    /// Rows in the committed partitions.
    pub rows: u64,
}

/// The run's result (the `--json` summary).
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// The job name.
    pub job: String,
    /// The lake (redacted URL).
    pub lake: String,
    /// `committed` (maybe with failed inputs).
    pub status: &'static str,
    /// Every input read this run, in listing order. Agent inputs are all
    /// here (their ledger rows carry the resume offsets), read or not.
    pub inputs: Vec<InputSummary>,
    /// Other inputs not read because the input ledger shows them unchanged
    /// since a run of this version read them (`pipeline::scope`).
    pub inputs_unchanged: u64,
    /// Seconds spent listing the sources and deciding what to read (after
    /// taking the lock and repairing the lake).
    pub list_and_decide_s: f64,
    /// Inputs that failed.
    pub failed_inputs: u64,
    /// Bytes listed.
    pub input_bytes: u64,
    /// Sessions by status.
    pub sessions: SessionCounts,
    /// Observations produced.
    pub observations: u64,
    /// Observations per primitive family (`motor`, `cognitive`, …).
    pub observations_by_family: BTreeMap<String, u64>,
    /// Dead letters produced (every stage).
    pub dead_letters: u64,
    /// Dead letters per reason code.
    pub dead_letters_by_reason: BTreeMap<String, u64>,
    /// Per table commit results.
    pub tables: BTreeMap<String, TableSummary>,
    /// Observations carried over with [`SessionCounts::carried`].
    pub sessions_carried_observations: u64,
    /// Agent events decoded this run (new bytes only).
    pub agent_events: u64,
    /// Agent inputs with nothing new since the last run (not read).
    pub agent_inputs_unchanged: u64,
    /// Spill files the SQL stages wrote under the `[engine]` memory limit.
    pub spill_files: u64,
    /// Bytes in those spill files.
    pub spilled_bytes: u64,
    /// Files the run's new session rows went to between decoding and the
    /// commit, once they passed the spool's memory budget (see
    /// "Bounded memory" in the README).
    pub spool_files: u64,
    /// Bytes in those files (LZ4-compressed Arrow IPC).
    pub spooled_bytes: u64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Peak RSS in bytes, when the OS reports it.
    pub peak_rss_bytes: Option<u64>,
}

impl RunSummary {
    /// Count one dead letter under its reason code.
    fn count_dead(&mut self, reason: &str, n: u64) {
        *self
            .dead_letters_by_reason
            .entry(reason.to_string())
            .or_default() += n;
        self.dead_letters += n;
    }

    /// True when every input was read.
    pub fn all_inputs_ok(&self) -> bool {
        self.failed_inputs == 0
    }
}

/// A new run id: `YYYYMMDDTHHMMSS.ffffffZ-<8 hex>`, sortable by start time
/// to the microsecond, so runs started within one second still sort in the
/// order they ran (the input ledger's newest entry is found that way).
pub fn new_run_id(now: DateTime<Utc>, job: &str) -> String {
    let mut h = Sha256::new();
    h.update(now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(job.as_bytes());
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S%.6fZ"),
        &hex::encode(h.finalize())[..8]
    )
}

/// The crate version for `_runs.version` (plus the git hash when the build
/// sets `DRIFTLAKE_GIT_HASH`).
pub fn version() -> String {
    match option_env!("DRIFTLAKE_GIT_HASH") {
        Some(h) if !h.is_empty() => format!("{}+{h}", env!("CARGO_PKG_VERSION")),
        _ => env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// An observation's id (lake.md §2): the first 32 hex chars of
/// sha256(`evidence_ref` 0x1F `primitive`).
pub fn observation_id(evidence_ref: &str, primitive: &str) -> String {
    // ring's SHA-256 (assembly) rather than sha2's portable code: one id
    // per observation, on the commit's path.
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(evidence_ref.as_bytes());
    h.update(&[0x1f]);
    h.update(primitive.as_bytes());
    hex::encode(&h.finish().as_ref()[..16])
}

/// Run a job: list, decode, extract, commit (module docs).
///
/// # Errors
/// An [`Error`] means the run did not commit (exit code 2): the lake or a
/// source root cannot be opened or listed, or a commit failed. Bad records
/// and unreadable inputs are not errors; they are in the summary.
pub fn run(plan: &JobPlan, opts: &RunOptions) -> Result<RunSummary> {
    // Before any store is opened: the job's cloud retries and timeouts.
    source::set_storage_options(plan.storage.clone());
    // Before any query: the SQL stages' memory limit and spill directory.
    plan.engine
        .make_spill_dir()
        .map_err(|source| Error::SpillDir {
            path: plan.engine.spill_dir.clone().unwrap_or_default(),
            source,
        })?;
    let started = Instant::now();
    let started_at = Utc::now();
    let run_id = new_run_id(started_at, &plan.name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;

    let lake = Lake::open(&plan.lake)?;
    // One job per lake: taken before anything is read or repaired.
    let me = crate::sink::lock::LockHolder::this_process(
        &run_id,
        &plan.name,
        &started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    if let Some(gone) = rt.block_on(lake.lock(&me, opts.break_lock))? {
        mark_interrupted(&rt, &lake, &gone.run_id, &run_id);
    }
    let result = run_locked(plan, opts, &rt, &lake, &run_id, started, started_at);
    progress::done();
    if let Err(e) = rt.block_on(lake.unlock(&run_id)) {
        tracing::error!(error = %error_chain(&e), "Cannot release the lake lock.");
    }
    result
}

/// A run whose lock this run took over ended without finishing its
/// ledger entry: record it as `failed` (interrupted) if it still says
/// `running`. Best effort: the lake itself is repaired either way.
fn mark_interrupted(rt: &tokio::runtime::Runtime, lake: &Lake, gone: &str, by: &str) {
    let result = rt.block_on(async {
        let path = lake.ledger_path(Table::Runs, gone);
        let batches = match lake.read_file(Table::Runs.as_str(), &path).await {
            Err(SinkError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => return Ok(false),
            other => other?,
        };
        let Some(b) = batches.first().filter(|b| b.num_rows() == 1) else {
            return Ok(false);
        };
        if str_at(b, "status", 0) != Some("running") {
            return Ok(false);
        }
        let why = format!(
            "interrupted: the process ended without finishing; run {by} took over its lock"
        );
        let arrow = |source| SinkError::Arrow {
            table: "_runs".into(),
            source,
        };
        let schema = b.schema();
        let mut cols = b.columns().to_vec();
        for (name, value) in [("status", "failed"), ("error", why.as_str())] {
            let i = schema.index_of(name).map_err(arrow)?;
            cols[i] = Arc::new(datafusion::arrow::array::StringArray::from(vec![value]));
        }
        let batch = RecordBatch::try_new(schema, cols).map_err(arrow)?;
        lake.write_ledger(Table::Runs, gone, &batch).await?;
        Ok::<bool, SinkError>(true)
    });
    match result {
        Ok(true) => tracing::warn!(run_id = gone, "Recorded an interrupted run as failed."),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(run_id = gone, error = %error_chain(&e), "Cannot record the interrupted run.")
        }
    }
}

/// [`run`] once the lake is ours.
fn run_locked(
    plan: &JobPlan,
    opts: &RunOptions,
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    run_id: &str,
    started: Instant,
    started_at: DateTime<Utc>,
) -> Result<RunSummary> {
    let run_id = run_id.to_string();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .thread_name(|i| format!("driftlake-worker-{i}"))
        .build()
        .map_err(Error::ThreadPool)?;
    rt.block_on(lake.repair(&schema::MANAGED_TABLES))?;
    let listing_started = Instant::now();

    // Open and list every source before anything is written: a typo in a
    // source URL fails the run with nothing committed.
    let mut sources: Vec<(StoreUrl, Listing)> = Vec::new();
    for spec in &plan.sources {
        let su = source::open_url(&spec.url)?;
        let mut listing = rt.block_on(source::list_inputs(&su, spec.kind))?;
        for i in &mut listing.inputs {
            i.signal = spec.signal;
        }
        tracing::info!(
            source = %su.redacted(),
            kind = spec.kind.as_str(),
            inputs = listing.inputs.len(),
            bad_names = listing.rejected.len(),
            "Source listed."
        );
        sources.push((su, listing));
    }

    let mut ledger = RunRow::running(
        &run_id,
        &plan.name,
        started_at.timestamp_micros(),
        version(),
    );
    write_run_ledger(rt, lake, &ledger)?;

    let result = execute(
        plan,
        opts.scope,
        rt,
        &pool,
        lake,
        &run_id,
        &sources,
        listing_started,
    );
    ledger.finished_at_us = Some(Utc::now().timestamp_micros());
    ledger.wall_s = Some(started.elapsed().as_secs_f64());
    ledger.peak_rss_bytes = peak_rss_bytes().and_then(|b| i64::try_from(b).ok());
    match result {
        Ok(mut summary) => {
            summary.wall_s = started.elapsed().as_secs_f64();
            summary.peak_rss_bytes = peak_rss_bytes();
            ledger.status = "committed";
            ledger.inputs = summary.inputs.len() as i64;
            ledger.failed_inputs = summary.failed_inputs as i64;
            ledger.input_bytes = summary.input_bytes as i64;
            let rows = |t: &str| summary.tables.get(t).map_or(0, |s| s.rows as i64);
            ledger.sessions_rows = rows("sessions");
            ledger.observations_rows = rows("observations");
            ledger.dlq_rows = rows("dlq");
            ledger.dead_letters = summary.dead_letters as i64;
            write_run_ledger(rt, lake, &ledger)?;
            Ok(summary)
        }
        Err(err) => {
            ledger.status = "failed";
            ledger.error = Some(error_chain(&err));
            // The original error matters more than a failure to record it.
            if let Err(e) = write_run_ledger(rt, lake, &ledger) {
                tracing::error!(error = %e, "Cannot record the failed run.");
            }
            Err(err)
        }
    }
}

/// An error and its sources, joined with `: `.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    crate::error::chain_text(err)
}

fn write_run_ledger(rt: &tokio::runtime::Runtime, lake: &Lake, row: &RunRow) -> Result<()> {
    let batch = schema::runs_batch(&[row]).map_err(|source| arrow_err("_runs", source))?;
    rt.block_on(lake.write_ledger(Table::Runs, &row.run_id, &batch))?;
    Ok(())
}

fn arrow_err(table: &str, source: datafusion::arrow::error::ArrowError) -> Error {
    Error::Sink(SinkError::Arrow {
        table: table.to_string(),
        source,
    })
}

/// One session, decoded and extracted, waiting to become rows.
#[derive(Clone, Debug)]
struct SessionOut {
    date: NaiveDate,
    row: SessionRow,
    observations: Vec<Observation>,
    /// Relative window (spec §2.1).
    t_start: f64,
    t_end: f64,
    /// Epoch seconds the relative axis starts at.
    epoch0: f64,
}

/// What the run keeps of one session once its rows are in the spool:
/// enough to deduplicate and count.
#[derive(Clone, Debug)]
struct SessionMeta {
    evidence_ref: String,
    date: NaiveDate,
    status: &'static str,
    /// Bit `i` set: the session has an observation of `Primitive::ALL[i]`.
    primitives: u64,
}

impl SessionMeta {
    fn of(s: &SessionOut) -> Self {
        let mut primitives = 0u64;
        for o in &s.observations {
            if let Some(i) = Primitive::ALL.iter().position(|p| *p == o.primitive) {
                primitives |= 1 << i;
            }
        }
        SessionMeta {
            evidence_ref: s.row.evidence_ref.clone(),
            date: s.date,
            status: s.row.status,
            primitives,
        }
    }

    fn observations(&self) -> u64 {
        u64::from(self.primitives.count_ones())
    }

    fn primitives(&self) -> impl Iterator<Item = Primitive> + '_ {
        Primitive::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.primitives & (1 << i) != 0)
            .map(|(_, p)| *p)
    }
}

/// What reading one input produced.
#[derive(Debug)]
struct InputOutcome {
    stats: RecordStats,
    /// Its sessions; their rows are in the run's spool.
    sessions: Vec<SessionMeta>,
    /// Its dead letters, until `read_input` leaves them in the spool.
    dlq: Vec<(NaiveDate, DlqRow)>,
    /// Its dead letters by reason, and their days (in the spool).
    dead: BTreeMap<&'static str, u64>,
    dlq_days: BTreeSet<NaiveDate>,
    /// sid → src_ip (session logs only).
    identities: Vec<(String, String)>,
    error: Option<String>,
    /// The partitions this input feeds (its rows' dates and, for a shard,
    /// its basename date); they are recomputed when it was read.
    dates: Vec<NaiveDate>,
    bytes_done: u64,
    /// OTLP only: evidence rows per UTC day.
    evidence: Vec<(NaiveDate, RecordBatch)>,
    /// The input was read but its framing broke part way (OTLP): the rows
    /// up to the break are this run's whole answer for it (the same bytes
    /// give the same rows), so they replace its committed rows although
    /// the input is reported failed.
    partial: bool,
}

impl InputOutcome {
    /// True when this run's rows of the input replace its committed ones.
    fn replaces(&self) -> bool {
        self.error.is_none() || self.partial
    }

    fn failed(error: String) -> Self {
        InputOutcome::empty(Some(error), 0)
    }

    /// An outcome with nothing read yet, `bytes_done` of the input done.
    fn empty(error: Option<String>, bytes_done: u64) -> Self {
        InputOutcome {
            stats: RecordStats::default(),
            sessions: Vec::new(),
            dlq: Vec::new(),
            dead: BTreeMap::new(),
            dlq_days: BTreeSet::new(),
            identities: Vec::new(),
            error,
            dates: Vec::new(),
            bytes_done,
            evidence: Vec::new(),
            partial: false,
        }
    }
}

/// Everything after the `running` ledger entry.
#[allow(clippy::too_many_arguments)]
fn execute(
    plan: &JobPlan,
    scope: Scope,
    rt: &tokio::runtime::Runtime,
    pool: &rayon::ThreadPool,
    lake: &Lake,
    run_id: &str,
    sources: &[(StoreUrl, Listing)],
    listing_started: Instant,
) -> Result<RunSummary> {
    let all: Vec<(&StoreUrl, &InputRef)> = sources
        .iter()
        .flat_map(|(su, l)| l.inputs.iter().map(move |i| (su, i)))
        .collect();
    let handle = rt.handle().clone();

    // Spec manifests before anything is written: a bad one stops the job
    // (telemetry-correlation.md §3).
    let spec_inputs: Vec<(&StoreUrl, &InputRef)> = if plan.telemetry {
        all.iter()
            .copied()
            .filter(|(_, i)| i.kind == InputKind::Spec)
            .collect()
    } else {
        Vec::new()
    };
    let graph = if plan.telemetry {
        let (graph, counts) = rt
            .block_on(crate::telemetry::stage::load_graph(&spec_inputs))
            .map_err(Error::Spec)?;
        tracing::info!(
            manifests = spec_inputs.len(),
            nodes = graph.nodes.len(),
            "Spec manifests loaded."
        );
        Some(Telemetry {
            graph,
            specs: spec_inputs.iter().map(|(_, i)| *i).zip(counts).collect(),
        })
    } else {
        None
    };

    // What the ledger says is new or changed (lake.md §7).
    let listed: Vec<&InputRef> = all.iter().map(|(_, i)| *i).collect();
    let decider = rt.block_on(scope::Decider::load(
        lake,
        &plan.lake,
        scope,
        &listed,
        version(),
    ))?;
    let sessions_inputs: Vec<(&StoreUrl, &InputRef)> = all
        .iter()
        .copied()
        .filter(|(_, i)| {
            (plan.sessions && matches!(i.kind, InputKind::Sessrec | InputKind::Asciicast))
                || (plan.telemetry && i.kind == InputKind::Otlp)
        })
        .collect();
    let logs: Vec<(&StoreUrl, &InputRef)> = all
        .iter()
        .copied()
        .filter(|(_, i)| i.kind == InputKind::SessionLog)
        .collect();
    let (mut to_read, skipped): (Vec<_>, Vec<_>) = sessions_inputs
        .iter()
        .copied()
        .partition(|(_, i)| decider.must_read(i));
    let logs_changed = logs.iter().any(|(_, i)| decider.must_read(i));
    let logs_listed = logs.len();

    // Identities first: sessions rows need them (spec §1.10). The map comes
    // from all the logs, so they are all read when anything is.
    let logs: Vec<(&StoreUrl, &InputRef)> = if to_read.is_empty() && !logs_changed {
        Vec::new()
    } else {
        logs
    };
    progress::start(
        "decode",
        (to_read.len() + logs.len()) as u64,
        to_read.iter().chain(logs.iter()).map(|(_, i)| i.size).sum(),
    );
    // New session rows wait here for the commit: in memory up to a budget
    // (half the engine's memory limit when the job sets one), then on disk.
    let spool = Spool::new(
        plan.engine
            .spill_dir
            .as_deref()
            .unwrap_or(&std::env::temp_dir()),
        run_id,
        plan.engine
            .memory_limit
            .map_or(spool::DEFAULT_BUDGET, |l| l / 2),
    );
    let no_identities = HashMap::new();
    let log_reader = Reader {
        rt: &handle,
        identities: &no_identities,
        run_id,
        spool: &spool,
        stream_from: plan.stream_shards_from,
        chunk_rows: STREAM_CHUNK_ROWS.min(plan.max_rows_per_file),
    };
    let log_outcomes: Vec<InputOutcome> = pool.install(|| {
        logs.par_iter()
            .map(|(su, i)| log_reader.read_input(su, i))
            .collect::<Result<_>>()
    })?;
    let mut identities: HashMap<String, String> = HashMap::new();
    for o in &log_outcomes {
        for (sid, ip) in &o.identities {
            // First seen wins: inputs are in URL order, lines in file order.
            identities.entry(sid.clone()).or_insert_with(|| ip.clone());
        }
    }
    let mut skipped: Vec<(&StoreUrl, &InputRef)> = skipped;
    if logs_changed && plan.sessions {
        let candidates: HashSet<String> = skipped.iter().map(|(_, i)| i.url.clone()).collect();
        let moved = rt.block_on(scope::identity_changes(
            &plan.lake,
            &identities,
            &candidates,
        ))?;
        if !moved.is_empty() {
            tracing::info!(
                shards = moved.len(),
                "Session identities changed; their shards are read again."
            );
            to_read.extend(
                skipped
                    .iter()
                    .copied()
                    .filter(|(_, i)| moved.contains(&i.url)),
            );
            skipped.retain(|(_, i)| !moved.contains(&i.url));
            // Back in listing order.
            let order: HashMap<&str, usize> = sessions_inputs
                .iter()
                .enumerate()
                .map(|(n, (_, i))| (i.url.as_str(), n))
                .collect();
            to_read.sort_by_key(|(_, i)| order.get(i.url.as_str()).copied());
        }
    }
    let decided = Decided {
        unchanged: (skipped.len() + logs_listed - logs.len()) as u64,
        list_and_decide_s: listing_started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        read = to_read.len() + logs.len(),
        unchanged = decided.unchanged,
        elapsed_ms = (decided.list_and_decide_s * 1e3) as u64,
        "Inputs decided against the input ledger."
    );
    let sessions_inputs = to_read;
    let reader = Reader {
        identities: &identities,
        ..log_reader
    };
    let session_outcomes: Vec<InputOutcome> = pool.install(|| {
        sessions_inputs
            .par_iter()
            .map(|(su, i)| reader.read_input(su, i))
            .collect::<Result<_>>()
    })?;

    let mut inputs: Vec<(&InputRef, InputOutcome)> =
        logs.iter().map(|(_, i)| *i).zip(log_outcomes).collect();
    inputs.extend(
        sessions_inputs
            .iter()
            .map(|(_, i)| *i)
            .zip(session_outcomes),
    );
    let rejected: Vec<&RejectedName> = sources
        .iter()
        .flat_map(|(_, l)| l.rejected.iter())
        .collect();

    // Agent telemetry: only what is new since the ledger's offsets.
    let agent_inputs: Vec<(&StoreUrl, &InputRef)> = if plan.agents {
        all.iter()
            .copied()
            .filter(|(_, i)| i.kind == InputKind::AgentEvents)
            .collect()
    } else {
        Vec::new()
    };
    let refs: Vec<&InputRef> = agent_inputs.iter().map(|(_, i)| *i).collect();
    let resume = rt.block_on(agents::load_resume(lake, &refs))?;
    if !refs.is_empty() {
        progress::start(
            "agent telemetry",
            refs.len() as u64,
            refs.iter().map(|i| i.size).sum(),
        );
    }
    let agent_reads: Vec<AgentRead> = pool.install(|| {
        agent_inputs
            .par_iter()
            .map(|(su, i)| {
                let read =
                    agents::read_agent_input(&handle, su, i, resume.get(&i.url), decider.forced(i));
                log_agent_read(i, &read);
                let bytes = match read.mode {
                    ReadMode::Unchanged => i.size,
                    ReadMode::Full { .. } => read.done,
                    ReadMode::From(o) => o + read.done.saturating_sub(o),
                };
                progress::advance("agent telemetry", "", bytes, read.events.len() as u64);
                read
            })
            .collect()
    });
    let agent: Vec<(&InputRef, AgentRead)> = refs.into_iter().zip(agent_reads).collect();
    // In the run's pool: the stages' own parallel steps (the telemetry
    // summary) keep to `--threads`.
    pool.install(|| {
        assemble_and_commit(
            plan,
            rt,
            lake,
            run_id,
            inputs,
            agent,
            &rejected,
            graph.as_ref(),
            decided,
            &spool,
        )
    })
}

/// What the run decided to leave unread, and how long listing and
/// deciding took.
#[derive(Clone, Copy, Debug)]
struct Decided {
    unchanged: u64,
    list_and_decide_s: f64,
}

/// The spec graph of a run with the telemetry stage, and the manifests it
/// came from with their node counts (for `_inputs`).
struct Telemetry<'a> {
    graph: crate::telemetry::model::SpecGraph,
    specs: Vec<(&'a InputRef, u64)>,
}

fn log_agent_read(input: &InputRef, read: &AgentRead) {
    match &read.error {
        Some(err) => tracing::warn!(source = %input.url, error = %err, "Input failed."),
        None => tracing::info!(
            source = %input.url,
            mode = ?read.mode,
            records_read = read.stats.read,
            records_dead = read.stats.dead,
            byte_offset_done = read.done,
            "Agent input read."
        ),
    }
    debug_assert!(read.stats.balanced(), "accounting identity (lake.md §2)");
}

/// What reading an input needs of the run.
struct Reader<'a> {
    rt: &'a tokio::runtime::Handle,
    identities: &'a HashMap<String, String>,
    run_id: &'a str,
    spool: &'a Spool,
    /// sessrec shards of at least this many bytes, as objects or as
    /// decompressed text, are read in two streamed passes (`[engine]
    /// stream_shards_from`).
    stream_from: u64,
    /// Rows such a shard leaves in the spool at a time: at most
    /// [`STREAM_CHUNK_ROWS`], and at most a file's (`[lake]
    /// max_rows_per_file`).
    chunk_rows: usize,
}

/// Where a streamed shard's bytes come from.
#[derive(Clone, Copy)]
enum Body<'b> {
    /// The object, read again for each pass.
    Store(&'b StoreUrl),
    /// Its (compressed) bytes, already fetched.
    Memory(&'b [u8]),
}

/// Rows (sessions and observations, or dead letters) a streamed shard
/// leaves in the spool at a time.
const STREAM_CHUNK_ROWS: usize = 1 << 16;

impl Reader<'_> {
    /// Fetch and decode one input on the current (rayon) thread; its
    /// session rows go to the spool.
    ///
    /// # Errors
    /// Only when the spool fails (an input that cannot be read is a failed
    /// input, not an error).
    fn read_input(&self, su: &StoreUrl, input: &InputRef) -> Result<InputOutcome> {
        // Bytes already shown as progress (a streamed shard's, as it goes).
        let (outcome, reported) =
            if input.kind == InputKind::Sessrec && input.size >= self.stream_from {
                self.read_sessrec_streamed(Body::Store(su), input)?
            } else {
                self.read_whole(su, input)?
            };
        match &outcome.error {
            Some(err) => tracing::warn!(source = %input.url, error = %err, "Input failed."),
            None => tracing::info!(
                source = %input.url,
                records_read = outcome.stats.read,
                records_ok = outcome.stats.ok,
                records_skipped = outcome.stats.skipped,
                records_dead = outcome.stats.dead,
                sessions = outcome.sessions.len(),
                "Input decoded."
            ),
        }
        debug_assert!(outcome.stats.balanced(), "accounting identity (lake.md §2)");
        let rows = outcome
            .sessions
            .iter()
            .map(|s| 1 + s.observations())
            .sum::<u64>()
            + outcome
                .evidence
                .iter()
                .map(|(_, b)| b.num_rows() as u64)
                .sum::<u64>()
            + outcome.dead.values().sum::<u64>();
        progress::advance("decode", "", input.size.saturating_sub(reported), rows);
        Ok(outcome)
    }

    /// An input fetched whole and decoded.
    fn read_whole(&self, su: &StoreUrl, input: &InputRef) -> Result<(InputOutcome, u64)> {
        let (identities, run_id, spool) = (self.identities, self.run_id, self.spool);
        let bytes = match self.rt.block_on(source::fetch(su, input)) {
            Ok(b) => b,
            Err(e) => return Ok((InputOutcome::failed(error_chain(&e)), 0)),
        };
        let none = |o: InputOutcome| (o, Vec::new());
        let (mut outcome, decoded) = match input.kind {
            InputKind::Sessrec => {
                match crate::decode::decode_sessrec_object_capped(&bytes, self.stream_from) {
                    // Compressed, and too large decompressed to hold whole.
                    Ok(None) => return self.read_sessrec_streamed(Body::Memory(&bytes), input),
                    Ok(Some(d)) => read_sessrec(input, Ok(d), identities),
                    Err(e) => read_sessrec(input, Err(e), identities),
                }
            }
            InputKind::Asciicast => read_asciicast(input, &bytes, identities),
            InputKind::SessionLog => none(read_session_log(input, &bytes)),
            InputKind::AgentEvents => none(InputOutcome::failed(
                "agent telemetry is read by the agents stage".into(),
            )),
            InputKind::Otlp => none(read_otlp(input, &bytes, run_id)),
            InputKind::Spec => none(InputOutcome::failed(
                "spec manifests are read before the run".into(),
            )),
        };
        drop(bytes);
        outcome.sessions = spool_sessions(input, decoded, run_id, spool)?;
        spool_dead_letters(input, &mut outcome, run_id, spool)?;
        Ok((outcome, 0))
    }

    /// A sessrec shard too large to hold, read twice as a stream (from the
    /// store, or from its fetched bytes when it is compressed and only its
    /// text is too large): first to
    /// learn each session's last line ([`crate::decode::SessrecScan`]),
    /// then to extract each session as soon as that line is read
    /// ([`crate::decode::SessionStream`]), its rows going to the spool a
    /// chunk at a time. The rows are those of [`read_sessrec`]; what is
    /// held is the payload of the sessions still open and one chunk of
    /// rows. An input that fails on the way (a read error, a corrupt
    /// stream, an object that changed between the passes) leaves nothing
    /// in the spool.
    ///
    /// Also returns the bytes shown as progress (the second pass's, as it
    /// reads them).
    fn read_sessrec_streamed(
        &self,
        body: Body<'_>,
        input: &InputRef,
    ) -> Result<(InputOutcome, u64)> {
        let Some(shard) = input.shard.as_ref() else {
            let why = "sessrec input without a validated name";
            return Ok((InputOutcome::failed(why.into()), 0));
        };
        let mut scan = crate::decode::SessrecScan::new();
        if let Err(why) = self.stream_pass(body, input, &mut scan, &mut |_| Ok(()), None)? {
            return Ok((InputOutcome::failed(why), 0));
        }
        let mut reported = 0u64;
        let mut outcome = InputOutcome::empty(None, input.size);
        let mut dates = BTreeSet::from([shard.date]);
        let mut out: Vec<SessionOut> = Vec::new();
        let mut rows = 0usize;
        let mut flush = |stream: &mut crate::decode::SessionStream,
                         outcome: &mut InputOutcome,
                         last: bool|
         -> Result<()> {
            stream.drain_ready(|rec, chars| {
                let s = build_session(
                    sessrec_session(shard, rec, chars),
                    input,
                    shard.date,
                    self.identities,
                );
                rows += 1 + s.observations.len();
                dates.insert(s.date);
                out.push(s);
            });
            outcome.dlq.extend(
                stream
                    .take_dead()
                    .iter()
                    .map(|d| (shard.date, dlq_row(input, d))),
            );
            if last || rows >= self.chunk_rows {
                let metas =
                    spool_sessions(input, std::mem::take(&mut out), self.run_id, self.spool)?;
                outcome.sessions.extend(metas);
                rows = 0;
            }
            if last || outcome.dlq.len() >= self.chunk_rows {
                spool_dead_letters(input, outcome, self.run_id, self.spool)?;
            }
            Ok(())
        };
        let mut stream = crate::decode::SessionStream::new(scan.last_lines());
        let read = self.stream_pass(
            body,
            input,
            &mut stream,
            &mut |s| flush(s, &mut outcome, false),
            Some(&mut reported),
        );
        let read = match read {
            Ok(Ok(())) => flush(&mut stream, &mut outcome, true).map(|()| stream.finish()),
            Ok(Err(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        };
        let read = read.inspect_err(|_| self.spool.discard(&input.url))?;
        match read {
            Ok(stats) => {
                outcome.stats = stats;
                outcome.dates = dates.into_iter().collect();
                Ok((outcome, reported))
            }
            Err(why) => {
                self.spool.discard(&input.url);
                Ok((InputOutcome::failed(why), reported))
            }
        }
    }

    /// Stream the whole object through decompression and line framing into
    /// `sink`, calling `after` once a chunk's lines are in (and at the end),
    /// and showing the chunks' bytes as progress when `reported` counts
    /// them.
    /// The inner error is why the input cannot be read; the outer one a
    /// failure of `after`.
    fn stream_pass<S: LineSink>(
        &self,
        body: Body<'_>,
        input: &InputRef,
        sink: &mut S,
        after: &mut dyn FnMut(&mut S) -> Result<()>,
        mut reported: Option<&mut u64>,
    ) -> Result<std::result::Result<(), String>> {
        let mut sd = StreamDecoder::new();
        let mut bad: Option<String> = None;
        let mut fatal: Option<Error> = None;
        let mut each = |chunk: &[u8]| {
            if bad.is_some() || fatal.is_some() {
                return;
            }
            if let Err(e) = sd.push(chunk, sink) {
                bad = Some(error_chain(&e));
            } else if let Err(e) = after(sink) {
                fatal = Some(e);
            }
            if let Some(r) = reported.as_deref_mut() {
                *r += chunk.len() as u64;
                progress::read("decode", chunk.len() as u64);
            }
        };
        let read = match body {
            Body::Store(su) => {
                self.rt
                    .block_on(source::stream_range(su, input, 0..input.size, &mut each))
            }
            Body::Memory(bytes) => {
                bytes
                    .chunks(crate::decode::MEMORY_CHUNK)
                    .for_each(&mut each);
                Ok(())
            }
        };
        if let Some(e) = fatal {
            return Err(e);
        }
        if let Some(why) = bad {
            return Ok(Err(why));
        }
        if let Err(e) = read {
            return Ok(Err(error_chain(&e)));
        }
        if let Err(e) = sd.finish(sink) {
            return Ok(Err(error_chain(&e)));
        }
        after(sink)?;
        Ok(Ok(()))
    }
}

/// Leave an input's sessions in the spool as rows, one piece per day, and
/// keep what the run needs of them.
fn spool_sessions(
    input: &InputRef,
    mut decoded: Vec<SessionOut>,
    run_id: &str,
    spool: &Spool,
) -> Result<Vec<SessionMeta>> {
    decoded.sort_by(|a, b| (a.date, &a.row.evidence_ref).cmp(&(b.date, &b.row.evidence_ref)));
    let metas = decoded.iter().map(SessionMeta::of).collect();
    for day in decoded.chunk_by(|a, b| a.date == b.date) {
        let piece = |batches| Piece {
            input: input.url.clone(),
            batches,
        };
        let date = day[0].date;
        spool
            .push(date, Part::Sessions, piece(session_batches(day, run_id)?))
            .map_err(Error::Spool)?;
        spool
            .push(
                date,
                Part::Observations,
                piece(observation_batches(day, run_id)?),
            )
            .map_err(Error::Spool)?;
    }
    Ok(metas)
}

/// Leave an input's dead letters in the spool as rows, one piece per day,
/// and keep their count per reason and their days.
fn spool_dead_letters(
    input: &InputRef,
    outcome: &mut InputOutcome,
    run_id: &str,
    spool: &Spool,
) -> Result<()> {
    let mut rows = std::mem::take(&mut outcome.dlq);
    rows.sort_by_key(|(d, _)| *d);
    for (_, r) in &mut rows {
        r.run_id = run_id.to_string();
        *outcome.dead.entry(r.reason).or_default() += 1;
    }
    for day in rows.chunk_by(|a, b| a.0 == b.0) {
        let refs: Vec<&DlqRow> = day.iter().map(|(_, r)| r).collect();
        let batches = dlq_batches(&refs)?;
        let piece = Piece {
            input: input.url.clone(),
            batches,
        };
        spool
            .push(day[0].0, Part::Dlq, piece)
            .map_err(Error::Spool)?;
        outcome.dlq_days.insert(day[0].0);
    }
    Ok(())
}

/// µs since the epoch for epoch seconds `s`, when representable.
fn micros(s: f64) -> Option<i64> {
    let us = (s * 1e6).round();
    // ±2^62 µs is ±146k years: far beyond any real timestamp, well inside i64.
    (us.is_finite() && us.abs() < 4.6e18).then_some(us as i64)
}

/// The UTC day of a µs timestamp, when it is a four-digit-year day.
fn day_of(us: i64) -> Option<NaiveDate> {
    let d = DateTime::from_timestamp_micros(us)?.date_naive();
    (1970..=9999)
        .contains(&chrono::Datelike::year(&d))
        .then_some(d)
}

fn midnight_epoch(d: NaiveDate) -> f64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0.0, |dt| dt.and_utc().timestamp() as f64)
}

/// The relative window of spec §2.1: `t_start` = first event's `t`,
/// `t_end` = max(0, max t) (a NaN never compares greater).
fn window(ts: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let mut it = ts.into_iter();
    let Some(first) = it.next() else {
        return (0.0, 0.0);
    };
    let mut t_end = 0.0;
    for t in std::iter::once(first).chain(it) {
        if t > t_end {
            t_end = t;
        }
    }
    (first, t_end)
}

/// What the pipeline needs of one decoded session, whatever its format.
struct DecodedSession<'a> {
    sid: String,
    evidence_ref: String,
    decky: Option<String>,
    service: Option<String>,
    header_ts: Option<f64>,
    term: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    truncated: bool,
    /// A decoder-level reason the reference yields nothing (e.g. `t` overflow).
    refused: Option<&'static str>,
    events: Vec<crate::model::event::Event<'a>>,
}

/// Turn one decoded session into its row and observations.
///
/// `fallback_day` is the day used when the header gives no start time
/// (the shard's basename date; a cast's modification day).
fn build_session(
    s: DecodedSession<'_>,
    input: &InputRef,
    fallback_day: NaiveDate,
    identities: &HashMap<String, String>,
) -> SessionOut {
    let (t_start, t_end) = window(s.events.iter().map(|e| e.t));
    let epoch0 = s
        .header_ts
        .filter(|t| t.is_finite())
        .unwrap_or_else(|| midnight_epoch(fallback_day));
    let base_us = s.header_ts.and_then(micros);
    let started_at_us = base_us.and_then(|b| micros(t_start).and_then(|t| b.checked_add(t)));
    let ended_at_us = base_us.and_then(|b| micros(t_end).and_then(|t| b.checked_add(t)));
    let date = started_at_us.and_then(day_of).unwrap_or(fallback_day);
    let duration = t_end - t_start;
    let input_events = s
        .events
        .iter()
        .filter(|e| e.ch == crate::model::event::Channel::Input)
        .count();
    let output_events = s.events.len() - input_events;
    let (status, error_reason, commands, observations) = if let Some(why) = s.refused {
        ("error", Some(why), None, Vec::new())
    } else if s.events.is_empty() {
        // DECNET's handler skips a sid with no events (spec §1.10).
        ("empty", None, Some(0), Vec::new())
    } else {
        match extract_session(&s.events) {
            Ok(x) => ("ok", None, Some(x.commands as i64), x.observations),
            Err(e) => ("error", Some(e.as_str()), None, Vec::new()),
        }
    };
    let src_ip = identities.get(&s.sid).cloned();
    SessionOut {
        date,
        row: SessionRow {
            evidence_ref: s.evidence_ref,
            sid: s.sid,
            decky: s.decky,
            service: s.service,
            shard: input.url.clone(),
            started_at_us,
            ended_at_us,
            duration_s: if duration > 0.0 { duration } else { 0.0 },
            input_events: input_events as i64,
            output_events: output_events as i64,
            commands,
            truncated: s.truncated,
            term: s.term,
            width: s.width.and_then(|w| i32::try_from(w).ok()),
            height: s.height.and_then(|h| i32::try_from(h).ok()),
            identity_ref: src_ip.clone(),
            src_ip,
            status,
            error_reason,
            run_id: String::new(),
        },
        observations,
        t_start,
        t_end,
        epoch0,
    }
}

fn dlq_row(input: &InputRef, d: &DeadLetter) -> DlqRow {
    DlqRow {
        run_id: String::new(),
        stage: "decode",
        source: input.url.clone(),
        line: d.line,
        byte_offset: d.byte_offset,
        reason: d.reason.as_str(),
        detail: d.detail.clone(),
        raw_sha256: d.raw_sha256_hex(),
    }
}

/// What the pipeline needs of one session of a DECNET shard.
fn sessrec_session<'a>(
    shard: &ShardName,
    rec: &crate::decode::SessionRecord,
    chars: &'a [crate::model::event::Char],
) -> DecodedSession<'a> {
    let header = rec.header.as_ref();
    DecodedSession {
        sid: rec.sid.clone(),
        evidence_ref: shard.evidence_ref(&rec.sid),
        decky: Some(shard.decky.clone()),
        service: Some(shard.service.clone()),
        header_ts: header.and_then(|h| h.timestamp),
        term: header.and_then(|h| h.term.clone()),
        width: header.map(|h| h.width),
        height: header.map(|h| h.height),
        truncated: rec.truncated,
        refused: rec.t_overflow.then_some("t_overflow"),
        events: rec.events(chars),
    }
}

/// One DECNET shard: its outcome and its sessions.
fn read_sessrec(
    input: &InputRef,
    decoded: std::result::Result<crate::decode::ShardSessions, crate::decode::FrameError>,
    identities: &HashMap<String, String>,
) -> (InputOutcome, Vec<SessionOut>) {
    let Some(shard) = input.shard.as_ref() else {
        let why = "sessrec input without a validated name";
        return (InputOutcome::failed(why.into()), Vec::new());
    };
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => return (InputOutcome::failed(error_chain(&e)), Vec::new()),
    };
    let sessions: Vec<SessionOut> = decoded
        .sessions
        .iter()
        .map(|rec| {
            let s = sessrec_session(shard, rec, &decoded.chars);
            build_session(s, input, shard.date, identities)
        })
        .collect();
    let dlq = decoded
        .dead
        .iter()
        .map(|d| (shard.date, dlq_row(input, d)))
        .collect();
    let mut dates: Vec<NaiveDate> = sessions.iter().map(|s| s.date).collect();
    dates.push(shard.date);
    dates.sort_unstable();
    dates.dedup();
    let outcome = InputOutcome {
        stats: decoded.stats,
        sessions: Vec::new(),
        dlq,
        dead: BTreeMap::new(),
        dlq_days: BTreeSet::new(),
        identities: Vec::new(),
        error: None,
        dates,
        bytes_done: input.size,
        evidence: Vec::new(),
        partial: false,
    };
    (outcome, sessions)
}

/// A `YYYY-MM-DD` day inside a file name (`sessrec-2026-05-02.log`).
fn date_in_name(name: &str) -> Option<NaiveDate> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = &b[i..i + 10];
        let shape = w.iter().enumerate().all(|(j, c)| {
            if j == 4 || j == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
        if !shape {
            return None;
        }
        NaiveDate::parse_from_str(std::str::from_utf8(w).ok()?, "%Y-%m-%d").ok()
    })
}

/// The day an input without a DECNET name belongs to when its content has
/// none: a date in its file name, else its modification day.
fn object_day(input: &InputRef) -> NaiveDate {
    let name = input.rel_path.rsplit('/').next().unwrap_or("");
    date_in_name(name).unwrap_or_else(|| input.last_modified.date_naive())
}

/// One asciinema recording: one session (`cast:<path>`, sid = file stem).
fn read_asciicast(
    input: &InputRef,
    bytes: &[u8],
    identities: &HashMap<String, String>,
) -> (InputOutcome, Vec<SessionOut>) {
    let cast = match crate::decode::decode_asciicast_object(bytes) {
        Ok(c) => c,
        Err(e) => return (InputOutcome::failed(error_chain(&e)), Vec::new()),
    };
    let name = input.rel_path.rsplit('/').next().unwrap_or("");
    let stem = [".cast.gz", ".cast.zst", ".cast", ".json"]
        .iter()
        .find_map(|sfx| name.strip_suffix(sfx))
        .unwrap_or(name);
    let header = cast.header.as_ref();
    let s = DecodedSession {
        sid: stem.to_string(),
        evidence_ref: format!("cast:{}", input.rel_path),
        decky: None,
        service: None,
        header_ts: header.and_then(|h| h.timestamp),
        term: header.and_then(|h| h.term.clone()),
        width: header.and_then(|h| h.width),
        height: header.and_then(|h| h.height),
        truncated: false,
        refused: None,
        events: cast.events(),
    };
    let session = build_session(s, input, object_day(input), identities);
    let day = session.date;
    let outcome = InputOutcome {
        stats: cast.stats,
        dlq: cast.dead.iter().map(|d| (day, dlq_row(input, d))).collect(),
        dead: BTreeMap::new(),
        dlq_days: BTreeSet::new(),
        sessions: Vec::new(),
        identities: Vec::new(),
        error: None,
        dates: vec![day],
        bytes_done: input.size,
        evidence: Vec::new(),
        partial: false,
    };
    (outcome, vec![session])
}

/// OTel Collector file exporter output → evidence rows and dead letters
/// (telemetry-correlation.md §1, §2, §7).
fn read_otlp(input: &InputRef, bytes: &[u8], run_id: &str) -> InputOutcome {
    let name = input.rel_path.rsplit('/').next().unwrap_or("");
    let read = crate::telemetry::otlp::read_otlp(&crate::telemetry::otlp::OtlpInput {
        bytes,
        source: &input.url,
        file_name: name,
        signal: input.signal,
        run_id,
    });
    let day = object_day(input);
    let mut dates: Vec<NaiveDate> = read.evidence.iter().map(|(d, _)| *d).collect();
    dates.push(day);
    InputOutcome {
        stats: read.stats,
        sessions: Vec::new(),
        dlq: read.dead.iter().map(|d| (day, dlq_row(input, d))).collect(),
        dead: BTreeMap::new(),
        dlq_days: BTreeSet::new(),
        identities: Vec::new(),
        partial: read.error.is_some(),
        error: read.error,
        dates,
        bytes_done: input.size,
        evidence: read.evidence,
    }
}

/// The recorder's syslog: `session_recorded` lines give sid → src_ip
/// (spec §1.10).
fn read_session_log(input: &InputRef, bytes: &[u8]) -> InputOutcome {
    let day = object_day(input);
    let logs = match crate::decode::decode_syslog_object(bytes) {
        Ok(l) => l,
        Err(e) => return InputOutcome::failed(error_chain(&e)),
    };
    InputOutcome {
        stats: logs.stats,
        sessions: Vec::new(),
        dlq: logs.dead.iter().map(|d| (day, dlq_row(input, d))).collect(),
        dead: BTreeMap::new(),
        dlq_days: BTreeSet::new(),
        identities: logs
            .records
            .iter()
            .map(|r| (r.sid.clone(), r.src_ip.to_string()))
            .collect(),
        error: None,
        dates: vec![day],
        bytes_done: input.size,
        evidence: Vec::new(),
        partial: false,
    }
}

/// The dlq row of an object whose name fails the layout rules (§1.2).
fn bad_name_row(r: &RejectedName) -> (NaiveDate, DlqRow) {
    let date = r.date.unwrap_or_else(|| r.last_modified.date_naive());
    let row = DlqRow {
        run_id: String::new(),
        stage: "list",
        source: r.url.clone(),
        line: None,
        byte_offset: 0,
        reason: crate::model::dead_letter::Reason::BadName.as_str(),
        detail: r.why.to_string(),
        raw_sha256: hex::encode(Sha256::digest(r.url.as_bytes())),
    };
    (date, row)
}

/// What one input contributed: its `summary.inputs` entry and `_inputs` row.
struct InputAccount {
    stats: RecordStats,
    rows_out: u64,
    error: Option<String>,
    byte_offset_done: u64,
    lines_done: Option<u64>,
    head_hash: Option<String>,
}

/// Record one input in the run summary and the input ledger (lake.md §7).
fn record_input(
    summary: &mut RunSummary,
    input_rows: &mut Vec<InputRow>,
    run_id: &str,
    input: &InputRef,
    a: InputAccount,
) {
    let failed = a.error.is_some();
    let status = if failed { "failed" } else { "ok" };
    let st = a.stats;
    summary.failed_inputs += u64::from(failed);
    summary.input_bytes += input.size;
    summary.inputs.push(InputSummary {
        source: input.url.clone(),
        kind: input.kind.as_str(),
        size: input.size,
        status,
        error: a.error.clone(),
        records_read: st.read,
        records_ok: st.ok,
        records_skipped: st.skipped,
        records_dead: st.dead,
        rows_out: a.rows_out,
    });
    input_rows.push(InputRow {
        run_id: run_id.to_string(),
        source: input.url.clone(),
        size: input.size as i64,
        e_tag: input.e_tag.clone(),
        last_modified_us: Some(input.last_modified.timestamp_micros()),
        kind: input.kind.as_str(),
        records_read: st.read as i64,
        records_ok: st.ok as i64,
        records_skipped: st.skipped as i64,
        records_dead: st.dead as i64,
        rows_out: a.rows_out as i64,
        status,
        error: a.error,
        byte_offset_done: a.byte_offset_done as i64,
        lines_done: a.lines_done.map(|n| n as i64),
        head_hash: a.head_hash,
    });
}

/// Rows per date of each table, deduplicated and sorted; then commit.
/// (One reader per input kind plus the run's context: the arguments are the
/// run's parts, not options.)
#[allow(clippy::too_many_lines, clippy::too_many_arguments)]
fn assemble_and_commit(
    plan: &JobPlan,
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    run_id: &str,
    inputs: Vec<(&InputRef, InputOutcome)>,
    agent: Vec<(&InputRef, AgentRead)>,
    rejected: &[&RejectedName],
    telemetry: Option<&Telemetry<'_>>,
    decided: Decided,
    spool: &Spool,
) -> Result<RunSummary> {
    let mut summary = RunSummary {
        run_id: run_id.to_string(),
        job: plan.name.clone(),
        lake: lake.url(),
        status: "committed",
        inputs: Vec::new(),
        inputs_unchanged: decided.unchanged,
        list_and_decide_s: decided.list_and_decide_s,
        failed_inputs: 0,
        input_bytes: 0,
        sessions: SessionCounts::default(),
        observations: 0,
        observations_by_family: BTreeMap::new(),
        dead_letters: 0,
        dead_letters_by_reason: BTreeMap::new(),
        tables: BTreeMap::new(),
        sessions_carried_observations: 0,
        agent_events: 0,
        agent_inputs_unchanged: 0,
        spill_files: 0,
        spilled_bytes: 0,
        spool_files: 0,
        spooled_bytes: 0,
        wall_s: 0.0,
        peak_rss_bytes: None,
    };

    progress::start("commit", 0, 0);
    // Inputs read in full this run own their rows; bad names are re-listed.
    let mut reread: HashSet<String> = inputs
        .iter()
        .filter(|(_, o)| o.replaces())
        .map(|(i, _)| i.url.clone())
        .collect();
    reread.extend(rejected.iter().map(|r| r.url.clone()));
    // The partitions those inputs feed now or may have fed before.
    let touched_dates: Vec<NaiveDate> = inputs
        .iter()
        .filter(|(_, o)| o.replaces())
        .flat_map(|(_, o)| o.dates.iter().copied())
        .collect();

    // Sessions committed from inputs not read this run: a shard listed
    // twice keeps its first copy in URL order, also across runs.
    let carried = carried_sessions(rt, lake, &inputs, &reread)?;
    // Sessions dropped as copies, per input URL (an input's own sessions
    // have distinct `evidence_ref`s: one per sid, or one per cast).
    let mut dropped: HashMap<String, HashSet<String>> = HashMap::new();
    let mut session_days: BTreeSet<NaiveDate> = BTreeSet::new();
    // Days with spooled dead letters of the inputs.
    let mut dlq_days: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut evidence: BTreeMap<NaiveDate, Vec<RecordBatch>> = BTreeMap::new();
    let mut dlq: BTreeMap<NaiveDate, Vec<DlqRow>> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut input_rows: Vec<InputRow> = Vec::with_capacity(inputs.len());
    for (input, outcome) in inputs {
        let mut rows_out = 0u64;
        for s in outcome.sessions {
            let earlier_copy = carried
                .get(&s.evidence_ref)
                .is_some_and(|shard| *shard < input.url);
            if earlier_copy || !seen.insert(s.evidence_ref.clone()) {
                // Same shard listed twice (e.g. `.jsonl` and `.jsonl.gz`
                // copies): the first input in URL order wins.
                summary.sessions.duplicate += 1;
                dropped
                    .entry(input.url.clone())
                    .or_default()
                    .insert(s.evidence_ref);
                continue;
            }
            match s.status {
                "ok" => summary.sessions.ok += 1,
                "empty" => summary.sessions.empty += 1,
                _ => summary.sessions.error += 1,
            }
            for p in s.primitives() {
                *summary
                    .observations_by_family
                    .entry(p.family().to_string())
                    .or_default() += 1;
            }
            summary.observations += s.observations();
            rows_out += 1 + s.observations();
            session_days.insert(s.date);
        }
        for (date, batch) in outcome.evidence {
            rows_out += batch.num_rows() as u64;
            evidence.entry(date).or_default().push(batch);
        }
        for (reason, n) in outcome.dead {
            summary.count_dead(reason, n);
            rows_out += n;
        }
        dlq_days.extend(outcome.dlq_days);
        let account = InputAccount {
            stats: outcome.stats,
            rows_out,
            error: outcome.error,
            byte_offset_done: outcome.bytes_done,
            lines_done: None,
            head_hash: None,
        };
        record_input(&mut summary, &mut input_rows, run_id, input, account);
    }
    let agent_new = collect_agent_reads(
        rt,
        &plan.lake,
        run_id,
        agent,
        &mut summary,
        &mut input_rows,
        &mut dlq,
    )?;
    for (input, nodes) in telemetry.map_or(&[][..], |t| &t.specs[..]) {
        // A manifest is one whole-file document: one record, used.
        let account = InputAccount {
            stats: RecordStats {
                read: 1,
                ok: 1,
                skipped: 0,
                dead: 0,
            },
            rows_out: *nodes,
            error: None,
            byte_offset_done: input.size,
            lines_done: None,
            head_hash: None,
        };
        record_input(&mut summary, &mut input_rows, run_id, input, account);
    }
    for r in rejected {
        let (date, row) = bad_name_row(r);
        summary.count_dead(row.reason, 1);
        dlq.entry(date).or_default().push(row);
    }

    // Partition replace from *all* inputs that belong to a partition
    // (lake.md §2): the rows of inputs this run read are recomputed; the
    // committed rows of every other input (not listed this time, or failed)
    // are carried over unchanged.
    let touched: BTreeSet<NaiveDate> = touched_dates
        .into_iter()
        .chain(session_days.iter().copied())
        .chain(dlq_days.iter().copied())
        .chain(evidence.keys().copied())
        .chain(dlq.keys().copied())
        .chain(agent_new.dlq_dates.iter().copied())
        .collect();
    let not_reread = |col: &'static str| {
        let reread = &reread;
        move |b: &RecordBatch, row: usize| str_at(b, col, row).is_none_or(|v| !reread.contains(v))
    };

    if plan.sessions && !touched.is_empty() {
        commit_session_days(
            rt,
            lake,
            run_id,
            spool,
            &touched,
            &dropped,
            &not_reread("shard"),
            plan.max_rows_per_file,
            &mut summary,
        )?;
    }
    (summary.spool_files, summary.spooled_bytes) = spool.spilled();
    let mut fresh_evidence: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    if telemetry.is_some() {
        let mut parts = Vec::new();
        for date in &touched {
            let new = evidence.remove(date).unwrap_or_default();
            let day = date.to_string();
            let old = rt.block_on(lake.read_partition("evidence", Some(&day)))?;
            let batches = crate::telemetry::stage::merge_evidence(&old, &new, &reread)
                .map_err(|e| arrow_err("evidence", e))?;
            parts.push(Partition {
                date: Some(day),
                batches,
            });
        }
        // What the telemetry stage reads back: the partitions just
        // committed, cut to the columns it needs.
        for p in &parts {
            if let Some(date) = &p.date {
                let cut = p
                    .batches
                    .iter()
                    .map(crate::telemetry::stage::project_evidence)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| arrow_err("evidence", e))?;
                fresh_evidence.insert(date.clone(), cut);
            }
        }
        commit_table(rt, lake, "evidence", run_id, parts, &mut summary)?;
    }
    let mut dlq_parts = Vec::new();
    for date in &touched {
        let mut rows = dlq.remove(date).unwrap_or_default();
        rows.sort_by(|a, b| {
            (&a.source, a.byte_offset, a.line, a.reason).cmp(&(
                &b.source,
                b.byte_offset,
                b.line,
                b.reason,
            ))
        });
        for r in &mut rows {
            r.run_id = run_id.to_string();
        }
        let refs: Vec<&DlqRow> = rows.iter().collect();
        let mut new = dlq_batches(&refs)?;
        // The inputs' dead letters (their run_id set); merge_rows sorts.
        for piece in spool.take(*date, Part::Dlq).map_err(Error::Spool)? {
            new.extend(piece.batches);
        }
        let day = date.to_string();
        let old = rt.block_on(lake.read_partition("dlq", Some(&day)))?;
        let batches = merge_rows(
            &schema::dlq_schema(),
            &old,
            &new,
            &|b| {
                source_offset_mask(b, |s, o| {
                    s.is_none_or(|s| !reread.contains(s)) && !agent_new.replaces(s, o)
                })
            },
            &DLQ_ORDER,
        )
        .map_err(|e| arrow_err("dlq", e))?;
        dlq_parts.push(Partition {
            date: Some(day),
            batches,
        });
    }
    commit_table(rt, lake, "dlq", run_id, dlq_parts, &mut summary)?;
    if plan.agents {
        commit_agent_events(rt, lake, run_id, agent_new, &mut summary)?;
    }

    if plan.attribution {
        progress::start("attribution", 0, 0);
        attribution_stage(rt, lake, plan, run_id, &mut summary)?;
    }
    if plan.agents {
        progress::start("agent profiles", 0, 0);
        agent_profiles_stage(rt, lake, plan, run_id, &mut summary)?;
    }
    let telemetry_events = match telemetry {
        Some(t) => Some({
            progress::start("telemetry", 0, 0);
            telemetry_stage(
                rt,
                lake,
                plan,
                &t.graph,
                fresh_evidence,
                run_id,
                &mut summary,
            )?
        }),
        None => None,
    };
    if plan.drift_events {
        progress::start("drift events", 0, 0);
        drift_events_stage(rt, lake, plan, run_id, telemetry_events, &mut summary)?;
    }

    if !input_rows.is_empty() {
        let refs: Vec<&InputRow> = input_rows.iter().collect();
        let batch = schema::inputs_batch(&refs).map_err(|e| arrow_err("_inputs", e))?;
        rt.block_on(lake.write_ledger(Table::Inputs, run_id, &batch))?;
    }
    Ok(summary)
}

/// The `sessions` and `observations` partitions of the touched days: each
/// day's spooled rows (less the copies dropped) merged with what the lake
/// holds, a few days at a time (as many as the run's pool has threads, in
/// parallel). A day is streamed: its pieces are taken a cluster at a time
/// (pieces whose key ranges overlap: one input's rows, as inputs' keys do
/// not interleave, or the chunks of one streamed shard, merged a key at a
/// time with one batch of each read), merged in key order with the
/// committed rows, and written in files of `file_rows` rows as they fill;
/// the two manifests switch at the end. So what is in memory is about one
/// shard's rows (one batch per chunk of a streamed shard) and one file's
/// encoded bytes per thread, whatever the size of a day.
#[allow(clippy::too_many_arguments)]
fn commit_session_days(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    run_id: &str,
    spool: &Spool,
    touched: &BTreeSet<NaiveDate>,
    dropped: &HashMap<String, HashSet<String>>,
    keep_shard: &(dyn Fn(&RecordBatch, usize) -> bool + Sync),
    file_rows: usize,
    summary: &mut RunSummary,
) -> Result<()> {
    let mut ses_commit = rt.block_on(lake.begin_commit("sessions", run_id))?;
    let mut obs_commit = rt.block_on(lake.begin_commit("observations", run_id))?;
    let days: Vec<NaiveDate> = touched.iter().copied().collect();
    let mut carried = (0u64, 0u64);
    // One table's partition of a day, streamed: its spooled pieces (less
    // the dropped copies, loaded one cluster at a time) merged in key order
    // with the committed rows `keep` carries over, and written as they
    // come, in files of `file_rows` rows.
    let merge_day = |part: Part,
                     schema: datafusion::arrow::datatypes::SchemaRef,
                     date: NaiveDate,
                     pending: &crate::sink::PendingCommit,
                     keep: &(dyn Fn(&RecordBatch, usize) -> bool + Sync)|
     -> Result<(crate::sink::Prepared, Vec<String>)> {
        let table = part.name();
        let day = date.to_string();
        let runs = spool
            .take_held(date, part)
            .into_iter()
            .map(|held| crate::sink::NewRun {
                first: held.first.clone(),
                last: held.last.clone(),
                load: Box::new(move || -> Result<crate::sink::RunBatches<'_, Error>> {
                    let copies = dropped.get(&held.input);
                    let batches = held.batches().map_err(Error::Spool)?;
                    Ok(Box::new(batches.map(move |b| {
                        let b = b.map_err(Error::Spool)?;
                        match copies {
                            Some(keys) => without_keys(&b, keys, table),
                            None => Ok(b),
                        }
                    })))
                }),
            })
            .collect();
        let old = rt
            .block_on(lake.partition_batches(table, Some(&day)))?
            .map(|b| b.map_err(Error::from));
        let mut writer = lake
            .part_writer(pending, Some(&day), Arc::clone(&schema))
            .with_file_rows(file_rows);
        let kept = crate::sink::merge_stream(
            &schema,
            old,
            runs,
            part.key(),
            keep,
            &|e| arrow_err(table, e),
            &mut |b| Ok(rt.block_on(writer.write(&b))?),
        )?;
        Ok((rt.block_on(writer.finish())?, kept))
    };
    for chunk in days.chunks(rayon::current_num_threads().max(1)) {
        let built: Vec<Result<_>> = chunk
            .par_iter()
            .map(|&date| {
                let (ses, kept) = merge_day(
                    Part::Sessions,
                    schema::sessions_schema(),
                    date,
                    &ses_commit,
                    keep_shard,
                )?;
                let kept_sessions = kept.len() as u64;
                let kept: HashSet<String> = kept.into_iter().collect();
                // Observations follow their session.
                let keep_obs = |b: &RecordBatch, row: usize| {
                    str_at(b, "evidence_ref", row).is_some_and(|r| kept.contains(r))
                };
                let (obs, kept) = merge_day(
                    Part::Observations,
                    schema::observations_schema(),
                    date,
                    &obs_commit,
                    &keep_obs,
                )?;
                Ok((ses, obs, kept_sessions, kept.len() as u64))
            })
            .collect();
        for b in built {
            let (ses, obs, ks, ko) = b?;
            rt.block_on(lake.write_prepared(&mut ses_commit, ses))?;
            rt.block_on(lake.write_prepared(&mut obs_commit, obs))?;
            carried.0 += ks;
            carried.1 += ko;
        }
    }
    summary.sessions.carried = carried.0;
    summary.sessions_carried_observations = carried.1;
    let c = rt.block_on(lake.finish_commit(ses_commit))?;
    record_commit("sessions", &c, summary);
    let c = rt.block_on(lake.finish_commit(obs_commit))?;
    record_commit("observations", &c, summary);
    Ok(())
}

/// The rows of `b` whose `evidence_ref` is not in `keys`.
fn without_keys(b: &RecordBatch, keys: &HashSet<String>, table: &str) -> Result<RecordBatch> {
    let keep: datafusion::arrow::array::BooleanArray = (0..b.num_rows())
        .map(|r| Some(str_at(b, "evidence_ref", r).is_none_or(|k| !keys.contains(k))))
        .collect();
    datafusion::arrow::compute::filter_record_batch(b, &keep).map_err(|e| arrow_err(table, e))
}

/// `evidence_ref` → `shard` of the committed sessions, on the days this
/// run's sessions fall on, whose shard is not read again this run.
fn carried_sessions(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    inputs: &[(&InputRef, InputOutcome)],
    reread: &HashSet<String>,
) -> Result<HashMap<String, String>> {
    let days: BTreeSet<NaiveDate> = inputs
        .iter()
        .flat_map(|(_, o)| o.sessions.iter().map(|s| s.date))
        .collect();
    let mut out = HashMap::new();
    for day in days {
        for b in rt.block_on(lake.read_partition("sessions", Some(&day.to_string())))? {
            for r in 0..b.num_rows() {
                if let (Some(e), Some(shard)) =
                    (str_at(&b, "evidence_ref", r), str_at(&b, "shard", r))
                {
                    if !reread.contains(shard) {
                        out.insert(e.to_string(), shard.to_string());
                    }
                }
            }
        }
    }
    Ok(out)
}

fn commit_table(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    table: &str,
    run_id: &str,
    parts: Vec<Partition>,
    summary: &mut RunSummary,
) -> Result<()> {
    if parts.is_empty() {
        // Nothing of this table was recomputed: it is left as it is.
        return Ok(());
    }
    let c = rt.block_on(lake.commit(table, run_id, parts))?;
    record_commit(table, &c, summary);
    Ok(())
}

/// A committed table in the progress line, the log and the run summary.
fn record_commit(table: &str, c: &crate::sink::TableCommit, summary: &mut RunSummary) {
    progress::advance("", table, 0, c.rows);
    tracing::info!(
        table,
        written = c.written.len(),
        unchanged = c.unchanged.len(),
        rows = c.rows,
        "Table committed."
    );
    summary.tables.insert(
        table.to_string(),
        TableSummary {
            partitions_written: c.written.len() as u64,
            partitions_unchanged: c.unchanged.len() as u64,
            partitions_removed: c.removed.len() as u64,
            rows: c.rows,
        },
    );
}

/// `dlq` batches of `BATCH_ROWS` rows.
fn dlq_batches(rows: &[&DlqRow]) -> Result<Vec<RecordBatch>> {
    rows.chunks(BATCH_ROWS)
        .map(schema::dlq_batch)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| arrow_err("dlq", e))
}

fn session_batches(list: &[SessionOut], run_id: &str) -> Result<Vec<RecordBatch>> {
    let rows: Vec<SessionRow> = list
        .iter()
        .map(|s| SessionRow {
            run_id: run_id.to_string(),
            ..s.row.clone()
        })
        .collect();
    let refs: Vec<&SessionRow> = rows.iter().collect();
    refs.chunks(BATCH_ROWS)
        .map(schema::sessions_batch)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| arrow_err("sessions", e))
}

/// The flattened envelope rows of one session (lake.md §3).
fn observation_rows(s: &SessionOut, run_id: &str) -> Vec<ObservationRow> {
    let mut obs: Vec<&Observation> = s.observations.iter().collect();
    // Uniqueness per (evidence_ref, primitive) (lake.md §2): the extractor
    // emits each feature at most once; keep the first should that change.
    obs.sort_by_key(|o| o.primitive);
    obs.dedup_by_key(|o| o.primitive);
    let window_start_ts = s.epoch0 + s.t_start;
    let window_end_ts = s.epoch0 + s.t_end;
    obs.into_iter()
        .map(|o| {
            let p: Primitive = o.primitive;
            let text = o.value.as_str();
            let kind = p.value_kind();
            let value_str = matches!(
                kind,
                ValueKind::Categorical | ValueKind::Hash | ValueKind::FreeString
            )
            .then(|| text.to_string());
            ObservationRow {
                id: observation_id(&s.row.evidence_ref, p.as_str()),
                primitive: p.as_str(),
                value_kind: kind.as_str(),
                value: serde_json::to_string(text).expect("a string always serialises"),
                value_str,
                value_num: None,
                confidence: o.confidence,
                window_start_ts,
                window_end_ts,
                offset_start_s: s.t_start,
                offset_end_s: s.t_end,
                source: OBSERVATION_SOURCE,
                evidence_ref: s.row.evidence_ref.clone(),
                identity_ref: s.row.identity_ref.clone(),
                v: 1,
                ts: window_end_ts,
                decky: s.row.decky.clone(),
                service: s.row.service.clone(),
                sid: s.row.sid.clone(),
                run_id: run_id.to_string(),
            }
        })
        .collect()
}

fn observation_batches(list: &[SessionOut], run_id: &str) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut buf: Vec<ObservationRow> = Vec::with_capacity(BATCH_ROWS);
    let mut flush = |buf: &mut Vec<ObservationRow>| -> Result<()> {
        if !buf.is_empty() {
            let refs: Vec<&ObservationRow> = buf.iter().collect();
            out.push(schema::observations_batch(&refs).map_err(|e| arrow_err("observations", e))?);
            buf.clear();
        }
        Ok(())
    };
    for s in list {
        buf.extend(observation_rows(s, run_id));
        if buf.len() >= BATCH_ROWS {
            flush(&mut buf)?;
        }
    }
    flush(&mut buf)?;
    Ok(out)
}

/// What this run read of agent telemetry, waiting to be merged.
#[derive(Debug, Default)]
struct AgentNew {
    /// New `agent_events` rows per event day.
    events: BTreeMap<NaiveDate, Vec<RecordBatch>>,
    /// Sources read this run: their committed rows at or after this
    /// offset are replaced (0: the whole source).
    from: HashMap<String, u64>,
    /// `agent_events` partitions to recompute: new rows, and old rows of
    /// replaced sources.
    event_dates: BTreeSet<NaiveDate>,
    /// `dlq` partitions holding earlier dead letters of sources read.
    dlq_dates: BTreeSet<NaiveDate>,
}

impl AgentNew {
    /// True when a committed row (`dlq` or `agent_events`) of `source` at
    /// `byte_offset` is replaced by this run's read of its source.
    fn replaces(&self, source: Option<&str>, byte_offset: i64) -> bool {
        source
            .and_then(|s| self.from.get(s))
            .is_some_and(|from| u64::try_from(byte_offset).unwrap_or(0) >= *from)
    }
}

/// The keep mask of a committed batch with `source` (Utf8) and
/// `byte_offset` (Int64) columns: `keep(source, byte_offset)` per row.
fn source_offset_mask(
    b: &RecordBatch,
    keep: impl Fn(Option<&str>, i64) -> bool,
) -> Result<datafusion::arrow::array::BooleanArray, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::{Array, Int64Array, StringArray};
    use datafusion::arrow::error::ArrowError;
    let source = b
        .column(b.schema().index_of("source")?)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::SchemaError("source is not Utf8".into()))?;
    let offset = b
        .column(b.schema().index_of("byte_offset")?)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| ArrowError::SchemaError("byte_offset is not Int64".into()))?;
    Ok((0..b.num_rows())
        .map(|r| {
            let s = source.is_valid(r).then(|| source.value(r));
            let o = if offset.is_valid(r) {
                offset.value(r)
            } else {
                0
            };
            Some(keep(s, o))
        })
        .collect())
}

/// Account for every agent input (summary, `_inputs` rows, dead letters)
/// and gather the new event rows and the partitions they touch.
#[allow(clippy::too_many_arguments)]
fn collect_agent_reads(
    rt: &tokio::runtime::Runtime,
    lake_url: &str,
    run_id: &str,
    agent: Vec<(&InputRef, AgentRead)>,
    summary: &mut RunSummary,
    input_rows: &mut Vec<InputRow>,
    dlq: &mut BTreeMap<NaiveDate, Vec<DlqRow>>,
) -> Result<AgentNew> {
    let mut out = AgentNew::default();
    let mut replaced: Vec<String> = Vec::new();
    for (input, read) in agent {
        let mut rows_out = 0u64;
        if read.error.is_none() {
            match read.mode {
                ReadMode::Unchanged => summary.agent_inputs_unchanged += 1,
                ReadMode::Full { replaced: r } => {
                    out.from.insert(input.url.clone(), 0);
                    if r {
                        replaced.push(input.url.clone());
                    }
                }
                ReadMode::From(o) => {
                    out.from.insert(input.url.clone(), o);
                }
            }
            let day = object_day(input);
            for d in &read.dead {
                let mut row = dlq_row(input, d);
                row.stage = "agents";
                summary.count_dead(row.reason, 1);
                rows_out += 1;
                dlq.entry(day).or_default().push(row);
            }
            let batches = agents::event_batches(&read.events, &input.url, run_id)
                .map_err(|e| arrow_err("agent_events", e))?;
            for (date, b) in batches {
                rows_out += b.num_rows() as u64;
                out.event_dates.insert(date);
                out.events.entry(date).or_default().push(b);
            }
            summary.agent_events += read.events.len() as u64;
        }
        let account = InputAccount {
            stats: read.stats,
            rows_out,
            error: read.error,
            byte_offset_done: read.done,
            lines_done: Some(read.lines),
            head_hash: read.head_hash,
        };
        record_input(summary, input_rows, run_id, input, account);
    }
    // Where earlier rows of the sources read now live: a replaced source's
    // events anywhere, any read source's dead letters (their day is the
    // object's day when read, which moves as a file grows).
    let reread: Vec<String> = out.from.keys().cloned().collect();
    if !reread.is_empty() {
        let [dlq_days, event_days] = rt.block_on(source_dates(
            lake_url,
            [("dlq", reread), ("agent_events", replaced)],
        ))?;
        out.dlq_dates.extend(dlq_days);
        out.event_dates.extend(event_days);
    }
    Ok(out)
}

/// For each `(table, sources)`, the `date` partitions of `table` holding
/// rows of any of `sources` (none when the table does not exist yet or no
/// source is named), in the order asked; the lake is registered once.
async fn source_dates<const N: usize>(
    lake_url: &str,
    queries: [(&str, Vec<String>); N],
) -> Result<[Vec<NaiveDate>; N]> {
    use datafusion::arrow::array::{Array, StringArray};
    use datafusion::prelude::{col, lit};
    let ctx = crate::engine::context::new_context();
    let tables = crate::engine::lake_tables::register_lake(&ctx, lake_url).await?;
    let engine = |e: datafusion::error::DataFusionError| Error::Engine(e.into());
    let mut all: [Vec<NaiveDate>; N] = std::array::from_fn(|_| Vec::new());
    for ((table, sources), out) in queries.into_iter().zip(all.iter_mut()) {
        if sources.is_empty() || !tables.iter().any(|t| t == table) {
            continue;
        }
        let batches = ctx
            .table(table)
            .await
            .map_err(engine)?
            .filter(col("source").in_list(sources.into_iter().map(lit).collect(), false))
            .map_err(engine)?
            .select(vec![col(schema::PARTITION_COL)])
            .map_err(engine)?
            .distinct()
            .map_err(engine)?
            .collect()
            .await
            .map_err(engine)?;
        for b in &batches {
            let Some(a) = b.column(0).as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            out.extend(
                (0..a.len())
                    .filter(|&r| a.is_valid(r))
                    .filter_map(|r| NaiveDate::parse_from_str(a.value(r), "%Y-%m-%d").ok()),
            );
        }
    }
    Ok(all)
}

/// Merge this run's agent events into the partitions they touch and commit
/// `agent_events`.
fn commit_agent_events(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    run_id: &str,
    mut new: AgentNew,
    summary: &mut RunSummary,
) -> Result<()> {
    let mut parts = Vec::with_capacity(new.event_dates.len());
    for date in new.event_dates.clone() {
        let day = date.to_string();
        let old = rt.block_on(lake.read_partition("agent_events", Some(&day)))?;
        let fresh = new.events.remove(&date).unwrap_or_default();
        // A new partition whose batches (one per input, rows in offset
        // order) come in ascending source order is already in key order:
        // commit it as it is, without copying it twice.
        let ascending = fresh
            .windows(2)
            .all(|w| str_at(&w[0], "source", 0) < str_at(&w[1], "source", 0));
        let batches = if old.is_empty() && ascending {
            fresh
        } else {
            merge_rows(
                &schema::agent_events_schema(),
                &old,
                &fresh,
                &|b| source_offset_mask(b, |s, o| !new.replaces(s, o)),
                &["source", "byte_offset"],
            )
            .map_err(|e| arrow_err("agent_events", e))?
        };
        parts.push(Partition {
            date: Some(day),
            batches,
        });
    }
    commit_table(rt, lake, "agent_events", run_id, parts, summary)
}

/// Recompute `agent_profiles` from the committed `agent_events`
/// (sql/agent_profiles.sql) and replace every partition; partitions left
/// without rows are removed.
fn agent_profiles_stage(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    plan: &JobPlan,
    run_id: &str,
    summary: &mut RunSummary,
) -> Result<()> {
    let (ctx, tables) = stage_context(rt, plan)?;
    let computed = if tables.iter().any(|t| t == "agent_events") {
        rt.block_on(agents::compute_profiles(&ctx, &plan.agent_settings))?
    } else {
        Vec::new()
    };
    note_spills(&ctx, "agent_profiles", summary);
    let by_date = agents::profile_partitions(&computed, run_id)
        .map_err(|e| arrow_err("agent_profiles", e))?;
    let parts = replace_all_partitions(rt, lake, "agent_profiles", by_date)?;
    commit_table(rt, lake, "agent_profiles", run_id, parts, summary)
}

/// Recompute `drift_events` from the committed `observations` and
/// `agent_profiles` (drift::table) and replace every partition; partitions
/// left without events are removed.
fn drift_events_stage(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    plan: &JobPlan,
    run_id: &str,
    telemetry: Option<Vec<crate::drift::event::DriftEvent>>,
    summary: &mut RunSummary,
) -> Result<()> {
    use crate::drift::table;
    let (ctx, tables) = stage_context(rt, plan)?;
    crate::engine::context::skip_partial_aggregation(&ctx);
    let events = rt.block_on(table::compute_events(
        &ctx,
        &tables,
        &plan.attribution_thresholds,
        telemetry,
    ))?;
    note_spills(&ctx, table::TABLE, summary);
    let by_date =
        table::event_partitions(&events, run_id).map_err(|e| arrow_err(table::TABLE, e))?;
    let parts = replace_all_partitions(rt, lake, table::TABLE, by_date)?;
    commit_table(rt, lake, table::TABLE, run_id, parts, summary)
}

/// Recompute `correlations`, `behavior_summary`, `kg_nodes` and `kg_edges`
/// from the committed `evidence` and the spec graph (telemetry::stage) and
/// replace them; returns the telemetry drift events for `drift_events`.
fn telemetry_stage(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    plan: &JobPlan,
    graph: &crate::telemetry::model::SpecGraph,
    fresh_evidence: BTreeMap<String, Vec<RecordBatch>>,
    run_id: &str,
    summary: &mut RunSummary,
) -> Result<Vec<crate::drift::event::DriftEvent>> {
    use crate::telemetry::stage;
    let (ctx, tables) = stage_context(rt, plan)?;
    let evidence = committed_evidence(rt, lake, fresh_evidence)?;
    let out = rt.block_on(stage::recompute(
        &ctx,
        &tables,
        &evidence,
        graph,
        &plan.correlation_weights,
        run_id,
        Utc::now().timestamp_micros(),
    ))?;
    note_spills(&ctx, "telemetry", summary);
    tracing::info!(
        evidence = out.evidence_rows,
        summary_rows = out.summary.rows.len(),
        stale = out.summary.stale.len(),
        "Telemetry correlated and summarised."
    );
    let parts = replace_all_partitions(rt, lake, "correlations", out.correlations)?;
    commit_table(rt, lake, "correlations", run_id, parts, summary)?;
    let parts = replace_all_partitions(rt, lake, "behavior_summary", out.summary_parts)?;
    commit_table(rt, lake, "behavior_summary", run_id, parts, summary)?;
    for (table, batches) in [("kg_nodes", out.kg_nodes), ("kg_edges", out.kg_edges)] {
        let part = Partition {
            date: None,
            batches,
        };
        commit_table(rt, lake, table, run_id, vec![part], summary)?;
    }
    Ok(crate::drift::derive::telemetry_events(
        &out.summary.rows,
        &out.summary.stale,
    ))
}

/// Every committed `evidence` partition by date, cut to the columns the
/// telemetry stage reads: the ones this run committed from `fresh`, the
/// others read from the lake through its manifest.
fn committed_evidence(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    mut fresh: BTreeMap<String, Vec<RecordBatch>>,
) -> Result<BTreeMap<String, Vec<RecordBatch>>> {
    let schema = crate::telemetry::evidence::evidence_schema();
    let manifest = rt.block_on(lake.manifest("evidence"))?;
    let mut out = BTreeMap::new();
    for key in manifest.partitions.keys() {
        let Some(date) = key.strip_prefix(&format!("{}=", schema::PARTITION_COL)) else {
            continue;
        };
        let batches = match fresh.remove(date) {
            Some(b) => b,
            None => rt
                .block_on(lake.read_partition("evidence", Some(date)))?
                .iter()
                .map(|b| {
                    crate::sink::adapt(b, &schema)
                        .and_then(|b| crate::telemetry::stage::project_evidence(&b))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| arrow_err("evidence", e))?,
        };
        out.insert(date.to_string(), batches);
    }
    Ok(out)
}

/// A DataFusion context over the committed lake for a derived-table stage,
/// and the lake's table names. The job's `[attribution]` thresholds reach
/// the merge UDFs here, and its `[engine]` memory limit the operators.
fn stage_context(
    rt: &tokio::runtime::Runtime,
    plan: &JobPlan,
) -> Result<(datafusion::prelude::SessionContext, Vec<String>)> {
    let ctx = crate::engine::context::new_context_with(&plan.attribution_thresholds, &plan.engine);
    let tables = rt.block_on(crate::engine::lake_tables::register_lake(&ctx, &plan.lake))?;
    Ok((ctx, tables))
}

/// Add what the stage `name`'s queries in `ctx` spilled to the summary.
fn note_spills(ctx: &datafusion::prelude::SessionContext, name: &str, summary: &mut RunSummary) {
    let (files, bytes) = crate::engine::context::spilled(ctx);
    if files > 0 {
        tracing::info!(
            stage = name,
            files,
            bytes,
            "The stage spilled to disk under the memory limit."
        );
    }
    summary.spill_files += files;
    summary.spilled_bytes += bytes;
}

/// Partitions for a table recomputed whole: the new ones, plus an empty one
/// (a removal) for every committed date that has no rows any more.
fn replace_all_partitions(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    table: &str,
    mut by_date: BTreeMap<String, Vec<RecordBatch>>,
) -> Result<Vec<Partition>> {
    let old = rt.block_on(lake.manifest(table))?;
    for key in old.partitions.keys() {
        if let Some(d) = key.strip_prefix(&format!("{}=", schema::PARTITION_COL)) {
            by_date.entry(d.to_string()).or_default();
        }
    }
    Ok(by_date
        .into_iter()
        .map(|(date, batches)| Partition {
            date: Some(date),
            batches,
        })
        .collect())
}

/// Recompute `attribution_state` from the committed `observations`
/// (spec/behave-shell.md attribution; lake.md §3) and replace it whole.
fn attribution_stage(
    rt: &tokio::runtime::Runtime,
    lake: &Lake,
    plan: &JobPlan,
    run_id: &str,
    summary: &mut RunSummary,
) -> Result<()> {
    let (ctx, tables) = stage_context(rt, plan)?;
    crate::engine::context::skip_partial_aggregation(&ctx);
    if !tables.iter().any(|t| t == "observations") {
        tracing::info!("No observations table yet: attribution skipped.");
        return Ok(());
    }
    let computed = rt.block_on(crate::engine::context::compute_attribution_state(&ctx))?;
    note_spills(&ctx, "attribution_state", summary);
    let batches = computed
        .iter()
        .map(|b| with_run_id(b, run_id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| arrow_err("attribution_state", e))?;
    let part = Partition {
        date: None,
        batches,
    };
    commit_table(rt, lake, "attribution_state", run_id, vec![part], summary)
}

/// `batch` plus a trailing `run_id` column (lake.md §3 attribution_state).
pub fn with_run_id(
    batch: &RecordBatch,
    run_id: &str,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("run_id", DataType::Utf8, false));
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec![run_id; batch.num_rows()])));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
}

/// The Utf8 value of column `col` at `row`, if the column exists.
fn str_at<'a>(b: &'a RecordBatch, col: &str, row: usize) -> Option<&'a str> {
    use datafusion::arrow::array::{Array, StringArray};
    let a = b
        .column(b.schema().index_of(col).ok()?)
        .as_any()
        .downcast_ref::<StringArray>()?;
    (!a.is_null(row)).then(|| a.value(row))
}

/// Peak resident set size (Linux `VmHWM`), if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observation_id_is_sha256_prefix() {
        // sha256("a\x1fb") computed independently with Python hashlib.
        let id = observation_id("a", "b");
        assert_eq!(id.len(), 32);
        let full = hex::encode(Sha256::digest(b"a\x1fb"));
        assert_eq!(id, full[..32]);
        assert_ne!(observation_id("a", "b"), observation_id("a\x1fb", ""));
    }

    #[test]
    fn window_follows_spec_2_1() {
        assert_eq!(window([]), (0.0, 0.0));
        assert_eq!(window([2.0, 1.0, 3.0]), (2.0, 3.0));
        assert_eq!(window([-1.0]), (-1.0, 0.0));
        let (s, e) = window([f64::NAN, 1.5]);
        assert!(s.is_nan());
        assert_eq!(e, 1.5);
    }

    #[test]
    fn run_id_shape() {
        let now = DateTime::parse_from_rfc3339("2026-05-02T03:04:05.000042Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = new_run_id(now, "demo");
        assert!(id.starts_with("20260502T030405.000042Z-"), "{id}");
        assert_eq!(id.len(), "20260502T030405.000042Z-".len() + 8);
        let later = new_run_id(now + chrono::Duration::microseconds(1), "demo");
        assert!(later > id);
    }

    #[test]
    fn dates_in_names() {
        assert_eq!(
            date_in_name("sessrec-2026-05-02.log"),
            NaiveDate::from_ymd_opt(2026, 5, 2)
        );
        assert_eq!(date_in_name("2026-02-30.log"), None);
        assert_eq!(date_in_name("x.log"), None);
        assert_eq!(
            date_in_name("2026-05-02"),
            NaiveDate::from_ymd_opt(2026, 5, 2)
        );
    }

    #[test]
    fn micros_and_days() {
        assert_eq!(micros(1.5), Some(1_500_000));
        assert_eq!(micros(f64::NAN), None);
        assert_eq!(micros(f64::INFINITY), None);
        assert_eq!(
            day_of(1_777_680_000_000_000),
            NaiveDate::from_ymd_opt(2026, 5, 2)
        );
        assert_eq!(day_of(-1), None);
    }
}
