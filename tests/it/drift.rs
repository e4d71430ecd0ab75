//! Drift events, the gate, `drifts`, trends and the report (issue 6), over
//! the demo lake, the gate fixtures (fixtures/gate) and a generated lake
//! that holds every kind of drift event this crate emits today.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::prelude::SessionContext as DfContext;
use driftlake::drift::event::{agent_key, level_of, schema_errors, Severity};
use driftlake::drift::table::{compute_events, event_partitions, events_from_batches};
use driftlake::engine::context::{compute_attribution_state, new_context, run_sql_file};
use driftlake::engine::lake_tables::register_lake;
use driftlake::model::schema::behavior_summary_schema;
use serde_json::Value;

use crate::idempotency::support::{bin, code, demo_dir, stdout};
use crate::sql::{build_lake, in_order, runtime, write_parquet};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------
// behavior_summary rows from JSON (the gate fixtures and the generated lake)

/// `behavior_summary` batch from JSON rows with the table's columns (window
/// bounds default to the row's `date`).
fn summary_batch(rows: &[&Value]) -> RecordBatch {
    let day_us = |r: &Value| {
        let d = NaiveDate::parse_from_str(r["date"].as_str().expect("date"), "%Y-%m-%d")
            .expect("YYYY-MM-DD");
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros()
    };
    let s = |name: &str| -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(r[name].as_str());
        }
        Arc::new(b.finish())
    };
    let f = |name: &str| -> ArrayRef {
        let mut b = Float64Builder::new();
        for r in rows {
            b.append_value(r[name].as_f64().expect(name));
        }
        Arc::new(b.finish())
    };
    let ts = |offset: i64| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        for r in rows {
            b.append_value(day_us(r) + offset);
        }
        Arc::new(b.finish())
    };
    let mut rules = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for x in r["triggered_rules"].as_array().expect("rules") {
            rules.values().append_value(x.as_str().expect("rule"));
        }
        rules.append(true);
    }
    let mut count = Int64Builder::new();
    let mut kg = Int64Builder::new();
    for r in rows {
        count.append_value(r["evidence_count"].as_i64().expect("count"));
        kg.append_value(1);
    }
    let mut run = StringBuilder::new();
    for _ in rows {
        run.append_value("fixture");
    }
    let cols: Vec<ArrayRef> = vec![
        s("context"),
        s("spec_node_id"),
        ts(0),
        ts(86_400_000_000),
        f("drift_score"),
        s("drift_level"),
        f("confidence"),
        Arc::new(count.finish()),
        ts(86_399_000_000),
        s("evidence_ref"),
        Arc::new(rules.finish()),
        s("rule_scores"),
        Arc::new(kg.finish()),
        ts(86_400_000_000),
        Arc::new(run.finish()),
    ];
    RecordBatch::try_new(behavior_summary_schema(), cols).expect("summary batch")
}

/// Write JSON rows as `behavior_summary/date=…/part-0.parquet` under `lake`.
pub(crate) fn write_summary(lake: &Path, rows: &[Value]) {
    let mut by_day: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in rows {
        by_day
            .entry(r["date"].as_str().expect("date"))
            .or_default()
            .push(r);
    }
    for (day, rows) in by_day {
        write_parquet(
            &lake.join(format!("behavior_summary/date={day}/part-0.parquet")),
            &summary_batch(&rows),
        );
    }
}

fn fixture_rows(name: &str) -> Vec<Value> {
    std::fs::read_to_string(format!("{MANIFEST}/fixtures/gate/{name}.jsonl"))
        .expect("gate fixture")
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture json"))
        .collect()
}

fn gate(lake: &Path, args: &[&str]) -> Output {
    bin()
        .args(["gate", "--lake", lake.to_str().expect("utf8")])
        .args(args)
        .output()
        .expect("run gate")
}

