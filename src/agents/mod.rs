//! The agent monitor stage (spec/agent-monitor.md): agent telemetry files
//! → `agent_events` → `agent_profiles` (SQL), read incrementally.
//!
//! ```text
//!  _inputs ledger ──► plan per file ──► stream new bytes ──► decode (decode::agent)
//!  (offset, lines,     (unchanged /       (a ranged GET,        │
//!   head hash)          append / full)     chunk by chunk)      ▼
//!                                              agent_events partitions (merge by
//!                                              (source, byte_offset)) ──► sql/agent_profiles.sql
//! ```
//!
//! * **Incremental.** A `.jsonl` file is append-only: the ledger keeps the
//!   offset after its last complete line (`byte_offset_done`), the lines
//!   consumed (`lines_done`) and a hash of its first bytes (`head_hash`). A
//!   run reads only `[done, size)`, streamed through the line framer, so
//!   the raw bytes are never held whole. A file shorter than `done`, or whose
//!   head changed, was rotated or replaced: it is read from 0 and its
//!   earlier rows are dropped. A last line without `\n` is left for a later
//!   run. A `.json` document is read again when its size, e_tag or
//!   modification time changed.
//! * **Nothing doubled.** Rows are keyed by (`source`, `byte_offset`); a
//!   read from offset `o` replaces that source's rows at `o` and after, so a
//!   run killed between the table commit and the ledger write is repaired
//!   by the next run reading the same bytes again.
//! * **Profiles** are recomputed from the whole `agent_events` table by
//!   `sql/agent_profiles.sql` (prev_tier needs each agent's history), so
//!   they always equal a from-scratch run.

pub mod settings;

pub use settings::AgentSettings;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::error::ArrowError;
use datafusion::prelude::SessionContext as DfContext;

use crate::decode::agent::{AgentDecoder, AgentEvents, OpClass};
use crate::decode::frame::LineFramer;
use crate::model::dead_letter::{DeadLetter, RecordStats};
use crate::model::schema::{self, DAY_US};
use crate::sink::{Lake, SinkError};
use crate::source::{self, agent_format, AgentFormat, InputRef, StoreUrl};

/// Bytes of a file's head that `head_hash` covers.
pub const HEAD_BYTES: u64 = 4096;

/// What earlier runs consumed of one input (its newest `ok` ledger row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    /// Offset after the last complete line consumed.
    pub done: u64,
    /// Complete lines consumed.
    pub lines: u64,
    /// BLAKE3 hex of the first `min(done, HEAD_BYTES)` bytes.
    pub head_hash: Option<String>,
    /// Size, e_tag and modification time when it was read.
    pub size: u64,
    /// The store's entity tag then.
    pub e_tag: Option<String>,
    /// Modification time then (µs).
    pub last_modified_us: Option<i64>,
}

/// How an input was read this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Nothing new: not read.
    Unchanged,
    /// Read from byte 0. `replaced` when earlier runs had read another
    /// content under this name (rotated, truncated, rewritten).
    Full {
        /// Earlier rows of this source are stale.
        replaced: bool,
    },
    /// Read from this offset on (appended lines).
    From(u64),
}

/// One agent input after this run's read.
#[derive(Debug)]
pub struct AgentRead {
    /// How it was read.
    pub mode: ReadMode,
    /// Decoded events of the bytes read.
    pub events: AgentEvents,
    /// Dead letters of the bytes read.
    pub dead: Vec<DeadLetter>,
    /// Accounting of the records read this run.
    pub stats: RecordStats,
    /// Offset after the last complete record consumed (cumulative).
    pub done: u64,
    /// Complete lines consumed (cumulative).
    pub lines: u64,
    /// Hash of the first `min(done, HEAD_BYTES)` bytes.
    pub head_hash: Option<String>,
    /// Why the input could not be read (nothing of it is used then).
    pub error: Option<String>,
}

impl AgentRead {
    fn failed(error: String) -> Self {
        AgentRead {
            mode: ReadMode::Unchanged,
            events: AgentEvents::default(),
            dead: Vec::new(),
            stats: RecordStats::default(),
            done: 0,
            lines: 0,
            head_hash: None,
            error: Some(error),
        }
    }

    fn unchanged(r: &Resume) -> Self {
        AgentRead {
            mode: ReadMode::Unchanged,
            events: AgentEvents::default(),
            dead: Vec::new(),
            stats: RecordStats::default(),
            done: r.done,
            lines: r.lines,
            head_hash: r.head_hash.clone(),
            error: None,
        }
    }
}

/// The newest `ok` ledger row of each of `sources` (agent inputs).
///
/// # Errors
/// [`SinkError`] when the ledger cannot be listed or read.
pub async fn load_resume(
    lake: &Lake,
    sources: &[&InputRef],
) -> Result<HashMap<String, Resume>, SinkError> {
    let want: HashSet<&str> = sources.iter().map(|i| i.url.as_str()).collect();
    let mut out = HashMap::new();
    if want.is_empty() {
        return Ok(out);
    }
    for row in lake.input_ledger().await? {
        if row.kind != "agent_events"
            || row.status != "ok"
            || !want.contains(row.source.as_str())
            || out.contains_key(&row.source)
        {
            continue;
        }
        out.insert(
            row.source,
            Resume {
                done: row.byte_offset_done,
                lines: row.lines_done.unwrap_or(0),
                head_hash: row.head_hash,
                size: row.size,
                e_tag: row.e_tag,
                last_modified_us: row.last_modified_us,
            },
        );
    }
    Ok(out)
}

