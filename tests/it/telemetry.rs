//! The telemetry stage end to end (issue 5, spec/telemetry-correlation.md):
//! the demo's OTLP files and spec manifests through `pipeline::run` into
//! `evidence`, `correlations`, `behavior_summary`, `kg_nodes`, `kg_edges`
//! and telemetry drift events; every record accounted for; a rerun writes
//! nothing; the same telemetry in every framing gives the same evidence;
//! a bad manifest stops the job before anything is written; the upstream
//! OTLP examples decode to the counts an independent Python walk gives.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use driftlake::job::JobPlan;
use driftlake::pipeline::{self, RunOptions};
use driftlake::source::InputKind;

use crate::idempotency::support::{column, demo_dir, plan, run, table_files, table_rows};

/// A plan over OTLP and spec sources only.
fn telemetry_plan(otlp: &Path, specs: &Path, lake: &Path) -> JobPlan {
    let mut p = plan(
        &[
            (InputKind::Otlp, otlp.to_str().unwrap()),
            (InputKind::Spec, specs.to_str().unwrap()),
        ],
        lake.to_str().unwrap(),
        false,
    );
    p.sessions = false;
    p.drift_events = true;
    p
}

/// Spans, log records and metric points of one OTLP/JSON value, counted by
/// walking the JSON (not with the decoder).
fn walk_count(v: &serde_json::Value) -> usize {
    let arr = |v: &serde_json::Value, k: &str| -> Vec<serde_json::Value> {
        v.get(k)
            .and_then(|x| x.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let mut n = 0;
    for rs in arr(v, "resourceSpans") {
        for ss in arr(&rs, "scopeSpans") {
            n += arr(&ss, "spans").len();
        }
    }
    for rl in arr(v, "resourceLogs") {
        for sl in arr(&rl, "scopeLogs") {
            n += arr(&sl, "logRecords").len();
        }
    }
    for rm in arr(v, "resourceMetrics") {
        for sm in arr(&rm, "scopeMetrics") {
            for m in arr(&sm, "metrics") {
                for kind in [
                    "gauge",
                    "sum",
                    "histogram",
                    "exponentialHistogram",
                    "summary",
                ] {
                    if let Some(k) = m.get(kind) {
                        n += arr(k, "dataPoints").len();
                    }
                }
            }
        }
    }
    n
}

/// The telemetry drift types the demo's OTLP fixtures were built to show.
pub const DEMO_DRIFT_TYPES: [&str; 7] = [
    "time",
    "outcome",
    "bypass",
    "fanout",
    "contention",
    "contradiction",
    "stale_reference",
];

fn demo_otlp() -> PathBuf {
    demo_dir().join("otlp")
}

fn demo_specs() -> PathBuf {
    demo_dir().join("specs")
}

/// `(source file name, line)` of every dlq row of a lake.
fn dead_lines(lake: &Path) -> BTreeMap<(String, i64), String> {
    let sources = column(lake, "dlq", "source");
    let lines = column(lake, "dlq", "line");
    let reasons = column(lake, "dlq", "reason");
    sources
        .into_iter()
        .zip(lines)
        .zip(reasons)
        .map(|((s, l), r)| {
            let name = s.rsplit('/').next().unwrap().to_string();
            ((name, l.parse().unwrap_or(-1)), r)
        })
        .collect()
}

/// Equal file sets, naming only what differs.
fn assert_same_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    let diff: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    assert!(diff.is_empty(), "files differ: {diff:?}");
}

/// Equal row lists, showing the first difference only.
fn assert_same_rows(a: &[String], b: &[String], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: row count");
    if let Some((x, y)) = a.iter().zip(b).find(|(x, y)| x != y) {
        panic!("{what}: first difference\n  {x}\n  {y}");
    }
}

#[test]
fn demo_telemetry_fills_every_table_and_accounts_for_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let s = run(&telemetry_plan(&demo_otlp(), &demo_specs(), &lake), 2);
    assert_eq!(s.failed_inputs, 0);

    // Every good line's records are evidence rows; the broken lines are
    // dead letters with the spec's reasons.
    let dead = dead_lines(&lake);
    let reasons: BTreeSet<&str> = dead.values().map(String::as_str).collect();
    assert_eq!(
        reasons,
        BTreeSet::from(["json_syntax", "not_an_object", "otlp_schema"]),
        "{dead:?}"
    );
    assert_eq!(dead.len(), 4, "{dead:?}");
    let mut want = 0;
    let mut lines_total = 0;
    for e in std::fs::read_dir(demo_otlp()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        for (i, line) in std::fs::read_to_string(&p).unwrap().lines().enumerate() {
            lines_total += 1;
            if line.trim().is_empty() || dead.contains_key(&(name.clone(), i as i64 + 1)) {
                continue;
            }
            want += walk_count(&serde_json::from_str(line).unwrap());
        }
    }
    let evidence = column(&lake, "evidence", "evidence_id");
    assert_eq!(evidence.len(), want);
    assert_eq!(
        evidence.iter().collect::<BTreeSet<_>>().len(),
        want,
        "ids are unique"
    );

    // The accounting identity for every input (lake.md §2, spec §7).
    let kinds = column(&lake, "_inputs", "kind");
    let read = column(&lake, "_inputs", "records_read");
    let ok = column(&lake, "_inputs", "records_ok");
    let skipped = column(&lake, "_inputs", "records_skipped");
    let dead_n = column(&lake, "_inputs", "records_dead");
    let num = |v: &str| v.parse::<u64>().unwrap();
    let mut otlp_read = 0;
    for i in 0..kinds.len() {
        assert_eq!(
            num(&read[i]),
            num(&ok[i]) + num(&skipped[i]) + num(&dead_n[i]),
            "input {i}"
        );
        if kinds[i] == "otlp" {
            otlp_read += num(&read[i]);
        }
    }
    assert_eq!(otlp_read, lines_total, "one record per line");
    assert_eq!(kinds.iter().filter(|k| *k == "spec").count(), 2);

    // One correlation per evidence row; failed rows have no node.
    assert_eq!(column(&lake, "correlations", "evidence_id").len(), want);
    let statuses = column(&lake, "evidence", "correlation_status");
    for st in ["ok", "partial", "failed"] {
        assert!(statuses.iter().any(|s| s == st), "no {st} evidence");
    }
    let match_types: BTreeSet<String> = column(&lake, "correlations", "match_type")
        .into_iter()
        .collect();
    assert_eq!(
        match_types,
        BTreeSet::from(["deterministic".into(), "heuristic".into(), "none".into()])
    );

    // The spec graph: every node, derives_from edges and observed edges.
    assert_eq!(column(&lake, "kg_nodes", "id").len(), 11);
    let edges = column(&lake, "kg_edges", "edge");
    assert_eq!(edges.iter().filter(|e| *e == "derives_from").count(), 9);
    assert!(edges.iter().any(|e| e == "observed_behavior"));

    // behavior_summary: node rows for the flows, no-match rows for the
    // unmatched search domain and the stale login_v1 flow.
    let rows = table_rows(&lake, "behavior_summary", &["run_id", "last_synced_at"]);
    assert!(rows
        .iter()
        .any(|r| r.contains("context=search") && r.contains("spec_node_id=∅")));
    assert!(rows.iter().any(|r| r.contains("date=2026-05-03")
        && r.contains("context=identity")
        && r.contains("spec_node_id=∅")));
    assert!(rows
        .iter()
        .any(|r| r.contains("spec_node_id=SEA-FLOW-commerce.place_order")));

    // Day three of the demo shows every kind of telemetry drift it was
    // built to show.
    let types: BTreeSet<String> = column(&lake, "drift_events", "drift_type")
        .into_iter()
        .collect();
    for t in DEMO_DRIFT_TYPES {
        assert!(types.contains(t), "no {t} event in {types:?}");
    }
}