#[test]
fn gate_exit_codes_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    for (case, fail_code) in [
        ("low_only", 0),
        ("one_high", 1),
        ("six_medium", 1),
        ("five_medium", 0),
    ] {
        let lake = tmp.path().join(case);
        write_summary(&lake, &fixture_rows(case));
        let o = gate(&lake, &["--fail"]);
        assert_eq!(code(&o), fail_code, "{case} --fail: {}", stdout(&o));
        // --warn (the default) reports and passes.
        let o = gate(&lake, &[]);
        assert_eq!(code(&o), 0, "{case} --warn");
        assert!(stdout(&o).contains("drift gate --warn"), "{}", stdout(&o));
    }
    // The medium limit is a flag: five medium fail with --max-medium 4.
    let o = gate(
        &tmp.path().join("five_medium"),
        &["--fail", "--max-medium", "4"],
    );
    assert_eq!(code(&o), 1);
    // The older day's high row counts only when the window includes it.
    let low = tmp.path().join("low_only");
    let o = gate(
        &low,
        &["--fail", "--from", "2026-05-01", "--to", "2026-05-02"],
    );
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    // Exit 2: a gate that could not run.
    let o = gate(&tmp.path().join("missing"), &["--fail"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    let o = gate(&low, &["--fail", "--from", "2027-01-01"]);
    assert_eq!(code(&o), 2, "no rows in the window");
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let o = gate(&tmp.path().join("empty"), &["--fail"]);
    assert_eq!(code(&o), 2, "no behavior_summary table");
}

#[test]
fn gate_json_and_github_output() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    write_summary(&lake, &fixture_rows("one_high"));
    let o = gate(&lake, &["--fail", "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["failed"], true);
    assert_eq!(v["counts"]["high"], 1);
    assert_eq!(v["counts"]["low"], 1);
    assert_eq!(v["from"], "2026-05-02");
    assert_eq!(
        v["drifts"][0]["spec_node_id"],
        "SEA-FLOW-commerce.place_order"
    );
    assert_eq!(v["drifts"][0]["drift_level"], "high");
    let o = gate(&lake, &["--fail", "--format", "github"]);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0]
        .starts_with("::error title=Behaviour drift high on SEA-FLOW-commerce.place_order::"));
    assert!(lines[1].starts_with("::notice "));
    assert!(lines[2].starts_with("::error title=Behaviour drift gate::"));
    // The table names the drifts and ends with the verdict.
    let o = gate(&lake, &["--fail"]);
    let t = stdout(&o);
    assert!(
        t.contains("SEA-FLOW-commerce.place_order") && t.contains("PERF-001,REL-001"),
        "{t}"
    );
    assert!(t
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .contains("FAIL: 1 node row(s) at level high"));
}

#[test]
fn scripts_ci_gate_wrapper_passes_the_exit_code_through() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    write_summary(&lake, &fixture_rows("six_medium"));
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(format!("{MANIFEST}/scripts/ci/behavior_drift_gate.sh"))
            .args(args)
            .env("DRIFTLAKE_BIN", env!("CARGO_BIN_EXE_driftlake"))
            .env("DRIFTLAKE_LAKE", &lake)
            .output()
            .expect("run the wrapper")
    };
    assert_eq!(code(&run(&["--fail"])), 1);
    assert_eq!(code(&run(&["--warn"])), 0);
    assert_eq!(code(&run(&["--fail", "--max-medium", "6"])), 0);
}

// ---------------------------------------------------------------------------
// Drift events

/// Run the demo job into `lake`.
pub(crate) fn run_demo(lake: &Path) {
    let o = bin()
        .current_dir(MANIFEST)
        .args(["run", "jobs/demo.toml", "-q", "--lake"])
        .arg(lake)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
}