fn head_hash(bytes: &[u8]) -> String {
    let n = bytes.len().min(HEAD_BYTES as usize);
    blake3::hash(&bytes[..n]).to_hex().to_string()
}

/// Read what is new in one agent input (module docs), on the current
/// thread; object-store calls go through `rt`. With `force` the input is
/// read from byte 0 and its earlier rows replaced (`--full`, backfill).
pub fn read_agent_input(
    rt: &tokio::runtime::Handle,
    su: &StoreUrl,
    input: &InputRef,
    resume: Option<&Resume>,
    force: bool,
) -> AgentRead {
    let name = input.rel_path.rsplit('/').next().unwrap_or("");
    let format = agent_format(name).unwrap_or(AgentFormat::Lines);
    let same_object = |r: &Resume| {
        r.size == input.size
            && r.e_tag == input.e_tag
            && r.last_modified_us == Some(input.last_modified.timestamp_micros())
    };
    if format == AgentFormat::Document {
        if let Some(r) = resume.filter(|r| !force && same_object(r)) {
            return AgentRead::unchanged(r);
        }
        let bytes = match rt.block_on(source::fetch(su, input)) {
            Ok(b) => b,
            Err(e) => return AgentRead::failed(crate::pipeline::error_chain(&e)),
        };
        let mut dec = AgentDecoder::default();
        dec.document(&bytes);
        return AgentRead {
            mode: ReadMode::Full {
                replaced: resume.is_some(),
            },
            events: dec.events,
            dead: dec.dead,
            stats: dec.stats,
            done: bytes.len() as u64,
            lines: 1,
            head_hash: Some(head_hash(&bytes)),
            error: None,
        };
    }

    // JSON lines: append, unchanged, or replaced?
    let (mode, head) = match resume {
        None => (ReadMode::Full { replaced: false }, None),
        Some(_) if force => (ReadMode::Full { replaced: true }, None),
        Some(r) if input.size < r.done => (ReadMode::Full { replaced: true }, None),
        Some(r) if same_object(r) => return AgentRead::unchanged(r),
        Some(r) => {
            let head = match rt.block_on(source::fetch_range(su, input, 0..r.done.min(HEAD_BYTES)))
            {
                Ok(h) => h,
                Err(e) => return AgentRead::failed(crate::pipeline::error_chain(&e)),
            };
            if r.head_hash.as_deref() == Some(head_hash(&head).as_str()) {
                if input.size == r.done {
                    return AgentRead::unchanged(r);
                }
                (ReadMode::From(r.done), Some(head))
            } else {
                (ReadMode::Full { replaced: true }, None)
            }
        }
    };
    let (from, line_base) = match (mode, resume) {
        (ReadMode::From(o), Some(r)) => (o, r.lines),
        _ => (0, 0),
    };
    // Stream the new bytes through the framer: only complete lines are
    // emitted, the unfinished last one stays in the framer and is dropped.
    let mut dec = AgentDecoder::starting_at(from, line_base);
    let mut framer = LineFramer::new();
    let head_want = HEAD_BYTES.saturating_sub(from) as usize;
    let mut head_tail: Vec<u8> = Vec::new();
    let streamed = rt.block_on(source::stream_range(su, input, from..input.size, |chunk| {
        if head_tail.len() < head_want {
            let take = (head_want - head_tail.len()).min(chunk.len());
            head_tail.extend_from_slice(&chunk[..take]);
        }
        dec.reserve(memchr::memchr_iter(b'\n', chunk).count());
        framer.push(chunk, &mut dec);
    }));
    if let Err(e) = streamed {
        return AgentRead::failed(crate::pipeline::error_chain(&e));
    }
    let done = from + framer.complete_bytes();
    // The head hash covers min(done, HEAD_BYTES) bytes of the object.
    let in_head = (HEAD_BYTES.min(done).saturating_sub(from)) as usize;
    let mut buf = head.map(|h| h.to_vec()).unwrap_or_default();
    buf.extend_from_slice(&head_tail[..in_head.min(head_tail.len())]);
    let head_hash = head_hash(&buf);
    AgentRead {
        mode,
        events: dec.events,
        dead: dec.dead,
        stats: dec.stats,
        done,
        lines: line_base + framer.lines(),
        head_hash: Some(head_hash),
        error: None,
    }
}

