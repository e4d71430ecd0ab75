//! One OTLP/JSON record → [`Message`] (spec/telemetry-correlation.md §1).
//!
//! The record is parsed once, straight into the `opentelemetry-proto` prost
//! structs through their serde derives (lowerCamelCase keys, hex ids,
//! 64-bit integers as strings or numbers, integer enums; unknown keys
//! ignored). Dispatch on the top-level key happens in the same pass: a
//! record may hold `resourceSpans`, `resourceLogs` and `resourceMetrics`.
//!
//! Error classes: invalid UTF-8 → `invalid_utf8`; not JSON → `json_syntax`;
//! JSON but not an object → `not_an_object`; an object that does not fit
//! the model (base64 ids, string enums, wrong types) → `otlp_schema`.
//! Details carry positions only: serde's data errors may quote the payload.

use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::Message;
use crate::model::dead_letter::Reason;

/// The three top-level keys; anything else is ignored (§1).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyData {
    #[serde(default)]
    resource_spans: Option<Vec<ResourceSpans>>,
    #[serde(default)]
    resource_logs: Option<Vec<ResourceLogs>>,
    /// Read as a tree first: see [`metrics_from_value`].
    #[serde(default)]
    resource_metrics: Option<serde_json::Value>,
}

/// JSON whitespace (RFC 8259), plus the `\r` of CRLF files.
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A line of JSON whitespace only (or nothing).
pub fn is_blank(raw: &[u8]) -> bool {
    raw.iter().all(|b| is_ws(*b))
}

/// Parse one record.
///
/// # Errors
///
/// The dead-letter reason and a detail without payload text.
pub fn parse(raw: &[u8]) -> Result<Message, (Reason, String)> {
    let text = std::str::from_utf8(raw).map_err(|e| {
        (
            Reason::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    let first = raw.iter().position(|b| !is_ws(*b));
    if first.map(|i| raw[i]) != Some(b'{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => (
                Reason::NotAnObject,
                "valid JSON, but not an object".to_string(),
            ),
            Err(e) => syntax(&e),
        });
    }
    match serde_json::from_str::<AnyData>(text) {
        Ok(d) => Ok(Message {
            spans: d.resource_spans.unwrap_or_default(),
            logs: d.resource_logs.unwrap_or_default(),
            metrics: match d.resource_metrics {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(v) => metrics_from_value(v)?,
            },
        }),
        Err(e) if e.is_data() => {
            // The model stopped at the first misfit; the text may still be
            // broken further on, and broken JSON is `json_syntax`.
            if let Err(s) = serde_json::from_str::<IgnoredAny>(text) {
                return Err(syntax(&s));
            }
            Err((
                Reason::OtlpSchema,
                format!(
                    "does not fit the OTLP/JSON model at line {} column {} \
                     (ids must be hex, enums integers, keys lowerCamelCase)",
                    e.line(),
                    e.column()
                ),
            ))
        }
        Err(e) => Err(syntax(&e)),
    }
}

fn syntax(e: &serde_json::Error) -> (Reason, String) {
    let what = if e.is_eof() {
        "JSON ends early"
    } else {
        "invalid JSON"
    };
    (
        Reason::JsonSyntax,
        format!("{what} at line {} column {}", e.line(), e.column()),
    )
}

/// True when `raw` is one complete JSON value (whitespace around allowed).
pub fn is_complete(raw: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(raw).is_ok()
}

/// True when parsing `raw` as JSON stops at its end, wanting more input.
pub fn ends_early(raw: &[u8]) -> bool {
    matches!(serde_json::from_slice::<IgnoredAny>(raw), Err(e) if e.is_eof())
}

/// The metric kinds and their key in OTLP/JSON.
const METRIC_KINDS: [&str; 5] = [
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "summary",
];

/// `resourceMetrics` through a `serde_json::Value`, patched before the
/// crate's serde derives see it.
///
/// Why: in `opentelemetry-proto` 0.32 the metric data (`Metric.data`) and a
/// point's value (`asDouble`/`asInt`) are `#[serde(flatten)] Option<…>`,
/// and serde turns any error inside a flattened `Option` into `None`: an
/// `asInt` written as a string (what OTLP/JSON prescribes for int64), or an
/// exponential histogram point without `exemplars`/`flags` (its struct has
/// no `serde(default)`), silently vanished. So string `asInt`s become
/// numbers, the missing fields get their proto defaults, and the points
/// decoded are counted against the points written: any still lost makes
/// the record `otlp_schema`, never silence (§1). Costs one tree per metrics
/// record; spans and logs go straight to the structs.
fn metrics_from_value(mut v: serde_json::Value) -> Result<Vec<ResourceMetrics>, (Reason, String)> {
    let mut want = 0usize;
    for rm in v.as_array_mut().into_iter().flatten() {
        let sms = rm.get_mut("scopeMetrics").and_then(|x| x.as_array_mut());
        for sm in sms.into_iter().flatten() {
            let ms = sm.get_mut("metrics").and_then(|x| x.as_array_mut());
            for m in ms.into_iter().flatten() {
                for kind in METRIC_KINDS {
                    let dps = m
                        .get_mut(kind)
                        .and_then(|d| d.get_mut("dataPoints"))
                        .and_then(|x| x.as_array_mut());
                    for p in dps.into_iter().flatten() {
                        want += 1;
                        patch_point(p, kind == "exponentialHistogram");
                    }
                }
            }
        }
    }
    let schema = || {
        (
            Reason::OtlpSchema,
            "resourceMetrics does not fit the OTLP/JSON model".to_string(),
        )
    };
    let rms: Vec<ResourceMetrics> = serde_json::from_value(v).map_err(|_| schema())?;
    let got: usize = rms
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| match &m.data {
            None => 0,
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
        })
        .sum();
    if got != want {
        return Err((
            Reason::OtlpSchema,
            format!(
                "{} of {want} data points do not fit the OTLP/JSON model",
                want.abs_diff(got)
            ),
        ));
    }
    Ok(rms)
}

fn patch_point(p: &mut serde_json::Value, exponential: bool) {
    use serde_json::json;
    let Some(o) = p.as_object_mut() else { return };
    int_from_string(o, "asInt");
    if exponential {
        for (k, d) in [
            ("attributes", json!([])),
            ("startTimeUnixNano", json!(0)),
            ("timeUnixNano", json!(0)),
            ("count", json!(0)),
            ("scale", json!(0)),
            ("zeroCount", json!(0)),
            ("flags", json!(0)),
            ("exemplars", json!([])),
            ("zeroThreshold", json!(0.0)),
        ] {
            o.entry(k).or_insert(d);
        }
        for side in ["positive", "negative"] {
            if let Some(b) = o.get_mut(side).and_then(|b| b.as_object_mut()) {
                b.entry("offset").or_insert(json!(0));
                b.entry("bucketCounts").or_insert(json!([]));
            }
        }
    }
    let xs = o.get_mut("exemplars").and_then(|x| x.as_array_mut());
    for x in xs.into_iter().flatten() {
        if let Some(xo) = x.as_object_mut() {
            int_from_string(xo, "asInt");
            for (k, d) in [
                ("filteredAttributes", json!([])),
                ("timeUnixNano", json!(0)),
                ("spanId", json!("")),
                ("traceId", json!("")),
            ] {
                xo.entry(k).or_insert(d);
            }
        }
    }
}

fn int_from_string(o: &mut serde_json::Map<String, serde_json::Value>, key: &str) {
    if let Some(serde_json::Value::String(s)) = o.get(key) {
        if let Ok(i) = s.parse::<i64>() {
            o.insert(key.to_string(), i.into());
        }
    }
}
