//! Agent monitor benchmark: JSON lines bytes → `agent_profiles`, one core.
//!
//! `cargo bench --locked --bench agents -- <file.jsonl>`; `make bench` runs
//! it on a file from `tools/gen/agents_gen.py bench`. Prints each step and
//! the whole path in events/s and MB/s: decode (framing, JSON, timestamps),
//! Arrow batches (`agent_events` rows, split by day), and the profile SQL
//! (`sql/agent_profiles.sql` over an in-memory table, DataFusion on one
//! partition and a current-thread runtime, so every figure is one core).

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use driftlake::agents::{compute_profiles, event_batches, AgentSettings};
use driftlake::decode::agent::{complete_prefix, AgentDecoder};
use driftlake::decode::frame::LineFramer;
use driftlake::model::schema::agent_events_schema;

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .expect("usage: agents <file.jsonl>");
    let bytes = std::fs::read(&path).expect("read the bench file");
    let mb = bytes.len() as f64 / 1e6;

    let t = Instant::now();
    let mut dec = AgentDecoder::default();
    let complete = &bytes[..complete_prefix(&bytes)];
    dec.reserve(memchr::memchr_iter(b'\n', complete).count());
    LineFramer::new().push(&bytes[..complete_prefix(&bytes)], &mut dec);
    let decode_s = t.elapsed().as_secs_f64();
    let n = dec.events.len() as f64;
    assert!(
        dec.stats.balanced() && dec.stats.dead == 0,
        "{:?}",
        dec.stats
    );

    let t = Instant::now();
    let batches: Vec<RecordBatch> = event_batches(&dec.events, "bench.jsonl", "bench")
        .expect("batches")
        .into_values()
        .collect();
    let arrow_s = t.elapsed().as_secs_f64();
    drop(dec);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let config = SessionConfig::new().with_target_partitions(1);
    let ctx = SessionContext::new_with_config(config);
    driftlake::engine::udf::register_all(&ctx);
    let table = MemTable::try_new(agent_events_schema(), vec![batches]).expect("table");
    ctx.register_table("agent_events", Arc::new(table))
        .expect("register");
    let t = Instant::now();
    // AGENTS_BENCH_SQL=<file>: time another text of the statement (tuning).
    let profiles = match std::env::var("AGENTS_BENCH_SQL") {
        Ok(p) => {
            let text = std::fs::read_to_string(p).expect("read AGENTS_BENCH_SQL");
            let params = AgentSettings::default().sql_params();
            rt.block_on(driftlake::engine::context::run_statement(
                &ctx, &text, &params,
            ))
            .expect("profiles")
        }
        Err(_) => rt
            .block_on(compute_profiles(&ctx, &AgentSettings::default()))
            .expect("profiles"),
    };
    let sql_s = t.elapsed().as_secs_f64();
    let rows: usize = profiles.iter().map(RecordBatch::num_rows).sum();

    if std::env::var_os("AGENTS_BENCH_EXPLAIN").is_some() {
        let text = driftlake::engine::sql::sql_file("agent_profiles")
            .expect("embedded")
            .text;
        let params = AgentSettings::default().sql_params();
        let sql = format!("EXPLAIN ANALYZE {text}");
        let out = rt
            .block_on(driftlake::engine::context::run_statement(
                &ctx, &sql, &params,
            ))
            .expect("explain");
        println!(
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&out).expect("format")
        );
    }
    let total = decode_s + arrow_s + sql_s;
    let line = |what: &str, s: f64| {
        println!(
            "{what:<28} {s:>7.3} s  {:>6.2} M events/s  {:>7.1} MB/s",
            n / s / 1e6,
            mb / s
        );
    };
    println!("input: {mb:.1} MB, {n:.0} events, {rows} profile rows (seed settings)");
    line("decode (frame, JSON, ts)", decode_s);
    line("agent_events batches", arrow_s);
    line("profiles SQL (1 partition)", sql_s);
    line("bytes -> profiles, 1 core", total);
}
