//! Attribution mergers against the reference (spec/behave-shell.md §6).
//!
//! `fixtures/golden/attribution/` holds random series and the reference's
//! answers, recorded by `generate.py` there (the oracle runs as a black box;
//! see that directory's README). `cargo test` needs no Python. To run the
//! same comparison over a fresh, larger sample:
//! `generate.py 5000 7 /tmp/d && ATTRIBUTION_GOLDEN_DIR=/tmp/d cargo test --test it attribution`.

use driftlake::extract::attribution::{
    aggregate, replay, AttributionThresholds, Merged, MergerKind, SeriesObs,
};
use serde_json::Value;

fn golden_dir() -> String {
    std::env::var("ATTRIBUTION_GOLDEN_DIR").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/golden/attribution").to_owned()
    })
}

fn read_lines(name: &str) -> Vec<Value> {
    let path = format!("{}/{name}", golden_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

struct Request {
    kind: Option<String>,
    series: Vec<SeriesObs>,
}

fn request(v: &Value) -> Request {
    let kind = v["value_kind"].as_str().map(str::to_owned);
    let series = v["series"]
        .as_array()
        .expect("series array")
        .iter()
        .map(|o| SeriesObs {
            value: o["value"].clone(),
            ts: o["ts"].as_f64().expect("ts"),
        })
        .collect();
    Request { kind, series }
}

/// JSON equality where floats must match bit for bit and an int never equals
/// a float (the reference prints `1` and `1.0` differently).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(p), Some(q), _, _) => p == q && x.is_f64() == y.is_f64(),
                (_, _, Some(p), Some(q)) => p == q && x.is_f64() == y.is_f64(),
                _ => {
                    x.is_f64()
                        && y.is_f64()
                        && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
        }
        _ => a == b,
    }
}

/// Compare one of our states with a reference answer; `Err` describes the
/// first difference.
fn check(series: &[SeriesObs], got: &Merged, want: &Value) -> Result<(), String> {
    let want_f = |k: &str| want[k].as_f64().ok_or_else(|| format!("{k} missing"));
    if got.state.as_str() != want["state"] {
        return Err(format!("state {} != {}", got.state.as_str(), want["state"]));
    }
    let cv = got.current.to_json(series);
    if !same_json(&cv, &want["current_value"]) {
        return Err(format!("current_value {cv} != {}", want["current_value"]));
    }
    if got.confidence.to_bits() != want_f("confidence")?.to_bits() {
        return Err(format!(
            "confidence {:?} != {}",
            got.confidence, want["confidence"]
        ));
    }
    if Some(got.observation_count as u64) != want["observation_count"].as_u64() {
        return Err(format!(
            "observation_count {} != {}",
            got.observation_count, want["observation_count"]
        ));
    }
    if got.last_observation_ts.to_bits() != want_f("last_observation_ts")?.to_bits() {
        return Err(format!(
            "last_observation_ts {} != {}",
            got.last_observation_ts, want["last_observation_ts"]
        ));
    }
    Ok(())
}

#[test]
fn attribution_merge_matches_reference_bit_for_bit() {
    let th = AttributionThresholds::default();
    let reqs = read_lines("series.jsonl");
    let want = read_lines("expected.jsonl");
    assert_eq!(reqs.len(), want.len());
    assert!(reqs.len() >= 100, "fixture too small: {}", reqs.len());
    let mut failures = Vec::new();
    let mut errors_seen = 0;
    for (i, (req, want)) in reqs.iter().zip(&want).enumerate() {
        let r = request(req);
        let got = aggregate(r.kind.as_deref(), &r.series, &th);
        let outcome = match (&got, want.get("error")) {
            (Err(e), Some(name)) => {
                errors_seen += 1;
                if e.python_name() == name {
                    Ok(())
                } else {
                    Err(format!("error {} != {name}", e.python_name()))
                }
            }
            (Err(e), None) => Err(format!("unexpected error {e}")),
            (Ok(m), Some(name)) => Err(format!("expected {name}, got {:?}", m.state)),
            (Ok(m), None) => check(&r.series, m, want),
        };
        if let Err(msg) = outcome {
            failures.push(format!("line {}: {msg}", i + 1));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        reqs.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    // The fixture must exercise the raising paths too.
    assert!(errors_seen > 0);
}

#[test]
fn attribution_replay_matches_reference_worker() {
    let th = AttributionThresholds::default();
    let reqs = read_lines("series.jsonl");
    let want = read_lines("replay.jsonl");
    assert_eq!(reqs.len(), want.len());
    let mut failures = Vec::new();
    for (i, (req, want)) in reqs.iter().zip(&want).enumerate() {
        let r = request(req);
        let outcome = match MergerKind::from_explicit(r.kind.as_deref()) {
            // An unknown kind raises on every prefix: no row.
            Err(_) => {
                if want["row"].is_null() {
                    Ok(())
                } else {
                    Err("row for unknown kind".to_owned())
                }
            }
            Ok(kind) => {
                let out = replay(kind, &r.series, &th);
                match (out.row, want["row"].is_null()) {
                    (None, true) => Ok(()),
                    (Some(row), false) => {
                        check(&r.series, &row.merged, &want["row"]).and_then(|()| {
                            let w = want["row"]["last_change_ts"]
                                .as_f64()
                                .expect("last_change_ts");
                            if row.last_change_ts.to_bits() != w.to_bits() {
                                Err(format!("last_change_ts {} != {w}", row.last_change_ts))
                            } else if Some(out.failed_prefixes as u64)
                                != want["failed_prefixes"].as_u64()
                            {
                                Err(format!(
                                    "failed_prefixes {} != {}",
                                    out.failed_prefixes, want["failed_prefixes"]
                                ))
                            } else {
                                Ok(())
                            }
                        })
                    }
                    (got, _) => Err(format!("row {got:?} != {}", want["row"])),
                }
            }
        };
        if let Err(msg) = outcome {
            failures.push(format!("line {}: {msg}", i + 1));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        reqs.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
