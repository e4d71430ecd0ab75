//! Tests of the OTLP decoder: every reason code, the accounting identity on
//! every input, framing equivalence, the upstream examples, the §2 edges.

use super::*;
use crate::model::dead_letter::Reason;
use crate::telemetry::model::Signal;
use datafusion::arrow::array::{Array, Float64Array, Int32Array, StringArray};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, LogsData, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile, ExponentialHistogram, ExponentialHistogramDataPoint,
    Gauge, Histogram, HistogramDataPoint, Metric, MetricsData, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status, TracesData,
};
use prost::Message as _;

const T0: u64 = 1_714_557_600_000_000_000; // 2024-05-01T10:00:00Z
const DAY: u64 = 86_400_000_000_000;

// ---- helpers ----

fn read(bytes: &[u8], name: &str, signal: Option<Signal>) -> OtlpRead {
    let r = read_otlp(&OtlpInput {
        bytes,
        source: "memory://in/x",
        file_name: name,
        signal,
        run_id: "run1",
    });
    assert!(r.stats.balanced(), "accounting identity: {:?}", r.stats);
    assert_eq!(r.stats.dead as usize, r.dead.len());
    for (_, b) in &r.evidence {
        assert_eq!(b.schema(), crate::telemetry::evidence::evidence_schema());
    }
    r
}

fn reasons(r: &OtlpRead) -> Vec<&'static str> {
    r.dead.iter().map(|d| d.reason.as_str()).collect()
}

fn col(r: &OtlpRead, name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for (_, b) in &r.evidence {
        let a = b
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())));
    }
    out
}

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", "1.2.3"),
            s("deployment.environment", "old-env"),
            s("deployment.environment.name", "prod"),
            s("sea.domain", "commerce"),
            s("sea.regime_id", "commerce-v3"),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "lib".into(),
        version: "1.0".into(),
        attributes: vec![s("sea.concept", "Order")],
        ..Default::default()
    })
}

fn span(name: &str, start: u64, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0x5b; 16],
        span_id: vec![0xee, 1, 2, 3, 4, 5, 6, 7],
        parent_span_id: vec![0xaa; 8],
        name: name.into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 250_000_000,
        attributes: attrs,
        events: vec![span::Event {
            time_unix_nano: start + 1,
            name: "ev".into(),
            attributes: vec![s("a", "b")],
            ..Default::default()
        }],
        status: Some(Status {
            message: "boom".into(),
            code: status::StatusCode::Error as i32,
        }),
        ..Default::default()
    }
}