/// Read every `drift_events` row of a lake back as events.
fn lake_events(lake: &Path) -> Vec<driftlake::drift::event::DriftEvent> {
    let rt = runtime();
    rt.block_on(async {
        let ctx = new_context();
        register_lake(&ctx, lake.to_str().unwrap()).await.unwrap();
        let df = ctx
            .sql("SELECT * FROM drift_events ORDER BY drift_id")
            .await
            .unwrap();
        events_from_batches(&df.collect().await.unwrap()).unwrap()
    })
}

#[test]
fn demo_lake_events_validate_and_a_rerun_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let run = || run_demo(&lake);
    run();
    let first = lake_events(&lake);
    assert!(!first.is_empty(), "the demo lake has drift events");
    for e in &first {
        let errors = schema_errors(&e.to_json());
        assert!(errors.is_empty(), "{}: {errors:?}", e.to_json());
    }
    // Events of every origin, and every telemetry type the stage emits.
    let origins: std::collections::BTreeSet<&str> =
        first.iter().map(|e| e.origin.as_str()).collect();
    assert_eq!(
        origins,
        ["agents", "attribution", "telemetry"].into_iter().collect()
    );
    let types: std::collections::BTreeSet<&str> =
        first.iter().map(|e| e.drift_type.as_str()).collect();
    for t in crate::telemetry::DEMO_DRIFT_TYPES {
        assert!(types.contains(t), "no {t} event: {types:?}");
    }
    // The CLI's JSON form is the schema's form.
    let o = bin()
        .args([
            "drifts",
            "--events",
            "--format",
            "json",
            "--lake",
            lake.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), first.len());
    for v in &lines {
        assert!(schema_errors(v).is_empty(), "{v}");
    }
    run();
    assert_eq!(lake_events(&lake), first, "a rerun writes the same events");
    let _ = demo_dir();
}

/// Agent telemetry whose profiles go tier 1 → 3 → 2 → 1 on two days.
fn generated_agent_lines() -> String {
    let mut out = String::new();
    for day in ["2026-05-03", "2026-05-04"] {
        let at = |hhmm: &str, s: u32| format!("{day}T{hhmm}:{s:02}Z");
        // 10:00 tier 1: one read.
        out.push_str(&format!(
            "{{\"type\":\"file_read\",\"source\":\"gen-bot\",\"timestamp\":\"{}\",\"data\":{{\"path\":\"/a\"}}}}\n",
            at("10:00", 0)
        ));
        // 10:05 tier 3: 100 writes and 100 requests, all different targets.
        for i in 0..100 {
            out.push_str(&format!(
                "{{\"type\":\"file_write\",\"source\":\"gen-bot\",\"timestamp\":\"{}\",\"data\":{{\"path\":\"/w/{i}\"}}}}\n{{\"type\":\"network_request\",\"source\":\"gen-bot\",\"timestamp\":\"{}\",\"data\":{{\"url\":\"https://h/{i}\"}}}}\n",
                at("10:05", i % 60),
                at("10:06", i % 60)
            ));
        }
        // 10:10 tier 2: 100 reads over 5 paths, 60/10/10/10/10.
        for i in 0..100 {
            let p = if i < 60 { 0 } else { 1 + (i % 4) };
            out.push_str(&format!(
                "{{\"type\":\"file_read\",\"source\":\"gen-bot\",\"timestamp\":\"{}\",\"data\":{{\"path\":\"/r/{p}\"}}}}\n",
                at("10:10", i % 60)
            ));
        }
        // 10:15 tier 1 again.
        out.push_str(&format!(
            "{{\"type\":\"file_read\",\"source\":\"gen-bot\",\"timestamp\":\"{}\",\"data\":{{\"path\":\"/a\"}}}}\n",
            at("10:15", 0)
        ));
    }
    out
}

