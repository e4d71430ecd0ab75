//! Borrowed views of one decoded OTLP record: what [`super::normalize`]
//! reads.
//!
//! Spans and logs are read through these views whichever way they were
//! decoded: [`super::fastjson`] builds them straight from the record's text
//! (strings borrowed unless they hold escapes, ids kept as their hex
//! text), and [`Batch::from_message`] builds them over the
//! `opentelemetry-proto` structs that serde or prost decoded. Metric points
//! stay those structs (only the protobuf and serde paths decode them).
//!
//! A field absent from the record and the same field at its default are
//! one value here, as they are in the canonical JSON behind `evidence_id`:
//! an absent resource, scope or span status reads as an empty one, an
//! absent attribute value as [`Any::Empty`].

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::Message;

/// Text: borrowed from the record (or from a decoded struct), owned only
/// when the JSON string held escapes.
pub type Text<'a> = Cow<'a, str>;

/// A trace or span id: bytes (protobuf and serde paths) or the hex text of
/// the JSON record, checked to be an even number of hex digits.
#[derive(Clone, Copy, Debug)]
pub enum Id<'a> {
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// Hex digits, either case.
    Hex(&'a str),
}

impl Default for Id<'_> {
    fn default() -> Self {
        Id::Bytes(&[])
    }
}

impl Id<'_> {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Id::Bytes(b) => b.len(),
            Id::Hex(h) => h.len() / 2,
        }
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lowercase hex digits into `out` (which holds at least `2 * len`).
    pub fn hex_into(&self, out: &mut [u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match self {
            Id::Bytes(b) => {
                for (i, x) in b.iter().enumerate() {
                    out[2 * i] = HEX[usize::from(x >> 4)];
                    out[2 * i + 1] = HEX[usize::from(x & 0xf)];
                }
            }
            Id::Hex(h) => {
                for (o, c) in out.iter_mut().zip(h.bytes()) {
                    *o = c.to_ascii_lowercase();
                }
            }
        }
    }

    /// The id's bytes, one at a time.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let n = self.len();
        (0..n).map(move |i| match self {
            Id::Bytes(b) => b[i],
            Id::Hex(h) => {
                let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                let h = h.as_bytes();
                (d(h[2 * i]) << 4) | d(h[2 * i + 1])
            }
        })
    }
}

impl PartialEq for Id<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.bytes().eq(other.bytes())
    }
}

/// An attribute value (`AnyValue`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Any<'a> {
    /// No value (absent, or an `AnyValue` without one).
    #[default]
    Empty,
    /// `stringValue`.
    Str(Text<'a>),
    /// `boolValue`.
    Bool(bool),
    /// `intValue`.
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `arrayValue`.
    Array(Vec<Any<'a>>),
    /// `kvlistValue`.
    Kvlist(Vec<Kv<'a>>),
    /// `bytesValue`.
    Bytes(&'a [u8]),
    /// `stringValueStrindex`.
    Strindex(i32),
}

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Kv<'a> {
    /// The key.
    pub key: Text<'a>,
    /// The value.
    pub value: Any<'a>,
}

/// An instrumentation scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope<'a> {
    /// `name`.
    pub name: Text<'a>,
    /// `version`.
    pub version: Text<'a>,
    /// `attributes`.
    pub attrs: Vec<Kv<'a>>,
}

/// A span event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event<'a> {
    /// `timeUnixNano`.
    pub time: u64,
    /// `name`.
    pub name: Text<'a>,
    /// `attributes`.
    pub attrs: Vec<Kv<'a>>,
    /// `droppedAttributesCount`.
    pub dropped_attrs: u32,
}

/// A span link.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link<'a> {
    /// `traceId`.
    pub trace_id: Id<'a>,
    /// `spanId`.
    pub span_id: Id<'a>,
    /// `traceState`.
    pub trace_state: Text<'a>,
    /// `attributes`.
    pub attrs: Vec<Kv<'a>>,
    /// `droppedAttributesCount`.
    pub dropped_attrs: u32,
    /// `flags`.
    pub flags: u32,
}

/// A span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Span<'a> {
    /// `traceId`.
    pub trace_id: Id<'a>,
    /// `spanId`.
    pub span_id: Id<'a>,
    /// `traceState`.
    pub trace_state: Text<'a>,
    /// `parentSpanId`.
    pub parent_span_id: Id<'a>,
    /// `flags`.
    pub flags: u32,
    /// `name`.
    pub name: Text<'a>,
    /// `kind`.
    pub kind: i32,
    /// `startTimeUnixNano`.
    pub start: u64,
    /// `endTimeUnixNano`.
    pub end: u64,
    /// `attributes`.
    pub attrs: Vec<Kv<'a>>,
    /// `droppedAttributesCount`.
    pub dropped_attrs: u32,
    /// `events`.
    pub events: Vec<Event<'a>>,
    /// `droppedEventsCount`.
    pub dropped_events: u32,
    /// `links`.
    pub links: Vec<Link<'a>>,
    /// `droppedLinksCount`.
    pub dropped_links: u32,
    /// `status.code` (0 when there is no status).
    pub status_code: i32,
    /// `status.message`.
    pub status_message: Text<'a>,
}

/// A log record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log<'a> {
    /// `timeUnixNano`.
    pub time: u64,
    /// `observedTimeUnixNano`.
    pub observed: u64,
    /// `severityNumber`.
    pub severity_number: i32,
    /// `severityText`.
    pub severity_text: Text<'a>,
    /// `body`.
    pub body: Any<'a>,
    /// `attributes`.
    pub attrs: Vec<Kv<'a>>,
    /// `droppedAttributesCount`.
    pub dropped_attrs: u32,
    /// `flags`.
    pub flags: u32,
    /// `traceId`.
    pub trace_id: Id<'a>,
    /// `spanId`.
    pub span_id: Id<'a>,
    /// `eventName`.
    pub event_name: Text<'a>,
}

