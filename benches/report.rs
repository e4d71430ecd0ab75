//! Report and trends over a 90-day lake (issue 6 performance).
//!
//! `cargo bench --locked --bench report -- <lake dir>`; `make bench` runs it.
//! When the directory has no lake yet it is generated once (deterministic):
//!
//! * `evidence`: 90 days × 8 contexts × 60 flow nodes × 100–139 spans
//!   (≈ 5.2 M evidence rows, materialised as the lake's `evidence` table),
//!   traces of a root and children, durations and errors following a slow
//!   wave per node so drift comes and goes; plus the spec manifest of those
//!   480 flows. The real telemetry stage then computes `correlations`,
//!   `behavior_summary` (43,200 node rows), `kg_*` and drift events from it;
//! * agent telemetry: 200 agents × 96 active windows a day × 90 days
//!   (≈ 5.2 M events) run through the real job (`agent_events`,
//!   `agent_profiles`, `drift_events` from tier changes).
//!
//! Then it times, in-process and as the CLI runs them (multi-thread runtime,
//! the lake registered from Parquet each time): the report for the default
//! 30 days and for all 90, every trend family over 90 days, the gate and
//! what_drifted.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use datafusion::arrow::array::RecordBatch;
use driftlake::engine::context::{new_context, run_sql_file, run_statement};
use driftlake::engine::lake_tables::register_lake;
use driftlake::job::{JobPlan, SourceSpec};
use driftlake::pipeline::{self, RunOptions};
use driftlake::report::{html, load, markdown};
use driftlake::source::InputKind;

const DAYS: u64 = 90;
const CONTEXTS: usize = 8;
const NODES: usize = 60;
const AGENTS: usize = 200;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 1).expect("date")
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One day of evidence: for every (context, flow node) 100–139 spans in
/// traces of one root and up to five children. Returns the batch.
fn evidence_day(day: NaiveDate, d: u64, rng: &mut Rng) -> RecordBatch {
    use driftlake::telemetry::evidence::{EvidenceBuilder, EvidenceRec};
    use driftlake::telemetry::model::{CorrelationStatus, Signal, SpanStatus};
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .expect("t")
        .and_utc()
        .timestamp_micros();
    let mut b = EvidenceBuilder::with_capacity(CONTEXTS * NODES * 120);
    for c in 0..CONTEXTS {
        let context = format!("domain{c}");
        for n in 0..NODES {
            let flow = format!("flow_{n:02}");
            let service = format!("svc-{c}-{}", n % 3);
            let name = format!("POST /{context}/{flow}");
            // A slow wave per node: some days the flow is slow and failing.
            let wave = ((d as f64 + n as f64 * 3.7) / 11.0).sin().abs();
            let spans = 100 + (rng.next() % 40) as usize;
            let mut trace = String::new();
            let mut root = String::new();
            for k in 0..spans {
                let id = format!("ifl:hash:{:016x}{:016x}{:032x}", rng.next(), rng.next(), k);
                let span = format!("{:016x}", rng.next());
                let is_root = k % 6 == 0;
                if is_root {
                    trace = format!("{:016x}{:016x}", rng.next(), rng.next());
                    root = span.clone();
                }
                let ts = midnight + (rng.next() % 86_000_000_000) as i64;
                let dur = 20.0 + rng.unit() * 200.0 * (1.0 + 2.0 * wave);
                let error = rng.unit() < 0.01 + 0.08 * wave;
                b.append(&EvidenceRec {
                    evidence_id: &id,
                    signal: Signal::Span,
                    trace_id: Some(&trace),
                    span_id: Some(&span),
                    parent_span_id: (!is_root).then_some(root.as_str()),
                    timestamp_us: ts,
                    end_timestamp_us: Some(ts + (dur * 1000.0) as i64),
                    duration_ms: Some(dur),
                    service: Some(&service),
                    service_version: Some("1.0.0"),
                    environment: Some("prod"),
                    name: Some(if is_root { name.as_str() } else { "db.query" }),
                    kind: Some(if is_root { 2 } else { 3 }),
                    status: Some(if error {
                        SpanStatus::Error
                    } else {
                        SpanStatus::Ok
                    }),
                    http_route: None,
                    value: None,
                    context: Some(&context),
                    concept: Some("Thing"),
                    regime_id: Some("bench-v1"),
                    flow: Some(&flow),
                    policy_id: None,
                    attributes: "{}",
                    correlation_status: CorrelationStatus::Ok,
                    error_reason: None,
                    source: "bench://evidence",
                    run_id: "bench",
                });
            }
        }
    }
    b.finish()
}

