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
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
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
    #[serde(default)]
    resource_metrics: Option<Vec<ResourceMetrics>>,
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
            metrics: d.resource_metrics.unwrap_or_default(),
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
