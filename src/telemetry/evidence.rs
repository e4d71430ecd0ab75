//! The `evidence` and `correlations` tables (spec/telemetry-correlation.md
//! §2, §4): their in-file schemas and the Arrow builder the OTLP decoder
//! appends to.
//!
//! Pure: no I/O. As for every partitioned table (model/schema.rs), the
//! `date` partition column is not stored in the files; the decoder hands
//! each day's batch over beside its date.
//!
//! "Decoding goes straight to Arrow builders": [`EvidenceBuilder::append`]
//! takes an [`EvidenceRec`] of borrowed fields, so a row never exists as an
//! owned struct of `String`s.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Float64Builder, Int32Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::telemetry::model::{CorrelationStatus, Signal, SpanStatus};

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// `evidence` (§2), without `date`: one row per span, log record and
/// metric data point.
pub fn evidence_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("evidence_id", false),
        utf8("signal", false),
        utf8("trace_id", true),
        utf8("span_id", true),
        utf8("parent_span_id", true),
        Field::new("timestamp", ts_type(), false),
        Field::new("end_timestamp", ts_type(), true),
        Field::new("duration_ms", DataType::Float64, true),
        utf8("service", true),
        utf8("service_version", true),
        utf8("environment", true),
        utf8("name", true),
        Field::new("kind", DataType::Int32, true),
        utf8("status", true),
        utf8("http_route", true),
        Field::new("value", DataType::Float64, true),
        utf8("context", true),
        utf8("concept", true),
        utf8("regime_id", true),
        utf8("flow", true),
        utf8("policy_id", true),
        utf8("attributes", false),
        utf8("correlation_status", false),
        utf8("error_reason", true),
        utf8("source", false),
        utf8("run_id", false),
    ]))
}

/// `correlations` (§4), without `date`: one row per evidence row.
pub fn correlations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("evidence_id", false),
        utf8("spec_node_id", true),
        Field::new("confidence", DataType::Float64, false),
        utf8("match_type", false),
        Field::new(
            "rule_ids",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            false,
        ),
        utf8("run_id", false),
    ]))
}

/// One `evidence` row, borrowed from the decoder's scratch buffers and the
/// decoded message. Field meanings are the §2 column table's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvidenceRec<'a> {
    /// `ifl:hash:` + 64 lowercase hex.
    pub evidence_id: &'a str,
    /// span, log or metric.
    pub signal: Signal,
    /// Lowercase hex, `None` when absent.
    pub trace_id: Option<&'a str>,
    /// Lowercase hex, `None` when absent.
    pub span_id: Option<&'a str>,
    /// Lowercase hex, `None` when absent (root spans, logs, metrics).
    pub parent_span_id: Option<&'a str>,
    /// µs since the epoch, UTC.
    pub timestamp_us: i64,
    /// Spans only: end, µs since the epoch, UTC.
    pub end_timestamp_us: Option<i64>,
    /// Spans only: end − start in milliseconds.
    pub duration_ms: Option<f64>,
    /// Resource `service.name`.
    pub service: Option<&'a str>,
    /// Resource `service.version`.
    pub service_version: Option<&'a str>,
    /// Resource `deployment.environment.name` else `deployment.environment`.
    pub environment: Option<&'a str>,
    /// Span name, log event name or severity text, metric name.
    pub name: Option<&'a str>,
    /// Spans only: the OTLP span kind.
    pub kind: Option<i32>,
    /// Spans only: ok, error or unset.
    pub status: Option<SpanStatus>,
    /// The record's `http.route`.
    pub http_route: Option<&'a str>,
    /// Metric points only: the point's value (or sum).
    pub value: Option<f64>,
    /// `sea.domain`.
    pub context: Option<&'a str>,
    /// `sea.concept`.
    pub concept: Option<&'a str>,
    /// `sea.regime_id`.
    pub regime_id: Option<&'a str>,
    /// `sea.flow`.
    pub flow: Option<&'a str>,
    /// `sea.policy`.
    pub policy_id: Option<&'a str>,
    /// The record's other attributes as a JSON object string.
    pub attributes: &'a str,
    /// ok, partial or failed.
    pub correlation_status: CorrelationStatus,
    /// Why the row is failed or partial.
    pub error_reason: Option<&'a str>,
    /// The input object's URL.
    pub source: &'a str,
    /// The run that wrote the row.
    pub run_id: &'a str,
}

/// Arrow builders for one `evidence` batch, in [`evidence_schema`] order.
#[derive(Debug)]
pub struct EvidenceBuilder {
    evidence_id: StringBuilder,
    signal: StringBuilder,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    parent_span_id: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    end_timestamp: TimestampMicrosecondBuilder,
    duration_ms: Float64Builder,
    service: StringBuilder,
    service_version: StringBuilder,
    environment: StringBuilder,
    name: StringBuilder,
    kind: Int32Builder,
    status: StringBuilder,
    http_route: StringBuilder,
    value: Float64Builder,
    context: StringBuilder,
    concept: StringBuilder,
    regime_id: StringBuilder,
    flow: StringBuilder,
    policy_id: StringBuilder,
    attributes: StringBuilder,
    correlation_status: StringBuilder,
    error_reason: StringBuilder,
    source: StringBuilder,
    run_id: StringBuilder,
}

impl Default for EvidenceBuilder {
    fn default() -> Self {
        EvidenceBuilder::new()
    }
}

