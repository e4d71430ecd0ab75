//! Decoded OTLP messages → `evidence` rows (spec/telemetry-correlation.md
//! §2). Pure.
//!
//! One row per span, log record and metric data point (gauge, sum,
//! histogram, exponential histogram, summary). Rows are appended straight
//! to the day's [`EvidenceBuilder`](crate::telemetry::evidence::EvidenceBuilder)
//! from scratch buffers that live as long as the input: no owned row, no
//! per-row `String` for the common case.
//!
//! # `evidence_id`
//!
//! `ifl:hash:` + sha256 hex of the canonical JSON
//! `{"record":R,"resource":A,"scope":{"name":N,"version":V},"signal":S}`:
//! keys sorted at every level, compact, UTF-8 unescaped (only `"`, `\` and
//! control characters escaped). It is written from the decoded prost
//! message, never from the input text, so JSON and protobuf give the same
//! id. A is the resource's attribute list; R is the record's whole decoded
//! content in OTLP/JSON field names with every field present (defaults
//! included, so an absent field and its default are one record): ids as
//! lowercase hex, 64-bit integers as JSON numbers, enums as integers,
//! doubles in Rust's shortest round-trip form (non-finite as the strings
//! `NaN`, `Infinity`, `-Infinity`), `bytesValue` as hex, an absent span
//! status as `{"code":0,"message":""}`. For a metric point, R is
//! `{"name","point","type","unit"}` with `type` one of `gauge`, `sum`,
//! `histogram`, `exponentialHistogram`, `summary` and `point` the whole
//! data point (exemplars included). The per-resource and per-scope parts
//! are written once and fed to the hash beside each record.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, ExponentialHistogramDataPoint,
    HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};

use super::view::{kvs, Any, Batch, Id, Kv, Log, Scope, Span};
use super::Days;
use crate::telemetry::evidence::EvidenceRec;
use crate::telemetry::model::{CorrelationStatus, Signal, SpanStatus};

/// Longest attribute value kept whole, and longest `sea.*` value accepted:
/// 4 KiB of UTF-8 (§2).
pub const MAX_VALUE_BYTES: usize = 4096;

/// The `sea.*` keys, in spec order: required (0..3), then optional.
const SEA_KEYS: [&str; 5] = [
    "sea.domain",
    "sea.concept",
    "sea.regime_id",
    "sea.flow",
    "sea.policy",
];

type Sea<'m> = [Option<Cow<'m, str>>; 5];

/// Count the rows a message yields and check its ids.
///
/// # Errors
///
/// A detail when an id has the wrong length (the record is `otlp_schema`).
pub fn check(msg: &Batch<'_>) -> Result<usize, String> {
    let mut n = 0usize;
    for (_, spans) in msg.spans.iter().flat_map(|r| &r.scopes) {
        for s in spans {
            id_len("span trace id", &s.trace_id, 16)?;
            id_len("span id", &s.span_id, 8)?;
            id_len("parent span id", &s.parent_span_id, 8)?;
            n += 1;
        }
    }
    for (_, logs) in msg.logs.iter().flat_map(|r| &r.scopes) {
        for l in logs {
            id_len("log trace id", &l.trace_id, 16)?;
            id_len("log span id", &l.span_id, 8)?;
            n += 1;
        }
    }
    for (_, metrics) in msg.metrics.iter().flat_map(|r| &r.scopes) {
        for m in metrics {
            n += match &m.data {
                None => 0,
                Some(metric::Data::Gauge(g)) => g.data_points.len(),
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                Some(metric::Data::Histogram(h)) => h.data_points.len(),
                Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(metric::Data::Summary(s)) => s.data_points.len(),
            };
        }
    }
    Ok(n)
}

fn id_len(what: &str, id: &Id<'_>, want: usize) -> Result<(), String> {
    if id.is_empty() || id.len() == want {
        Ok(())
    } else {
        Err(format!(
            "{what} of {} bytes (want {want}, or none)",
            id.len()
        ))
    }
}

/// The resource's columns and `sea.*` fallbacks.
struct ResInfo<'m> {
    service: Option<Cow<'m, str>>,
    version: Option<Cow<'m, str>>,
    environment: Option<Cow<'m, str>>,
    sea: Sea<'m>,
}

