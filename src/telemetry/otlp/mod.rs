//! OTLP files → `evidence` rows (spec/telemetry-correlation.md §1, §2, §7).
//!
//! Stage: decode. Pure: bytes, the object's URL, its file name, the job's
//! `signal` setting and the `run_id` come in; Arrow batches (one per UTC
//! day), record counts and dead letters go out. No I/O, no clock.
//!
//! # Layers
//!
//! * [`framing`] tells the framing from the bytes and cuts records: JSON
//!   lines (or one whole-file document), length-prefixed messages (raw or
//!   zstd-compressed each, JSON or protobuf inside), or one native zstd
//!   stream of either.
//! * [`fastjson`] reads the common JSON record (spans or logs) straight
//!   into borrowed [`view`]s; whatever it cannot vouch for goes to
//! * [`json`] and [`proto`], which turn one record into the
//!   `opentelemetry-proto` prost messages (JSON through their serde
//!   derives, which reject non-hex ids and string enums), read through the
//!   same views.
//! * [`normalize`] turns the views into rows (§2) and appends them to an
//!   [`EvidenceBuilder`] per day.
//!
//! # Decisions where the spec is silent
//!
//! * **Time 0 / absent.** A span with `startTimeUnixNano` 0, a log with
//!   neither `timeUnixNano` nor `observedTimeUnixNano`, or a point with
//!   `timeUnixNano` 0 still gives a row (the record is not lost and its
//!   evidence id is stable), dated 1970-01-01T00:00:00Z, but the row is
//!   `failed` with `error_reason` `missing timestamp` so it takes part in no
//!   correlation or summary. A `sea attribute too long` or `missing
//!   required: …` reason takes precedence over it.
//! * **Empty values.** An empty string in `service.name`, `sea.*` and the
//!   like counts as absent (null column; a missing `sea.*`). A non-string
//!   value is used as its JSON text (`intValue` 5 → `5`).
//! * **`attributes` column.** Keys in input order; a repeated key keeps its
//!   first value. `stringValue` → string, `boolValue` → bool, `intValue` →
//!   number, `doubleValue` → number (non-finite: the strings `NaN`,
//!   `Infinity`, `-Infinity`), `arrayValue` → array, `kvlistValue` →
//!   object, `bytesValue` → **lowercase hex** string, empty value → null.
//!   Every string (and hex) value longer than 4096 UTF-8 bytes, at any
//!   depth, keeps its first ≤ 4096 bytes (cut on a char boundary) followed
//!   by `…[cut N bytes]`, N = bytes removed. Keys are not cut.
//! * **`sea.*` too long.** Checked on the five resolved values and on any
//!   other `sea.*` attribute of the record itself; the too-long value's
//!   column is null (it is not cut).
//! * **Ids.** A non-empty trace id that is not 16 bytes, or span / parent
//!   span id not 8 bytes, makes the whole record `otlp_schema` (the
//!   protobuf and JSON paths agree on that).
//! * **Spans.** `duration_ms` = (end − start) ns / 10⁶, null when either
//!   time is 0; it may be negative when the producer says so. An unknown
//!   status code reads as `unset`.
//! * **Signal words in file names** are matched per name token (split on
//!   non-alphanumerics): a token starting with `trace`/`span`, `log`, or
//!   `metric`. Tokens naming two signals leave the signal unknown.
//! * **Framing that cannot resync** (a length prefix past the end, 1–3
//!   trailing bytes, a native zstd frame whose end cannot be found): a dead
//!   letter for the rest of the input, then [`OtlpRead::error`] is set.
//!
//! The canonical JSON behind `evidence_id` is described in [`normalize`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::model::dead_letter::{DeadLetter, Reason, RecordStats};
use crate::model::schema::DAY_US;
use crate::telemetry::evidence::{EvidenceBuilder, EvidenceRec};
use crate::telemetry::model::Signal;

pub mod fastjson;
pub mod framing;
pub mod json;
pub mod normalize;
pub mod proto;
pub mod sha256x8;
pub mod view;

/// One input object to decode.
#[derive(Clone, Copy, Debug)]
pub struct OtlpInput<'a> {
    /// The whole object, as stored (compressed or not).
    pub bytes: &'a [u8],
    /// The object's URL: goes to `evidence.source`.
    pub source: &'a str,
    /// The object's file name (last path segment), for the proto signal.
    pub file_name: &'a str,
    /// The job's `signal` setting for this source, if any.
    pub signal: Option<Signal>,
    /// The run writing the rows.
    pub run_id: &'a str,
}

