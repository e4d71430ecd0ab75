//! Arrow schemas and row types of the lake tables (spec/lake.md §3, §7).
//!
//! Pure: rows in, `RecordBatch`es out; no I/O.
//!
//! **The `date` partition column is not stored in partitioned files.** It
//! lives only in the hive directory name (`date=YYYY-MM-DD`), so DataFusion's
//! `ListingTable` (with `date` as a partition column), DuckDB and Polars add
//! it back on read without a duplicate-column conflict. [`PARTITION_COL`]
//! names it and [`file_schema`] gives each table's in-file schema; readers
//! register `date` as `Utf8` (`YYYY-MM-DD` sorts and compares as a date).
//! Timestamps are `Timestamp(µs, "UTC")`.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

/// The tables a run writes through the commit protocol (lake.md §2): each
/// has a manifest, is repaired at the start of a run, and is read only
/// through its manifest (files of such a table without a manifest are a
/// killed or failed first commit, never data).
pub const MANAGED_TABLES: [&str; 12] = [
    "sessions",
    "observations",
    "dlq",
    "attribution_state",
    "agent_events",
    "agent_profiles",
    "drift_events",
    "evidence",
    "correlations",
    "behavior_summary",
    "kg_nodes",
    "kg_edges",
];

/// The hive partition column of partitioned tables.
pub const PARTITION_COL: &str = "date";

/// µs in one UTC day: the width of a `date` partition and of a telemetry
/// window.
pub const DAY_US: i64 = 86_400_000_000;

/// The [`PARTITION_COL`] value (`YYYY-MM-DD`) of a time in µs since the
/// epoch (UTC); `1970-01-01` for a time chrono cannot represent.
pub fn partition_date(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map_or_else(|| "1970-01-01".into(), |t| t.date_naive().to_string())
}

/// The lake tables this crate writes, with their on-disk names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// One row per recorded session (lake.md §3).
    Sessions,
    /// One row per (session, primitive) (lake.md §3).
    Observations,
    /// Dead letters of every stage (lake.md §2).
    Dlq,
    /// The run ledger (lake.md §7).
    Runs,
    /// The input ledger (lake.md §7).
    Inputs,
}

impl Table {
    /// The directory name under the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Observations => "observations",
            Table::Dlq => "dlq",
            Table::Runs => "_runs",
            Table::Inputs => "_inputs",
        }
    }

    /// True for tables partitioned by [`PARTITION_COL`].
    pub fn is_partitioned(self) -> bool {
        matches!(self, Table::Sessions | Table::Observations | Table::Dlq)
    }

    /// The in-file schema (without the partition column).
    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Sessions => sessions_schema(),
            Table::Observations => observations_schema(),
            Table::Dlq => dlq_schema(),
            Table::Runs => runs_schema(),
            Table::Inputs => inputs_schema(),
        }
    }
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn i64f(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}

fn f64f(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Float64, nullable)
}

fn tsf(name: &str, nullable: bool) -> Field {
    Field::new(name, ts_type(), nullable)
}

/// The in-file schema of `table` (same as [`Table::schema`]).
pub fn file_schema(table: Table) -> SchemaRef {
    table.schema()
}

/// `sessions` (lake.md §3), without `date`.
pub fn sessions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("evidence_ref", false),
        utf8("sid", false),
        utf8("decky", true),
        utf8("service", true),
        utf8("shard", false),
        tsf("started_at", true),
        tsf("ended_at", true),
        f64f("duration_s", false),
        i64f("input_events", false),
        i64f("output_events", false),
        i64f("commands", true),
        Field::new("truncated", DataType::Boolean, false),
        utf8("term", true),
        Field::new("width", DataType::Int32, true),
        Field::new("height", DataType::Int32, true),
        utf8("src_ip", true),
        utf8("identity_ref", true),
        utf8("status", false),
        utf8("error_reason", true),
        utf8("run_id", false),
    ]))
}