#[test]
fn a_rerun_writes_nothing_and_keeps_the_kg_version() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let p = telemetry_plan(&demo_otlp(), &demo_specs(), &lake);
    run(&p, 2);
    let before = table_files(&lake);
    let version = column(&lake, "kg_nodes", "kg_version");
    let s = run(&p, 1);
    assert_same_files(&before, &table_files(&lake));
    for t in [
        "evidence",
        "correlations",
        "behavior_summary",
        "kg_nodes",
        "kg_edges",
    ] {
        // evidence: nothing was read, so it is not even recomputed.
        let written = s.tables.get(t).map_or(0, |ts| ts.partitions_written);
        assert_eq!(written, 0, "{t} rewritten");
    }
    assert!(!s.tables.contains_key("evidence") && s.inputs.iter().all(|i| i.kind == "spec"));
    assert_eq!(column(&lake, "kg_nodes", "kg_version"), version);

    // A changed spec is a new kg version.
    let specs = tmp.path().join("specs");
    crate::idempotency::support::copy_tree(&demo_specs(), &specs);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(specs.join("commerce.yaml"))
        .unwrap();
    writeln!(
        f,
        "  - {{id: ADR-099, kind: adr, title: Refunds need a reason}}"
    )
    .unwrap();
    let p2 = telemetry_plan(&demo_otlp(), &specs, &lake);
    run(&p2, 2);
    let v2 = column(&lake, "kg_nodes", "kg_version");
    assert_eq!(v2.len(), 12);
    let old: i64 = version[0].parse().unwrap();
    assert!(
        v2.iter().all(|v| v.parse::<i64>().unwrap() == old + 1),
        "{v2:?}"
    );
}