/// The generated lake: the SQL fixture lake (observations with drifting,
/// conflicted and multi-actor identities; the demo agents), the generated
/// agent, 14 days of behavior_summary over two contexts, and the derived
/// tables the job computes (agent_profiles, attribution_state,
/// drift_events).
fn generated_lake(root: &Path) -> Vec<driftlake::drift::event::DriftEvent> {
    use driftlake::decode::agent::AgentDecoder;
    use driftlake::decode::frame::LineFramer;
    build_lake(root, &in_order());
    // The generated tables below replace the fixture lake's.
    for t in ["behavior_summary", "drift_events"] {
        std::fs::remove_dir_all(root.join(t)).unwrap();
    }
    let mut dec = AgentDecoder::default();
    LineFramer::new().push(generated_agent_lines().as_bytes(), &mut dec);
    for (day, b) in driftlake::agents::event_batches(&dec.events, "gen:agents.jsonl", "r0").unwrap()
    {
        write_parquet(
            &root.join(format!("agent_events/date={day}/part-gen.parquet")),
            &b,
        );
    }
    write_summary(root, &generated_summary());
    let rt = runtime();
    let url = root.to_str().unwrap().to_string();
    rt.block_on(async {
        let ctx = DfContext::new();
        drop(ctx);
        let ctx = new_context();
        register_lake(&ctx, &url).await.unwrap();
        let settings = driftlake::agents::AgentSettings::default();
        let profiles = run_sql_file(&ctx, "agent_profiles", &settings.sql_params())
            .await
            .unwrap();
        for (day, batches) in driftlake::agents::profile_partitions(&profiles, "gen").unwrap() {
            for (i, b) in batches.iter().enumerate() {
                write_parquet(
                    &root.join(format!("agent_profiles/date={day}/part-{i}.parquet")),
                    b,
                );
            }
        }
        let state = compute_attribution_state(&ctx).await.unwrap();
        for (i, b) in state.iter().enumerate() {
            let b = driftlake::pipeline::with_run_id(b, "gen").unwrap();
            write_parquet(
                &root.join(format!("attribution_state/part-{i}.parquet")),
                &b,
            );
        }
        let ctx = new_context();
        let tables = register_lake(&ctx, &url).await.unwrap();
        let events = compute_events(&ctx, &tables, &Default::default(), None)
            .await
            .unwrap();
        for (day, batches) in event_partitions(&events, "gen").unwrap() {
            for (i, b) in batches.iter().enumerate() {
                write_parquet(
                    &root.join(format!("drift_events/date={day}/part-{i}.parquet")),
                    b,
                );
            }
        }
        events
    })
}

/// 14 days × 4 nodes in two contexts, scores rising and falling, plus a
/// no-match row per context and day.
fn generated_summary() -> Vec<Value> {
    let start = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    let nodes = [
        ("commerce", "SEA-FLOW-commerce.place_order", 0.0),
        ("commerce", "SEA-FLOW-commerce.refund", 1.5),
        ("commerce", "SDS-POL-auth_required", 3.0),
        ("billing", "SEA-FLOW-billing.invoice", 4.5),
    ];
    let mut rows = Vec::new();
    for d in 0..14u64 {
        let day = start.checked_add_days(Days::new(d)).unwrap().to_string();
        for (ctx, node, phase) in nodes {
            let score = ((d as f64 + phase) / 14.0 * std::f64::consts::PI)
                .sin()
                .abs()
                * 0.95;
            let level = level_of(score).as_str();
            rows.push(serde_json::json!({
                "date": day, "context": ctx, "spec_node_id": node, "drift_score": score,
                "drift_level": level, "confidence": 0.85, "evidence_count": 100 + d as i64,
                "triggered_rules": if score >= 0.2 { vec!["PERF-001"] } else { vec![] },
                "rule_scores": format!("{{\"PERF-001\":{score}}}"), "evidence_ref": "ifl:hash:00",
            }));
        }
        for ctx in ["commerce", "billing"] {
            rows.push(serde_json::json!({
                "date": day, "context": ctx, "spec_node_id": null, "drift_score": 0.0,
                "drift_level": "none", "confidence": 0.2, "evidence_count": 3,
                "triggered_rules": [], "rule_scores": "{}", "evidence_ref": null,
            }));
        }
    }
    rows
}