/// The spec manifest of the generated flows (JSON).
fn manifest() -> String {
    let mut nodes =
        vec![serde_json::json!({"id": "SDS-001", "kind": "sds", "title": "Bench design"})];
    for c in 0..CONTEXTS {
        for n in 0..NODES {
            nodes.push(serde_json::json!({
                "id": format!("SEA-FLOW-domain{c}.flow_{n:02}"),
                "kind": "flow",
                "domain": format!("domain{c}"),
                "concept": "Thing",
                "flow": format!("flow_{n:02}"),
                "derives_from": ["SDS-001"],
                "expect": {
                    "services": [format!("svc-{c}-{}", n % 3)],
                    "latency_p95_ms": 400,
                    "error_rate_max": 0.03,
                    "max_fanout": 8
                }
            }));
        }
    }
    serde_json::json!({"version": 1, "regime_id": "bench-v1", "nodes": nodes}).to_string()
}

/// Agent telemetry: one JSONL file per day. Every agent has 96 active
/// windows a day (every 15 min); its load follows a daily rhythm plus noise,
/// so tiers change through the day.
fn agent_day(dir: &Path, day: NaiveDate, rng: &mut Rng) -> usize {
    let midnight = day.and_hms_opt(0, 0, 0).expect("t").and_utc().timestamp();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(dir.join(format!("agents-{day}.jsonl"))).expect("create"),
    );
    let mut n = 0;
    for w in 0..96i64 {
        let hour_load = ((w as f64 / 96.0) * std::f64::consts::TAU).sin().abs();
        for a in 0..AGENTS {
            let t0 = midnight + w * 900;
            let busy = rng.unit() < hour_load * 0.3;
            let k = if busy {
                8 + (rng.next() % 8) as i64
            } else {
                1 + (rng.next() % 2) as i64
            };
            for e in 0..k {
                let (ty, key, target) = match (e + a as i64) % 3 {
                    0 => (
                        "file_read",
                        "path",
                        format!("/srv/{}", rng.next() % if busy { 50 } else { 2 }),
                    ),
                    1 => (
                        "network_request",
                        "url",
                        format!("https://api/{}", rng.next() % 4),
                    ),
                    _ => ("file_write", "path", format!("/tmp/{}", e % 3)),
                };
                writeln!(
                    out,
                    "{{\"type\":\"{ty}\",\"source\":\"agent-{a:03}\",\"timestamp\":{},\"data\":{{\"{key}\":\"{target}\"}}}}",
                    t0 + e * 7
                )
                .expect("write");
                n += 1;
            }
        }
    }
    n
}

fn generate(lake: &Path) {
    let t = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut evidence = 0;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = driftlake::sink::Lake::open(lake.to_str().expect("utf8")).expect("lake");
    for chunk in (0..DAYS).collect::<Vec<_>>().chunks(10) {
        let parts: Vec<driftlake::sink::Partition> = chunk
            .iter()
            .map(|&d| {
                let day = start().checked_add_days(Days::new(d)).expect("day");
                let b = evidence_day(day, d, &mut rng);
                evidence += b.num_rows();
                driftlake::sink::Partition {
                    date: Some(day.to_string()),
                    batches: vec![b],
                }
            })
            .collect();
        rt.block_on(store.commit("evidence", "bench", parts))
            .expect("evidence commit");
    }
    let specs = lake.with_extension("specs");
    std::fs::create_dir_all(&specs).expect("mkdir");
    std::fs::write(specs.join("bench.json"), manifest()).expect("manifest");
    let src = lake.with_extension("agents");
    std::fs::create_dir_all(&src).expect("mkdir");
    let mut events = 0;
    for d in 0..DAYS {
        events += agent_day(
            &src,
            start().checked_add_days(Days::new(d)).expect("day"),
            &mut rng,
        );
    }
    eprintln!(
        "generated {evidence} evidence rows and {events} agent events in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let plan = JobPlan {
        max_rows_per_file: driftlake::sink::FILE_ROWS,
        stream_shards_from: driftlake::job::STREAM_SHARDS_FROM,
        name: "bench-report".into(),
        lake: lake.to_str().expect("utf8").into(),
        sources: vec![
            SourceSpec {
                kind: InputKind::AgentEvents,
                url: src.to_str().expect("utf8").into(),
                signal: None,
            },
            SourceSpec {
                kind: InputKind::Spec,
                url: specs.to_str().expect("utf8").into(),
                signal: None,
            },
        ],
        sessions: false,
        attribution: false,
        attribution_thresholds: Default::default(),
        agents: true,
        agent_settings: Default::default(),
        drift_events: true,
        telemetry: true,
        correlation_weights: Default::default(),
        outputs: Default::default(),
        storage: Default::default(),
        engine: Default::default(),
    };
    let t = Instant::now();
    let s = pipeline::run(&plan, &RunOptions::default()).expect("the job commits");
    eprintln!(
        "job over the agent telemetry and the evidence (telemetry stage): {:.1} s; {:?}",
        t.elapsed().as_secs_f64(),
        s.tables
            .iter()
            .map(|(k, v)| format!("{k}={}", v.rows))
            .collect::<Vec<_>>()
    );
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!("{label:<48} {:>8.3} s", t.elapsed().as_secs_f64());
    out
}