/// The demo's first file (no broken lines) in every framing the exporter
/// writes: per-message zstd, one native zstd stream, and length-prefixed
/// protobuf (one file per signal, named after it), plain and zstd.
fn framings(dir: &Path) -> Vec<PathBuf> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest as L;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest as M;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as T;
    use prost::Message;
    let text = std::fs::read_to_string(demo_otlp().join("otel-export.json")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let prefixed = |msgs: &[Vec<u8>]| {
        let mut out = Vec::new();
        for m in msgs {
            out.extend_from_slice(&(m.len() as u32).to_be_bytes());
            out.extend_from_slice(m);
        }
        out
    };
    let mut out = Vec::new();
    let mut put = |rel: &str, bytes: Vec<u8>| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        out.push(p.parent().unwrap().to_path_buf());
    };
    put("plain/otel-export.json", text.clone().into_bytes());
    let zmsgs: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| zstd::encode_all(l.as_bytes(), 3).unwrap())
        .collect();
    put("zstd-messages/otel-export.json.zst", prefixed(&zmsgs));
    put(
        "zstd-native/otel-export.json.zst",
        zstd::encode_all(text.as_bytes(), 3).unwrap(),
    );
    // opentelemetry-proto's serde drops a string `asInt` (valid OTLP/JSON)
    // inside its flattened point value: numbers for the conversion.
    fn ints(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "asInt" {
                        if let Some(n) = x.as_str().and_then(|s| s.parse::<i64>().ok()) {
                            *x = n.into();
                        }
                    } else {
                        ints(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(ints),
            _ => {}
        }
    }
    let (mut t, mut l, mut m) = (Vec::new(), Vec::new(), Vec::new());
    for line in &lines {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        ints(&mut v);
        let fixed = v.to_string();
        let line = &fixed.as_str();
        if line.contains("\"resourceSpans\"") {
            t.push(serde_json::from_str::<T>(line).unwrap().encode_to_vec());
        } else if line.contains("\"resourceLogs\"") {
            l.push(serde_json::from_str::<L>(line).unwrap().encode_to_vec());
        } else {
            m.push(serde_json::from_str::<M>(line).unwrap().encode_to_vec());
        }
    }
    put("proto/traces.pb", prefixed(&t));
    put("proto/logs.pb", prefixed(&l));
    put("proto/metrics.pb", prefixed(&m));
    let z = |v: &[Vec<u8>]| -> Vec<Vec<u8>> {
        v.iter()
            .map(|b| zstd::encode_all(&b[..], 3).unwrap())
            .collect()
    };
    put("proto-zstd/traces.pb.zst", prefixed(&z(&t)));
    put("proto-zstd/logs.pb.zst", prefixed(&z(&l)));
    put("proto-zstd/metrics.pb.zst", prefixed(&z(&m)));
    out.dedup();
    out
}