#[test]
fn a_generated_lake_has_every_kind_of_event_and_all_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let events = generated_lake(tmp.path());
    let kinds: std::collections::BTreeSet<(String, &str)> = events
        .iter()
        .map(|e| (e.rule_id.clone(), e.severity.as_str()))
        .collect();
    for want in [
        ("ATT-001", "green"),  // into drifting
        ("ATT-001", "yellow"), // into conflicted / multi_actor
        ("ATT-002", "red"),    // multi_actor_suspected
        ("AGT-001", "green"),
        ("AGT-001", "yellow"),
        ("AGT-001", "red"),
    ] {
        assert!(
            kinds.contains(&(want.0.to_string(), want.1)),
            "missing {want:?} in {kinds:?}"
        );
    }
    let states: Vec<&str> = events
        .iter()
        .filter(|e| e.rule_id == "ATT-001")
        .filter_map(|e| e.notes.as_deref())
        .collect();
    for s in ["→ drifting", "→ conflicted", "→ multi_actor"] {
        assert!(
            states.iter().any(|n| n.contains(s)),
            "no transition {s}: {states:?}"
        );
    }
    for e in &events {
        let errors = schema_errors(&e.to_json());
        assert!(errors.is_empty(), "{}: {errors:?}", e.to_json());
    }
    // Read back from the lake: the same events.
    let mut back = lake_events(tmp.path());
    let mut ours = events.clone();
    back.sort_by(|a, b| a.drift_id.cmp(&b.drift_id));
    ours.sort_by(|a, b| a.drift_id.cmp(&b.drift_id));
    assert_eq!(back, ours);
    // Fingerprints: the generated agent's 1 → 3 change on two days is one
    // pattern (one key) with two drift ids; another agent has another key.
    let red: Vec<_> = events
        .iter()
        .filter(|e| e.agent_id.as_deref() == Some("gen-bot") && e.severity == Severity::Red)
        .collect();
    assert_eq!(red.len(), 2);
    assert_eq!(red[0].fingerprint_key, red[1].fingerprint_key);
    assert_eq!(red[0].fingerprint_key, agent_key("gen-bot"));
    assert_ne!(red[0].drift_id, red[1].drift_id);
    assert_ne!(
        red[0].detected_at_us / 86_400_000_000,
        red[1].detected_at_us / 86_400_000_000
    );
    let other = events
        .iter()
        .find(|e| e.agent_id.is_some() && e.agent_id.as_deref() != Some("gen-bot"))
        .expect("a demo agent's tier change");
    assert_ne!(other.fingerprint_key, red[0].fingerprint_key);
}

