//! OTLP decoding benchmark: one OTLP/JSON lines file → `evidence` batches,
//! one core.
//!
//! `cargo bench --locked --bench otlp -- <file.json>`; `make bench` runs it
//! on one file of `tools/gen/otlp_gen.py bench`. Prints, in MB/s of input:
//! the JSON parse alone (the fast path of `telemetry::otlp::fastjson`, and
//! the serde path into `opentelemetry-proto`'s structs that it replaces
//! for the common record), then the whole decode (`read_otlp`: parse,
//! canonical JSON, SHA-256 evidence ids, Arrow rows). Best of three runs.

use std::time::Instant;

use driftlake::telemetry::otlp::{fastjson, json, read_otlp, OtlpInput};

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("runs > 0"))
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .expect("usage: otlp <file.json>");
    let bytes = std::fs::read(&path).expect("read the bench file");
    let mb = bytes.len() as f64 / 1e6;
    let text = std::str::from_utf8(&bytes).expect("UTF-8 bench file");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();

    let (fast_s, fast_n) = best(3, || {
        lines
            .iter()
            .filter_map(|l| fastjson::parse(l))
            .map(|b| b.spans.len() + b.logs.len())
            .sum::<usize>()
    });
    let (serde_s, serde_n) = best(3, || {
        lines
            .iter()
            .filter_map(|l| json::parse(l.as_bytes()).ok())
            .map(|m| m.spans.len() + m.logs.len())
            .sum::<usize>()
    });
    assert_eq!(fast_n, serde_n, "both paths read every record");
    let (read_s, read) = best(3, || {
        read_otlp(&OtlpInput {
            bytes: &bytes,
            source: "file:///bench/otlp.json",
            file_name: "otlp.json",
            signal: None,
            run_id: "bench",
        })
    });
    assert!(
        read.stats.balanced() && read.stats.dead == 0,
        "{:?}",
        read.stats
    );
    let rows = read.rows() as f64;
    println!(
        "input: {mb:.1} MB, {} records, {rows} evidence rows",
        lines.len()
    );
    println!("parse, fast path:         {:7.1} MB/s", mb / fast_s);
    println!("parse, serde into structs: {:6.1} MB/s", mb / serde_s);
    println!(
        "decode (read_otlp):       {:7.1} MB/s, {:.2} M rows/s",
        mb / read_s,
        rows / read_s / 1e6
    );
}