impl EvidenceBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        EvidenceBuilder::with_capacity(0)
    }

    /// An empty builder sized for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        let s = || StringBuilder::with_capacity(rows, rows * 8);
        let ts = || TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
        EvidenceBuilder {
            evidence_id: StringBuilder::with_capacity(rows, rows * 73),
            signal: s(),
            trace_id: StringBuilder::with_capacity(rows, rows * 32),
            span_id: StringBuilder::with_capacity(rows, rows * 16),
            parent_span_id: StringBuilder::with_capacity(rows, rows * 16),
            timestamp: ts(),
            end_timestamp: ts(),
            duration_ms: Float64Builder::with_capacity(rows),
            service: s(),
            service_version: s(),
            environment: s(),
            name: s(),
            kind: Int32Builder::with_capacity(rows),
            status: s(),
            http_route: s(),
            value: Float64Builder::with_capacity(rows),
            context: s(),
            concept: s(),
            regime_id: s(),
            flow: s(),
            policy_id: s(),
            attributes: StringBuilder::with_capacity(rows, rows * 64),
            correlation_status: s(),
            error_reason: s(),
            source: s(),
            run_id: s(),
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.evidence_id.len()
    }

    /// True before the first row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append one row.
    pub fn append(&mut self, r: &EvidenceRec<'_>) {
        self.evidence_id.append_value(r.evidence_id);
        self.signal.append_value(r.signal.as_str());
        self.trace_id.append_option(r.trace_id);
        self.span_id.append_option(r.span_id);
        self.parent_span_id.append_option(r.parent_span_id);
        self.timestamp.append_value(r.timestamp_us);
        self.end_timestamp.append_option(r.end_timestamp_us);
        self.duration_ms.append_option(r.duration_ms);
        self.service.append_option(r.service);
        self.service_version.append_option(r.service_version);
        self.environment.append_option(r.environment);
        self.name.append_option(r.name);
        self.kind.append_option(r.kind);
        self.status.append_option(r.status.map(SpanStatus::as_str));
        self.http_route.append_option(r.http_route);
        self.value.append_option(r.value);
        self.context.append_option(r.context);
        self.concept.append_option(r.concept);
        self.regime_id.append_option(r.regime_id);
        self.flow.append_option(r.flow);
        self.policy_id.append_option(r.policy_id);
        self.attributes.append_value(r.attributes);
        self.correlation_status
            .append_value(r.correlation_status.as_str());
        self.error_reason.append_option(r.error_reason);
        self.source.append_value(r.source);
        self.run_id.append_value(r.run_id);
    }

    /// The batch of every row appended, in [`evidence_schema`].
    ///
    /// # Panics
    ///
    /// Never in practice: every column gets exactly one value per
    /// [`EvidenceBuilder::append`] and matches the schema's type and
    /// nullability.
    pub fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.evidence_id.finish()),
            Arc::new(self.signal.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.end_timestamp.finish()),
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.service_version.finish()),
            Arc::new(self.environment.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.http_route.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.context.finish()),
            Arc::new(self.concept.finish()),
            Arc::new(self.regime_id.finish()),
            Arc::new(self.flow.finish()),
            Arc::new(self.policy_id.finish()),
            Arc::new(self.attributes.finish()),
            Arc::new(self.correlation_status.finish()),
            Arc::new(self.error_reason.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.run_id.finish()),
        ];
        RecordBatch::try_new(evidence_schema(), columns)
            .expect("one value per column per row, types as in evidence_schema")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringArray, TimestampMicrosecondArray};

    pub(crate) fn rec<'a>() -> EvidenceRec<'a> {
        EvidenceRec {
            evidence_id: "ifl:hash:00",
            signal: Signal::Span,
            trace_id: Some("5b8efff798038103d269b633813fc60c"),
            span_id: Some("eee19b7ec3c1b174"),
            parent_span_id: None,
            timestamp_us: 1_544_712_660_000_000,
            end_timestamp_us: Some(1_544_712_661_000_000),
            duration_ms: Some(1000.0),
            service: Some("svc"),
            service_version: None,
            environment: None,
            name: Some("GET /"),
            kind: Some(2),
            status: Some(SpanStatus::Error),
            http_route: None,
            value: None,
            context: Some("commerce"),
            concept: Some("Order"),
            regime_id: Some("r1"),
            flow: None,
            policy_id: None,
            attributes: "{}",
            correlation_status: CorrelationStatus::Partial,
            error_reason: Some("missing optional: sea.flow, sea.policy"),
            source: "memory://x",
            run_id: "run",
        }
    }

    #[test]
    fn schemas_have_the_spec_columns_in_order() {
        let names: Vec<String> = evidence_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names.len(), 26);
        assert_eq!(names[0], "evidence_id");
        assert_eq!(names[21], "attributes");
        assert_eq!(names[25], "run_id");
        assert!(!names.iter().any(|n| n == "date"));
        let c = correlations_schema();
        assert_eq!(c.fields().len(), 6);
        assert!(!c.field_with_name("rule_ids").unwrap().is_nullable());
    }

    #[test]
    fn builder_round_trips_a_row() {
        let mut b = EvidenceBuilder::new();
        assert!(b.is_empty());
        b.append(&rec());
        b.append(&EvidenceRec {
            signal: Signal::Metric,
            trace_id: None,
            status: None,
            kind: None,
            value: Some(2.5),
            ..rec()
        });
        assert_eq!(b.len(), 2);
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), evidence_schema());
        let status = batch
            .column_by_name("status")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(status.value(0), "error");
        assert!(status.is_null(1));
        let ts = batch
            .column_by_name("timestamp")
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(ts.value(1), 1_544_712_660_000_000);
    }
}
