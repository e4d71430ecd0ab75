//! Job files: `jobs/<job>.toml` → [`JobSpec`] (serde) → [`JobPlan`]
//! (validated). Never opens the object store (STYLE §1, §8: parse, then
//! validate, then do I/O).
//!
//! ```toml
//! [job]
//! name = "demo"
//!
//! [lake]
//! url = "./lake"                 # path, file://, s3://, gs://, az://, memory://
//!
//! [sources]
//! sessrec = ["fixtures/demo/artifacts"]
//! session_logs = ["fixtures/demo/logs"]
//! asciicast = []
//! agents = ["fixtures/demo/agents"]   # agent telemetry (.jsonl, .json)
//! otlp = ["fixtures/demo/otlp"]       # OTel Collector file exporter output
//! # otlp = [{ url = "s3://b/otel/traces", signal = "traces" }]  # proto: name the signal
//! specs = ["fixtures/demo/specs"]     # spec manifests (.yaml, .yml, .json)
//!
//! [stages]
//! sessions = true                # sources → sessions, observations, dlq
//! attribution = true             # observations → attribution_state
//! agents = true                  # agent telemetry → agent_events, agent_profiles
//! drift_events = true            # observations, agent_profiles, behavior_summary → drift_events
//! telemetry = true               # otlp, specs → evidence, correlations, behavior_summary, kg_*
//!
//! [attribution]                  # optional: spec §6.7 threshold overrides
//! min_observations_for_state = 3 # (snake_case or the reference's NAME)
//!
//! [agents]                       # optional: agent-monitor.md tunables
//! window_secs = 300
//!
//! [correlation]                  # optional: telemetry-correlation.md §4 weights
//! COR-101 = 0.35
//!
//! [output]                       # optional: written by the CLI after a committed run
//! report = "reports/weekly.html" # + reports/weekly.md (as `driftlake report`)
//! trends = "reports/trends"      # one Parquet file per trend family
//! interval = "1w"                # trend buckets: 1h, 1d, 1w
//! gate = "reports/gate.json"     # the gate's verdict (never the exit code)
//! [output.window]
//! days = 28                      # or from / to = "YYYY-MM-DD"
//! ```
//!
//! Relative paths resolve against the current directory, as every command
//! line tool's paths do. Unknown keys and bad values are errors that name
//! the key and its line, so a typo cannot silently drop a source.
//!
//! A job without sources runs no stage unless `[stages]` turns one on
//! (`attribution` and `drift_events` recompute from the lake): with an
//! `[output]` it is a report job over a lake other jobs fill.

use std::num::NonZeroU32;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::agents::AgentSettings;
use crate::extract::attribution::AttributionThresholds;
use crate::source::InputKind;
use crate::telemetry::model::Signal;

/// Errors from reading or validating a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job file cannot be read.
    #[error("cannot read the job file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The job file is not valid TOML or has a wrong or unknown key.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (names the key).
        message: String,
    },
    /// The job parses but does not make sense.
    #[error("{path}: {message}")]
    Invalid {
        /// The file (or `--flag` when an override is wrong).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The job file as written (serde view).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// `[job]`.
    pub job: JobSection,
    /// `[lake]`.
    pub lake: LakeSection,
    /// `[sources]`.
    #[serde(default)]
    pub sources: SourcesSection,
    /// `[stages]`.
    #[serde(default)]
    pub stages: StagesSection,
    /// `[attribution]`: threshold overrides of spec §6.7 (the reference's
    /// values when absent). Unknown keys are errors, as everywhere.
    #[serde(default)]
    pub attribution: AttributionThresholds,
    /// `[agents]`: the agent monitor's window, hop, weights and thresholds.
    #[serde(default)]
    pub agents: AgentSettings,
    /// `[correlation]`: rule weight overrides (telemetry-correlation.md §4),
    /// `COR-001 = 0.9` or `cor_001 = 0.9`; checked when planned.
    #[serde(default)]
    pub correlation: std::collections::BTreeMap<String, f64>,
    /// `[output]`: what the CLI writes from the lake after a committed run.
    #[serde(default)]
    pub output: OutputSection,
    /// `[storage]`: retries and timeouts of cloud object stores.
    #[serde(default)]
    pub storage: StorageSection,
    /// `[engine]`: the query engine's memory limit and spill directory.
    #[serde(default)]
    pub engine: EngineSection,
}

/// `[job]`: what the job is called (the `_runs.job` value).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// Job name: `[a-z0-9_-]+`.
    pub name: String,
}

/// `[lake]`: where the lake lives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LakeSection {
    /// Lake URL or path.
    pub url: String,
    /// Rows per Parquet file of a `sessions` or `observations` partition
    /// (a larger partition is written as several files). Absent:
    /// [`crate::sink::FILE_ROWS`].
    #[serde(default)]
    pub max_rows_per_file: Option<i64>,
}

/// `[sources]`: URLs per input kind.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourcesSection {
    /// sessrec shard roots (DECNET artifacts layout) or single shards.
    #[serde(default)]
    pub sessrec: Vec<String>,
    /// Recorder syslog files or directories (`session_recorded` lines).
    #[serde(default)]
    pub session_logs: Vec<String>,
    /// asciinema `.cast` files or directories.
    #[serde(default)]
    pub asciicast: Vec<String>,
    /// Agent telemetry roots (`.jsonl` / `.json`, listed recursively).
    #[serde(default)]
    pub agents: Vec<String>,
    /// OTel Collector `file` exporter output (listed recursively): a URL,
    /// or `{ url, signal }` to name the signal of length-prefixed protobuf.
    #[serde(default)]
    pub otlp: Vec<OtlpSource>,
    /// Spec manifests (`.yaml`, `.yml`, `.json`, listed recursively).
    #[serde(default)]
    pub specs: Vec<String>,
}

/// One `[sources] otlp` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OtlpSource {
    /// Just the URL: the signal comes from the bytes or the file names.
    Url(String),
    /// The URL and the signal its protobuf files hold.
    Table {
        /// URL or path.
        url: String,
        /// `traces`, `logs` or `metrics`.
        signal: String,
    },
}

/// `[stages]`: which stages run. A stage left out runs when the job has
/// sources and not when it has none (see [`JobSpec::plan`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StagesSection {
    /// Sources → `sessions`, `observations`, `dlq`.
    pub sessions: Option<bool>,
    /// `observations` → `attribution_state`.
    pub attribution: Option<bool>,
    /// Agent telemetry → `agent_events`, `agent_profiles`.
    pub agents: Option<bool>,
    /// `observations`, `agent_profiles`, `behavior_summary` → `drift_events`.
    pub drift_events: Option<bool>,
    /// OTLP and spec sources → `evidence`, `correlations`,
    /// `behavior_summary`, `kg_nodes`, `kg_edges`.
    pub telemetry: Option<bool>,
}