/// What one input decoded to.
#[derive(Debug, Default)]
pub struct OtlpRead {
    /// Record counts (`read == ok + skipped + dead`).
    pub stats: RecordStats,
    /// One batch per UTC day of `timestamp`, dates ascending, rows in
    /// input order.
    pub evidence: Vec<(NaiveDate, RecordBatch)>,
    /// Dead letters, in input order.
    pub dead: Vec<DeadLetter>,
    /// The framing could not resync: the rest of the input is lost and the
    /// caller marks the input failed.
    pub error: Option<String>,
}

impl OtlpRead {
    /// Evidence rows over all days (`rows_out`).
    pub fn rows(&self) -> usize {
        self.evidence.iter().map(|(_, b)| b.num_rows()).sum()
    }
}

/// Decode one OTLP file (any framing of §1) into evidence rows.
///
/// Never panics and never fails as a whole: bad records become dead
/// letters, and a framing that cannot resync ends the input with
/// [`OtlpRead::error`] set.
///
/// ```
/// use driftlake::telemetry::otlp::{read_otlp, OtlpInput};
/// let line = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","startTimeUnixNano":"1000"}]}]}]}"#;
/// let read = read_otlp(&OtlpInput {
///     bytes: line,
///     source: "memory://t/traces.jsonl",
///     file_name: "traces.jsonl",
///     signal: None,
///     run_id: "r1",
/// });
/// assert_eq!((read.stats.read, read.stats.ok, read.rows()), (1, 1, 1));
/// ```
pub fn read_otlp(input: &OtlpInput) -> OtlpRead {
    let mut r = Reader::new(input);
    framing::read_all(&mut r, input.bytes);
    r.finish()
}

/// The evidence builders, one per UTC day number.
#[derive(Debug, Default)]
pub(crate) struct Days {
    days: BTreeMap<i64, EvidenceBuilder>,
}

impl Days {
    /// Append a row to its day's builder.
    pub(crate) fn append(&mut self, rec: &EvidenceRec<'_>) {
        let day = rec.timestamp_us.div_euclid(DAY_US);
        self.days.entry(day).or_default().append(rec);
    }

    fn finish(self) -> Vec<(NaiveDate, RecordBatch)> {
        self.days
            .into_iter()
            .filter_map(|(day, b)| {
                let date = chrono::DateTime::from_timestamp(day.checked_mul(86_400)?, 0)?;
                Some((date.date_naive(), b.finish()))
            })
            .collect()
    }
}

/// The decoding state of one input: counts, dead letters, rows.
pub(crate) struct Reader<'a> {
    _input: std::marker::PhantomData<&'a ()>,
    /// The signal of protobuf messages: the job's, else the file name's.
    proto_signal: Option<Signal>,
    stats: RecordStats,
    dead: Vec<DeadLetter>,
    error: Option<String>,
    days: Days,
    norm: normalize::Normalizer,
    /// Scratch for per-message zstd.
    zbuf: Vec<u8>,
    dctx: Option<zstd::zstd_safe::DCtx<'static>>,
}

impl<'a> Reader<'a> {
    fn new(input: &'a OtlpInput<'a>) -> Self {
        Reader {
            _input: std::marker::PhantomData,
            proto_signal: input
                .signal
                .or_else(|| proto::signal_from_name(input.file_name)),
            stats: RecordStats::default(),
            dead: Vec::new(),
            error: None,
            days: Days::default(),
            norm: normalize::Normalizer::new(input.source, input.run_id),
            zbuf: Vec::new(),
            dctx: None,
        }
    }

    fn finish(self) -> OtlpRead {
        debug_assert!(self.stats.balanced());
        OtlpRead {
            stats: self.stats,
            evidence: self.days.finish(),
            dead: self.dead,
            error: self.error,
        }
    }

    /// A dead record.
    pub(crate) fn dead(
        &mut self,
        line: Option<u64>,
        offset: u64,
        reason: Reason,
        detail: impl Into<String>,
        raw: &[u8],
    ) {
        self.stats.add_dead();
        self.dead
            .push(DeadLetter::new(line, offset, reason, detail, raw));
    }

    /// A dead record whose bytes were hashed and dropped (too long).
    pub(crate) fn dead_hashed(
        &mut self,
        line: Option<u64>,
        offset: u64,
        len: u64,
        raw_sha256: [u8; 32],
    ) {
        self.stats.add_dead();
        self.dead.push(DeadLetter {
            line,
            byte_offset: offset,
            reason: Reason::LineTooLong,
            detail: format!(
                "record of {len} bytes is over the {} byte limit",
                crate::decode::frame::MAX_LINE_BYTES
            ),
            raw_sha256,
        });
    }

    /// The framing cannot go on: record why (the first reason wins).
    pub(crate) fn fail(&mut self, why: String) {
        if self.error.is_none() {
            self.error = Some(why);
        }
    }

