//! Report and trends over a 90-day lake (issue 6 performance).
//!
//! `cargo bench --locked --bench report -- <lake dir>`; `make bench` runs it.
//! When the directory has no lake yet it is generated once (deterministic):
//!
//! * `behavior_summary`: 90 days × 8 contexts × 60 spec nodes (43,200 node
//!   rows) plus a no-match row per context and day, `evidence_count` summing
//!   to 5.2 M evidence rows (the evidence itself is not materialised: nothing
//!   after the summary reads it);
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
use std::sync::Arc;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::parquet::arrow::ArrowWriter;
use driftlake::drift::event::level_of;
use driftlake::engine::context::{new_context, run_sql_file, run_statement};
use driftlake::engine::lake_tables::register_lake;
use driftlake::job::{JobPlan, SourceSpec};
use driftlake::model::schema::behavior_summary_schema;
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

fn write_parquet(path: &Path, b: &RecordBatch) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let f = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(f, b.schema(), None).expect("writer");
    w.write(b).expect("write");
    w.close().expect("close");
}

/// One day of `behavior_summary`.
fn summary_day(day: NaiveDate, d: u64, rng: &mut Rng) -> (RecordBatch, i64) {
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .expect("t")
        .and_utc()
        .timestamp_micros();
    let (mut ctx, mut node, mut score, mut level, mut conf) = (
        StringBuilder::new(),
        StringBuilder::new(),
        Float64Builder::new(),
        StringBuilder::new(),
        Float64Builder::new(),
    );
    let (mut count, mut rules, mut scores) = (
        Int64Builder::new(),
        ListBuilder::new(StringBuilder::new()),
        StringBuilder::new(),
    );
    let mut evidence = 0i64;
    let mut rows = 0usize;
    for c in 0..CONTEXTS {
        for n in 0..=NODES {
            let no_match = n == NODES;
            ctx.append_value(format!("domain{c}"));
            let s = if no_match {
                node.append_null();
                0.0
            } else {
                node.append_value(format!("SEA-FLOW-domain{c}.flow_{n:02}"));
                let wave = ((d as f64 + n as f64 * 3.7) / 11.0).sin().abs();
                (wave * 0.7 + rng.unit() * 0.3).min(1.0)
            };
            score.append_value(s);
            level.append_value(level_of(s).as_str());
            conf.append_value(0.85);
            let ev = 100 + (rng.next() % 40) as i64;
            evidence += ev;
            count.append_value(ev);
            if s >= 0.2 {
                rules.values().append_value("PERF-001");
            }
            rules.append(true);
            scores.append_value(format!("{{\"PERF-001\":{s}}}"));
            rows += 1;
        }
    }
    let ts = |off: i64| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
        for _ in 0..rows {
            b.append_value(midnight + off);
        }
        Arc::new(b.finish())
    };
    let same = |v: &str| -> ArrayRef {
        let mut b = StringBuilder::new();
        for _ in 0..rows {
            b.append_value(v);
        }
        Arc::new(b.finish())
    };
    let mut kg = Int64Builder::new();
    for _ in 0..rows {
        kg.append_value(1);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(ctx.finish()),
        Arc::new(node.finish()),
        ts(0),
        ts(86_400_000_000),
        Arc::new(score.finish()),
        Arc::new(level.finish()),
        Arc::new(conf.finish()),
        Arc::new(count.finish()),
        ts(86_399_000_000),
        same("ifl:hash:00"),
        Arc::new(rules.finish()),
        Arc::new(scores.finish()),
        Arc::new(kg.finish()),
        ts(86_400_000_000),
        same("bench"),
    ];
    (
        RecordBatch::try_new(behavior_summary_schema(), cols).expect("batch"),
        evidence,
    )
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
    for d in 0..DAYS {
        let day = start().checked_add_days(Days::new(d)).expect("day");
        let (b, ev) = summary_day(day, d, &mut rng);
        evidence += ev;
        write_parquet(
            &lake.join(format!("behavior_summary/date={day}/part-0.parquet")),
            &b,
        );
    }
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
        "generated {} summary rows ({evidence} evidence rows behind them) and {events} agent events in {:.1} s",
        DAYS as usize * CONTEXTS * (NODES + 1),
        t.elapsed().as_secs_f64()
    );
    let plan = JobPlan {
        name: "bench-report".into(),
        lake: lake.to_str().expect("utf8").into(),
        sources: vec![SourceSpec {
            kind: InputKind::AgentEvents,
            url: src.to_str().expect("utf8").into(),
            signal: None,
        }],
        sessions: false,
        attribution: false,
        attribution_thresholds: Default::default(),
        agents: true,
        agent_settings: Default::default(),
        drift_events: true,
        telemetry: false,
        correlation_weights: Default::default(),
    };
    let t = Instant::now();
    let s = pipeline::run(&plan, &RunOptions::default()).expect("the job commits");
    eprintln!(
        "job over the agent telemetry: {:.1} s; {:?}",
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
    time("gate over 90 days (43,920 summary rows)", || {
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
            assert_eq!(b.iter().map(RecordBatch::num_rows).sum::<usize>(), DAYS as usize * CONTEXTS * (NODES + 1));
        })
    });
}