/// `[output]`: reports written from the lake after a committed run, with
/// the code of `driftlake report`, `trends --out` and `gate --format json`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// The HTML report (`driftlake report --out`).
    pub report: Option<String>,
    /// Its Markdown twin (default: `report` with `.md`).
    pub markdown: Option<String>,
    /// A directory: one `trends_<family>.parquet` per trend family.
    pub trends: Option<String>,
    /// The trend buckets (default `1d`, as `driftlake trends`).
    pub interval: Option<Interval>,
    /// The drift gate's verdict as JSON (`driftlake gate --format json`).
    pub gate: Option<String>,
    /// How the verdict judges: `warn` (default) or `fail`. Never changes
    /// the job's exit code.
    pub gate_mode: Option<GateMode>,
    /// Medium node rows `fail` allows (default 5, as `--max-medium`).
    pub gate_max_medium: Option<usize>,
    /// `[output.window]`: the days the outputs cover.
    #[serde(default)]
    pub window: WindowSection,
}

/// `[output.window]`: the days the outputs cover. Absent, each output
/// takes its command's default window.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowSection {
    /// First UTC day, inclusive (`--from`).
    #[serde(default, deserialize_with = "de_day")]
    pub from: Option<NaiveDate>,
    /// Last UTC day, inclusive (`--to`).
    #[serde(default, deserialize_with = "de_day")]
    pub to: Option<NaiveDate>,
    /// This many days ending at `to`, or at the newest day with data, and
    /// no earlier than the oldest (the report's rule); not with `from`.
    pub days: Option<NonZeroU32>,
}

/// Trend bucket sizes (lake.md §6).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Interval {
    /// Hourly buckets.
    #[serde(rename = "1h")]
    Hour,
    /// Daily buckets.
    #[default]
    #[serde(rename = "1d")]
    Day,
    /// ISO weeks.
    #[serde(rename = "1w")]
    Week,
}

impl Interval {
    /// The `$interval` value of the trend SQL (`--interval`).
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "1h",
            Interval::Day => "1d",
            Interval::Week => "1w",
        }
    }
}

/// How the gate output judges (`--warn` / `--fail`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GateMode {
    /// List every drift ≥ low and pass.
    #[default]
    Warn,
    /// Fail on a high node row or more than `max_medium` medium ones.
    Fail,
}

/// A `YYYY-MM-DD` string or a TOML local date.
fn de_day<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    use serde::de::Error as _;
    let text = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => s,
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
        other => {
            return Err(D::Error::custom(format!(
                "expected a YYYY-MM-DD day, got a {}",
                other.type_str()
            )))
        }
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map(Some)
        .map_err(|e| D::Error::custom(format!("{text:?} is not a YYYY-MM-DD day ({e})")))
}

/// `[storage]`: how cloud object stores (s3, gs, az) are talked to. Every
/// key is optional; object_store's defaults apply.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// Retries of a request that failed transiently (5xx, 429, connection
    /// error, timeout); 0 turns retries off. Default 10.
    pub max_retries: Option<usize>,
    /// No retry starts later than this many seconds after the first
    /// attempt. Default 180.
    pub retry_timeout_s: Option<f64>,
    /// Seconds one request may take. Default 30.
    pub request_timeout_s: Option<f64>,
    /// Seconds to connect. Default 5.
    pub connect_timeout_s: Option<f64>,
}

impl StorageSection {
    /// The validated options.
    ///
    /// # Errors
    /// A message naming the key when a value is out of range.
    pub fn plan(&self) -> Result<crate::source::StorageOptions, String> {
        let mut o = crate::source::StorageOptions::default();
        if let Some(n) = self.max_retries {
            if n > 100 {
                return Err(format!("[storage] max_retries = {n}: at most 100"));
            }
            o.max_retries = n;
        }
        let secs = |key: &str, v: Option<f64>, into: &mut std::time::Duration| {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                    return Err(format!(
                        "[storage] {key} = {v}: seconds, more than 0 and at most 86400"
                    ));
                }
                *into = std::time::Duration::from_secs_f64(v);
            }
            Ok(())
        };
        secs(
            "retry_timeout_s",
            self.retry_timeout_s,
            &mut o.retry_timeout,
        )?;
        secs(
            "request_timeout_s",
            self.request_timeout_s,
            &mut o.request_timeout,
        )?;
        secs(
            "connect_timeout_s",
            self.connect_timeout_s,
            &mut o.connect_timeout,
        )?;
        Ok(o)
    }
}

/// `[engine]`: how much memory the SQL stages (attribution, drift events,
/// agent profiles, correlations) may hold before they spill to disk, and
/// from what size a sessrec shard is streamed rather than held.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// The memory pool of DataFusion's operators: bytes, or a size such as
    /// `"512MiB"`, `"2GiB"`, `"1.5G"`. Absent: no limit.
    pub memory_limit: Option<toml::Value>,
    /// Where spill files go (a local directory, created if missing).
    /// Absent: the OS temporary directory.
    pub spill_dir: Option<String>,
    /// sessrec shards of at least this many bytes (object size, or the size
    /// of a gzip/zstd shard's text, found while decoding it) are read in two
    /// streamed passes instead of being held whole: bytes or a size such as
    /// `"64MiB"`; 0 streams every shard. Absent: [`STREAM_SHARDS_FROM`].
    pub stream_shards_from: Option<toml::Value>,
}

/// The default `[engine] stream_shards_from`: shards from 64 MiB on are
/// read in two streamed passes.
pub const STREAM_SHARDS_FROM: u64 = 64 << 20;

/// A size key's value: bytes, or a size such as `"512MiB"`.
fn size_value(key: &str, v: &toml::Value) -> Result<usize, String> {
    match v {
        toml::Value::Integer(n) => {
            usize::try_from(*n).map_err(|_| format!("[engine] {key} = {n}: not a size"))
        }
        toml::Value::String(s) => parse_size(s).map_err(|e| format!("[engine] {key}: {e}")),
        v => Err(format!(
            "[engine] {key} = {v}: bytes or a size such as \"512MiB\""
        )),
    }
}

/// The smallest memory limit accepted: below it no stage can run.
pub const MIN_MEMORY_LIMIT: usize = 16 << 20;

impl EngineSection {
    /// The validated options.
    ///
    /// # Errors
    /// A message naming the key when a value is malformed or out of range.
    pub fn plan(&self) -> Result<crate::engine::context::EngineOptions, String> {
        let memory_limit = self
            .memory_limit
            .as_ref()
            .map(|v| size_value("memory_limit", v))
            .transpose()?;
        if let Some(n) = memory_limit {
            check_memory_limit(n).map_err(|e| format!("[engine] memory_limit: {e}"))?;
        }
        let spill_dir = match &self.spill_dir {
            None => None,
            Some(d) if d.trim().is_empty() => return Err("[engine] spill_dir is empty".into()),
            Some(d) if d.contains("://") => {
                return Err(format!(
                    "[engine] spill_dir = {d:?}: a local directory, not a URL"
                ))
            }
            Some(d) => Some(PathBuf::from(d)),
        };
        Ok(crate::engine::context::EngineOptions {
            memory_limit,
            spill_dir,
        })
    }

