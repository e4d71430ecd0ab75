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
    for t in [
        "time",
        "outcome",
        "bypass",
        "fanout",
        "contention",
        "contradiction",
        "stale_reference",
    ] {
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
        let ts = &s.tables[t];
        assert_eq!(ts.partitions_written, 0, "{t} rewritten");
    }
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