#[test]
fn every_framing_gives_the_same_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = framings(&tmp.path().join("in"));
    assert_eq!(dirs.len(), 5);
    let mut tables = Vec::new();
    for (k, dir) in dirs.iter().enumerate() {
        let lake = tmp.path().join(format!("lake{k}"));
        let s = run(&telemetry_plan(dir, &demo_specs(), &lake), 2);
        assert_eq!(s.dead_letters, 0, "{}", dir.display());
        assert_eq!(s.failed_inputs, 0, "{}", dir.display());
        tables.push((
            dir.clone(),
            table_rows(&lake, "evidence", &["source", "run_id"]),
            table_rows(&lake, "behavior_summary", &["run_id", "last_synced_at"]),
        ));
    }
    let (d0, e0, s0) = &tables[0];
    assert!(e0.len() > 100, "{}", e0.len());
    for (d, e, s) in &tables[1..] {
        assert_same_rows(
            e0,
            e,
            &format!("evidence: {} vs {}", d.display(), d0.display()),
        );
        assert_same_rows(
            s0,
            s,
            &format!("summary: {} vs {}", d.display(), d0.display()),
        );
    }
}

#[test]
fn a_bad_manifest_stops_the_job_before_anything_is_written() {
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "dup.yaml",
            "version: 1\nnodes:\n  - {id: ADR-012, kind: adr, title: Again}\n",
            &["ADR-012"],
        ),
        (
            "orphan.yaml",
            "version: 1\nnodes:\n  - {id: PRD-900, kind: prd, derives_from: [ADR-404]}\n",
            &["PRD-900", "ADR-404"],
        ),
        (
            "typo.yaml",
            "version: 1\nnodes:\n  - {id: SDS-901, kind: sds, derives_form: [ADR-012]}\n",
            &["derives_form"],
        ),
    ];
    for (name, text, named) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let specs = tmp.path().join("specs");
        crate::idempotency::support::copy_tree(&demo_specs(), &specs);
        std::fs::write(specs.join(name), text).unwrap();
        let lake = tmp.path().join("lake");
        let p = telemetry_plan(&demo_otlp(), &specs, &lake);
        let err = pipeline::run(&p, &RunOptions::default()).expect_err(name);
        let msg = driftlake::error::chain_text(&err);
        assert!(msg.contains(name), "{msg}");
        for n in named {
            assert!(msg.contains(n), "{name}: {msg}");
        }
        // Nothing but the run ledger (which records the failure).
        let data: Vec<String> = table_files(&lake).into_keys().collect();
        assert!(data.is_empty(), "{name}: wrote {data:?}");
        let runs = column(&lake, "_runs", "status");
        assert_eq!(runs, vec!["failed".to_string()], "{name}");
    }
}

#[test]
fn upstream_examples_decode_to_an_independent_python_count() {
    let upstream = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/otlp/upstream");
    let script = r#"
import json, sys, os
def arr(v, k):
    x = v.get(k) if isinstance(v, dict) else None
    return x if isinstance(x, list) else []
total = {}
for name in sorted(os.listdir(sys.argv[1])):
    if not name.endswith('.json'):
        continue
    doc = json.load(open(os.path.join(sys.argv[1], name)))
    n = 0
    for rs in arr(doc, 'resourceSpans'):
        for ss in arr(rs, 'scopeSpans'):
            n += len(arr(ss, 'spans'))
    for rl in arr(doc, 'resourceLogs'):
        for sl in arr(rl, 'scopeLogs'):
            n += len(arr(sl, 'logRecords'))
    for rm in arr(doc, 'resourceMetrics'):
        for sm in arr(rm, 'scopeMetrics'):
            for m in arr(sm, 'metrics'):
                for k in ('gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'):
                    if isinstance(m.get(k), dict):
                        n += len(arr(m[k], 'dataPoints'))
    total[name] = n
print(json.dumps(total))
"#;
    let py = std::env::var("DRIFTLAKE_ORACLE").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(&upstream)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: BTreeMap<String, usize> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(want.len(), 4, "{want:?}");

    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let s = run(&telemetry_plan(&upstream, &demo_specs(), &lake), 2);
    assert_eq!(s.dead_letters, 0);
    let sources = column(&lake, "evidence", "source");
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for s in sources {
        *got.entry(s.rsplit('/').next().unwrap().to_string())
            .or_default() += 1;
    }
    for (name, n) in &want {
        assert_eq!(got.get(name).copied().unwrap_or(0), *n, "{name}");
    }
}