    /// The validated `stream_shards_from`.
    ///
    /// # Errors
    /// A message naming the key when the value is not a size.
    pub fn stream_shards_from(&self) -> Result<u64, String> {
        match &self.stream_shards_from {
            None => Ok(STREAM_SHARDS_FROM),
            Some(v) => Ok(size_value("stream_shards_from", v)? as u64),
        }
    }
}

/// A memory limit of at least [`MIN_MEMORY_LIMIT`].
///
/// # Errors
/// The message says the minimum.
pub fn check_memory_limit(bytes: usize) -> Result<(), String> {
    if bytes < MIN_MEMORY_LIMIT {
        return Err(format!(
            "{bytes} bytes is below the minimum of {} MiB",
            MIN_MEMORY_LIMIT >> 20
        ));
    }
    Ok(())
}

/// A byte size: a number with an optional unit, `B`, `K`/`KB`/`KiB`,
/// `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB` (case-insensitive;
/// every unit is binary, as memory is counted: `1G` = `1GiB`).
///
/// # Errors
/// The message quotes the text and says what is accepted.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad =
        || format!("{text:?} is not a size (bytes, or a number with B, KiB, MiB, GiB or TiB)");
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    #[allow(clippy::cast_precision_loss)]
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > usize::MAX as f64 / 2.0 {
        return Err(bad());
    }
    // Whole bytes: a fraction of a byte is rounded down.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as usize)
}

/// One source of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// Which decoder reads it.
    pub kind: InputKind,
    /// The URL or path, as written (resolved when opened).
    pub url: String,
    /// OTLP only: the signal of its length-prefixed protobuf files.
    pub signal: Option<crate::telemetry::model::Signal>,
}

/// A validated job: what `run` executes.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// Job name.
    pub name: String,
    /// Lake URL or path.
    pub lake: String,
    /// `[lake] max_rows_per_file`, at least 1.
    pub max_rows_per_file: usize,
    /// `[engine] stream_shards_from`: sessrec shards of at least this many
    /// bytes are read in two streamed passes.
    pub stream_shards_from: u64,
    /// Sources in job-file order (sessrec, session_logs, asciicast).
    pub sources: Vec<SourceSpec>,
    /// Run the sessions stage.
    pub sessions: bool,
    /// Run the attribution stage.
    pub attribution: bool,
    /// The attribution stage's thresholds (validated).
    pub attribution_thresholds: AttributionThresholds,
    /// Run the agent monitor stage (when there are agent sources).
    pub agents: bool,
    /// The agent monitor's settings (validated).
    pub agent_settings: AgentSettings,
    /// Run the drift events stage.
    pub drift_events: bool,
    /// Run the telemetry stage (when there are OTLP or spec sources).
    pub telemetry: bool,
    /// The correlation rule weights: the spec's, with the job's
    /// `[correlation]` overrides applied (validated).
    pub correlation_weights: crate::telemetry::correlate::CorrelationWeights,
    /// What the CLI writes from the lake after the run (validated
    /// `[output]`).
    pub outputs: Outputs,
    /// Cloud store retries and timeouts (`[storage]`, validated).
    pub storage: crate::source::StorageOptions,
    /// The query engine's memory limit and spill directory (`[engine]`).
    pub engine: crate::engine::context::EngineOptions,
}

/// A job's validated `[output]`: written after a committed run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// The HTML report and its Markdown twin.
    pub report: Option<ReportOutput>,
    /// One Parquet file per trend family.
    pub trends: Option<TrendsOutput>,
    /// The gate's verdict as JSON.
    pub gate: Option<GateOutput>,
    /// The days they cover.
    pub window: OutputWindow,
}

impl Outputs {
    /// True when the job writes no output.
    pub fn is_empty(&self) -> bool {
        self.report.is_none() && self.trends.is_none() && self.gate.is_none()
    }
}

/// `[output] report` (and `markdown`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOutput {
    /// The HTML page.
    pub html: PathBuf,
    /// The Markdown twin.
    pub markdown: PathBuf,
}

/// `[output] trends` (and `interval`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrendsOutput {
    /// The directory (created when missing).
    pub dir: PathBuf,
    /// Bucket size.
    pub interval: Interval,
}

/// `[output] gate` (and `gate_mode`, `gate_max_medium`).
#[derive(Clone, Debug, PartialEq)]
pub struct GateOutput {
    /// The JSON file.
    pub path: PathBuf,
    /// How it judges.
    pub mode: GateMode,
    /// Medium node rows `fail` allows.
    pub max_medium: usize,
}

/// `[output.window]`, validated: `from` and `days` never both set, and
/// `from <= to` when both are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputWindow {
    /// First UTC day.
    pub from: Option<NaiveDate>,
    /// Last UTC day.
    pub to: Option<NaiveDate>,
    /// Days ending at `to` (or the newest day with data).
    pub days: Option<NonZeroU32>,
}

impl OutputWindow {
    /// True when no key was given: each output takes its command's default.
    pub fn is_default(&self) -> bool {
        *self == OutputWindow::default()
    }
}

/// Command-line overrides of a job (STYLE §1: the job says what, flags say
/// how, but every source and the lake can be pointed elsewhere).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--source kind=url`, repeatable: replaces the job's sources of each
    /// kind named.
    pub sources: Vec<(InputKind, String)>,
    /// `--lake url`.
    pub lake: Option<String>,
}

impl JobSpec {
    /// Parse a job file's text. `path` only labels errors.
    ///
    /// # Errors
    /// [`JobError::Parse`] naming the line, column and key.
    pub fn parse(text: &str, path: &str) -> Result<Self, JobError> {
        toml::from_str(text).map_err(|e| {
            let start = e.span().map(|s| s.start);
            let (line, column) = start.map_or((1, 1), |s| line_col(text, s));
            // toml names an unknown key but not the key of a bad value.
            let message = match start.and_then(|s| key_at(text, s)) {
                Some(key) => format!("{key}: {}", e.message()),
                None => e.message().to_string(),
            };
            JobError::Parse {
                path: path.to_string(),
                line,
                column,
                message,
            }
        })
    }