impl<'m> ResInfo<'m> {
    fn new(attrs: &'m [Kv<'m>]) -> Self {
        let find = |k: &str| {
            attrs
                .iter()
                .find(|kv| kv.key == k)
                .and_then(|kv| text(&kv.value))
        };
        ResInfo {
            service: find("service.name"),
            version: find("service.version"),
            environment: find("deployment.environment.name")
                .or_else(|| find("deployment.environment")),
            sea: sea_of(attrs),
        }
    }
}

/// One row's fields that depend on the signal.
struct Base<'m, 'b> {
    signal: Signal,
    trace_id: Option<&'b str>,
    span_id: Option<&'b str>,
    parent_span_id: Option<&'b str>,
    time_ns: u64,
    end_ns: Option<u64>,
    name: Option<&'m str>,
    kind: Option<i32>,
    status: Option<SpanStatus>,
    value: Option<f64>,
    attrs: &'m [Kv<'m>],
}

/// Turns messages into rows; holds the scratch buffers.
#[derive(Debug)]
pub struct Normalizer {
    source: String,
    run_id: String,
    /// Canonical JSON of the current resource's attributes.
    res: String,
    /// Canonical JSON of the current scope.
    scope: String,
    /// Canonical JSON of the current record.
    rec: String,
    /// The `attributes` column of the current record.
    attrs: String,
    /// The `error_reason` of the current record.
    reason: String,
    /// True on a message's first walk, which only gathers every record's
    /// canonical JSON; the second walk appends the rows.
    collecting: bool,
    /// The canonical JSON of the message's records, one after another.
    canon: Vec<u8>,
    /// Where each record's canonical JSON ends in `canon`.
    canon_ends: Vec<usize>,
    /// The records' digests, in walk order.
    digests: Vec<[u8; 32]>,
    /// The next record's index into `digests`.
    next_digest: usize,
    /// Every row's full canonical JSON (tests only).
    #[cfg(test)]
    pub(crate) canon_log: Vec<String>,
}

impl Normalizer {
    /// A normaliser for one input.
    pub fn new(source: &str, run_id: &str) -> Self {
        Normalizer {
            source: source.to_string(),
            run_id: run_id.to_string(),
            res: String::new(),
            scope: String::new(),
            rec: String::new(),
            attrs: String::new(),
            reason: String::new(),
            collecting: false,
            canon: Vec::new(),
            canon_ends: Vec::new(),
            digests: Vec::new(),
            next_digest: 0,
            #[cfg(test)]
            canon_log: Vec::new(),
        }
    }

    /// Append every row of `msg` to `days`.
    ///
    /// Two walks: the first gathers every record's canonical JSON, which
    /// are then hashed together ([`super::sha256x8::digest_many`]); the
    /// second appends the rows with their ids.
    pub(crate) fn message(&mut self, msg: &Batch<'_>, days: &mut Days) {
        self.canon.clear();
        self.canon_ends.clear();
        self.collecting = true;
        self.walk(msg, days);
        self.collecting = false;
        let mut start = 0;
        let msgs: Vec<&[u8]> = self
            .canon_ends
            .iter()
            .map(|&end| {
                let m = &self.canon[start..end];
                start = end;
                m
            })
            .collect();
        self.digests.clear();
        super::sha256x8::digest_many(&msgs, &mut self.digests);
        self.next_digest = 0;
        self.walk(msg, days);
    }

    /// Every record of `msg`, in order, through [`Self::emit`].
    fn walk(&mut self, msg: &Batch<'_>, days: &mut Days) {
        for rs in &msg.spans {
            let res = self.resource(&rs.resource);
            for (scope, spans) in &rs.scopes {
                let sea = self.scope(scope);
                for s in spans {
                    self.span(s, &res, &sea, days);
                }
            }
        }
        for rl in &msg.logs {
            let res = self.resource(&rl.resource);
            for (scope, logs) in &rl.scopes {
                let sea = self.scope(scope);
                for l in logs {
                    self.log(l, &res, &sea, days);
                }
            }
        }
        for rm in &msg.metrics {
            let res = self.resource(&rm.resource);
            for (scope, metrics) in &rm.scopes {
                let sea = self.scope(scope);
                for m in metrics {
                    self.metric(m, &res, &sea, days);
                }
            }
        }
    }