/// A resource's records, grouped by scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resourced<'a, T> {
    /// The resource's attributes.
    pub resource: Vec<Kv<'a>>,
    /// Each scope with its records.
    pub scopes: Vec<(Scope<'a>, Vec<T>)>,
}

/// Everything one record holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch<'a> {
    /// `resourceSpans`.
    pub spans: Vec<Resourced<'a, Span<'a>>>,
    /// `resourceLogs`.
    pub logs: Vec<Resourced<'a, Log<'a>>>,
    /// `resourceMetrics`, each metric as decoded.
    pub metrics: Vec<Resourced<'a, &'a Metric>>,
}

impl<'a> Batch<'a> {
    /// The view of a message decoded by serde or prost.
    pub fn from_message(m: &'a Message) -> Batch<'a> {
        Batch {
            spans: m
                .spans
                .iter()
                .map(|rs| {
                    resourced(rs.resource.as_ref(), &rs.scope_spans, |ss| {
                        (ss.scope.as_ref(), ss.spans.iter().map(span).collect())
                    })
                })
                .collect(),
            logs: m
                .logs
                .iter()
                .map(|rl| {
                    resourced(rl.resource.as_ref(), &rl.scope_logs, |sl| {
                        (sl.scope.as_ref(), sl.log_records.iter().map(log).collect())
                    })
                })
                .collect(),
            metrics: m
                .metrics
                .iter()
                .map(|rm| {
                    resourced(rm.resource.as_ref(), &rm.scope_metrics, |sm| {
                        (sm.scope.as_ref(), sm.metrics.iter().collect())
                    })
                })
                .collect(),
        }
    }
}

/// A resource's view: its attributes, then each scope `of` gives with its
/// records' views.
fn resourced<'a, S, T>(
    res: Option<&'a Resource>,
    scopes: &'a [S],
    of: impl Fn(&'a S) -> (Option<&'a InstrumentationScope>, Vec<T>),
) -> Resourced<'a, T> {
    Resourced {
        resource: res.map_or_else(Vec::new, |r| kvs(&r.attributes)),
        scopes: scopes
            .iter()
            .map(|x| {
                let (s, records) = of(x);
                (scope(s), records)
            })
            .collect(),
    }
}

/// Views of attributes.
pub fn kvs(kvs: &[KeyValue]) -> Vec<Kv<'_>> {
    kvs.iter()
        .map(|kv| Kv {
            key: Cow::Borrowed(&kv.key),
            value: any(kv.value.as_ref()),
        })
        .collect()
}

/// View of a value.
pub fn any(v: Option<&AnyValue>) -> Any<'_> {
    match v.and_then(|v| v.value.as_ref()) {
        None => Any::Empty,
        Some(Value::StringValue(s)) => Any::Str(Cow::Borrowed(s)),
        Some(Value::BoolValue(b)) => Any::Bool(*b),
        Some(Value::IntValue(i)) => Any::Int(*i),
        Some(Value::DoubleValue(d)) => Any::Double(*d),
        Some(Value::ArrayValue(a)) => Any::Array(a.values.iter().map(|x| any(Some(x))).collect()),
        Some(Value::KvlistValue(l)) => Any::Kvlist(kvs(&l.values)),
        Some(Value::BytesValue(b)) => Any::Bytes(b),
        Some(Value::StringValueStrindex(i)) => Any::Strindex(*i),
    }
}

fn scope(s: Option<&InstrumentationScope>) -> Scope<'_> {
    s.map_or_else(Scope::default, |s| Scope {
        name: Cow::Borrowed(&s.name),
        version: Cow::Borrowed(&s.version),
        attrs: kvs(&s.attributes),
    })
}

fn span(s: &opentelemetry_proto::tonic::trace::v1::Span) -> Span<'_> {
    let (status_code, status_message) = s
        .status
        .as_ref()
        .map_or((0, ""), |st| (st.code, st.message.as_str()));
    Span {
        trace_id: Id::Bytes(&s.trace_id),
        span_id: Id::Bytes(&s.span_id),
        trace_state: Cow::Borrowed(&s.trace_state),
        parent_span_id: Id::Bytes(&s.parent_span_id),
        flags: s.flags,
        name: Cow::Borrowed(&s.name),
        kind: s.kind,
        start: s.start_time_unix_nano,
        end: s.end_time_unix_nano,
        attrs: kvs(&s.attributes),
        dropped_attrs: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| Event {
                time: e.time_unix_nano,
                name: Cow::Borrowed(&e.name),
                attrs: kvs(&e.attributes),
                dropped_attrs: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events: s.dropped_events_count,
        links: s
            .links
            .iter()
            .map(|l| Link {
                trace_id: Id::Bytes(&l.trace_id),
                span_id: Id::Bytes(&l.span_id),
                trace_state: Cow::Borrowed(&l.trace_state),
                attrs: kvs(&l.attributes),
                dropped_attrs: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links: s.dropped_links_count,
        status_code,
        status_message: Cow::Borrowed(status_message),
    }
}

fn log(l: &LogRecord) -> Log<'_> {
    Log {
        time: l.time_unix_nano,
        observed: l.observed_time_unix_nano,
        severity_number: l.severity_number,
        severity_text: Cow::Borrowed(&l.severity_text),
        body: any(l.body.as_ref()),
        attrs: kvs(&l.attributes),
        dropped_attrs: l.dropped_attributes_count,
        flags: l.flags,
        trace_id: Id::Bytes(&l.trace_id),
        span_id: Id::Bytes(&l.span_id),
        event_name: Cow::Borrowed(&l.event_name),
    }
}