/// `observations` (lake.md §3), without `date`.
pub fn observations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("primitive", false),
        utf8("value_kind", false),
        utf8("value", false),
        utf8("value_str", true),
        f64f("value_num", true),
        f64f("confidence", false),
        f64f("window_start_ts", false),
        f64f("window_end_ts", false),
        f64f("offset_start_s", false),
        f64f("offset_end_s", false),
        utf8("source", false),
        utf8("evidence_ref", false),
        utf8("identity_ref", true),
        Field::new("v", DataType::Int32, false),
        f64f("ts", false),
        utf8("decky", true),
        utf8("service", true),
        utf8("sid", false),
        utf8("run_id", false),
    ]))
}

/// `dlq` (lake.md §2), without `date`.
pub fn dlq_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("run_id", false),
        utf8("stage", false),
        utf8("source", false),
        i64f("line", true),
        i64f("byte_offset", false),
        utf8("reason", false),
        utf8("detail", false),
        utf8("raw_sha256", false),
    ]))
}

/// `_runs` (lake.md §7): one row per run.
pub fn runs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("run_id", false),
        utf8("job", false),
        tsf("started_at", false),
        tsf("finished_at", true),
        utf8("status", false),
        utf8("version", false),
        i64f("inputs", false),
        i64f("failed_inputs", false),
        i64f("input_bytes", false),
        i64f("sessions_rows", false),
        i64f("observations_rows", false),
        i64f("dlq_rows", false),
        i64f("dead_letters", false),
        f64f("wall_s", true),
        i64f("peak_rss_bytes", true),
        utf8("error", true),
    ]))
}

/// `_inputs` (lake.md §7): one row per input object per run.
pub fn inputs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("run_id", false),
        utf8("source", false),
        i64f("size", false),
        utf8("e_tag", true),
        tsf("last_modified", true),
        utf8("kind", false),
        i64f("records_read", false),
        i64f("records_ok", false),
        i64f("records_skipped", false),
        i64f("records_dead", false),
        i64f("rows_out", false),
        utf8("status", false),
        utf8("error", true),
        i64f("byte_offset_done", false),
        i64f("lines_done", true),
        utf8("head_hash", true),
    ]))
}

/// `agent_events` (spec/agent-monitor.md "Input"), without `date` (the
/// event's UTC day): one row per decoded agent event, the input the
/// profiles are recomputed from. Keyed by (`source`, `byte_offset`). No
/// payload: the target is a 64-bit digest.
pub fn agent_events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("source", false),
        i64f("line", false),
        i64f("byte_offset", false),
        utf8("agent_id", false),
        tsf("ts", false),
        utf8("event_type", false),
        utf8("op", false),
        i64f("target_hash", true),
        utf8("run_id", false),
    ]))
}

/// `behavior_summary` (spec/telemetry-correlation.md §5), without `date`
/// (the window's UTC day): one row per (context, spec node, day), and one
/// no-match row (`spec_node_id` null) per (context, day). Written by the
/// telemetry stage; read by the drift gate, trends and the report.
pub fn behavior_summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("context", false),
        utf8("spec_node_id", true),
        tsf("window_start", false),
        tsf("window_end", false),
        f64f("drift_score", false),
        utf8("drift_level", false),
        f64f("confidence", false),
        i64f("evidence_count", false),
        tsf("last_seen_at", true),
        utf8("evidence_ref", true),
        Field::new(
            "triggered_rules",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            false,
        ),
        utf8("rule_scores", false),
        i64f("kg_version", false),
        tsf("last_synced_at", true),
        utf8("run_id", false),
    ]))
}