/// The decoded events of one input as `agent_events` batches per UTC day
/// of the event (rows in input order, `run_id` set).
///
/// String columns are gathered (`take`) from the decoder's interned agent
/// ids and event types, so a row costs no string formatting.
///
/// # Errors
/// Arrow errors (a schema bug).
pub fn event_batches(
    events: &AgentEvents,
    source: &str,
    run_id: &str,
) -> Result<BTreeMap<NaiveDate, RecordBatch>, ArrowError> {
    use datafusion::arrow::compute::take;
    let n = events.len();
    let mut out = BTreeMap::new();
    if n == 0 {
        return Ok(out);
    }
    let agents: ArrayRef = Arc::new(StringArray::from_iter_values(&events.agents));
    let types: ArrayRef = Arc::new(StringArray::from_iter_values(&events.types));
    let ops: ArrayRef = Arc::new(StringArray::from_iter_values(
        events.types.iter().map(|t| OpClass::of(t).as_str()),
    ));
    let to_i64 = |v: &[u64]| -> Int64Array {
        v.iter()
            .map(|&x| i64::try_from(x).unwrap_or(i64::MAX))
            .collect()
    };
    let whole = RecordBatch::try_new(
        schema::agent_events_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                source, n,
            ))),
            Arc::new(to_i64(&events.line)),
            Arc::new(to_i64(&events.byte_offset)),
            take(&agents, &UInt32Array::from(events.agent.clone()), None)?,
            Arc::new(TimestampMicrosecondArray::from(events.ts_us.clone()).with_timezone("UTC")),
            take(&types, &UInt32Array::from(events.event_type.clone()), None)?,
            take(&ops, &UInt32Array::from(events.event_type.clone()), None)?,
            Arc::new(events.target_hash.iter().copied().collect::<Int64Array>()),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                run_id, n,
            ))),
        ],
    )?;
    let day_of = |ts: i64| ts.div_euclid(DAY_US);
    let first = day_of(events.ts_us[0]);
    let date = |day: i64| {
        chrono::DateTime::from_timestamp(day * 86_400, 0)
            .map(|d| d.date_naive())
            .ok_or_else(|| ArrowError::ComputeError(format!("day {day} out of range")))
    };
    if events.ts_us.iter().all(|&t| day_of(t) == first) {
        out.insert(date(first)?, whole);
        return Ok(out);
    }
    let mut by_day: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (i, &ts) in events.ts_us.iter().enumerate() {
        by_day
            .entry(day_of(ts))
            .or_default()
            .push(u32::try_from(i).expect("fewer than 2^32 events per input"));
    }
    for (day, rows) in by_day {
        out.insert(
            date(day)?,
            take_record_batch(&whole, &UInt32Array::from(rows))?,
        );
    }
    Ok(out)
}

/// The entropy term E of one window (spec "Profiles"): the Shannon entropy
/// in bits of a multiset with these per-symbol counts (zeros ignored),
/// divided by log2 of the number of symbols; 0 below two symbols, exactly 1
/// when every symbol is equally frequent. The counts are sorted first, so
/// the float sum is the same whatever order they arrive in.
pub fn normalized_entropy(counts: &mut Vec<u64>) -> f64 {
    counts.retain(|&c| c > 0);
    let k = counts.len();
    if k < 2 {
        return 0.0;
    }
    counts.sort_unstable();
    if counts[0] == counts[k - 1] {
        return 1.0;
    }
    let n: u64 = counts.iter().sum();
    let n = n as f64;
    // H = sum p log2(1/p), p = c/n, smallest terms first.
    let h: f64 = counts
        .iter()
        .map(|&c| {
            let c = c as f64;
            (c / n) * (n / c).log2()
        })
        .sum();
    (h / (k as f64).log2()).clamp(0.0, 1.0)
}

/// Compute `agent_profiles` from the registered `agent_events` table with
/// `sql/agent_profiles.sql` (every column but `run_id`, plus `date`).
///
/// # Errors
/// DataFusion errors (e.g. no `agent_events` table registered).
pub async fn compute_profiles(
    ctx: &DfContext,
    settings: &AgentSettings,
) -> crate::engine::Result<Vec<RecordBatch>> {
    crate::engine::context::run_sql_file(ctx, "agent_profiles", &settings.sql_params()).await
}

/// Split computed profile rows by their `date` column into partitions of
/// the in-file schema (`date` dropped, `run_id` appended), row order kept.
///
/// # Errors
/// Arrow errors when the batches lack a Utf8 `date` column.
pub fn profile_partitions(
    batches: &[RecordBatch],
    run_id: &str,
) -> Result<BTreeMap<String, Vec<RecordBatch>>, ArrowError> {
    let mut out: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for b in batches {
        let di = b.schema().index_of(schema::PARTITION_COL)?;
        let dates = b
            .column(di)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| ArrowError::SchemaError("date is not Utf8".into()))?;
        let mut rows: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for r in 0..b.num_rows() {
            if dates.is_null(r) {
                return Err(ArrowError::ComputeError("a profile without a date".into()));
            }
            rows.entry(dates.value(r)).or_default().push(r as u32);
        }
        let keep: Vec<usize> = (0..b.num_columns()).filter(|&i| i != di).collect();
        let projected = b.project(&keep)?;
        for (date, idx) in rows {
            let part = take_record_batch(&projected, &UInt32Array::from(idx))?;
            out.entry(date.to_string())
                .or_default()
                .push(crate::pipeline::with_run_id(&part, run_id)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