#[test]
fn drifts_lists_patterns_and_marks_patch_required() {
    let tmp = tempfile::tempdir().unwrap();
    generated_lake(tmp.path());
    let o = bin()
        .args([
            "drifts",
            "--format",
            "json",
            "--lake",
            tmp.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bot = rows
        .iter()
        .find(|r| r["fingerprint_key"] == agent_key("gen-bot"))
        .expect("gen-bot pattern");
    // Six changes on two days (1→3, 3→2, 2→1 each day), worst red, 6 windows.
    assert_eq!(bot["events"], 6);
    assert_eq!(bot["windows"], 6);
    assert_eq!(bot["worst_severity"], "red");
    assert_eq!(bot["episodes"], 6);
    assert_eq!(bot["patch_required"], true);
    assert_eq!(bot["patches"], serde_json::json!(["action_scope_tighten"]));
    // Patterns seen in fewer than 3 windows are not patch_required.
    assert!(rows
        .iter()
        .filter(|r| r["windows"].as_i64() < Some(3))
        .all(|r| r["patch_required"] == false));
    // CSV renders the nested `patches` list as text.
    let o = bin()
        .args([
            "drifts",
            "--format",
            "csv",
            "--lake",
            tmp.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let csv = stdout(&o);
    assert!(
        csv.starts_with("fingerprint_key,drift_type,origin,subject,"),
        "{csv}"
    );
    assert!(csv.contains("[action_scope_tighten]"), "{csv}");
    // A window filter: only the first day of the generated agent.
    let o = bin()
        .args([
            "drifts",
            "--format",
            "json",
            "--from",
            "2026-05-03",
            "--to",
            "2026-05-03",
            "--min-severity",
            "red",
        ])
        .args(["--lake", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.iter().all(|r| r["worst_severity"] == "red"));
    let bot = rows
        .iter()
        .find(|r| r["fingerprint_key"] == agent_key("gen-bot"))
        .unwrap();
    assert_eq!(bot["events"], 3);
    assert_eq!(bot["patch_required"], true);
}

#[test]
fn trends_take_a_window_an_interval_and_a_context() {
    let tmp = tempfile::tempdir().unwrap();
    generated_lake(tmp.path());
    let lake = tmp.path().to_str().unwrap();
    let trends = |args: &[&str]| -> Vec<Value> {
        let o = bin()
            .args(["trends", "--format", "json", "--lake", lake])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            code(&o),
            0,
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = trends(&["behavior"]);
    assert_eq!(
        all.len(),
        14 * 4,
        "one row per node and day, no-match rows excluded"
    );
    let billing = trends(&["behavior", "--context", "billing"]);
    assert_eq!(billing.len(), 14);
    // EWMA (α 0.3) and population CV of the node's daily max score so far.
    let scores: Vec<f64> = billing
        .iter()
        .map(|r| r["max_drift_score"].as_f64().unwrap())
        .collect();
    let mut ewma = scores[0];
    for (i, r) in billing.iter().enumerate() {
        if i > 0 {
            ewma = 0.3 * scores[i] + 0.7 * ewma;
        }
        let got = r["ewma_drift_score"].as_f64().unwrap();
        assert!((got - ewma).abs() < 1e-12, "day {i}: {got} vs {ewma}");
        let xs = &scores[..=i];
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        let cv = r["cv_drift_score"].as_f64().unwrap();
        assert!(
            (cv - sd / mean).abs() < 1e-9,
            "day {i}: cv {cv} vs {}",
            sd / mean
        );
        assert_eq!(r["drift_level"], level_of(scores[i]).as_str());
    }
    let week = trends(&[
        "behavior",
        "--interval",
        "1w",
        "--from",
        "2026-05-04",
        "--to",
        "2026-05-10",
    ]);
    assert_eq!(week.len(), 4, "one ISO week (Mon 2026-05-04) × 4 nodes");
    assert!(week
        .iter()
        .all(|r| r["bucket_start"] == "2026-05-04T00:00:00Z" && r["interval"] == "1w"));
    assert!(week.iter().all(|r| r["summary_rows"] == 7));
    let hourly = trends(&[
        "agents",
        "--interval",
        "1h",
        "--from",
        "2026-05-03",
        "--to",
        "2026-05-03",
    ]);
    assert!(!hourly.is_empty());
    assert!(hourly.iter().all(|r| r["bucket_start"]
        .as_str()
        .unwrap()
        .starts_with("2026-05-03T10:")));
    let events = trends(&["drift-events"]);
    assert!(events
        .iter()
        .any(|r| r["origin"] == "agents" && r["severity"] == "red"));
    for fam in ["primitives", "attribution"] {
        assert!(!trends(&[fam]).is_empty(), "{fam}");
    }
    // --context on a family without contexts is a usage error (exit 2).
    let o = bin()
        .args(["trends", "agents", "--context", "x", "--lake", lake])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
}

// ---------------------------------------------------------------------------
// The report

const SECTIONS: [&str; 5] = [
    "drift-score",
    "drift-levels",
    "fingerprints",
    "attribution",
    "agents",
];

/// Check a report page: well-formed (XML parse), valid HTML5 (html5lib's
/// strict parser, when the test venv is there), no script, no network, the
/// five sections in order; returns the number of `<svg` per section.
pub(crate) fn check_page(html: &str) -> Vec<usize> {
    roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("the page is well-formed");
    if let Ok(py) = std::env::var("DRIFTLAKE_ORACLE") {
        let mut child = Command::new(py)
            .args([
                "-c",
                "import sys, html5lib; html5lib.HTMLParser(strict=True).parse(sys.stdin.buffer.read()); print('ok')",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(html.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "html5lib strict parse: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no JavaScript");
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "no network"
    );
    let mut last = 0;
    let mut charts = Vec::new();
    for (i, id) in SECTIONS.iter().enumerate() {
        let at = html
            .find(&format!("<section id=\"{id}\""))
            .unwrap_or_else(|| panic!("section {id}"));
        assert!(at > last, "sections in order");
        last = at;
        let end = SECTIONS
            .get(i + 1)
            .and_then(|n| html.find(&format!("<section id=\"{n}\"")))
            .unwrap_or(html.len());
        charts.push(html[at..end].matches("<svg").count());
    }
    charts
}

fn report(lake: &Path, out: &Path, extra: &[&str]) -> (String, String) {
    let o = bin()
        .args([
            "report",
            "--lake",
            lake.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    (
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(out.with_extension("md")).unwrap(),
    )
}

#[test]
fn the_report_renders_the_demo_lake_and_a_generated_lake() {
    let tmp = tempfile::tempdir().unwrap();
    // The demo lake: sessions, agents and the telemetry stage.
    let demo = tmp.path().join("demo");
    run_demo(&demo);
    let (html, md) = report(&demo, &tmp.path().join("demo.html"), &[]);
    let charts = check_page(&html);
    assert!(
        charts.iter().all(|&n| n >= 1),
        "every section of the demo has a chart: {charts:?}"
    );
    assert!(
        html.contains("SEA-FLOW-commerce.place_order"),
        "the drifting flow is charted"
    );
    assert!(html.contains("2026-05-03"), "window ends at the newest day");
    for id in ["## ", "| "] {
        assert!(md.contains(id));
    }
    // The generated lake: every section has data and at least one chart.
    let gen = tmp.path().join("gen");
    generated_lake(&gen);
    let (html, md) = report(
        &gen,
        &tmp.path().join("gen.html"),
        &["--from", "2026-05-01", "--to", "2026-05-14"],
    );
    let charts = check_page(&html);
    assert!(
        charts.iter().all(|&n| n >= 1),
        "a chart in every section: {charts:?}"
    );
    assert!(!html.contains("class=\"empty\""), "no empty section");
    for node in ["SEA-FLOW-commerce.place_order", "SEA-FLOW-billing.invoice"] {
        // Markdown escapes `_` in cells.
        assert!(
            html.contains(node) && md.contains(&node.replace('_', "\\_")),
            "{node}"
        );
    }
    assert!(
        md.contains(&agent_key("gen-bot")),
        "top fingerprints in the Markdown twin"
    );
    // DRIFTLAKE_KEEP_REPORT=<dir> keeps the pages for a look in a browser.
    if let Ok(dir) = std::env::var("DRIFTLAKE_KEEP_REPORT") {
        for f in ["demo.html", "demo.md", "gen.html", "gen.md"] {
            std::fs::copy(tmp.path().join(f), Path::new(&dir).join(f)).unwrap();
        }
    }
    // Deterministic: the same lake gives the same bytes.
    let (again, _) = report(
        &gen,
        &tmp.path().join("again.html"),
        &["--from", "2026-05-01", "--to", "2026-05-14"],
    );
    assert_eq!(again, html);
}