/// One `sessions` row. `date` is the partition key, kept beside the row.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    /// `shard:<decky>/<service>/<basename>#<sid>`.
    pub evidence_ref: String,
    /// Session id.
    pub sid: String,
    /// Decky (null for sources without DECNET layout).
    pub decky: Option<String>,
    /// Service (null for sources without DECNET layout).
    pub service: Option<String>,
    /// The input object's URL.
    pub shard: String,
    /// Header timestamp + first event `t`, µs since the epoch (UTC).
    pub started_at_us: Option<i64>,
    /// Header timestamp + `t_end`, µs since the epoch (UTC).
    pub ended_at_us: Option<i64>,
    /// `max(0, t_end - t_start)` (spec §2.1).
    pub duration_s: f64,
    /// Input events kept by the reader.
    pub input_events: i64,
    /// Output events kept by the reader.
    pub output_events: i64,
    /// Commands found by the extractor (null when extraction failed).
    pub commands: Option<i64>,
    /// The truncation sentinel was seen.
    pub truncated: bool,
    /// `$TERM` from the header.
    pub term: Option<String>,
    /// Terminal columns from the header.
    pub width: Option<i32>,
    /// Terminal rows from the header.
    pub height: Option<i32>,
    /// Client IP from the recorder's `session_recorded` line.
    pub src_ip: Option<String>,
    /// Identity (the source IP when known, lake.md §3).
    pub identity_ref: Option<String>,
    /// `ok`, `empty` or `error`.
    pub status: &'static str,
    /// Why extraction failed (spec A7 code).
    pub error_reason: Option<&'static str>,
    /// The run that wrote the row.
    pub run_id: String,
}

/// One `observations` row (the flattened BEHAVE envelope, lake.md §3).
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationRow {
    /// First 32 hex of sha256(evidence_ref 0x1F primitive).
    pub id: String,
    /// Dotted primitive path.
    pub primitive: &'static str,
    /// Registry value kind.
    pub value_kind: &'static str,
    /// JSON encoding of the value.
    pub value: String,
    /// The string value for categorical/hash/free_string kinds.
    pub value_str: Option<String>,
    /// The numeric value for numeric kinds.
    pub value_num: Option<f64>,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Epoch seconds: session epoch + `t_start`.
    pub window_start_ts: f64,
    /// Epoch seconds: session epoch + `t_end`.
    pub window_end_ts: f64,
    /// The reference's relative `t_start`.
    pub offset_start_s: f64,
    /// The reference's relative `t_end`.
    pub offset_end_s: f64,
    /// Envelope `source`.
    pub source: &'static str,
    /// Evidence pointer.
    pub evidence_ref: String,
    /// Identity, when known.
    pub identity_ref: Option<String>,
    /// Envelope version (1).
    pub v: i32,
    /// Epoch seconds of the session's end.
    pub ts: f64,
    /// Decky.
    pub decky: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// Session id.
    pub sid: String,
    /// The run that wrote the row.
    pub run_id: String,
}

/// One `dlq` row (lake.md §2): a pointer and a reason, never content.
#[derive(Clone, Debug, PartialEq)]
pub struct DlqRow {
    /// The run that wrote the row.
    pub run_id: String,
    /// The stage (`list`, `decode`, …).
    pub stage: &'static str,
    /// The input object's URL.
    pub source: String,
    /// 1-based line, null for binary framing and whole-object letters.
    pub line: Option<u64>,
    /// Byte offset of the record in the (decompressed) input.
    pub byte_offset: u64,
    /// Stable snake_case reason code.
    pub reason: &'static str,
    /// Human text without payload content.
    pub detail: String,
    /// sha256 of the raw record, lowercase hex.
    pub raw_sha256: String,
}

/// One `_runs` row (lake.md §7).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// `YYYYMMDDTHHMMSSZ-<8 hex>`.
    pub run_id: String,
    /// Job name.
    pub job: String,
    /// Start, µs since the epoch.
    pub started_at_us: i64,
    /// End, µs since the epoch (null while running).
    pub finished_at_us: Option<i64>,
    /// `running`, `committed` or `failed`.
    pub status: &'static str,
    /// Crate version (+ git hash when known).
    pub version: String,
    /// Inputs listed.
    pub inputs: i64,
    /// Inputs that failed.
    pub failed_inputs: i64,
    /// Bytes listed.
    pub input_bytes: i64,
    /// Rows in the `sessions` partitions this run committed.
    pub sessions_rows: i64,
    /// Rows in the `observations` partitions this run committed.
    pub observations_rows: i64,
    /// Rows in the `dlq` partitions this run committed.
    pub dlq_rows: i64,
    /// Dead letters produced by this run.
    pub dead_letters: i64,
    /// Wall seconds.
    pub wall_s: Option<f64>,
    /// Peak resident set size in bytes, when the OS tells.
    pub peak_rss_bytes: Option<i64>,
    /// Why the run failed.
    pub error: Option<String>,
}