    /// Read and parse a job file.
    ///
    /// # Errors
    /// [`JobError::Read`] or [`JobError::Parse`].
    pub fn load(path: &std::path::Path) -> Result<Self, JobError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Validate into a plan, applying overrides.
    ///
    /// # Errors
    /// [`JobError::Invalid`] for a bad name, an empty or malformed URL, a
    /// job that has nothing to read or nothing to do, out-of-range
    /// `[attribution]` thresholds, or an `[output]` that does not add up.
    pub fn plan(&self, path: &str, ov: &Overrides) -> Result<JobPlan, JobError> {
        let invalid = |message: String| JobError::Invalid {
            path: path.to_string(),
            message,
        };
        let name = self.job.name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid(format!(
                "[job] name {name:?} must be non-empty [A-Za-z0-9_-]"
            )));
        }
        let lake = ov.lake.clone().unwrap_or_else(|| self.lake.url.clone());
        check_url(&lake).map_err(|m| invalid(format!("lake url: {m}")))?;
        let mut sources = Vec::new();
        let mut otlp = Vec::new();
        for o in &self.sources.otlp {
            otlp.push(match o {
                OtlpSource::Url(u) => (u.clone(), None),
                OtlpSource::Table { url, signal } => {
                    let s = Signal::parse(signal).ok_or_else(|| {
                        invalid(format!(
                            "otlp source {}: signal {signal:?} is not traces, logs or metrics",
                            crate::source::redact(url)
                        ))
                    })?;
                    (url.clone(), Some(s))
                }
            });
        }
        let plain = |v: &Vec<String>| v.iter().map(|u| (u.clone(), None)).collect::<Vec<_>>();
        for (kind, urls) in [
            (InputKind::Sessrec, plain(&self.sources.sessrec)),
            (InputKind::SessionLog, plain(&self.sources.session_logs)),
            (InputKind::Asciicast, plain(&self.sources.asciicast)),
            (InputKind::AgentEvents, plain(&self.sources.agents)),
            (InputKind::Otlp, otlp),
            (InputKind::Spec, plain(&self.sources.specs)),
        ] {
            let over: Vec<(String, Option<Signal>)> = ov
                .sources
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, u)| split_signal(kind, u))
                .collect::<Result<_, _>>()
                .map_err(|m| invalid(format!("--source {}: {m}", kind.job_key())))?;
            let chosen = if over.is_empty() { urls } else { over };
            for (url, signal) in chosen {
                check_url(&url).map_err(|m| invalid(format!("{} source: {m}", kind.job_key())))?;
                sources.push(SourceSpec { kind, url, signal });
            }
        }
        let has = |k: &dyn Fn(InputKind) -> bool| sources.iter().any(|s| k(s.kind));
        let session_sources = has(&|k| matches!(k, InputKind::Sessrec | InputKind::Asciicast));
        let agent_sources = has(&|k| k == InputKind::AgentEvents);
        let telemetry_sources = has(&|k| matches!(k, InputKind::Otlp | InputKind::Spec));
        // A job without sources reads nothing, so its stages are off unless
        // named: a report job must not recompute the derived tables with
        // its own (default) thresholds behind the job that fills the lake.
        let stage = |named: Option<bool>| named.unwrap_or(!sources.is_empty());
        let st = &self.stages;
        let (sessions, attribution, drift_events) = (
            stage(st.sessions),
            stage(st.attribution),
            stage(st.drift_events),
        );
        let agents = stage(st.agents) && agent_sources;
        let telemetry = stage(st.telemetry) && telemetry_sources;
        let has_work = session_sources || agents || telemetry;
        if sessions && !has_work {
            return Err(invalid(
                "the job has nothing to read: no sessrec, asciicast, agents or otlp source ([sources] or --source)"
                    .into(),
            ));
        }
        if telemetry && has(&|k| k == InputKind::Otlp) && !has(&|k| k == InputKind::Spec) {
            return Err(invalid(
                "the telemetry stage has otlp sources but no specs source to correlate them with ([sources] specs or --source specs=URL)"
                    .into(),
            ));
        }
        let outputs = self.output.plan().map_err(invalid)?;
        if !(sessions || attribution || agents || drift_events || telemetry) && outputs.is_empty() {
            return Err(invalid(
                "the job does nothing: no sources ([sources] or --source), no [stages] turned on and no [output]"
                    .into(),
            ));
        }
        let mut weights = crate::telemetry::correlate::CorrelationWeights::default();
        for (k, v) in &self.correlation {
            weights
                .set(k, *v)
                .map_err(|e| invalid(format!("[correlation] {e}")))?;
        }
        self.agents
            .validate()
            .map_err(|e| invalid(format!("[agents] {e}")))?;
        self.attribution
            .validate()
            .map_err(|e| invalid(format!("[attribution] {e}")))?;
        let max_rows_per_file = match self.lake.max_rows_per_file {
            None => crate::sink::FILE_ROWS,
            Some(n) => usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
                invalid(format!(
                    "[lake] max_rows_per_file = {n}: a number of rows, at least 1"
                ))
            })?,
        };
        Ok(JobPlan {
            name: name.to_string(),
            lake,
            max_rows_per_file,
            stream_shards_from: self.engine.stream_shards_from().map_err(invalid)?,
            sources,
            sessions,
            attribution,
            attribution_thresholds: self.attribution.clone(),
            agents,
            agent_settings: self.agents.clone(),
            drift_events,
            telemetry,
            correlation_weights: weights,
            outputs,
            storage: self.storage.plan().map_err(invalid)?,
            engine: self.engine.plan().map_err(invalid)?,
        })
    }
}