/// What one bad-input file of [`bad_otlp_dir`] must give.
struct BadFile {
    name: &'static str,
    /// Records written (lines or framed messages).
    records: u64,
    /// Spans, log records and points of the good records (a JSON walk).
    evidence: usize,
    /// The one dead letter, if any.
    dead: Option<Dead>,
    /// The framing cannot resync: the input is `failed`.
    failed: bool,
}

/// The dead letter one bad record must give.
struct Dead {
    reason: &'static str,
    /// Null for per-message framing.
    line: Option<i64>,
    /// The line's offset, or the offset of the message's 4-byte prefix.
    byte_offset: u64,
    /// SHA-256 of the raw line (JSON lines only).
    raw_sha256: Option<String>,
    /// Payload words that must not reach `dlq.detail`.
    words: Vec<String>,
}

/// Quoted words of a JSON text at least 5 bytes long (payload content a
/// dead letter's detail must not quote).
fn payload_words(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|w| w.len() >= 5)
        .map(str::to_string)
        .collect()
}

fn sha_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

/// The 1 MiB attribute of `big-attr.json`: 2 ASCII bytes, then 3-byte
/// chars (so 4096 is not a char boundary: the cut keeps 4094 bytes), then
/// 2 ASCII bytes: 1,048,576 bytes.
fn big_blob() -> String {
    let s = format!("ab{}cd", "€".repeat(349_524));
    assert_eq!(s.len(), 1 << 20);
    s
}