    fn resource<'m>(&mut self, attrs: &'m [Kv<'m>]) -> ResInfo<'m> {
        if self.collecting {
            self.res.clear();
            c_attrs(&mut self.res, attrs);
        }
        ResInfo::new(attrs)
    }

    fn scope<'m>(&mut self, s: &'m Scope<'m>) -> Sea<'m> {
        if self.collecting {
            self.scope.clear();
            self.scope.push_str("{\"name\":");
            push_json_str(&mut self.scope, &s.name);
            self.scope.push_str(",\"version\":");
            push_json_str(&mut self.scope, &s.version);
            self.scope.push('}');
        }
        sea_of(&s.attrs)
    }

    fn span(&mut self, s: &Span<'_>, res: &ResInfo<'_>, sea: &Sea<'_>, days: &mut Days) {
        if self.collecting {
            self.rec.clear();
            c_span(&mut self.rec, s);
        }
        let (mut tb, mut sb, mut pb) = ([0u8; 32], [0u8; 16], [0u8; 16]);
        let status = match s.status_code {
            1 => SpanStatus::Ok,
            2 => SpanStatus::Error,
            _ => SpanStatus::Unset,
        };
        let base = Base {
            signal: Signal::Span,
            trace_id: hex_id(&s.trace_id, &mut tb),
            span_id: hex_id(&s.span_id, &mut sb),
            parent_span_id: hex_id(&s.parent_span_id, &mut pb),
            time_ns: s.start,
            end_ns: (s.end != 0).then_some(s.end),
            name: non_empty(&s.name),
            kind: Some(s.kind),
            status: Some(status),
            value: None,
            attrs: &s.attrs,
        };
        self.emit(&base, res, sea, days);
    }

    fn log(&mut self, l: &Log<'_>, res: &ResInfo<'_>, sea: &Sea<'_>, days: &mut Days) {
        if self.collecting {
            self.rec.clear();
            c_log(&mut self.rec, l);
        }
        let (mut tb, mut sb) = ([0u8; 32], [0u8; 16]);
        let time = if l.time != 0 { l.time } else { l.observed };
        let base = Base {
            signal: Signal::Log,
            trace_id: hex_id(&l.trace_id, &mut tb),
            span_id: hex_id(&l.span_id, &mut sb),
            parent_span_id: None,
            time_ns: time,
            end_ns: None,
            name: non_empty(&l.event_name).or_else(|| non_empty(&l.severity_text)),
            kind: None,
            status: None,
            value: None,
            attrs: &l.attrs,
        };
        self.emit(&base, res, sea, days);
    }

    fn metric(&mut self, m: &Metric, res: &ResInfo<'_>, sea: &Sea<'_>, days: &mut Days) {
        match &m.data {
            None => {}
            Some(metric::Data::Gauge(g)) => {
                for p in &g.data_points {
                    self.point(
                        m,
                        "gauge",
                        |o, a| c_number(o, p, a),
                        p.time_unix_nano,
                        number(p),
                        &p.attributes,
                        res,
                        sea,
                        days,
                    );
                }
            }
            Some(metric::Data::Sum(s)) => {
                for p in &s.data_points {
                    self.point(
                        m,
                        "sum",
                        |o, a| c_number(o, p, a),
                        p.time_unix_nano,
                        number(p),
                        &p.attributes,
                        res,
                        sea,
                        days,
                    );
                }
            }
            Some(metric::Data::Histogram(h)) => {
                for p in &h.data_points {
                    self.point(
                        m,
                        "histogram",
                        |o, a| c_histogram(o, p, a),
                        p.time_unix_nano,
                        p.sum,
                        &p.attributes,
                        res,
                        sea,
                        days,
                    );
                }
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                for p in &h.data_points {
                    self.point(
                        m,
                        "exponentialHistogram",
                        |o, a| c_exp_histogram(o, p, a),
                        p.time_unix_nano,
                        p.sum,
                        &p.attributes,
                        res,
                        sea,
                        days,
                    );
                }
            }
            Some(metric::Data::Summary(s)) => {
                for p in &s.data_points {
                    self.point(
                        m,
                        "summary",
                        |o, a| c_summary(o, p, a),
                        p.time_unix_nano,
                        Some(p.sum),
                        &p.attributes,
                        res,
                        sea,
                        days,
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn point(
        &mut self,
        m: &Metric,
        kind: &str,
        canon_point: impl FnOnce(&mut String, &[Kv<'_>]),
        time_ns: u64,
        value: Option<f64>,
        attributes: &[KeyValue],
        res: &ResInfo<'_>,
        sea: &Sea<'_>,
        days: &mut Days,
    ) {
        let attrs = kvs(attributes);
        if self.collecting {
            self.rec.clear();
            self.rec.push_str("{\"name\":");
            push_json_str(&mut self.rec, &m.name);
            self.rec.push_str(",\"point\":");
            canon_point(&mut self.rec, &attrs);
            self.rec.push_str(",\"type\":\"");
            self.rec.push_str(kind);
            self.rec.push_str("\",\"unit\":");
            push_json_str(&mut self.rec, &m.unit);
            self.rec.push('}');
        }
        let base = Base {
            signal: Signal::Metric,
            trace_id: None,
            span_id: None,
            parent_span_id: None,
            time_ns,
            end_ns: None,
            name: non_empty(&m.name),
            kind: None,
            status: None,
            value,
            attrs: &attrs,
        };
        self.emit(&base, res, sea, days);
    }

    /// Hash, scan attributes, resolve `sea.*`, judge, append.
    fn emit(&mut self, b: &Base<'_, '_>, res: &ResInfo<'_>, scope_sea: &Sea<'_>, days: &mut Days) {
        if self.collecting {
            self.push_canon(b.signal);
            return;
        }
        let id = self.evidence_id();
        let id = std::str::from_utf8(&id).expect("ASCII: prefix and hex digits");
        let (rec_sea, other_too_long, route) = scan(&mut self.attrs, b.attrs);

        // §2: record first, then its scope, then its resource.
        let mut vals: [Option<&str>; 5] = [None; 5];
        let mut too_long = other_too_long;
        for (i, v) in vals.iter_mut().enumerate() {
            let found = rec_sea[i]
                .as_deref()
                .or(scope_sea[i].as_deref())
                .or(res.sea[i].as_deref());
            if found.is_some_and(|s| s.len() > MAX_VALUE_BYTES) {
                too_long = true;
            } else {
                *v = found;
            }
        }
        self.reason.clear();
        let status = if too_long {
            self.reason.push_str("sea attribute too long");
            CorrelationStatus::Failed
        } else if vals[..3].iter().any(Option::is_none) {
            self.reason.push_str("missing required: ");
            let missing = SEA_KEYS[..3]
                .iter()
                .zip(&vals[..3])
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k);
            for (i, k) in missing.enumerate() {
                if i > 0 {
                    self.reason.push_str(", ");
                }
                self.reason.push_str(k);
            }
            CorrelationStatus::Failed
        } else if b.time_ns == 0 {
            self.reason.push_str("missing timestamp");
            CorrelationStatus::Failed
        } else if vals[3].is_none() && vals[4].is_none() {
            self.reason
                .push_str("missing optional: sea.flow, sea.policy");
            CorrelationStatus::Partial
        } else {
            CorrelationStatus::Ok
        };
        let start_us = ns_to_us(b.time_ns);
        let duration_ms = match b.end_ns {
            Some(end) if b.time_ns != 0 => {
                Some((i128::from(end) - i128::from(b.time_ns)) as f64 / 1e6)
            }
            _ => None,
        };
        let rec = EvidenceRec {
            evidence_id: id,
            signal: b.signal,
            trace_id: b.trace_id,
            span_id: b.span_id,
            parent_span_id: b.parent_span_id,
            timestamp_us: start_us,
            end_timestamp_us: b.end_ns.map(ns_to_us),
            duration_ms,
            service: res.service.as_deref(),
            service_version: res.version.as_deref(),
            environment: res.environment.as_deref(),
            name: b.name,
            kind: b.kind,
            status: b.status,
            http_route: route.as_deref(),
            value: b.value,
            context: vals[0],
            concept: vals[1],
            regime_id: vals[2],
            flow: vals[3],
            policy_id: vals[4],
            attributes: &self.attrs,
            correlation_status: status,
            error_reason: (!self.reason.is_empty()).then_some(self.reason.as_str()),
            source: &self.source,
            run_id: &self.run_id,
        };
        days.append(&rec);
    }

    /// Append the canonical JSON of the current record, resource and scope
    /// to `canon` (what its `evidence_id` hashes).
    fn push_canon(&mut self, signal: Signal) {
        let c = &mut self.canon;
        c.extend_from_slice(b"{\"record\":");
        c.extend_from_slice(self.rec.as_bytes());
        c.extend_from_slice(b",\"resource\":");
        c.extend_from_slice(self.res.as_bytes());
        c.extend_from_slice(b",\"scope\":");
        c.extend_from_slice(self.scope.as_bytes());
        c.extend_from_slice(b",\"signal\":\"");
        c.extend_from_slice(signal.as_str().as_bytes());
        c.extend_from_slice(b"\"}");
        self.canon_ends.push(c.len());
        #[cfg(test)]
        self.canon_log.push(format!(
            "{{\"record\":{},\"resource\":{},\"scope\":{},\"signal\":\"{}\"}}",
            self.rec,
            self.res,
            self.scope,
            signal.as_str()
        ));
    }

    /// `ifl:hash:` + sha256 hex of the next record's canonical JSON (its
    /// digest from the first walk).
    fn evidence_id(&mut self) -> [u8; 73] {
        let digest = self
            .digests
            .get(self.next_digest)
            .copied()
            .unwrap_or_default();
        debug_assert!(
            self.next_digest < self.digests.len(),
            "both walks see every record"
        );
        self.next_digest += 1;
        let mut out = [0u8; 73];
        out[..9].copy_from_slice(b"ifl:hash:");
        hex_into(&digest, &mut out[9..]);
        out
    }
}

fn ns_to_us(ns: u64) -> i64 {
    // u64::MAX / 1000 < i64::MAX: never saturates.
    i64::try_from(ns / 1000).unwrap_or(i64::MAX)
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn sea_index(key: &str) -> Option<usize> {
    SEA_KEYS.iter().position(|k| *k == key)
}

/// The first non-empty value of each `sea.*` key in `attrs`.
fn sea_of<'m>(attrs: &'m [Kv<'m>]) -> Sea<'m> {
    let mut sea: Sea<'_> = Default::default();
    for kv in attrs {
        if let Some(i) = sea_index(&kv.key) {
            if sea[i].is_none() {
                sea[i] = text(&kv.value);
            }
        }
    }
    sea
}

/// Write the record's `attributes` column into `out` and pick out its
/// `sea.*` values, whether another `sea.*` value is too long, and
/// `http.route`.
fn scan<'m>(out: &mut String, attrs: &'m [Kv<'m>]) -> (Sea<'m>, bool, Option<Cow<'m, str>>) {
    let mut sea: Sea<'m> = Default::default();
    let mut too_long = false;
    let mut route = None;
    let mut seen: Option<HashSet<&str>> = None;
    out.clear();
    out.push('{');
    let mut first = true;
    for (i, kv) in attrs.iter().enumerate() {
        let key: &str = &kv.key;
        if key.starts_with("sea.") {
            match sea_index(key) {
                Some(j) if sea[j].is_none() => sea[j] = text(&kv.value),
                Some(_) => {}
                None => too_long |= text(&kv.value).is_some_and(|t| t.len() > MAX_VALUE_BYTES),
            }
            continue;
        }
        if key == "http.route" {
            if route.is_none() {
                route = text(&kv.value);
            }
            continue;
        }
        // A repeated key keeps its first value.
        let dup = if attrs.len() <= 32 {
            attrs[..i].iter().any(|p| p.key == key)
        } else {
            !seen
                .get_or_insert_with(|| HashSet::with_capacity(attrs.len()))
                .insert(key)
        };
        if dup {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        push_json_str(out, key);
        out.push(':');
        natural(out, &kv.value);
    }
    out.push('}');
    (sea, too_long, route)
}

/// A value as text: a string as is, anything else as its natural JSON;
/// `None` for an empty string or no value.
fn text<'m>(v: &'m Any<'m>) -> Option<Cow<'m, str>> {
    match v {
        Any::Empty => None,
        Any::Str(s) => non_empty(s).map(Cow::Borrowed),
        _ => {
            let mut s = String::new();
            natural_uncut(&mut s, v);
            Some(Cow::Owned(s))
        }
    }
}

/// An attribute value as natural JSON, long strings cut (module docs).
fn natural(out: &mut String, v: &Any<'_>) {
    natural_with(out, v, true);
}

fn natural_uncut(out: &mut String, v: &Any<'_>) {
    natural_with(out, v, false);
}

fn natural_with(out: &mut String, v: &Any<'_>, cut: bool) {
    match v {
        Any::Empty => out.push_str("null"),
        Any::Str(s) => push_str_value(out, s, cut),
        Any::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Any::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Any::Double(d) => push_f64(out, *d),
        Any::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                natural_with(out, x, cut);
            }
            out.push(']');
        }
        Any::Kvlist(kvs) => {
            out.push('{');
            for (i, kv) in kvs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(out, &kv.key);
                out.push(':');
                natural_with(out, &kv.value, cut);
            }
            out.push('}');
        }
        Any::Bytes(b) => push_str_value(out, &hex::encode(b), cut),
        Any::Strindex(i) => {
            let _ = write!(out, "{i}");
        }
    }
}

/// A JSON string; over [`MAX_VALUE_BYTES`] (and `cut`) its first bytes up
/// to a char boundary, then `…[cut N bytes]`.
fn push_str_value(out: &mut String, s: &str, cut: bool) {
    if !cut || s.len() <= MAX_VALUE_BYTES {
        push_json_str(out, s);
        return;
    }
    let mut keep = MAX_VALUE_BYTES;
    while !s.is_char_boundary(keep) {
        keep -= 1;
    }
    out.push('"');
    escape_into(out, &s[..keep]);
    let _ = write!(out, "…[cut {} bytes]\"", s.len() - keep);
}

/// A quoted JSON string: only `"`, `\` and control characters escaped
/// (serde_json's choice), so UTF-8 stays as is.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    escape_into(out, s);
    out.push('"');
}

fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escape: one pass the compiler vectorises.
    let special = bytes
        .iter()
        .fold(false, |a, &b| a | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !special {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices fall on char boundaries.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

fn push_f64(out: &mut String, d: f64) {
    if d.is_nan() {
        out.push_str("\"NaN\"");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        // Debug is the shortest round-trip form, with an exponent for very
        // large or small magnitudes: always valid JSON.
        let _ = write!(out, "{d:?}");
    }
}

fn push_opt_f64(out: &mut String, d: Option<f64>) {
    match d {
        Some(d) => push_f64(out, d),
        None => out.push_str("null"),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
}

/// An id as lowercase hex in `buf`; `None` when empty (or too long for
/// `buf`, which [`check`] rules out).
fn hex_id<'b, const N: usize>(id: &Id<'_>, buf: &'b mut [u8; N]) -> Option<&'b str> {
    if id.is_empty() || id.len() * 2 > N {
        return None;
    }
    let out = &mut buf[..id.len() * 2];
    id.hex_into(out);
    std::str::from_utf8(out).ok()
}

/// An id as a quoted lowercase hex string.
fn push_id(out: &mut String, id: &Id<'_>) {
    match id {
        Id::Bytes(b) => push_hex(out, b),
        Id::Hex(h) => {
            out.push('"');
            let at = out.len();
            out.push_str(h);
            out[at..].make_ascii_lowercase();
            out.push('"');
        }
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out.push('"');
}

fn push_u64s(out: &mut String, xs: &[u64]) {
    out.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{x}");
    }
    out.push(']');
}

// ---- canonical JSON (keys sorted by hand; a test re-sorts and compares) ----

fn c_any(out: &mut String, v: &Any<'_>) {
    match v {
        Any::Empty => {
            out.push_str("{}");
            return;
        }
        Any::Str(s) => {
            out.push_str("{\"stringValue\":");
            push_json_str(out, s);
        }
        Any::Bool(b) => {
            let _ = write!(out, "{{\"boolValue\":{b}");
        }
        Any::Int(i) => {
            out.push_str("{\"intValue\":");
            push_int(out, *i);
        }
        Any::Double(d) => {
            out.push_str("{\"doubleValue\":");
            push_f64(out, *d);
        }
        Any::Array(a) => {
            out.push_str("{\"arrayValue\":{\"values\":[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                c_any(out, x);
            }
            out.push_str("]}");
        }
        Any::Kvlist(kvs) => {
            out.push_str("{\"kvlistValue\":{\"values\":");
            c_attrs(out, kvs);
            out.push('}');
        }
        Any::Bytes(b) => {
            out.push_str("{\"bytesValue\":");
            push_hex(out, b);
        }
        Any::Strindex(i) => {
            let _ = write!(out, "{{\"stringValueStrindex\":{i}");
        }
    }
    out.push('}');
}

fn c_attrs(out: &mut String, kvs: &[Kv<'_>]) {
    out.push('[');
    for (i, kv) in kvs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        push_json_str(out, &kv.key);
        out.push_str(",\"value\":");
        c_any(out, &kv.value);
        out.push('}');
    }
    out.push(']');
}

/// A decimal integer (what `write!` gives, without the formatter).
fn push_int(o: &mut String, n: impl itoa::Integer) {
    o.push_str(itoa::Buffer::new().format(n));
}

fn c_span(o: &mut String, s: &Span<'_>) {
    o.push_str("{\"attributes\":");
    c_attrs(o, &s.attrs);
    o.push_str(",\"droppedAttributesCount\":");
    push_int(o, s.dropped_attrs);
    o.push_str(",\"droppedEventsCount\":");
    push_int(o, s.dropped_events);
    o.push_str(",\"droppedLinksCount\":");
    push_int(o, s.dropped_links);
    o.push_str(",\"endTimeUnixNano\":");
    push_int(o, s.end);
    o.push_str(",\"events\":[");
    for (i, e) in s.events.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"attributes\":");
        c_attrs(o, &e.attrs);
        o.push_str(",\"droppedAttributesCount\":");
        push_int(o, e.dropped_attrs);
        o.push_str(",\"name\":");
        push_json_str(o, &e.name);
        o.push_str(",\"timeUnixNano\":");
        push_int(o, e.time);
        o.push('}');
    }
    o.push_str("],\"flags\":");
    push_int(o, s.flags);
    o.push_str(",\"kind\":");
    push_int(o, s.kind);
    o.push_str(",\"links\":[");
    for (i, l) in s.links.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"attributes\":");
        c_attrs(o, &l.attrs);
        o.push_str(",\"droppedAttributesCount\":");
        push_int(o, l.dropped_attrs);
        o.push_str(",\"flags\":");
        push_int(o, l.flags);
        o.push_str(",\"spanId\":");
        push_id(o, &l.span_id);
        o.push_str(",\"traceId\":");
        push_id(o, &l.trace_id);
        o.push_str(",\"traceState\":");
        push_json_str(o, &l.trace_state);
        o.push('}');
    }
    o.push_str("],\"name\":");
    push_json_str(o, &s.name);
    o.push_str(",\"parentSpanId\":");
    push_id(o, &s.parent_span_id);
    o.push_str(",\"spanId\":");
    push_id(o, &s.span_id);
    o.push_str(",\"startTimeUnixNano\":");
    push_int(o, s.start);
    o.push_str(",\"status\":{\"code\":");
    push_int(o, s.status_code);
    o.push_str(",\"message\":");
    push_json_str(o, &s.status_message);
    o.push_str("},\"traceId\":");
    push_id(o, &s.trace_id);
    o.push_str(",\"traceState\":");
    push_json_str(o, &s.trace_state);
    o.push('}');
}

fn c_log(o: &mut String, l: &Log<'_>) {
    o.push_str("{\"attributes\":");
    c_attrs(o, &l.attrs);
    o.push_str(",\"body\":");
    c_any(o, &l.body);
    o.push_str(",\"droppedAttributesCount\":");
    push_int(o, l.dropped_attrs);
    o.push_str(",\"eventName\":");
    push_json_str(o, &l.event_name);
    o.push_str(",\"flags\":");
    push_int(o, l.flags);
    o.push_str(",\"observedTimeUnixNano\":");
    push_int(o, l.observed);
    o.push_str(",\"severityNumber\":");
    push_int(o, l.severity_number);
    o.push_str(",\"severityText\":");
    push_json_str(o, &l.severity_text);
    o.push_str(",\"spanId\":");
    push_id(o, &l.span_id);
    o.push_str(",\"timeUnixNano\":");
    push_int(o, l.time);
    o.push_str(",\"traceId\":");
    push_id(o, &l.trace_id);
    o.push('}');
}

fn c_exemplars(o: &mut String, xs: &[Exemplar]) {
    o.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push('{');
        match x.value {
            Some(exemplar::Value::AsDouble(d)) => {
                o.push_str("\"asDouble\":");
                push_f64(o, d);
                o.push(',');
            }
            Some(exemplar::Value::AsInt(n)) => {
                let _ = write!(o, "\"asInt\":{n},");
            }
            None => {}
        }
        o.push_str("\"filteredAttributes\":");
        c_attrs(o, &kvs(&x.filtered_attributes));
        o.push_str(",\"spanId\":");
        push_hex(o, &x.span_id);
        let _ = write!(o, ",\"timeUnixNano\":{},\"traceId\":", x.time_unix_nano);
        push_hex(o, &x.trace_id);
        o.push('}');
    }
    o.push(']');
}

fn c_number(o: &mut String, p: &NumberDataPoint, attrs: &[Kv<'_>]) {
    o.push('{');
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => {
            o.push_str("\"asDouble\":");
            push_f64(o, d);
            o.push(',');
        }
        Some(number_data_point::Value::AsInt(n)) => {
            let _ = write!(o, "\"asInt\":{n},");
        }
        None => {}
    }
    o.push_str("\"attributes\":");
    c_attrs(o, attrs);
    o.push_str(",\"exemplars\":");
    c_exemplars(o, &p.exemplars);
    let _ = write!(
        o,
        ",\"flags\":{},\"startTimeUnixNano\":{},\"timeUnixNano\":{}}}",
        p.flags, p.start_time_unix_nano, p.time_unix_nano
    );
}

fn c_histogram(o: &mut String, p: &HistogramDataPoint, attrs: &[Kv<'_>]) {
    o.push_str("{\"attributes\":");
    c_attrs(o, attrs);
    o.push_str(",\"bucketCounts\":");
    push_u64s(o, &p.bucket_counts);
    let _ = write!(o, ",\"count\":{},\"exemplars\":", p.count);
    c_exemplars(o, &p.exemplars);
    o.push_str(",\"explicitBounds\":[");
    for (i, b) in p.explicit_bounds.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        push_f64(o, *b);
    }
    let _ = write!(o, "],\"flags\":{},\"max\":", p.flags);
    push_opt_f64(o, p.max);
    o.push_str(",\"min\":");
    push_opt_f64(o, p.min);
    let _ = write!(
        o,
        ",\"startTimeUnixNano\":{},\"sum\":",
        p.start_time_unix_nano
    );
    push_opt_f64(o, p.sum);
    let _ = write!(o, ",\"timeUnixNano\":{}}}", p.time_unix_nano);
}

fn c_exp_histogram(o: &mut String, p: &ExponentialHistogramDataPoint, attrs: &[Kv<'_>]) {
    o.push_str("{\"attributes\":");
    c_attrs(o, attrs);
    let _ = write!(o, ",\"count\":{},\"exemplars\":", p.count);
    c_exemplars(o, &p.exemplars);
    let _ = write!(o, ",\"flags\":{},\"max\":", p.flags);
    push_opt_f64(o, p.max);
    o.push_str(",\"min\":");
    push_opt_f64(o, p.min);
    for (key, b) in [
        (",\"negative\":", &p.negative),
        (",\"positive\":", &p.positive),
    ] {
        o.push_str(key);
        match b {
            None => o.push_str("null"),
            Some(b) => {
                o.push_str("{\"bucketCounts\":");
                push_u64s(o, &b.bucket_counts);
                let _ = write!(o, ",\"offset\":{}}}", b.offset);
            }
        }
    }
    let _ = write!(
        o,
        ",\"scale\":{},\"startTimeUnixNano\":{},\"sum\":",
        p.scale, p.start_time_unix_nano
    );
    push_opt_f64(o, p.sum);
    let _ = write!(
        o,
        ",\"timeUnixNano\":{},\"zeroCount\":{},\"zeroThreshold\":",
        p.time_unix_nano, p.zero_count
    );
    push_f64(o, p.zero_threshold);
    o.push('}');
}

fn c_summary(o: &mut String, p: &SummaryDataPoint, attrs: &[Kv<'_>]) {
    o.push_str("{\"attributes\":");
    c_attrs(o, attrs);
    let _ = write!(
        o,
        ",\"count\":{},\"flags\":{},\"quantileValues\":[",
        p.count, p.flags
    );
    for (i, q) in p.quantile_values.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"quantile\":");
        push_f64(o, q.quantile);
        o.push_str(",\"value\":");
        push_f64(o, q.value);
        o.push('}');
    }
    let _ = write!(
        o,
        "],\"startTimeUnixNano\":{},\"sum\":",
        p.start_time_unix_nano
    );
    push_f64(o, p.sum);
    let _ = write!(o, ",\"timeUnixNano\":{}}}", p.time_unix_nano);
}