impl OutputSection {
    /// Validate into [`Outputs`] (no I/O: paths are only shape-checked).
    ///
    /// # Errors
    /// A message naming the `[output]` key that is wrong.
    fn plan(&self) -> Result<Outputs, String> {
        let path = |key: &str, v: &Option<String>| -> Result<Option<PathBuf>, String> {
            let Some(v) = v else { return Ok(None) };
            if v.trim().is_empty() {
                return Err(format!("[output] {key} is empty"));
            }
            if v.contains("://") {
                return Err(format!(
                    "[output] {key} = {v:?}: outputs are local files (as `driftlake report --out`), not URLs"
                ));
            }
            Ok(Some(PathBuf::from(v)))
        };
        let needs = |key: &str, set: bool, what: &str| -> Result<(), String> {
            if set {
                Err(format!("[output] {key} needs {what}"))
            } else {
                Ok(())
            }
        };
        let (html, md) = (
            path("report", &self.report)?,
            path("markdown", &self.markdown)?,
        );
        let (trends, gate) = (path("trends", &self.trends)?, path("gate", &self.gate)?);
        needs(
            "markdown",
            md.is_some() && html.is_none(),
            "report (it is the report's Markdown twin)",
        )?;
        needs(
            "interval",
            self.interval.is_some() && trends.is_none(),
            "trends",
        )?;
        needs(
            "gate_mode",
            self.gate_mode.is_some() && gate.is_none(),
            "gate",
        )?;
        needs(
            "gate_max_medium",
            self.gate_max_medium.is_some() && gate.is_none(),
            "gate",
        )?;
        let report = html.map(|html| {
            let markdown = md.unwrap_or_else(|| html.with_extension("md"));
            ReportOutput { html, markdown }
        });
        // One file must not overwrite another.
        let mut files: Vec<(&str, &PathBuf)> = Vec::new();
        if let Some(r) = &report {
            files.push(("report", &r.html));
            files.push(("markdown", &r.markdown));
        }
        if let Some(g) = &gate {
            files.push(("gate", g));
        }
        for (i, (a, pa)) in files.iter().enumerate() {
            if let Some((b, _)) = files[i + 1..].iter().find(|(_, pb)| pb == pa) {
                return Err(format!(
                    "[output] {a} and {b} are the same file {} (set markdown when report does not end in .html)",
                    pa.display()
                ));
            }
        }
        let w = &self.window;
        if w.from.is_some() && w.days.is_some() {
            return Err("[output.window] give from or days, not both".into());
        }
        if let (Some(f), Some(t)) = (w.from, w.to) {
            if f > t {
                return Err(format!("[output.window] from {f} is after to {t}"));
            }
        }
        let outputs = Outputs {
            report,
            trends: trends.map(|dir| TrendsOutput {
                dir,
                interval: self.interval.unwrap_or_default(),
            }),
            gate: gate.map(|path| GateOutput {
                path,
                mode: self.gate_mode.unwrap_or_default(),
                max_medium: self
                    .gate_max_medium
                    .unwrap_or(crate::drift::gate::DEFAULT_MAX_MEDIUM),
            }),
            window: OutputWindow {
                from: w.from,
                to: w.to,
                days: w.days,
            },
        };
        needs(
            "window",
            outputs.is_empty() && !outputs.window.is_default(),
            "an output to cover (report, trends or gate)",
        )?;
        Ok(outputs)
    }
}

/// Parse a `--source kind=url` flag.
///
/// # Errors
/// A message naming the accepted kinds.
pub fn parse_source_flag(s: &str) -> Result<(InputKind, String), String> {
    let (k, url) = s
        .split_once('=')
        .ok_or_else(|| format!("expected kind=url, got {s:?}"))?;
    // `otlp:traces=URL` names the signal of length-prefixed protobuf.
    let (k, sig) = match k.split_once(':') {
        Some((k, sig)) => (k, Some(sig)),
        None => (k, None),
    };
    let kind = InputKind::from_job_key(k.trim()).ok_or_else(|| {
        format!("unknown source kind {k:?} (sessrec, session_logs, asciicast, agents, otlp, specs)")
    })?;
    if let Some(sig) = sig {
        if kind != InputKind::Otlp {
            return Err(format!("only otlp sources take a signal, got {k}:{sig}"));
        }
        if Signal::parse(sig.trim()).is_none() {
            return Err(format!("signal {sig:?} is not traces, logs or metrics"));
        }
        return Ok((kind, format!("{}#signal={}", url.trim(), sig.trim())));
    }
    if url.trim().is_empty() {
        return Err("empty url".into());
    }
    Ok((kind, url.trim().to_string()))
}

/// Undo the `#signal=` marker [`parse_source_flag`] puts on an otlp URL.
fn split_signal(kind: InputKind, u: &str) -> Result<(String, Option<Signal>), String> {
    match u.rsplit_once("#signal=") {
        Some((url, sig)) if kind == InputKind::Otlp => {
            let s = Signal::parse(sig)
                .ok_or_else(|| format!("signal {sig:?} is not traces, logs or metrics"))?;
            Ok((url.to_string(), Some(s)))
        }
        _ => Ok((u.to_string(), None)),
    }
}

/// Shape-check a URL without I/O.
fn check_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("empty".into());
    }
    if url.contains("://") {
        let u =
            ::url::Url::parse(url).map_err(|e| format!("{} ({e})", crate::source::redact(url)))?;
        if !matches!(
            u.scheme(),
            "file" | "memory" | "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss"
        ) {
            return Err(format!("unsupported scheme {:?}", u.scheme()));
        }
    }
    Ok(())
}

/// The key at byte `offset` of a job file, as `[section] key` (or
/// `[section]` on a table header), to name it in a parse error. `None`
/// when the line is not a plain `key = value` or header line (inside a
/// multi-line array, say): better no key than a wrong one.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |n| n + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |n| offset + n);
    let line = text[start..end].trim();
    if let Some(h) = header(line) {
        return Some(format!("[{h}]"));
    }
    let key = line.split_once('=')?.0.trim();
    if !is_bare_key(key) {
        return None;
    }
    match text[..start].lines().rev().find_map(|l| header(l.trim())) {
        Some(section) => Some(format!("[{section}] {key}")),
        None => Some(key.to_string()),
    }
}

/// The name of a `[table]` header line.
fn header(line: &str) -> Option<&str> {
    let name = line.strip_prefix('[')?.split(']').next()?.trim();
    is_bare_key(name).then_some(name)
}