/// Issue 5's bad inputs, one per file, each among good OTLP/JSON lines of
/// the demo (every good line used once, so no two files share an
/// evidence id):
///
/// 1. `zstd-frame.json.zst`: per-message zstd (4-byte BE length + frame);
///    the third message's frame is cut in half, its prefix consistent.
/// 2. `truncated-prefix.json.zst`: per-message zstd; the last prefix says
///    1000 bytes more than the file holds.
/// 3. `long-line.json`: JSON lines with a 20 MiB line third.
/// 4. `bad-utf8.json`: JSON lines, the third with a 0xFF byte in a string.
/// 5. `big-attr.json`: JSON lines; a span with a 1 MiB string attribute
///    (not a dead letter: the value is cut).
fn bad_otlp_dir(dir: &Path) -> Vec<BadFile> {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(demo_otlp().join("otel-export.json")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let count = |idx: &[usize]| -> usize {
        idx.iter()
            .map(|&i| walk_count(&serde_json::from_str(lines[i]).unwrap()))
            .sum()
    };
    let prefixed = |out: &mut Vec<u8>, payload: &[u8]| -> u64 {
        let off = out.len() as u64;
        out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        off
    };
    let z = |i: usize| zstd::encode_all(lines[i].as_bytes(), 3).unwrap();
    let mut files = Vec::new();

    // 1. A truncated zstd frame, consistent prefix: later messages decode.
    let mut out = Vec::new();
    prefixed(&mut out, &z(0));
    prefixed(&mut out, &z(35)); // logs
    let mut cut = z(1);
    cut.truncate(cut.len() / 2);
    let off = prefixed(&mut out, &cut);
    prefixed(&mut out, &z(36)); // metrics
    prefixed(&mut out, &z(2));
    std::fs::write(dir.join("zstd-frame.json.zst"), &out).unwrap();
    files.push(BadFile {
        name: "zstd-frame.json.zst",
        records: 5,
        evidence: count(&[0, 35, 36, 2]),
        dead: Some(Dead {
            reason: "zstd_frame",
            line: None,
            byte_offset: off,
            raw_sha256: None,
            words: payload_words(lines[1]),
        }),
        failed: false,
    });

    // 2. The last length prefix points past the end of the file.
    let mut out = Vec::new();
    prefixed(&mut out, &z(3));
    prefixed(&mut out, &z(72)); // logs
    prefixed(&mut out, &z(4));
    let off = out.len() as u64;
    let last = z(5);
    out.extend_from_slice(&u32::try_from(last.len() + 1000).unwrap().to_be_bytes());
    out.extend_from_slice(&last);
    std::fs::write(dir.join("truncated-prefix.json.zst"), &out).unwrap();
    files.push(BadFile {
        name: "truncated-prefix.json.zst",
        records: 4,
        evidence: count(&[3, 72, 4]),
        dead: Some(Dead {
            reason: "truncated_frame",
            line: None,
            byte_offset: off,
            raw_sha256: None,
            words: payload_words(lines[5]),
        }),
        failed: true,
    });

    // 3. A 20 MiB line between good lines.
    let long = format!(
        "{{\"resourceSpans\":[],\"pad\":\"{}\"}}",
        "PAD".repeat(20 * 1024 * 1024 / 3)
    );
    assert!(long.len() > 20 * 1024 * 1024);
    let mut out = Vec::new();
    for i in [6, 73] {
        out.extend_from_slice(lines[i].as_bytes());
        out.push(b'\n');
    }
    let off = out.len() as u64;
    out.extend_from_slice(long.as_bytes());
    out.push(b'\n');
    for i in [7, 8] {
        out.extend_from_slice(lines[i].as_bytes());
        out.push(b'\n');
    }
    std::fs::write(dir.join("long-line.json"), &out).unwrap();
    files.push(BadFile {
        name: "long-line.json",
        records: 5,
        evidence: count(&[6, 73, 7, 8]),
        dead: Some(Dead {
            reason: "line_too_long",
            line: Some(3),
            byte_offset: off,
            raw_sha256: Some(sha_hex(long.as_bytes())),
            words: vec!["PADPADPAD".into()],
        }),
        failed: false,
    });

    // 4. A non-UTF-8 line: 0xFF inside the first string value.
    let at = lines[11].find("\"stringValue\":\"").unwrap() + "\"stringValue\":\"".len();
    let mut bad = lines[11].as_bytes().to_vec();
    bad.insert(at, 0xff);
    let mut out = Vec::new();
    for i in [9, 10] {
        out.extend_from_slice(lines[i].as_bytes());
        out.push(b'\n');
    }
    let off = out.len() as u64;
    out.extend_from_slice(&bad);
    out.push(b'\n');
    for i in [20, 21] {
        out.extend_from_slice(lines[i].as_bytes());
        out.push(b'\n');
    }
    std::fs::write(dir.join("bad-utf8.json"), &out).unwrap();
    files.push(BadFile {
        name: "bad-utf8.json",
        records: 5,
        evidence: count(&[9, 10, 20, 21]),
        dead: Some(Dead {
            reason: "invalid_utf8",
            line: Some(3),
            byte_offset: off,
            raw_sha256: Some(sha_hex(&bad)),
            words: payload_words(lines[11]),
        }),
        failed: false,
    });

    // 5. A 1 MiB attribute on the first span of the middle line.
    let mut v: serde_json::Value = serde_json::from_str(lines[25]).unwrap();
    v["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"key": "big.blob", "value": {"stringValue": big_blob()}}));
    let big = v.to_string();
    let text = format!("{}\n{big}\n{}\n", lines[22], lines[34]);
    std::fs::write(dir.join("big-attr.json"), text).unwrap();
    files.push(BadFile {
        name: "big-attr.json",
        records: 3,
        evidence: count(&[22, 25, 34]),
        dead: None,
        failed: false,
    });
    files
}

/// The values of `col` in `table`, grouped by the row's source file name.
fn by_source(lake: &Path, table: &str, col: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (s, v) in column(lake, table, "source")
        .into_iter()
        .zip(column(lake, table, col))
    {
        out.entry(s.rsplit('/').next().unwrap().to_string())
            .or_default()
            .push(v);
    }
    out
}

#[test]
fn bad_otlp_input_is_dead_lettered_and_every_record_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("otlp");
    let files = bad_otlp_dir(&dir);
    let lake = tmp.path().join("lake");
    let s = run(&telemetry_plan(&dir, &demo_specs(), &lake), 2);

    // The run commits; only the input whose framing broke failed.
    assert_eq!(s.status, "committed");
    assert_eq!(s.failed_inputs, 1, "{:?}", s.inputs);
    assert!(!s.all_inputs_ok());
    let failed: Vec<&str> = s
        .inputs
        .iter()
        .filter(|i| i.status == "failed")
        .map(|i| i.source.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(failed, vec!["truncated-prefix.json.zst"]);
    assert_eq!(s.dead_letters, 4);
    assert_eq!(
        s.dead_letters_by_reason,
        BTreeMap::from(
            [
                "invalid_utf8",
                "line_too_long",
                "truncated_frame",
                "zstd_frame"
            ]
            .map(|r| (r.to_string(), 1u64))
        )
    );

    // Exactly the dead letters written, where they were written.
    let reasons = by_source(&lake, "dlq", "reason");
    let dlq_line = by_source(&lake, "dlq", "line");
    let dlq_off = by_source(&lake, "dlq", "byte_offset");
    let details = by_source(&lake, "dlq", "detail");
    let shas = by_source(&lake, "dlq", "raw_sha256");
    let want_names: BTreeSet<&str> = files
        .iter()
        .filter(|f| f.dead.is_some())
        .map(|f| f.name)
        .collect();
    assert_eq!(
        reasons.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        want_names,
        "{reasons:?}"
    );
    for f in &files {
        let Some(d) = &f.dead else {
            continue;
        };
        let n = f.name;
        assert_eq!(reasons[n], vec![d.reason.to_string()], "{n}");
        let line = d.line.map_or("∅".to_string(), |l| l.to_string());
        assert_eq!(dlq_line[n], vec![line], "{n}: line");
        assert_eq!(
            dlq_off[n],
            vec![d.byte_offset.to_string()],
            "{n}: byte_offset"
        );
        if let Some(sha) = &d.raw_sha256 {
            assert_eq!(&shas[n][0], sha, "{n}: raw_sha256");
        }
        let detail = &details[n][0];
        assert!(!detail.is_empty(), "{n}");
        for w in &d.words {
            assert!(
                !detail.contains(w.as_str()),
                "{n}: detail quotes {w:?}: {detail}"
            );
        }
    }

    // Evidence rows per file: every good record's spans, logs and points
    // (for the broken framing, the messages before the break).
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for src in column(&lake, "evidence", "source") {
        *got.entry(src.rsplit('/').next().unwrap().to_string())
            .or_default() += 1;
    }
    let want: BTreeMap<String, usize> = files
        .iter()
        .map(|f| (f.name.to_string(), f.evidence))
        .collect();
    assert_eq!(got, want);
    let ids = column(&lake, "evidence", "evidence_id");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());

    // The accounting identity for every input, in records, and the counts
    // of what was written.
    let num = |v: &str| v.parse::<u64>().unwrap();
    let read = by_source(&lake, "_inputs", "records_read");
    let ok = by_source(&lake, "_inputs", "records_ok");
    let skipped = by_source(&lake, "_inputs", "records_skipped");
    let dead = by_source(&lake, "_inputs", "records_dead");
    let status = by_source(&lake, "_inputs", "status");
    let error = by_source(&lake, "_inputs", "error");
    assert_eq!(read.len(), files.len() + 2, "five OTLP inputs, two specs");
    for (name, r) in &read {
        assert_eq!(r.len(), 1, "{name}");
        assert_eq!(
            num(&r[0]),
            num(&ok[name][0]) + num(&skipped[name][0]) + num(&dead[name][0]),
            "{name}"
        );
    }
    for f in &files {
        let n = f.name;
        assert_eq!(num(&read[n][0]), f.records, "{n}: records_read");
        assert_eq!(num(&skipped[n][0]), 0, "{n}: records_skipped");
        assert_eq!(
            num(&dead[n][0]),
            u64::from(f.dead.is_some()),
            "{n}: records_dead"
        );
        let st = if f.failed { "failed" } else { "ok" };
        assert_eq!(status[n], vec![st.to_string()], "{n}: status");
        assert_eq!(error[n][0] != "∅", f.failed, "{n}: error {}", error[n][0]);
    }
    assert!(
        error["truncated-prefix.json.zst"][0].contains("past the end"),
        "{:?}",
        error["truncated-prefix.json.zst"]
    );

    // The 1 MiB attribute: the row is there, its value cut on a char
    // boundary at or below 4096 bytes, with the bytes removed named.
    let attrs: Vec<serde_json::Value> = by_source(&lake, "evidence", "attributes")
        .remove("big-attr.json")
        .unwrap()
        .iter()
        .filter(|a| a.contains("big.blob"))
        .map(|a| serde_json::from_str(a).unwrap())
        .collect();
    assert_eq!(attrs.len(), 1);
    let cut = attrs[0]["big.blob"].as_str().unwrap();
    let blob = big_blob();
    let kept = (0..=4096)
        .rev()
        .find(|&i| blob.is_char_boundary(i))
        .unwrap();
    assert_eq!(kept, 4094);
    assert_eq!(
        cut,
        format!("{}…[cut {} bytes]", &blob[..kept], blob.len() - kept)
    );
    // sea.* and http.route have their own columns.
    assert_eq!(attrs[0].as_object().unwrap().len(), 1, "{}", &attrs[0]);

    // A rerun over the same files (the broken one included) doubles
    // nothing: the rows read up to the break replace that input's rows.
    let before = table_files(&lake);
    let again = run(&telemetry_plan(&dir, &demo_specs(), &lake), 1);
    assert_eq!(again.failed_inputs, 1);
    assert_eq!(column(&lake, "dlq", "reason").len(), 4);
    assert_same_files(&before, &table_files(&lake));
}

/// The binary over the bad inputs: a length prefix past the end of a file
/// is a failed input, exit 1 (the run still commits); the other bad
/// records are only dead letters, exit 0 (spec §7, `driftlake run --help`).
#[test]
fn a_broken_framing_exits_1_and_dead_letters_alone_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("otlp");
    let files = bad_otlp_dir(&dir);
    let job = tmp.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"bad-otlp\"\n[lake]\nurl = {:?}\n[sources]\notlp = [{:?}]\nspecs = [{:?}]\n[stages]\nsessions = false\nattribution = false\nagents = false\n",
            tmp.path().join("lake").display().to_string(),
            dir.display().to_string(),
            demo_specs().display().to_string(),
        ),
    )
    .unwrap();
    let run_job = || {
        let mut c = crate::idempotency::support::bin();
        c.arg("run").arg(&job).arg("--json");
        c
    };
    let summary = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
        })
    };

    let o = run_job().output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = summary(&o);
    assert_eq!(v["status"], "committed");
    assert_eq!(v["failed_inputs"], 1);
    assert_eq!(v["dead_letters"], 4);
    let failed: Vec<&str> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "failed")
        .map(|i| i["source"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(failed, vec!["truncated-prefix.json.zst"]);

    // The same bad records without the broken framing: exit 0.
    let mut c = run_job();
    c.arg("--lake").arg(tmp.path().join("lake2"));
    for f in files.iter().filter(|f| !f.failed) {
        c.arg("--source")
            .arg(format!("otlp={}", dir.join(f.name).display()));
    }
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = summary(&o);
    assert_eq!(v["failed_inputs"], 0);
    assert_eq!(v["dead_letters"], 3);
    assert_eq!(v["inputs"].as_array().unwrap().len(), files.len() - 1 + 2);
}
