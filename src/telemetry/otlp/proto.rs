//! One OTLP protobuf message → [`Message`] (spec/telemetry-correlation.md
//! §1 `format: proto`).
//!
//! The bytes do not say their signal: it comes from the job's setting, else
//! from the file name ([`signal_from_name`]); the caller dead-letters the
//! message `proto_signal_unknown` when neither gives one.

use opentelemetry_proto::tonic::logs::v1::LogsData;
use opentelemetry_proto::tonic::metrics::v1::MetricsData;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message as _;

use super::Message;
use crate::telemetry::model::Signal;

/// Decode `raw` as the `TracesData`, `LogsData` or `MetricsData` of
/// `signal`.
///
/// # Errors
///
/// A detail naming the signal and prost's reason (field path and wire
/// problem, never payload text).
pub fn decode(raw: &[u8], signal: Signal) -> Result<Message, String> {
    let fail = |e: prost::DecodeError| format!("not a {} message: {e}", name(signal));
    Ok(match signal {
        Signal::Span => Message {
            spans: TracesData::decode(raw).map_err(fail)?.resource_spans,
            ..Message::default()
        },
        Signal::Log => Message {
            logs: LogsData::decode(raw).map_err(fail)?.resource_logs,
            ..Message::default()
        },
        Signal::Metric => Message {
            metrics: MetricsData::decode(raw).map_err(fail)?.resource_metrics,
            ..Message::default()
        },
    })
}

fn name(signal: Signal) -> &'static str {
    match signal {
        Signal::Span => "TracesData",
        Signal::Log => "LogsData",
        Signal::Metric => "MetricsData",
    }
}

/// The signal a file name names (§1): a name token (split on
/// non-alphanumerics, case-insensitive) starting with `trace` or `span`
/// → spans, `log` → logs, `metric` → metrics. Rotated names
/// (`traces-2024-05-01T10-00-00.000-size.pb`) keep their word. `None`
/// when no token, or tokens of two signals, match.
pub fn signal_from_name(file_name: &str) -> Option<Signal> {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let mut found: Option<Signal> = None;
    for tok in base
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        let t = tok.to_ascii_lowercase();
        let s = if t.starts_with("trace") || t.starts_with("span") {
            Signal::Span
        } else if t.starts_with("log") {
            Signal::Log
        } else if t.starts_with("metric") {
            Signal::Metric
        } else {
            continue;
        };
        match found {
            Some(f) if f != s => return None,
            _ => found = Some(s),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_from_name_reads_words_and_rotated_names() {
        assert_eq!(signal_from_name("traces.pb"), Some(Signal::Span));
        assert_eq!(signal_from_name("dir/spans.proto"), Some(Signal::Span));
        assert_eq!(
            signal_from_name("otel-logs-2024-05-01T10-00-00.000-size.pb.zst"),
            Some(Signal::Log)
        );
        assert_eq!(
            signal_from_name("Metrics-2024-05-01T10-00-00.000-time.bin"),
            Some(Signal::Metric)
        );
        assert_eq!(signal_from_name("catalog.pb"), None);
        assert_eq!(signal_from_name("export.pb"), None);
        assert_eq!(signal_from_name("traces-and-logs.pb"), None);
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode(&[0xff, 0xff, 0xff], Signal::Span).is_err());
        assert!(decode(&[], Signal::Log).unwrap().logs.is_empty());
    }
}