fn main() {
    let lake = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .expect("usage: report <lake dir>");
    let lake_path = Path::new(&lake);
    if !lake_path.join("drift_events").exists() {
        generate(lake_path);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let counts = rt.block_on(async {
        let ctx = new_context();
        register_lake(&ctx, &lake).await.expect("lake");
        let mut out = Vec::new();
        for t in [
            "behavior_summary",
            "agent_profiles",
            "drift_events",
            "agent_events",
        ] {
            let b = run_statement(
                &ctx,
                &format!("SELECT count(*) AS n FROM {t}"),
                &BTreeMap::new(),
            )
            .await
            .expect("count");
            out.push(format!(
                "{t}={}",
                datafusion::arrow::util::pretty::pretty_format_columns("n", b[0].columns())
                    .expect("fmt")
                    .to_string()
                    .lines()
                    .nth(3)
                    .unwrap_or("")
                    .trim_matches(|c| c == '|' || c == ' ')
            ));
        }
        out
    });
    println!("lake: {}", counts.join(", "));
    let last = start().checked_add_days(Days::new(DAYS - 1)).expect("day");
    for (label, from) in [
        ("report, default window (30 days)", None),
        ("report, all 90 days", Some(start())),
    ] {
        time(label, || {
            rt.block_on(async {
                let ctx = new_context();
                let tables = register_lake(&ctx, &lake).await.expect("lake");
                let span = load::data_days(&ctx, &tables).await.expect("days");
                let (f, t) = load::window(from, None, span, last);
                let data = load::load(&ctx, &tables, &lake, f, t).await.expect("load");
                let page = html::render_html(&data);
                let md = markdown::render_markdown(&data);
                assert!(page.len() > 10_000 && md.len() > 1_000);
            })
        });
    }
    let all = BTreeMap::from([
        ("from".to_string(), start().to_string()),
        ("to".to_string(), last.to_string()),
    ]);
    for (relation, interval) in [
        ("trends_behavior", "1d"),
        ("trends_behavior", "1w"),
        ("trends_drift_events", "1d"),
        ("trends_agents", "1d"),
        ("trends_agents", "1h"),
        ("what_drifted", ""),
    ] {
        let mut params = all.clone();
        if !interval.is_empty() {
            params.insert("interval".into(), interval.into());
        }
        let rows = time(&format!("{relation} {interval} over 90 days"), || {
            rt.block_on(async {
                let ctx = new_context();
                register_lake(&ctx, &lake).await.expect("lake");
                let b = run_sql_file(&ctx, relation, &params).await.expect(relation);
                b.iter().map(RecordBatch::num_rows).sum::<usize>()
            })
        });
        println!("{:<48} {rows:>8} rows", "");
    }
    time("gate over 90 days (43,200 summary rows)", || {
        rt.block_on(async {
            let ctx = new_context();
            register_lake(&ctx, &lake).await.expect("lake");
            let b = run_statement(
                &ctx,
                "-- Params:  $from, $to\nSELECT context, spec_node_id, date, drift_score, drift_level FROM behavior_summary WHERE date >= $from AND date <= $to",
                &all,
            )
            .await
            .expect("gate rows");
            // Every generated span correlates with its flow: node rows only.
            assert_eq!(
                b.iter().map(RecordBatch::num_rows).sum::<usize>(),
                DAYS as usize * CONTEXTS * NODES
            );
        })
    });
}