impl RunRow {
    /// The row of a run that has just started: `running`, no counts yet.
    pub fn running(run_id: &str, job: &str, started_at_us: i64, version: String) -> Self {
        RunRow {
            run_id: run_id.to_string(),
            job: job.to_string(),
            started_at_us,
            finished_at_us: None,
            status: "running",
            version,
            inputs: 0,
            failed_inputs: 0,
            input_bytes: 0,
            sessions_rows: 0,
            observations_rows: 0,
            dlq_rows: 0,
            dead_letters: 0,
            wall_s: None,
            peak_rss_bytes: None,
            error: None,
        }
    }
}

/// One `_inputs` row (lake.md §7).
#[derive(Clone, Debug, PartialEq)]
pub struct InputRow {
    /// The run.
    pub run_id: String,
    /// The input object's URL.
    pub source: String,
    /// Size in bytes (as listed).
    pub size: i64,
    /// Entity tag.
    pub e_tag: Option<String>,
    /// Last modification, µs since the epoch.
    pub last_modified_us: Option<i64>,
    /// `sessrec`, `asciicast`, `session_log`, ….
    pub kind: &'static str,
    /// Records read.
    pub records_read: i64,
    /// Records used.
    pub records_ok: i64,
    /// Records dropped by a spec rule.
    pub records_skipped: i64,
    /// Records that became dead letters.
    pub records_dead: i64,
    /// Rows this input contributed to the tables.
    pub rows_out: i64,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<String>,
    /// Bytes of the object consumed.
    pub byte_offset_done: i64,
    /// Complete lines consumed (append-only JSON lines read incrementally).
    pub lines_done: Option<i64>,
    /// BLAKE3 hex of the object's first `min(byte_offset_done, 4096)`
    /// bytes, to tell an appended file from a replaced one.
    pub head_hash: Option<String>,
}

fn finish(schema: SchemaRef, cols: Vec<ArrayRef>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(schema, cols)
}

fn ts_builder(n: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC")
}