    /// One JSON-lines line (or whole-file document).
    pub(crate) fn json_line(&mut self, raw: &[u8], line: Option<u64>, offset: u64) {
        if json::is_blank(raw) {
            self.stats.add_skipped();
            return;
        }
        self.json_record(raw, line, offset);
    }

    /// One JSON record: a non-blank line, or a message's JSON payload.
    /// Spans and logs in the common shape take [`fastjson`]; anything else
    /// (and anything it cannot vouch for) the serde path of [`json`].
    pub(crate) fn json_record(&mut self, raw: &[u8], line: Option<u64>, offset: u64) {
        if let Some(batch) = std::str::from_utf8(raw).ok().and_then(fastjson::parse) {
            self.batch(&batch, line, offset, raw);
            return;
        }
        match json::parse(raw) {
            Ok(msg) => self.message(&msg, line, offset, raw),
            Err((reason, detail)) => self.dead(line, offset, reason, detail, raw),
        }
    }

    /// One protobuf record (a framed message's payload).
    pub(crate) fn proto_record(&mut self, raw: &[u8], line: Option<u64>, offset: u64) {
        let Some(signal) = self.proto_signal else {
            self.dead(
                line,
                offset,
                Reason::ProtoSignalUnknown,
                "protobuf message, but neither the job nor the file name gives the signal",
                raw,
            );
            return;
        };
        match proto::decode(raw, signal) {
            Ok(msg) => self.message(&msg, line, offset, raw),
            Err(detail) => self.dead(line, offset, Reason::ProtoDecode, detail, raw),
        }
    }

    /// A record decoded by serde or prost.
    fn message(&mut self, msg: &Message, line: Option<u64>, offset: u64, raw: &[u8]) {
        self.batch(&view::Batch::from_message(msg), line, offset, raw);
    }

    /// A decoded record: rows, or `otlp_schema` when it yields none.
    fn batch(&mut self, msg: &view::Batch<'_>, line: Option<u64>, offset: u64, raw: &[u8]) {
        match normalize::check(msg) {
            Ok(0) => self.dead(
                line,
                offset,
                Reason::OtlpSchema,
                "no spans, log records or data points (empty, or keys not lowerCamelCase)",
                raw,
            ),
            Ok(_) => {
                self.norm.message(msg, &mut self.days);
                self.stats.add_ok();
            }
            Err(detail) => self.dead(line, offset, Reason::OtlpSchema, detail, raw),
        }
    }

    /// One length-prefixed message's payload (per-message framing): zstd
    /// or not, JSON or protobuf.
    pub(crate) fn framed(&mut self, payload: &[u8], line: Option<u64>, offset: u64) {
        if !payload.starts_with(&framing::ZSTD_MAGIC) {
            self.content(payload, line, offset);
            return;
        }
        let mut buf = std::mem::take(&mut self.zbuf);
        buf.clear();
        let dctx = self.dctx.get_or_insert_with(zstd::zstd_safe::DCtx::create);
        match framing::unzstd(
            dctx,
            payload,
            &mut buf,
            crate::decode::frame::MAX_LINE_BYTES,
        ) {
            Ok(()) => self.content(&buf, line, offset),
            Err(framing::Unzstd::TooLong) => self.dead(
                line,
                offset,
                Reason::LineTooLong,
                format!(
                    "message decompresses to over {} bytes",
                    crate::decode::frame::MAX_LINE_BYTES
                ),
                payload,
            ),
            Err(framing::Unzstd::Bad(why)) => {
                self.dead(line, offset, Reason::ZstdFrame, why, payload)
            }
        }
        // Keep a normal-sized scratch buffer; drop a huge one.
        if buf.capacity() <= 1 << 20 {
            self.zbuf = buf;
        }
    }

    /// A message's (decompressed) content: JSON when its first byte is
    /// `{`, else protobuf. Not whitespace: a non-empty `TracesData`,
    /// `LogsData` or `MetricsData` starts with `0x0a` (field 1, length
    /// delimited), which is `\n`; `0x7b` is never a valid first byte.
    fn content(&mut self, c: &[u8], line: Option<u64>, offset: u64) {
        match c.first() {
            Some(b'{') => self.json_record(c, line, offset),
            _ => self.proto_record(c, line, offset),
        }
    }
}

/// One decoded record: whatever signals it holds.
#[derive(Debug, Default)]
pub struct Message {
    /// `resourceSpans`.
    pub spans: Vec<opentelemetry_proto::tonic::trace::v1::ResourceSpans>,
    /// `resourceLogs`.
    pub logs: Vec<opentelemetry_proto::tonic::logs::v1::ResourceLogs>,
    /// `resourceMetrics`.
    pub metrics: Vec<opentelemetry_proto::tonic::metrics::v1::ResourceMetrics>,
}

#[cfg(test)]
mod tests;