fn traces(tag: &str) -> TracesData {
    TracesData {
        resource_spans: vec![ResourceSpans {
            resource: resource("checkout"),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![
                    span(
                        &format!("POST /orders {tag}"),
                        T0,
                        vec![
                            s("sea.flow", "place_order"),
                            s("http.route", "/orders"),
                            int("user.tier", 3),
                            s("note", "héllo \"q\"\n"),
                        ],
                    ),
                    // Next day; no flow, no policy: partial.
                    span("GET /cart", T0 + DAY, vec![s("sea.concept", "Cart")]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs(tag: &str) -> LogsData {
    LogsData {
        resource_logs: vec![ResourceLogs {
            resource: resource("payments"),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    LogRecord {
                        time_unix_nano: 0,
                        observed_time_unix_nano: T0 + 5_000,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(Value::StringValue(format!("charged {tag}"))),
                        }),
                        attributes: vec![s("sea.policy", "auth_required"), int("n", -7)],
                        trace_id: vec![0x5b; 16],
                        span_id: vec![0xee, 1, 2, 3, 4, 5, 6, 7],
                        ..Default::default()
                    },
                    LogRecord {
                        time_unix_nano: T0 + 6_999,
                        event_name: "payment.done".into(),
                        severity_text: "WARN".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn ndp(t: u64, v: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![s("sea.flow", "place_order"), s("host", "h1")],
        start_time_unix_nano: t - 1000,
        time_unix_nano: t,
        value: Some(v),
        ..Default::default()
    }
}

fn metrics(tag: &str) -> MetricsData {
    let m = |name: &str, data: Data| Metric {
        name: format!("{name}{tag}"),
        unit: "1".into(),
        description: "d".into(),
        data: Some(data),
        ..Default::default()
    };
    MetricsData {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("checkout"),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    m(
                        "g",
                        Data::Gauge(Gauge {
                            data_points: vec![ndp(T0, number_data_point::Value::AsInt(42))],
                        }),
                    ),
                    m(
                        "s",
                        Data::Sum(Sum {
                            data_points: vec![
                                ndp(T0, number_data_point::Value::AsDouble(1.5)),
                                ndp(T0 + 1, number_data_point::Value::AsDouble(2.5)),
                            ],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    m(
                        "h",
                        Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: T0,
                                count: 3,
                                sum: Some(7.25),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![1.0],
                                min: Some(0.5),
                                ..Default::default()
                            }],
                            aggregation_temporality: 1,
                        }),
                    ),
                    m(
                        "e",
                        Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                time_unix_nano: T0,
                                count: 3,
                                sum: Some(10.0),
                                zero_count: 1,
                                positive: Some(Buckets {
                                    offset: 1,
                                    bucket_counts: vec![0, 2],
                                }),
                                ..Default::default()
                            }],
                            aggregation_temporality: 1,
                        }),
                    ),
                    m(
                        "q",
                        Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint {
                                time_unix_nano: T0,
                                count: 4,
                                sum: 9.5,
                                quantile_values: vec![ValueAtQuantile {
                                    quantile: 0.5,
                                    value: 2.0,
                                }],
                                ..Default::default()
                            }],
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn prefixed(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn zst(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

/// Native zstd in two frames, cut in the middle (mid-line / mid-message).
fn zst2(b: &[u8]) -> Vec<u8> {
    let mid = b.len() / 2;
    let mut out = zst(&b[..mid]);
    out.extend(zst(&b[mid..]));
    out
}

fn jsonl(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(m);
        out.push(b'\n');
    }
    out
}

fn good_line() -> Vec<u8> {
    serde_json::to_vec(&traces("good")).unwrap()
}

// ---- framing equivalence ----

fn equivalence<M: prost::Message + serde::Serialize>(a: M, b: M, file: &str) -> OtlpRead {
    let json = [
        serde_json::to_vec(&a).unwrap(),
        serde_json::to_vec(&b).unwrap(),
    ];
    let proto = [a.encode_to_vec(), b.encode_to_vec()];
    let zjson: Vec<Vec<u8>> = json.iter().map(|j| zst(j)).collect();
    let zproto: Vec<Vec<u8>> = proto.iter().map(|p| zst(p)).collect();
    let forms: Vec<(&str, Vec<u8>)> = vec![
        ("json lines", jsonl(&json)),
        ("per-message zstd json", prefixed(&zjson)),
        ("native zstd json", zst2(&jsonl(&json))),
        ("length-prefixed proto", prefixed(&proto)),
        ("per-message zstd proto", prefixed(&zproto)),
        ("native zstd proto", zst2(&prefixed(&proto))),
    ];
    let base = read(&forms[0].1, file, None);
    assert!(base.dead.is_empty(), "{:?}", base.dead);
    assert_eq!((base.stats.read, base.stats.ok), (2, 2));
    for (what, bytes) in &forms[1..] {
        let r = read(bytes, file, None);
        assert!(r.dead.is_empty(), "{what}: {:?}", r.dead);
        assert!(r.error.is_none(), "{what}");
        assert_eq!(r.stats, base.stats, "{what}");
        assert_eq!(r.evidence, base.evidence, "{what}");
    }
    base
}

#[test]
fn framing_equivalence_spans() {
    let r = equivalence(traces("a"), traces("b"), "traces.jsonl");
    assert_eq!(r.rows(), 4);
    // Two UTC days, ascending, rows in input order.
    let dates: Vec<String> = r.evidence.iter().map(|(d, _)| d.to_string()).collect();
    assert_eq!(dates, ["2024-05-01", "2024-05-02"]);
    assert_eq!(
        col(&r, "name"),
        [
            Some("POST /orders a".into()),
            Some("POST /orders b".into()),
            Some("GET /cart".into()),
            Some("GET /cart".into())
        ]
    );
    // The identical span of both messages has one id; the others differ.
    let ids = col(&r, "evidence_id");
    assert_eq!(ids[2], ids[3]);
    assert_ne!(ids[0], ids[1]);
    assert!(ids[0].as_ref().unwrap().starts_with("ifl:hash:"));
    assert_eq!(ids[0].as_ref().unwrap().len(), 9 + 64);
}

#[test]
fn framing_equivalence_logs() {
    let r = equivalence(
        logs("a"),
        logs("b"),
        "otel-logs-2024-05-01T10-00-00.000-size.log",
    );
    assert_eq!(r.rows(), 4);
}

#[test]
fn framing_equivalence_metrics() {
    let r = equivalence(metrics("a"), metrics("b"), "metrics.out");
    assert_eq!(r.rows(), 12);
    let v: Vec<Option<f64>> = r.evidence[0]
        .1
        .column_by_name("value")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        &v[..6],
        [
            Some(42.0),
            Some(1.5),
            Some(2.5),
            Some(7.25),
            Some(10.0),
            Some(9.5)
        ]
    );
}

// ---- normalisation (§2) ----

#[test]
fn span_row_columns() {
    let r = read(&good_line(), "t.jsonl", None);
    let b = &r.evidence[0].1;
    let get = |n: &str| col(&r, n)[0].clone();
    assert_eq!(get("signal").as_deref(), Some("span"));
    assert_eq!(
        get("trace_id").as_deref(),
        Some("5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b")
    );
    assert_eq!(get("span_id").as_deref(), Some("ee01020304050607"));
    assert_eq!(get("parent_span_id").as_deref(), Some("aaaaaaaaaaaaaaaa"));
    assert_eq!(get("service").as_deref(), Some("checkout"));
    assert_eq!(get("service_version").as_deref(), Some("1.2.3"));
    assert_eq!(get("environment").as_deref(), Some("prod"));
    assert_eq!(get("status").as_deref(), Some("error"));
    assert_eq!(get("http_route").as_deref(), Some("/orders"));
    assert_eq!(get("context").as_deref(), Some("commerce"));
    assert_eq!(get("concept").as_deref(), Some("Order"));
    assert_eq!(get("regime_id").as_deref(), Some("commerce-v3"));
    assert_eq!(get("flow").as_deref(), Some("place_order"));
    assert_eq!(get("policy_id"), None);
    assert_eq!(get("correlation_status").as_deref(), Some("ok"));
    assert_eq!(get("error_reason"), None);
    assert_eq!(get("source").as_deref(), Some("memory://in/x"));
    assert_eq!(get("run_id").as_deref(), Some("run1"));
    assert_eq!(
        get("attributes").as_deref(),
        Some(r#"{"user.tier":3,"note":"héllo \"q\"\n"}"#)
    );
    let kind = b
        .column_by_name("kind")
        .unwrap()
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    assert_eq!(kind.value(0), 2);
    let d = b
        .column_by_name("duration_ms")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(d.value(0), 250.0);
    // The next-day span: record's sea.concept wins over the scope's; partial.
    assert_eq!(col(&r, "concept")[1].as_deref(), Some("Cart"));
    assert_eq!(col(&r, "correlation_status")[1].as_deref(), Some("partial"));
    assert_eq!(
        col(&r, "error_reason")[1].as_deref(),
        Some("missing optional: sea.flow, sea.policy")
    );
}

#[test]
fn log_rows_use_observed_time_and_event_name() {
    let line = serde_json::to_vec(&logs("x")).unwrap();
    let r = read(&line, "l.jsonl", None);
    assert_eq!(
        col(&r, "name"),
        [Some("INFO".into()), Some("payment.done".into())]
    );
    assert_eq!(col(&r, "status"), [None, None]);
    assert_eq!(col(&r, "policy_id")[0].as_deref(), Some("auth_required"));
    assert_eq!(col(&r, "span_id")[1], None);
    let ts = r.evidence[0]
        .1
        .column_by_name("timestamp")
        .unwrap()
        .as_any()
        .downcast_ref::<datafusion::arrow::array::TimestampMicrosecondArray>()
        .unwrap();
    // floor(ns / 1000).
    assert_eq!(ts.value(0), ((T0 + 5_000) / 1000) as i64);
    assert_eq!(ts.value(1), ((T0 + 6_999) / 1000) as i64);
}

fn span_line(attrs: serde_json::Value, res_attrs: serde_json::Value, start: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"resourceSpans":[{
        "resource":{"attributes":res_attrs},
        "scopeSpans":[{"scope":{"name":"s"},"spans":[{
            "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
            "name":"x","kind":1,"startTimeUnixNano":start,"attributes":attrs}]}]}]}))
    .unwrap()
}

fn sv(k: &str, v: &str) -> serde_json::Value {
    serde_json::json!({"key":k,"value":{"stringValue":v}})
}

fn status_of(attrs: Vec<serde_json::Value>) -> (Option<String>, Option<String>) {
    let r = read(
        &span_line(attrs.into(), serde_json::json!([]), "1714557600000000000"),
        "t.jsonl",
        None,
    );
    assert_eq!(r.rows(), 1, "{:?}", r.dead);
    (
        col(&r, "correlation_status")[0].clone(),
        col(&r, "error_reason")[0].clone(),
    )
}

#[test]
fn sea_status_rules() {
    let req = || {
        vec![
            sv("sea.domain", "d"),
            sv("sea.concept", "c"),
            sv("sea.regime_id", "r"),
        ]
    };
    let st = |a| status_of(a);
    assert_eq!(
        st(vec![sv("sea.concept", "c")]),
        (
            Some("failed".into()),
            Some("missing required: sea.domain, sea.regime_id".into())
        )
    );
    assert_eq!(
        st(vec![]),
        (
            Some("failed".into()),
            Some("missing required: sea.domain, sea.concept, sea.regime_id".into())
        )
    );
    // An empty value is missing.
    assert_eq!(
        st(vec![
            sv("sea.domain", ""),
            sv("sea.concept", "c"),
            sv("sea.regime_id", "r"),
            sv("sea.flow", "f")
        ])
        .1,
        Some("missing required: sea.domain".into())
    );
    assert_eq!(
        st(req()),
        (
            Some("partial".into()),
            Some("missing optional: sea.flow, sea.policy".into())
        )
    );
    let mut a = req();
    a.push(sv("sea.policy", "p"));
    assert_eq!(st(a), (Some("ok".into()), None));
    // 4096 bytes is accepted, 4097 is too long (not cut: failed).
    let mut a = req();
    a.push(sv("sea.flow", &"f".repeat(4096)));
    assert_eq!(st(a), (Some("ok".into()), None));
    let mut a = req();
    a.push(sv("sea.flow", &"f".repeat(4097)));
    assert_eq!(
        st(a),
        (Some("failed".into()), Some("sea attribute too long".into()))
    );
    // Another sea.* key of the record counts too.
    let mut a = req();
    a.push(sv("sea.flow", "f"));
    a.push(sv("sea.other", &"o".repeat(4097)));
    assert_eq!(
        st(a),
        (Some("failed".into()), Some("sea attribute too long".into()))
    );
}

#[test]
fn sea_falls_back_to_scope_then_resource() {
    let line = span_line(
        serde_json::json!([sv("sea.flow", "rec")]),
        serde_json::json!([
            sv("sea.domain", "res"),
            sv("sea.flow", "res"),
            sv("sea.concept", "c"),
            sv("sea.regime_id", "r")
        ]),
        "1714557600000000000",
    );
    let r = read(&line, "t.jsonl", None);
    assert_eq!(col(&r, "context")[0].as_deref(), Some("res"));
    assert_eq!(col(&r, "flow")[0].as_deref(), Some("rec"));
    assert_eq!(col(&r, "correlation_status")[0].as_deref(), Some("ok"));
}

#[test]
fn long_attribute_values_are_cut_and_marked() {
    let attrs = |v: String| serde_json::json!([sv("k", &v)]);
    let get = |v: String| {
        let r = read(
            &span_line(attrs(v), serde_json::json!([]), "1"),
            "t.jsonl",
            None,
        );
        let a: serde_json::Value =
            serde_json::from_str(col(&r, "attributes")[0].as_ref().unwrap()).unwrap();
        a["k"].as_str().unwrap().to_string()
    };
    assert_eq!(get("a".repeat(4096)), "a".repeat(4096));
    assert_eq!(
        get("a".repeat(4097)),
        format!("{}…[cut 1 bytes]", "a".repeat(4096))
    );
    // A 2-byte char across the limit is cut whole.
    assert_eq!(
        get(format!("{}é", "a".repeat(4095))),
        format!("{}…[cut 2 bytes]", "a".repeat(4095))
    );
}

#[test]
fn one_mib_attribute_is_cut_and_later_records_decode() {
    let big = span_line(
        serde_json::json!([sv("big", &"x".repeat(1 << 20))]),
        serde_json::json!([]),
        "1714557600000000000",
    );
    let bytes = jsonl(&[big, good_line()]);
    let r = read(&bytes, "t.jsonl", None);
    assert_eq!((r.stats.read, r.stats.ok), (2, 2));
    assert_eq!(r.rows(), 3);
    let a = col(&r, "attributes")[0].clone().unwrap();
    assert!(a.len() < 5000);
    assert!(a.ends_with(&format!("…[cut {} bytes]\"}}", (1 << 20) - 4096)));
}

#[test]
fn zero_time_is_kept_at_epoch_and_failed() {
    let line = span_line(
        serde_json::json!([
            sv("sea.domain", "d"),
            sv("sea.concept", "c"),
            sv("sea.regime_id", "r"),
            sv("sea.flow", "f")
        ]),
        serde_json::json!([]),
        "0",
    );
    let r = read(&line, "t.jsonl", None);
    assert_eq!(r.evidence[0].0.to_string(), "1970-01-01");
    assert_eq!(col(&r, "correlation_status")[0].as_deref(), Some("failed"));
    assert_eq!(
        col(&r, "error_reason")[0].as_deref(),
        Some("missing timestamp")
    );
}

#[test]
fn canonical_json_is_sorted_compact_and_unescaped() {
    for msg in [
        Message {
            spans: traces("é\u{1}").resource_spans,
            ..Message::default()
        },
        Message {
            logs: logs("x").resource_logs,
            ..Message::default()
        },
        Message {
            metrics: metrics("m").resource_metrics,
            ..Message::default()
        },
    ] {
        let mut n = normalize::Normalizer::new("s", "r");
        let mut days = Days::default();
        n.message(&view::Batch::from_message(&msg), &mut days);
        assert!(!n.canon_log.is_empty());
        for c in &n.canon_log {
            // serde_json's Value keeps keys sorted (no preserve_order):
            // re-serialising a canonical text gives it back unchanged.
            let v: serde_json::Value = serde_json::from_str(c).unwrap();
            assert_eq!(&serde_json::to_string(&v).unwrap(), c);
        }
    }
}

#[test]
fn two_resources_or_point_attribute_sets_never_collide() {
    let mut a = traces("same");
    let mut b = traces("same");
    b.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(s("service.instance.id", "2"));
    a.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(s("service.instance.id", "1"));
    let r = read(
        &jsonl(&[
            serde_json::to_vec(&a).unwrap(),
            serde_json::to_vec(&b).unwrap(),
        ]),
        "t",
        None,
    );
    let ids = col(&r, "evidence_id");
    assert_eq!(ids.len(), 4);
    let set: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(set.len(), 4);
    let mut m = metrics("");
    if let Some(Data::Gauge(g)) = &mut m.resource_metrics[0].scope_metrics[0].metrics[0].data {
        let mut p = g.data_points[0].clone();
        p.attributes.push(s("host2", "x"));
        g.data_points.push(p);
    }
    let r = read(&serde_json::to_vec(&m).unwrap(), "m", None);
    let ids = col(&r, "evidence_id");
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn json_int64_as_string_or_number() {
    let line = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":1714557600000000000,"asInt":"5"},{"timeUnixNano":"1714557600000000000","asInt":6}]}}]}]}]}"#;
    let r = read(line, "m.jsonl", None);
    assert!(r.dead.is_empty(), "{:?}", r.dead);
    let v = r.evidence[0]
        .1
        .column_by_name("value")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .clone();
    assert_eq!((v.value(0), v.value(1)), (5.0, 6.0));
}

// ---- upstream examples ----

fn count(doc: &serde_json::Value) -> usize {
    let arr = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(|x| x.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let mut n = 0;
    for rs in arr(doc, "resourceSpans") {
        for ss in arr(&rs, "scopeSpans") {
            n += arr(&ss, "spans").len();
        }
    }
    for rl in arr(doc, "resourceLogs") {
        for sl in arr(&rl, "scopeLogs") {
            n += arr(&sl, "logRecords").len();
        }
    }
    for rm in arr(doc, "resourceMetrics") {
        for sm in arr(&rm, "scopeMetrics") {
            for m in arr(&sm, "metrics") {
                for k in [
                    "gauge",
                    "sum",
                    "histogram",
                    "exponentialHistogram",
                    "summary",
                ] {
                    if let Some(d) = m.get(k) {
                        n += arr(d, "dataPoints").len();
                    }
                }
            }
        }
    }
    n
}

#[test]
fn upstream_examples_decode_with_exact_counts() {
    let files: [(&str, &[u8]); 4] = [
        (
            "trace.json",
            include_bytes!("../../../fixtures/otlp/upstream/trace.json"),
        ),
        (
            "logs.json",
            include_bytes!("../../../fixtures/otlp/upstream/logs.json"),
        ),
        (
            "metrics.json",
            include_bytes!("../../../fixtures/otlp/upstream/metrics.json"),
        ),
        (
            "events.json",
            include_bytes!("../../../fixtures/otlp/upstream/events.json"),
        ),
    ];
    for (name, bytes) in files {
        let want = count(&serde_json::from_slice(bytes).unwrap());
        assert!(want > 0, "{name}");
        let r = read(bytes, name, None);
        assert!(r.dead.is_empty(), "{name}: {:?}", r.dead);
        assert_eq!(
            (r.stats.read, r.stats.ok),
            (1, 1),
            "{name}: one whole-file record"
        );
        assert_eq!(r.rows(), want, "{name}");
    }
}

// ---- reason codes and recovery ----

#[test]
fn json_reasons_and_blank_lines() {
    let mut bytes = Vec::new();
    for l in [
        &good_line()[..],
        b"",
        b"   \r",
        br#"{"resourceSpans":["#,
        b"[1,2]",
        b"42",
        br#"{"resourceSpans":[]}"#,
        b"{}",
        br#"{"resource_spans":[{"scope_spans":[{"spans":[{"name":"x"}]}]}]}"#,
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","name":"x"}]}]}]}"#,
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER","name":"x"}]}]}]}"#,
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd","name":"x"}]}]}]}"#,
        b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\xff\"}]}]}]}",
        &good_line()[..],
    ] {
        bytes.extend_from_slice(l);
        bytes.push(b'\n');
    }
    let r = read(&bytes, "t.jsonl", None);
    assert_eq!(
        reasons(&r),
        [
            "json_syntax",
            "not_an_object",
            "not_an_object",
            "otlp_schema",
            "otlp_schema",
            "otlp_schema",
            "otlp_schema",
            "otlp_schema",
            "otlp_schema",
            "invalid_utf8"
        ]
    );
    assert_eq!((r.stats.read, r.stats.ok, r.stats.skipped), (14, 2, 2));
    assert_eq!(r.dead[0].line, Some(4));
    assert_eq!(r.rows(), 4);
    assert!(r.error.is_none());
    // Details carry no payload.
    for d in &r.dead {
        assert!(
            !d.detail.contains("W47") && !d.detail.contains("SPAN_KIND"),
            "{}",
            d.detail
        );
    }
}

#[test]
fn twenty_mib_line_is_line_too_long() {
    let mut bytes = good_line();
    bytes.push(b'\n');
    bytes.extend(std::iter::repeat_n(b'x', 20 << 20));
    bytes.push(b'\n');
    bytes.extend(good_line());
    let r = read(&bytes, "t.jsonl", None);
    assert_eq!(reasons(&r), ["line_too_long"]);
    assert_eq!(r.dead[0].line, Some(2));
    assert_eq!(r.dead[0].byte_offset, good_line().len() as u64 + 1);
    assert_eq!((r.stats.read, r.stats.ok), (3, 2));
}

#[test]
fn per_message_reasons_and_recovery() {
    let good = traces("p").encode_to_vec();
    let mut bad_z = zst(&good);
    bad_z.truncate(bad_z.len() - 5);
    let mut big = vec![0u8; (16 << 20) + 1];
    big[0] = b'{';
    let bytes = prefixed(&[
        good.clone(),
        bad_z,                             // zstd_frame (truncated frame)
        vec![0xff, 0xff, 0xff],            // proto_decode
        zst(&big),                         // line_too_long after decompression
        b"{\"resourceLogs\":[]}".to_vec(), // otlp_schema (JSON message)
        zst(&good),
    ]);
    let r = read(&bytes, "traces.pb", None);
    assert_eq!(
        reasons(&r),
        ["zstd_frame", "proto_decode", "line_too_long", "otlp_schema"]
    );
    assert!(r.dead.iter().all(|d| d.line.is_none()));
    assert_eq!(r.dead[0].byte_offset, 4 + good.len() as u64);
    assert_eq!((r.stats.read, r.stats.ok), (6, 2));
    assert_eq!(r.rows(), 4);
    assert!(r.error.is_none());
}

#[test]
fn length_prefix_past_eof_ends_the_input() {
    let good = traces("p").encode_to_vec();
    let mut bytes = prefixed(std::slice::from_ref(&good));
    bytes.extend_from_slice(&1000u32.to_be_bytes());
    bytes.extend_from_slice(b"abc");
    let r = read(&bytes, "spans.bin", None);
    assert_eq!(reasons(&r), ["truncated_frame"]);
    assert_eq!(r.dead[0].byte_offset, 4 + good.len() as u64);
    assert_eq!(r.rows(), 2);
    assert!(r.error.is_some());
    // 1-3 trailing bytes: too few for a prefix.
    let mut bytes = prefixed(&[good]);
    bytes.extend_from_slice(&[0, 0]);
    let r = read(&bytes, "spans.bin", None);
    assert_eq!(reasons(&r), ["truncated_frame"]);
    assert!(r.error.is_some());
}

#[test]
fn proto_without_signal_is_proto_signal_unknown() {
    let good = traces("p").encode_to_vec();
    let bytes = prefixed(&[good.clone(), good.clone()]);
    let r = read(&bytes, "export.bin", None);
    assert_eq!(
        reasons(&r),
        ["proto_signal_unknown", "proto_signal_unknown"]
    );
    // The job's setting wins over the name.
    let r = read(&bytes, "export.bin", Some(Signal::Span));
    assert_eq!(r.rows(), 4);
    // JSON messages need no signal.
    let r = read(&prefixed(&[good_line()]), "export.bin", None);
    assert_eq!(r.rows(), 2);
}

#[test]
fn native_zstd_truncated_frame_and_line_pointers() {
    let content = jsonl(&[good_line(), b"[1]".to_vec(), good_line()]);
    let mut bytes = zst(&content);
    let first = bytes.len();
    let mut tail = zst(&jsonl(&[good_line()]));
    tail.truncate(tail.len() - 3);
    bytes.extend(tail);
    let r = read(&bytes, "t.zst", None);
    assert_eq!(reasons(&r), ["not_an_object", "zstd_frame"]);
    // Decompressed pointers for records, the compressed offset for a frame.
    assert_eq!(r.dead[0].line, Some(2));
    assert_eq!(r.dead[0].byte_offset, good_line().len() as u64 + 1);
    assert_eq!(
        (r.dead[1].line, r.dead[1].byte_offset),
        (None, first as u64)
    );
    assert_eq!(r.rows(), 4);
    assert!(r.error.is_some());
}

#[test]
fn native_zstd_corrupt_frame_is_skipped() {
    let a = zst(&jsonl(&[good_line()]));
    let mut b = zst(&jsonl(&[good_line()]));
    // Garble the content of the first block, keeping the frame's
    // structure: magic, frame header, then a 3-byte block header.
    let fhd = b[4];
    let single = fhd & 0x20 != 0;
    let fcs = match fhd >> 6 {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
    let hdr = 5 + usize::from(!single) + dict + fcs;
    let bh = u32::from_le_bytes([b[hdr], b[hdr + 1], b[hdr + 2], 0]);
    assert_eq!((bh >> 1) & 3, 2, "a compressed block");
    let size = (bh >> 3) as usize;
    b[hdr + 3..hdr + 3 + size].fill(0xff);
    let mut bytes = a.clone();
    bytes.extend(&b);
    bytes.extend(&a);
    let r = read(&bytes, "t.zst", None);
    assert_eq!(reasons(&r), ["zstd_frame"]);
    assert_eq!(r.dead[0].byte_offset, a.len() as u64);
    assert_eq!(r.rows(), 4, "the frames before and after still decode");
    assert!(r.error.is_none());
}

#[test]
fn never_panics_on_odd_bytes() {
    let good = traces("p").encode_to_vec();
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0x28, 0xb5, 0x2f, 0xfd],
        vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0],
        vec![0, 0, 0, 0],
        b"\xff\xfe".to_vec(),
        b"{".to_vec(),
        b"{\n".to_vec(),
        prefixed(&[vec![0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]]),
        good[..good.len() / 2].to_vec(),
    ];
    for (i, b) in inputs.iter().enumerate() {
        for name in ["traces.pb", "x"] {
            let r = read(b, name, None);
            assert_eq!(
                r.stats.read as usize,
                r.stats.ok as usize + r.stats.skipped as usize + r.dead.len(),
                "{i}"
            );
        }
    }
    // Every prefix of a framed file.
    let bytes = prefixed(&[good.clone(), zst(&good)]);
    for cut in 0..bytes.len() {
        read(&bytes[..cut], "traces.pb", None);
        read(&zst(&bytes[..cut]), "traces.pb", None);
    }
}

#[test]
fn every_reason_of_the_stage_is_produced() {
    // The codes the tests above produce, checked in one place.
    let stage = [
        Reason::JsonSyntax,
        Reason::NotAnObject,
        Reason::OtlpSchema,
        Reason::LineTooLong,
        Reason::ZstdFrame,
        Reason::TruncatedFrame,
        Reason::ProtoDecode,
        Reason::ProtoSignalUnknown,
        Reason::InvalidUtf8,
    ];
    let mut seen = std::collections::BTreeSet::new();
    let good = traces("p").encode_to_vec();
    let mut z = zst(&good);
    z.truncate(z.len() - 2);
    let mut lines = jsonl(&[
        b"{".to_vec(),
        b"1".to_vec(),
        b"{}".to_vec(),
        b"\xff".to_vec(),
    ]);
    lines.extend(std::iter::repeat_n(b' ', 17 << 20));
    for r in [
        read(&lines, "t", None),
        read(&prefixed(&[z, vec![0xff]]), "traces.pb", None),
        read(&prefixed(std::slice::from_ref(&good)), "x.pb", None),
        read(
            &[&prefixed(&[good])[..], &[0, 0, 0, 9][..]].concat(),
            "traces.pb",
            None,
        ),
    ] {
        seen.extend(r.dead.iter().map(|d| d.reason));
    }
    for want in stage {
        assert!(seen.contains(&want), "{want} never produced");
    }
}

mod props {
    //! Any bytes, in any framing the detector may pick, decode without a
    //! panic and with every record accounted for (issue 9).
    use super::*;
    use proptest::prelude::*;

    /// Pieces the byte strings are made of: whole good records of every
    /// framing, their halves, structural JSON bytes, zstd magic, length
    /// prefixes (sane and absurd) and raw noise.
    fn pieces() -> Vec<Vec<u8>> {
        let line = good_line();
        let proto = traces("p").encode_to_vec();
        let logs_json = serde_json::to_vec(&logs("l")).unwrap();
        let mut v = vec![
            line.clone(),
            line[..line.len() / 2].to_vec(),
            prefixed(std::slice::from_ref(&proto)),
            prefixed(&[zst(&proto)]),
            prefixed(std::slice::from_ref(&logs_json)),
            zst(&line),
            proto[..proto.len() / 3].to_vec(),
            logs_json,
            b"\n".to_vec(),
            b"{".to_vec(),
            b"}".to_vec(),
            b"\"resourceSpans\":[".to_vec(),
            b"[]".to_vec(),
            vec![0x28, 0xb5, 0x2f, 0xfd],
            vec![0, 0, 0, 7],
            vec![0xff, 0xff, 0xff, 0xff],
            vec![0xc3, 0x28],
        ];
        v.push(vec![0; 5]);
        v
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        let n = pieces().len();
        proptest::collection::vec(
            prop_oneof![
                (0..n).prop_map(|i| pieces()[i].clone()),
                proptest::collection::vec(any::<u8>(), 0..24),
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn any_bytes_decode_with_every_record_accounted_for(
            b in bytes(),
            signal in prop_oneof![Just(None), Just(Some(Signal::Span)), Just(Some(Signal::Log)), Just(Some(Signal::Metric))],
            name in prop_oneof![Just("export.json"), Just("traces.bin"), Just("x")],
        ) {
            // `read` asserts the accounting identity and the rows' schema.
            let r = read(&b, name, signal);
            let rows: usize = r.evidence.iter().map(|(_, b)| b.num_rows()).sum();
            // Rows only come from records that were used.
            if r.stats.ok == 0 {
                prop_assert_eq!(rows, 0);
            }
            prop_assert_eq!(r.stats.dead as usize, r.dead.len());
        }
    }
}