/// A (dotted) bare TOML key: `[A-Za-z0-9_.-]+`.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[job]
name = "demo"
[lake]
url = "./lake"
[sources]
sessrec = ["fixtures/demo/artifacts"]
session_logs = ["fixtures/demo/logs"]
[stages]
sessions = true
attribution = false
"#;

    #[test]
    fn parse_and_plan_a_job() {
        let spec = JobSpec::parse(GOOD, "demo.toml").unwrap();
        let plan = spec.plan("demo.toml", &Overrides::default()).unwrap();
        assert_eq!(plan.name, "demo");
        assert_eq!(plan.lake, "./lake");
        assert_eq!(
            plan.sources,
            vec![
                SourceSpec {
                    kind: InputKind::Sessrec,
                    url: "fixtures/demo/artifacts".into(),
                    signal: None,
                },
                SourceSpec {
                    kind: InputKind::SessionLog,
                    url: "fixtures/demo/logs".into(),
                    signal: None,
                },
            ]
        );
        assert!(plan.sessions && !plan.attribution);
        assert_eq!(
            plan.attribution_thresholds,
            AttributionThresholds::default()
        );
    }

    #[test]
    fn correlation_section_overrides_weights_or_names_the_bad_key() {
        let text = format!("{GOOD}[correlation]\nCOR-101 = 0.5\ncor_004 = 0.1\n");
        let plan = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap();
        assert_eq!(plan.correlation_weights.get("COR-101"), Some(0.5));
        assert_eq!(plan.correlation_weights.get("COR-004"), Some(0.1));
        // Keys not given keep the spec's weights.
        assert_eq!(plan.correlation_weights.get("COR-001"), Some(0.95));
        for bad in ["COR-999 = 0.5", "COR-101 = 1.5"] {
            let text = format!("{GOOD}[correlation]\n{bad}\n");
            let err = JobSpec::parse(&text, "x")
                .unwrap()
                .plan("x", &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("[correlation]"), "{err}");
        }
    }

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        for (text, bytes) in [
            ("1048576", 1usize << 20),
            ("512MiB", 512 << 20),
            ("512 mb", 512 << 20),
            ("2G", 2 << 30),
            ("1.5GiB", 3 << 29),
            ("64k", 64 << 10),
            ("1TiB", 1 << 40),
            ("100B", 100),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "MiB", "-1GiB", "1.2.3G", "12 parsecs", "1e9", "NaN"] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.contains("is not a size"), "{bad}: {err}");
        }
    }

    #[test]
    fn engine_section_sets_the_memory_limit_and_spill_dir_or_names_the_bad_key() {
        let plan = |body: &str| {
            JobSpec::parse(&format!("{GOOD}[engine]\n{body}\n"), "x")
                .map_err(|e| e.to_string())?
                .plan("x", &Overrides::default())
                .map_err(|e| e.to_string())
        };
        let p = plan("memory_limit = \"2GiB\"\nspill_dir = \"/var/tmp/dl\"").unwrap();
        assert_eq!(p.engine.memory_limit, Some(2 << 30));
        assert_eq!(p.engine.spill_dir, Some(PathBuf::from("/var/tmp/dl")));
        assert_eq!(
            plan("memory_limit = 67108864").unwrap().engine.memory_limit,
            Some(64 << 20)
        );
        assert_eq!(plan("").unwrap().engine, Default::default());
        for (bad, names) in [
            ("memory_limit = \"1MiB\"", "below the minimum of 16 MiB"),
            ("memory_limit = \"lots\"", "[engine] memory_limit"),
            ("memory_limit = -5", "[engine] memory_limit"),
            ("memory_limit = 1.5", "[engine] memory_limit"),
            ("spill_dir = \"s3://b/tmp\"", "[engine] spill_dir"),
            ("spill_dir = \" \"", "[engine] spill_dir is empty"),
            ("memory = 5", "memory"),
            (
                "stream_shards_from = \"big\"",
                "[engine] stream_shards_from",
            ),
            ("stream_shards_from = -1", "[engine] stream_shards_from"),
            ("stream_shards_from = true", "[engine] stream_shards_from"),
        ] {
            let err = plan(bad).unwrap_err();
            assert!(err.contains(names), "{bad}: {err}");
        }
        assert_eq!(plan("").unwrap().stream_shards_from, STREAM_SHARDS_FROM);
        let from = |body: &str| plan(body).unwrap().stream_shards_from;
        assert_eq!(from("stream_shards_from = \"1GiB\""), 1 << 30);
        assert_eq!(from("stream_shards_from = 0"), 0);
    }

    #[test]
    fn lake_section_sets_the_rows_per_file_or_names_the_bad_value() {
        let plan = |rows: &str| {
            let text = GOOD.replace("url = \"./lake\"", &format!("url = \"./lake\"\n{rows}"));
            JobSpec::parse(&text, "x")
                .map_err(|e| e.to_string())?
                .plan("x", &Overrides::default())
                .map_err(|e| e.to_string())
        };
        assert_eq!(plan("").unwrap().max_rows_per_file, crate::sink::FILE_ROWS);
        assert_eq!(
            plan("max_rows_per_file = 250000")
                .unwrap()
                .max_rows_per_file,
            250_000
        );
        for bad in ["max_rows_per_file = 0", "max_rows_per_file = -3"] {
            let err = plan(bad).unwrap_err();
            assert!(err.contains("[lake] max_rows_per_file"), "{bad}: {err}");
        }
        let err = plan("max_rows_per_file = \"many\"").unwrap_err();
        assert!(err.contains("max_rows_per_file"), "{err}");
    }

    #[test]
    fn storage_section_sets_retries_and_timeouts_or_names_the_bad_key() {
        let plan = |body: &str| {
            JobSpec::parse(&format!("{GOOD}[storage]\n{body}\n"), "x")
                .map_err(|e| e.to_string())?
                .plan("x", &Overrides::default())
                .map_err(|e| e.to_string())
        };
        let p = plan("max_retries = 3\nrequest_timeout_s = 2.5").unwrap();
        assert_eq!(p.storage.max_retries, 3);
        assert_eq!(
            p.storage.request_timeout,
            std::time::Duration::from_millis(2500)
        );
        // Keys not given keep object_store's defaults.
        let d = crate::source::StorageOptions::default();
        assert_eq!(
            (p.storage.retry_timeout, p.storage.connect_timeout),
            (d.retry_timeout, d.connect_timeout)
        );
        assert_eq!(plan("").unwrap().storage, d);
        for (bad, names) in [
            ("max_retries = 1000", "[storage] max_retries"),
            ("request_timeout_s = 0", "[storage] request_timeout_s"),
            ("retry_timeout_s = -1", "[storage] retry_timeout_s"),
            ("max_retries = -1", "max_retries"),
            ("retries = 3", "retries"),
        ] {
            let err = plan(bad).unwrap_err();
            assert!(err.contains(names), "{bad}: {err}");
        }
    }

    #[test]
    fn attribution_section_overrides_thresholds() {
        let text =
            format!("{GOOD}[attribution]\nmin_observations_for_state = 2\nHASH_DRIFT_MAX = 5\n");
        let plan = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap();
        assert_eq!(plan.attribution_thresholds.min_observations_for_state, 2);
        assert_eq!(plan.attribution_thresholds.hash_drift_max, 5);
        // Keys not given keep the reference's values.
        assert_eq!(
            plan.attribution_thresholds.categorical_window_n,
            AttributionThresholds::default().categorical_window_n
        );
    }

    #[test]
    fn attribution_unknown_key_names_key_and_line() {
        let text = format!("{GOOD}[attribution]\nmin_observations_for_state = 2\nmin_obs = 2\n");
        let err = JobSpec::parse(&text, "x.toml").unwrap_err();
        let JobError::Parse { line, message, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 14, "{err}");
        assert!(message.contains("min_obs"), "{message}");
    }

    #[test]
    fn attribution_out_of_range_is_invalid() {
        let text = format!("{GOOD}[attribution]\ncategorical_window_n = 0\n");
        let err = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap_err();
        assert!(matches!(err, JobError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("categorical_window_n"), "{err}");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = GOOD.replace("sessrec = ", "sesrec = ");
        let err = JobSpec::parse(&text, "x.toml").unwrap_err();
        let JobError::Parse { line, message, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 7);
        assert!(message.contains("sesrec"), "{message}");
        assert!(err.to_string().starts_with("x.toml:7:"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key_and_line() {
        let text = GOOD.replace("sessions = true", "sessions = \"yes\"");
        let err = JobSpec::parse(&text, "x").unwrap_err();
        let JobError::Parse { line, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 10);
        let err = err.to_string();
        assert!(
            err.starts_with("x:10:12: [stages] sessions: invalid type"),
            "{err}"
        );
    }

    /// The error of `text` appended to [`GOOD`], which must be a parse
    /// error at `line`; its message.
    fn parse_error_at(text: &str, line: usize) -> String {
        let text = format!("{GOOD}{text}");
        let err = JobSpec::parse(&text, "j.toml").unwrap_err();
        let JobError::Parse { line: got, .. } = &err else {
            panic!("not a parse error: {err}")
        };
        assert_eq!(*got, line, "{err}");
        err.to_string()
    }

    /// The plan error of `text` appended to [`GOOD`].
    fn plan_error(text: &str) -> String {
        let text = format!("{GOOD}{text}");
        let err = JobSpec::parse(&text, "j.toml")
            .unwrap()
            .plan("j.toml", &Overrides::default())
            .unwrap_err();
        assert!(matches!(err, JobError::Invalid { .. }), "{err}");
        err.to_string()
    }

    #[test]
    fn output_section_plans_the_outputs() {
        let text = format!(
            "{GOOD}[output]\nreport = \"r/weekly.html\"\ntrends = \"r/trends\"\ninterval = \"1w\"\n\
             gate = \"r/gate.json\"\ngate_mode = \"fail\"\ngate_max_medium = 2\n\
             [output.window]\ndays = 28\nto = 2026-05-31\n"
        );
        let plan = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap();
        let o = &plan.outputs;
        assert_eq!(
            o.report,
            Some(ReportOutput {
                html: "r/weekly.html".into(),
                markdown: "r/weekly.md".into(),
            })
        );
        assert_eq!(
            o.trends,
            Some(TrendsOutput {
                dir: "r/trends".into(),
                interval: Interval::Week,
            })
        );
        assert_eq!(
            o.gate,
            Some(GateOutput {
                path: "r/gate.json".into(),
                mode: GateMode::Fail,
                max_medium: 2,
            })
        );
        assert_eq!(o.window.days.map(NonZeroU32::get), Some(28));
        assert_eq!(o.window.to, NaiveDate::from_ymd_opt(2026, 5, 31));
        assert_eq!(o.window.from, None);
        // The defaults: markdown beside the report, daily trends, the gate
        // in warn mode with the CLI's limit, each command's own window.
        let text = format!(
            "{GOOD}[output]\nreport = \"a.html\"\nmarkdown = \"b.md\"\ntrends = \"t\"\ngate = \"g.json\"\n"
        );
        let o = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap()
            .outputs;
        assert_eq!(o.report.unwrap().markdown, PathBuf::from("b.md"));
        assert_eq!(o.trends.unwrap().interval, Interval::Day);
        let g = o.gate.unwrap();
        assert_eq!(
            (g.mode, g.max_medium),
            (GateMode::Warn, crate::drift::gate::DEFAULT_MAX_MEDIUM)
        );
        assert!(o.window.is_default());
        // No [output]: nothing to write.
        let plan = JobSpec::parse(GOOD, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap();
        assert!(plan.outputs.is_empty());
    }

    #[test]
    fn output_window_takes_strings_or_toml_dates() {
        let text = format!(
            "{GOOD}[output]\ngate = \"g.json\"\n[output.window]\nfrom = \"2026-05-01\"\nto = 2026-05-07\n"
        );
        let w = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap()
            .outputs
            .window;
        assert_eq!(w.from, NaiveDate::from_ymd_opt(2026, 5, 1));
        assert_eq!(w.to, NaiveDate::from_ymd_opt(2026, 5, 7));
    }

    #[test]
    fn output_parse_errors_name_the_key_and_line() {
        // GOOD ends on line 11; the appended text starts on line 12.
        let err = parse_error_at("[output]\nreport = \"r.html\"\nreprot = \"x\"\n", 14);
        assert!(
            err.starts_with("j.toml:14:1: [output] reprot: unknown field `reprot`"),
            "{err}"
        );
        let err = parse_error_at("[output]\ntrends = \"t\"\ninterval = \"2w\"\n", 14);
        assert!(
            err.starts_with("j.toml:14:12: [output] interval: unknown variant `2w`"),
            "{err}"
        );
        assert!(err.contains("`1h`, `1d`, `1w`"), "{err}");
        let err = parse_error_at("[outptu]\nreport = \"r.html\"\n", 12);
        assert!(
            err.contains("[outptu]") && err.contains("unknown field `outptu`"),
            "{err}"
        );
        let err = parse_error_at("[output]\ngate = \"g\"\ngate_max_medium = \"5\"\n", 14);
        assert!(
            err.contains("j.toml:14:19: [output] gate_max_medium: invalid type: string"),
            "{err}"
        );
        let err = parse_error_at("[output]\ngate = \"g\"\ngate_mode = \"strict\"\n", 14);
        assert!(
            err.contains("[output] gate_mode: unknown variant `strict`"),
            "{err}"
        );
        let err = parse_error_at("[output.window]\ndays = 0\n", 13);
        assert!(
            err.contains("j.toml:13:8: [output.window] days: invalid value"),
            "{err}"
        );
        let err = parse_error_at("[output.window]\nfrom = \"2026-13-01\"\n", 13);
        assert!(
            err.contains(
                "j.toml:13:8: [output.window] from: \"2026-13-01\" is not a YYYY-MM-DD day"
            ),
            "{err}"
        );
        let err = parse_error_at("[output.window]\nto = 2026-05-01T10:00:00Z\n", 13);
        assert!(
            err.contains("[output.window] to: expected a YYYY-MM-DD day"),
            "{err}"
        );
        let err = parse_error_at("[output.window]\nweeks = 4\n", 13);
        assert!(
            err.contains("[output.window] weeks: unknown field `weeks`"),
            "{err}"
        );
    }

    #[test]
    fn output_plan_errors_name_the_key() {
        for (text, want) in [
            ("[output]\nmarkdown = \"r.md\"\n", "[output] markdown needs report"),
            ("[output]\ninterval = \"1w\"\n", "[output] interval needs trends"),
            ("[output]\ngate_mode = \"fail\"\n", "[output] gate_mode needs gate"),
            ("[output]\ngate_max_medium = 1\n", "[output] gate_max_medium needs gate"),
            ("[output.window]\ndays = 7\n", "[output] window needs an output"),
            ("[output]\nreport = \"\"\n", "[output] report is empty"),
            (
                "[output]\ntrends = \"s3://b/trends\"\n",
                "[output] trends = \"s3://b/trends\": outputs are local files",
            ),
            (
                "[output]\nreport = \"r.md\"\n",
                "[output] report and markdown are the same file r.md",
            ),
            (
                "[output]\nreport = \"r.html\"\ngate = \"r.md\"\n",
                "[output] markdown and gate are the same file r.md",
            ),
            (
                "[output]\ngate = \"g\"\n[output.window]\nfrom = \"2026-05-01\"\ndays = 7\n",
                "[output.window] give from or days, not both",
            ),
            (
                "[output]\ngate = \"g\"\n[output.window]\nfrom = \"2026-05-02\"\nto = \"2026-05-01\"\n",
                "[output.window] from 2026-05-02 is after to 2026-05-01",
            ),
        ] {
            let err = plan_error(text);
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn a_job_without_sources_runs_no_stage_unless_named() {
        let head = "[job]\nname = \"weekly\"\n[lake]\nurl = \"s3://b/lake\"\n";
        let plan = |text: &str| {
            JobSpec::parse(text, "w.toml")
                .unwrap()
                .plan("w.toml", &Overrides::default())
        };
        // Outputs only: no stage, the outputs planned.
        let p = plan(&format!("{head}[output]\nreport = \"r.html\"\n")).unwrap();
        assert!(p.sources.is_empty());
        assert!(!(p.sessions || p.attribution || p.agents || p.drift_events || p.telemetry));
        assert!(p.outputs.report.is_some());
        // Named stages that recompute from the lake run.
        let p = plan(&format!(
            "{head}[stages]\nattribution = true\ndrift_events = true\n"
        ))
        .unwrap();
        assert!(p.attribution && p.drift_events && !p.sessions);
        // Nothing at all to do is an error; so is a sessions stage with
        // nothing to read.
        let err = plan(head).unwrap_err().to_string();
        assert!(err.contains("the job does nothing"), "{err}");
        let err = plan(&format!("{head}[stages]\nsessions = true\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing to read"), "{err}");
        // A --source gives the job sources: its stages default on again.
        let ov = Overrides {
            sources: vec![parse_source_flag("sessrec=memory://t/a").unwrap()],
            lake: None,
        };
        let p = JobSpec::parse(head, "w").unwrap().plan("w", &ov).unwrap();
        assert!(p.sessions && p.attribution && p.drift_events);
    }

    #[test]
    fn key_at_names_only_what_it_can_see() {
        let text = "top = 1\n[a.b]\nk = [\n  1,\n  \"x\",\n]\n";
        assert_eq!(key_at(text, 0).as_deref(), Some("top"));
        assert_eq!(key_at(text, 9).as_deref(), Some("[a.b]"));
        assert_eq!(
            key_at(text, text.find("k =").unwrap()).as_deref(),
            Some("[a.b] k")
        );
        // Inside a multi-line array the line has no key: none is named.
        assert_eq!(key_at(text, text.find("\"x\"").unwrap()), None);
        assert_eq!(key_at(text, text.len() + 10), None);
    }

    #[test]
    fn overrides_replace_sources_of_that_kind_and_the_lake() {
        let spec = JobSpec::parse(GOOD, "d").unwrap();
        let ov = Overrides {
            sources: vec![
                parse_source_flag("sessrec=memory://t/a").unwrap(),
                parse_source_flag("sessrec=memory://t/b").unwrap(),
            ],
            lake: Some("memory://t/lake".into()),
        };
        let plan = spec.plan("d", &ov).unwrap();
        assert_eq!(plan.lake, "memory://t/lake");
        let urls: Vec<_> = plan
            .sources
            .iter()
            .map(|s| (s.kind, s.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                (InputKind::Sessrec, "memory://t/a"),
                (InputKind::Sessrec, "memory://t/b"),
                (InputKind::SessionLog, "fixtures/demo/logs")
            ]
        );
    }

    #[test]
    fn agent_sources_settings_and_overrides() {
        let text =
            format!("{GOOD}[agents]\nwindow_secs = 600\nhop_secs = 300\nweight_entropy = 0.5\n");
        let spec = JobSpec::parse(&text, "d").unwrap();
        let plan = spec.plan("d", &Overrides::default()).unwrap();
        assert!(!plan.agents, "no agent source: the stage has nothing to do");
        assert_eq!(plan.agent_settings.windows_per_event(), 2);
        assert_eq!(plan.agent_settings.weight_entropy, 0.5);
        let ov = Overrides {
            sources: vec![parse_source_flag("agents=memory://t/agents").unwrap()],
            lake: None,
        };
        let plan = spec.plan("d", &ov).unwrap();
        assert!(plan.agents);
        assert!(plan.sources.contains(&SourceSpec {
            kind: InputKind::AgentEvents,
            url: "memory://t/agents".into(),
            signal: None,
        }));
        // An agents-only job needs no session source.
        let only =
            "[job]\nname = \"a\"\n[lake]\nurl = \"./lake\"\n[sources]\nagents = [\"./agents\"]\n";
        assert!(
            JobSpec::parse(only, "d")
                .unwrap()
                .plan("d", &Overrides::default())
                .unwrap()
                .agents
        );
        // Bad settings name the section and key; unknown keys name the line.
        let bad = format!("{GOOD}[agents]\nhop_secs = 900\n");
        let err = JobSpec::parse(&bad, "d")
            .unwrap()
            .plan("d", &Overrides::default())
            .unwrap_err();
        assert!(err.to_string().contains("[agents] hop_secs"), "{err}");
        let typo = format!("{GOOD}[agents]\nwindow = 60\n");
        let err = JobSpec::parse(&typo, "d").unwrap_err().to_string();
        assert!(err.contains("window"), "{err}");
    }

    #[test]
    fn invalid_plans_are_rejected() {
        let spec = JobSpec::parse(GOOD, "d").unwrap();
        let bad_lake = Overrides {
            lake: Some("ftp://x/y".into()),
            ..Default::default()
        };
        assert!(matches!(
            spec.plan("d", &bad_lake),
            Err(JobError::Invalid { .. })
        ));
        let no_src = JobSpec::parse(
            &GOOD.replace("sessrec = [\"fixtures/demo/artifacts\"]", ""),
            "d",
        )
        .unwrap();
        assert!(matches!(
            no_src.plan("d", &Overrides::default()),
            Err(JobError::Invalid { .. })
        ));
        let bad_name = JobSpec::parse(&GOOD.replace("\"demo\"", "\"a/b\""), "d").unwrap();
        assert!(bad_name.plan("d", &Overrides::default()).is_err());
        assert!(parse_source_flag("nope=x").is_err());
        assert!(parse_source_flag("sessrec").is_err());
        assert_eq!(
            parse_source_flag("session_logs=a=b").unwrap(),
            (InputKind::SessionLog, "a=b".into())
        );
    }
}