/// Build a `sessions` batch.
///
/// # Errors
/// Only on an internal schema mismatch (a bug).
pub fn sessions_batch(rows: &[&SessionRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut evidence_ref = StringBuilder::with_capacity(n, n * 96);
    let mut sid = StringBuilder::with_capacity(n, n * 36);
    let mut decky = StringBuilder::new();
    let mut service = StringBuilder::new();
    let mut shard = StringBuilder::new();
    let mut started_at = ts_builder(n);
    let mut ended_at = ts_builder(n);
    let mut duration_s = Float64Builder::with_capacity(n);
    let mut input_events = Int64Builder::with_capacity(n);
    let mut output_events = Int64Builder::with_capacity(n);
    let mut commands = Int64Builder::with_capacity(n);
    let mut truncated = BooleanBuilder::with_capacity(n);
    let mut term = StringBuilder::new();
    let mut width = Int32Builder::with_capacity(n);
    let mut height = Int32Builder::with_capacity(n);
    let mut src_ip = StringBuilder::new();
    let mut identity_ref = StringBuilder::new();
    let mut status = StringBuilder::new();
    let mut error_reason = StringBuilder::new();
    let mut run_id = StringBuilder::new();
    for r in rows {
        evidence_ref.append_value(&r.evidence_ref);
        sid.append_value(&r.sid);
        decky.append_option(r.decky.as_deref());
        service.append_option(r.service.as_deref());
        shard.append_value(&r.shard);
        started_at.append_option(r.started_at_us);
        ended_at.append_option(r.ended_at_us);
        duration_s.append_value(r.duration_s);
        input_events.append_value(r.input_events);
        output_events.append_value(r.output_events);
        commands.append_option(r.commands);
        truncated.append_value(r.truncated);
        term.append_option(r.term.as_deref());
        width.append_option(r.width);
        height.append_option(r.height);
        src_ip.append_option(r.src_ip.as_deref());
        identity_ref.append_option(r.identity_ref.as_deref());
        status.append_value(r.status);
        error_reason.append_option(r.error_reason);
        run_id.append_value(&r.run_id);
    }
    finish(
        sessions_schema(),
        vec![
            Arc::new(evidence_ref.finish()),
            Arc::new(sid.finish()),
            Arc::new(decky.finish()),
            Arc::new(service.finish()),
            Arc::new(shard.finish()),
            Arc::new(started_at.finish()),
            Arc::new(ended_at.finish()),
            Arc::new(duration_s.finish()),
            Arc::new(input_events.finish()),
            Arc::new(output_events.finish()),
            Arc::new(commands.finish()),
            Arc::new(truncated.finish()),
            Arc::new(term.finish()),
            Arc::new(width.finish()),
            Arc::new(height.finish()),
            Arc::new(src_ip.finish()),
            Arc::new(identity_ref.finish()),
            Arc::new(status.finish()),
            Arc::new(error_reason.finish()),
            Arc::new(run_id.finish()),
        ],
    )
}

/// Bytes of an optional text (0 for none).
fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

/// Build an `observations` batch.
///
/// # Errors
/// Only on an internal schema mismatch (a bug).
pub fn observations_batch(rows: &[&ObservationRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    // Exact text capacities: the batches may be held a while (the run's
    // spool), so no builder slack.
    let text = |f: fn(&ObservationRow) -> usize| {
        StringBuilder::with_capacity(n, rows.iter().map(|r| f(r)).sum())
    };
    let mut id = text(|r| r.id.len());
    let mut primitive = text(|r| r.primitive.len());
    let mut value_kind = text(|r| r.value_kind.len());
    let mut value = text(|r| r.value.len());
    let mut value_str = text(|r| opt_len(&r.value_str));
    let mut value_num = Float64Builder::with_capacity(n);
    let mut confidence = Float64Builder::with_capacity(n);
    let mut window_start_ts = Float64Builder::with_capacity(n);
    let mut window_end_ts = Float64Builder::with_capacity(n);
    let mut offset_start_s = Float64Builder::with_capacity(n);
    let mut offset_end_s = Float64Builder::with_capacity(n);
    let mut source = text(|r| r.source.len());
    let mut evidence_ref = text(|r| r.evidence_ref.len());
    let mut identity_ref = text(|r| opt_len(&r.identity_ref));
    let mut v = Int32Builder::with_capacity(n);
    let mut ts = Float64Builder::with_capacity(n);
    let mut decky = text(|r| opt_len(&r.decky));
    let mut service = text(|r| opt_len(&r.service));
    let mut sid = text(|r| r.sid.len());
    let mut run_id = text(|r| r.run_id.len());
    for r in rows {
        id.append_value(&r.id);
        primitive.append_value(r.primitive);
        value_kind.append_value(r.value_kind);
        value.append_value(&r.value);
        value_str.append_option(r.value_str.as_deref());
        value_num.append_option(r.value_num);
        confidence.append_value(r.confidence);
        window_start_ts.append_value(r.window_start_ts);
        window_end_ts.append_value(r.window_end_ts);
        offset_start_s.append_value(r.offset_start_s);
        offset_end_s.append_value(r.offset_end_s);
        source.append_value(r.source);
        evidence_ref.append_value(&r.evidence_ref);
        identity_ref.append_option(r.identity_ref.as_deref());
        v.append_value(r.v);
        ts.append_value(r.ts);
        decky.append_option(r.decky.as_deref());
        service.append_option(r.service.as_deref());
        sid.append_value(&r.sid);
        run_id.append_value(&r.run_id);
    }
    finish(
        observations_schema(),
        vec![
            Arc::new(id.finish()),
            Arc::new(primitive.finish()),
            Arc::new(value_kind.finish()),
            Arc::new(value.finish()),
            Arc::new(value_str.finish()),
            Arc::new(value_num.finish()),
            Arc::new(confidence.finish()),
            Arc::new(window_start_ts.finish()),
            Arc::new(window_end_ts.finish()),
            Arc::new(offset_start_s.finish()),
            Arc::new(offset_end_s.finish()),
            Arc::new(source.finish()),
            Arc::new(evidence_ref.finish()),
            Arc::new(identity_ref.finish()),
            Arc::new(v.finish()),
            Arc::new(ts.finish()),
            Arc::new(decky.finish()),
            Arc::new(service.finish()),
            Arc::new(sid.finish()),
            Arc::new(run_id.finish()),
        ],
    )
}

/// Build a `dlq` batch.
///
/// # Errors
/// Only on an internal schema mismatch (a bug).
pub fn dlq_batch(rows: &[&DlqRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut run_id = StringBuilder::new();
    let mut stage = StringBuilder::new();
    let mut source = StringBuilder::new();
    let mut line = Int64Builder::with_capacity(n);
    let mut byte_offset = Int64Builder::with_capacity(n);
    let mut reason = StringBuilder::new();
    let mut detail = StringBuilder::new();
    let mut raw_sha256 = StringBuilder::with_capacity(n, n * 64);
    for r in rows {
        run_id.append_value(&r.run_id);
        stage.append_value(r.stage);
        source.append_value(&r.source);
        line.append_option(r.line.map(sat_i64));
        byte_offset.append_value(sat_i64(r.byte_offset));
        reason.append_value(r.reason);
        detail.append_value(&r.detail);
        raw_sha256.append_value(&r.raw_sha256);
    }
    finish(
        dlq_schema(),
        vec![
            Arc::new(run_id.finish()),
            Arc::new(stage.finish()),
            Arc::new(source.finish()),
            Arc::new(line.finish()),
            Arc::new(byte_offset.finish()),
            Arc::new(reason.finish()),
            Arc::new(detail.finish()),
            Arc::new(raw_sha256.finish()),
        ],
    )
}

/// Build a `_runs` batch.
///
/// # Errors
/// Only on an internal schema mismatch (a bug).
pub fn runs_batch(rows: &[&RunRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut run_id = StringBuilder::new();
    let mut job = StringBuilder::new();
    let mut started_at = ts_builder(n);
    let mut finished_at = ts_builder(n);
    let mut status = StringBuilder::new();
    let mut version = StringBuilder::new();
    let mut ints: Vec<Int64Builder> = (0..7).map(|_| Int64Builder::with_capacity(n)).collect();
    let mut wall_s = Float64Builder::with_capacity(n);
    let mut peak_rss = Int64Builder::with_capacity(n);
    let mut error = StringBuilder::new();
    for r in rows {
        run_id.append_value(&r.run_id);
        job.append_value(&r.job);
        started_at.append_value(r.started_at_us);
        finished_at.append_option(r.finished_at_us);
        status.append_value(r.status);
        version.append_value(&r.version);
        let vals = [
            r.inputs,
            r.failed_inputs,
            r.input_bytes,
            r.sessions_rows,
            r.observations_rows,
            r.dlq_rows,
            r.dead_letters,
        ];
        for (b, v) in ints.iter_mut().zip(vals) {
            b.append_value(v);
        }
        wall_s.append_option(r.wall_s);
        peak_rss.append_option(r.peak_rss_bytes);
        error.append_option(r.error.as_deref());
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(run_id.finish()),
        Arc::new(job.finish()),
        Arc::new(started_at.finish()),
        Arc::new(finished_at.finish()),
        Arc::new(status.finish()),
        Arc::new(version.finish()),
    ];
    cols.extend(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(wall_s.finish()));
    cols.push(Arc::new(peak_rss.finish()));
    cols.push(Arc::new(error.finish()));
    finish(runs_schema(), cols)
}

/// Build an `_inputs` batch.
///
/// # Errors
/// Only on an internal schema mismatch (a bug).
pub fn inputs_batch(rows: &[&InputRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut run_id = StringBuilder::new();
    let mut source = StringBuilder::new();
    let mut size = Int64Builder::with_capacity(n);
    let mut e_tag = StringBuilder::new();
    let mut last_modified = ts_builder(n);
    let mut kind = StringBuilder::new();
    let mut counts: Vec<Int64Builder> = (0..5).map(|_| Int64Builder::with_capacity(n)).collect();
    let mut status = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut done = Int64Builder::with_capacity(n);
    let mut lines_done = Int64Builder::with_capacity(n);
    let mut head_hash = StringBuilder::new();
    for r in rows {
        run_id.append_value(&r.run_id);
        source.append_value(&r.source);
        size.append_value(r.size);
        e_tag.append_option(r.e_tag.as_deref());
        last_modified.append_option(r.last_modified_us);
        kind.append_value(r.kind);
        let vals = [
            r.records_read,
            r.records_ok,
            r.records_skipped,
            r.records_dead,
            r.rows_out,
        ];
        for (b, v) in counts.iter_mut().zip(vals) {
            b.append_value(v);
        }
        status.append_value(r.status);
        error.append_option(r.error.as_deref());
        done.append_value(r.byte_offset_done);
        lines_done.append_option(r.lines_done);
        head_hash.append_option(r.head_hash.as_deref());
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(run_id.finish()),
        Arc::new(source.finish()),
        Arc::new(size.finish()),
        Arc::new(e_tag.finish()),
        Arc::new(last_modified.finish()),
        Arc::new(kind.finish()),
    ];
    cols.extend(counts.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(status.finish()));
    cols.push(Arc::new(error.finish()));
    cols.push(Arc::new(done.finish()));
    cols.push(Arc::new(lines_done.finish()));
    cols.push(Arc::new(head_hash.finish()));
    finish(inputs_schema(), cols)
}

/// Clamp a count or offset into Int64 (offsets beyond 8 EiB cannot occur).
fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_have_the_contract_columns_and_no_date() {
        let names = |s: SchemaRef| {
            s.fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
        };
        for t in [
            Table::Sessions,
            Table::Observations,
            Table::Dlq,
            Table::Runs,
            Table::Inputs,
        ] {
            assert!(
                !names(t.schema()).contains(&PARTITION_COL.to_string()),
                "{t:?}"
            );
        }
        let obs = names(observations_schema());
        for col in [
            "id",
            "primitive",
            "value_kind",
            "value",
            "value_str",
            "value_num",
            "confidence",
            "window_start_ts",
            "window_end_ts",
            "offset_start_s",
            "offset_end_s",
            "source",
            "evidence_ref",
            "identity_ref",
            "v",
            "ts",
            "decky",
            "service",
            "sid",
            "run_id",
        ] {
            assert!(obs.contains(&col.to_string()), "{col}");
        }
        let ses = names(sessions_schema());
        for col in [
            "evidence_ref",
            "sid",
            "decky",
            "service",
            "shard",
            "started_at",
            "ended_at",
            "duration_s",
            "input_events",
            "output_events",
            "commands",
            "truncated",
            "term",
            "width",
            "height",
            "src_ip",
            "identity_ref",
            "status",
            "error_reason",
            "run_id",
        ] {
            assert!(ses.contains(&col.to_string()), "{col}");
        }
    }

    #[test]
    fn batches_build_for_every_table() {
        let run = RunRow {
            run_id: "r".into(),
            job: "j".into(),
            started_at_us: 1,
            finished_at_us: None,
            status: "running",
            version: "v".into(),
            inputs: 1,
            failed_inputs: 0,
            input_bytes: 2,
            sessions_rows: 3,
            observations_rows: 4,
            dlq_rows: 5,
            dead_letters: 6,
            wall_s: None,
            peak_rss_bytes: None,
            error: None,
        };
        let b = runs_batch(&[&run]).unwrap();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.num_columns(), runs_schema().fields().len());
        let input = InputRow {
            run_id: "r".into(),
            source: "s".into(),
            size: 1,
            e_tag: None,
            last_modified_us: Some(0),
            kind: "sessrec",
            records_read: 3,
            records_ok: 1,
            records_skipped: 1,
            records_dead: 1,
            rows_out: 2,
            status: "ok",
            error: None,
            byte_offset_done: 1,
            lines_done: None,
            head_hash: None,
        };
        assert_eq!(inputs_batch(&[&input]).unwrap().num_rows(), 1);
        assert_eq!(sessions_batch(&[]).unwrap().num_rows(), 0);
        assert_eq!(observations_batch(&[]).unwrap().num_rows(), 0);
        assert_eq!(dlq_batch(&[]).unwrap().num_rows(), 0);
    }
}
