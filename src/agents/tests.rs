use super::*;
use crate::decode::frame::LineFramer;
use datafusion::arrow::array::{BooleanArray, Float64Array, Int32Array};
use datafusion::datasource::MemTable;

/// Decode JSON lines into `agent_events` batches (all days, one source).
fn events(jsonl: &str) -> Vec<RecordBatch> {
    let mut d = AgentDecoder::default();
    LineFramer::new().push(jsonl.as_bytes(), &mut d);
    assert_eq!(d.stats.dead, 0, "{:?}", d.dead);
    event_batches(&d.events, "mem://t/a.jsonl", "r")
        .unwrap()
        .into_values()
        .collect()
}

fn line(ty: &str, agent: &str, t: f64, target: Option<&str>) -> String {
    let data = target.map_or("{}".to_string(), |p| format!("{{\"path\":\"{p}\"}}"));
    format!("{{\"type\":\"{ty}\",\"source\":\"{agent}\",\"timestamp\":{t},\"data\":{data}}}\n")
}

/// One profile row, the columns tests look at.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    agent: String,
    start_s: i64,
    end_s: i64,
    file_ops: i64,
    network_ops: i64,
    other_ops: i64,
    events: i64,
    entropy: f64,
    score: f64,
    anomalous: bool,
    tier: i32,
    prev_tier: Option<i32>,
    changed: bool,
    date: String,
}

/// `sql/agent_profiles.sql` over the events of `jsonl`, as computed.
fn compute(jsonl: &str, settings: &AgentSettings) -> Vec<RecordBatch> {
    let batches = events(jsonl);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = crate::engine::context::new_context();
        let table = MemTable::try_new(schema::agent_events_schema(), vec![batches]).unwrap();
        ctx.register_table("agent_events", Arc::new(table)).unwrap();
        compute_profiles(&ctx, settings).await.unwrap()
    })
}

fn profiles(jsonl: &str, settings: &AgentSettings) -> Vec<Row> {
    let out = compute(jsonl, settings);
    let mut rows = Vec::new();
    for b in &out {
        let c = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
        let s = |n: &str| c(n).as_any().downcast_ref::<StringArray>().unwrap().clone();
        let i = |n: &str| c(n).as_any().downcast_ref::<Int64Array>().unwrap().clone();
        let f = |n: &str| {
            c(n).as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .clone()
        };
        let t = |n: &str| {
            c(n).as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap()
                .clone()
        };
        let i32c = |n: &str| c(n).as_any().downcast_ref::<Int32Array>().unwrap().clone();
        let bc = |n: &str| {
            c(n).as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap()
                .clone()
        };
        let (agent, ws, we, date) = (s("agent_id"), t("window_start"), t("window_end"), s("date"));
        let (fo, no, oo, ev) = (i("file_ops"), i("network_ops"), i("other_ops"), i("events"));
        let (en, sc) = (f("entropy"), f("anomaly_score"));
        let (an, ti, pt, ch) = (
            bc("anomalous"),
            i32c("tier"),
            i32c("prev_tier"),
            bc("tier_changed"),
        );
        for r in 0..b.num_rows() {
            rows.push(Row {
                agent: agent.value(r).to_string(),
                start_s: ws.value(r) / 1_000_000,
                end_s: we.value(r) / 1_000_000,
                file_ops: fo.value(r),
                network_ops: no.value(r),
                other_ops: oo.value(r),
                events: ev.value(r),
                entropy: en.value(r),
                score: sc.value(r),
                anomalous: an.value(r),
                tier: ti.value(r),
                prev_tier: (!pt.is_null(r)).then(|| pt.value(r)),
                changed: ch.value(r),
                date: date.value(r).to_string(),
            });
        }
    }
    rows
}

fn seed() -> AgentSettings {
    AgentSettings::default()
}

#[test]
fn zero_operations_score_zero_tier_one() {
    let mut s = String::new();
    for k in 0..5 {
        s += &line("process_spawn", "q", 10.0 + f64::from(k), Some("/bin/sh"));
    }
    let rows = profiles(&s, &seed());
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.file_ops, r.network_ops, r.other_ops, r.events),
        (0, 0, 5, 5)
    );
    assert_eq!(
        (r.entropy, r.score, r.tier, r.anomalous),
        (0.0, 0.0, 1, false)
    );
    assert_eq!(
        (r.start_s, r.end_s, r.date.as_str()),
        (0, 300, "1970-01-01")
    );
    assert_eq!((r.prev_tier, r.changed), (None, false));
}

#[test]
fn hundred_operations_saturate() {
    let many = |n: usize, ty: &str| {
        (0..n)
            .map(|k| line(ty, "a", k as f64 * 0.5, Some("/same")))
            .collect::<String>()
    };
    // 100 file ops: F = ln(101)/ln(101) = 1 exactly; one symbol: E = 0.
    let r = &profiles(&many(100, "file_read"), &seed())[0];
    assert_eq!((r.file_ops, r.entropy, r.score), (100, 0.0, 0.4));
    // 250 file ops still give F = 1.
    let r = &profiles(&many(250, "file_write"), &seed())[0];
    assert_eq!(r.score, 0.4);
    // 99 file ops: just below 1.
    let r = &profiles(&many(99, "file_read"), &seed())[0];
    assert_eq!(r.score, 0.4 * (100f64.ln() / 101f64.ln()));
    // 100 network ops: N = 1.
    let r = &profiles(&many(100, "api_call"), &seed())[0];
    assert_eq!((r.network_ops, r.score), (100, 0.3));
    // Both saturated plus maximal entropy: 0.4 + 0.3 + 0.3, clamped to 1.
    let mut s = many(100, "file_read");
    s += &many(100, "network_request");
    for k in 0..5 {
        s += &line("file_create", "a", 1.0, Some(&format!("/t{k}")));
    }
    let r = &profiles(&s, &seed())[0];
    assert!(r.score <= 1.0 && r.score > 0.7, "{r:?}");
    assert_eq!((r.tier, r.anomalous), (3, true));
}

#[test]
fn entropy_with_one_and_with_many_symbols() {
    // One symbol (type, target), repeated: E = 0.
    let one: String = (0..7)
        .map(|k| line("file_read", "e", f64::from(k), Some("/x")))
        .collect();
    assert_eq!(profiles(&one, &seed())[0].entropy, 0.0);
    // Eight symbols, equally often: E = 1 exactly.
    let uniform: String = (0..16)
        .map(|k| {
            line(
                "file_read",
                "e",
                f64::from(k),
                Some(&format!("/f{}", k % 8)),
            )
        })
        .collect();
    assert_eq!(profiles(&uniform, &seed())[0].entropy, 1.0);
    // Counts 2, 1, 1: H = 1.5 bits over log2(3).
    let skew = line("file_read", "e", 1.0, Some("/a"))
        + &line("file_read", "e", 2.0, Some("/a"))
        + &line("file_read", "e", 3.0, Some("/b"))
        + &line("file_write", "e", 4.0, Some("/a"));
    let e = profiles(&skew, &seed())[0].entropy;
    assert!((e - 1.5 / 3f64.log2()).abs() < 1e-12, "{e}");
    // The type is part of the symbol; a missing target is a symbol too.
    let by_type = line("file_read", "e", 1.0, None) + &line("api_call", "e", 2.0, None);
    assert_eq!(profiles(&by_type, &seed())[0].entropy, 1.0);
}

#[test]
fn tiers_at_exactly_half_and_seven_tenths() {
    let hundred: String = (0..100)
        .map(|k| line("file_read", "t", f64::from(k), Some("/p")))
        .collect();
    let weighted = |w: f64| AgentSettings {
        weight_file: w,
        weight_network: 0.0,
        weight_entropy: 0.0,
        ..seed()
    };
    let at = |w: f64| {
        let r = profiles(&hundred, &weighted(w)).remove(0);
        (r.score, r.tier, r.anomalous)
    };
    assert_eq!(at(0.5), (0.5, 1, false), "0.5 is not above 0.5");
    assert_eq!(at(0.5000001), (0.5000001, 2, false));
    assert_eq!(at(0.7), (0.7, 2, false), "0.7 is not above 0.7");
    assert_eq!(at(0.7000001), (0.7000001, 3, true));
    // A score above 1 is clamped.
    assert_eq!(at(2.0), (1.0, 3, true));
}

#[test]
fn an_event_at_the_window_end_starts_the_next_window() {
    let s =
        line("file_read", "w", 299.999999, Some("/a")) + &line("file_read", "w", 300.0, Some("/b"));
    let rows = profiles(&s, &seed());
    let spans: Vec<(i64, i64, i64)> = rows
        .iter()
        .map(|r| (r.start_s, r.end_s, r.events))
        .collect();
    assert_eq!(spans, vec![(0, 300, 1), (300, 600, 1)]);
    // Before the epoch, windows still align to it.
    let rows = profiles(&line("file_read", "w", -1.0, None), &seed());
    assert_eq!(
        (rows[0].start_s, rows[0].date.as_str()),
        (-300, "1969-12-31")
    );
}

#[test]
fn hop_windows_overlap_and_only_windows_with_events_get_rows() {
    let hop = AgentSettings {
        hop_secs: Some(100),
        ..seed()
    };
    // t = 250 is in [0,300), [100,400), [200,500); t = 300 in [100,400),
    // [200,500), [300,600); t = 1000 in [800,1100), [900,1200), [1000,1300).
    let s = line("file_read", "h", 250.0, Some("/a"))
        + &line("file_read", "h", 300.0, Some("/b"))
        + &line("api_call", "h", 1000.0, None);
    let rows = profiles(&s, &hop);
    let spans: Vec<(i64, i64)> = rows.iter().map(|r| (r.start_s, r.events)).collect();
    assert_eq!(
        spans,
        vec![
            (0, 1),
            (100, 2),
            (200, 2),
            (300, 1),
            (800, 1),
            (900, 1),
            (1000, 1)
        ]
    );
    assert!(rows.iter().all(|r| r.end_s - r.start_s == 300));
    // A hop that does not divide the window: ceil(300 / 120) = 3 candidates.
    let odd = AgentSettings {
        hop_secs: Some(120),
        ..seed()
    };
    let rows = profiles(&line("file_read", "h", 250.0, None), &odd);
    let starts: Vec<i64> = rows.iter().map(|r| r.start_s).collect();
    assert_eq!(starts, vec![0, 120, 240]);
}

#[test]
fn prev_tier_follows_each_agent_however_far_back() {
    let mut s = String::new();
    // Agent x: quiet window at 0, then a burst a day later (tier 3).
    s += &line("file_read", "x", 5.0, Some("/a"));
    for k in 0..120 {
        s += &line(
            "file_read",
            "x",
            86_400.0 + f64::from(k),
            Some(&format!("/f{k}")),
        );
        s += &line(
            "network_request",
            "x",
            86_400.0 + f64::from(k),
            Some(&format!("h{k}")),
        );
    }
    s += &line("file_read", "x", 90_000.0, Some("/a"));
    s += &line("file_read", "y", 5.0, Some("/a"));
    let rows = profiles(&s, &seed());
    let view: Vec<(&str, i32, Option<i32>, bool)> = rows
        .iter()
        .map(|r| (r.agent.as_str(), r.tier, r.prev_tier, r.changed))
        .collect();
    assert_eq!(
        view,
        vec![
            ("x", 1, None, false),
            ("x", 3, Some(1), true),
            ("x", 1, Some(3), true),
            ("y", 1, None, false),
        ]
    );
    assert_eq!(rows[1].date, "1970-01-02");
}

#[test]
fn event_batches_split_by_utc_day() {
    let s = line("file_read", "d", -0.5, None)
        + &line("file_read", "d", 0.0, None)
        + &line("file_read", "d", 86_399.999999, None)
        + &line("file_read", "d", 86_400.0, None);
    let mut d = AgentDecoder::default();
    LineFramer::new().push(s.as_bytes(), &mut d);
    let by_day = event_batches(&d.events, "src", "run").unwrap();
    let days: Vec<(String, usize)> = by_day
        .iter()
        .map(|(k, b)| (k.to_string(), b.num_rows()))
        .collect();
    assert_eq!(
        days,
        vec![
            ("1969-12-31".to_string(), 1),
            ("1970-01-01".to_string(), 2),
            ("1970-01-02".to_string(), 1)
        ]
    );
    let b = &by_day[&NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()];
    assert_eq!(b.schema(), schema::agent_events_schema());
    let op = b.column(6).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(op.value(0), "file");
}

#[test]
fn profile_partitions_split_by_date_and_drop_it() {
    let s = line("file_read", "p", 10.0, None) + &line("file_read", "p", 86_410.0, None);
    let computed = compute(&s, &seed());
    let parts = profile_partitions(&computed, "run-1").unwrap();
    assert_eq!(
        parts.keys().cloned().collect::<Vec<_>>(),
        ["1970-01-01", "1970-01-02"]
    );
    for batches in parts.values() {
        let schema = batches[0].schema();
        assert!(schema.index_of("date").is_err());
        assert_eq!(schema.fields().last().unwrap().name(), "run_id");
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "agent_id",
                "window_start",
                "window_end",
                "file_ops",
                "network_ops",
                "other_ops",
                "events",
                "entropy",
                "anomaly_score",
                "anomalous",
                "tier",
                "prev_tier",
                "tier_changed",
                "run_id"
            ]
        );
    }
}

#[test]
fn normalized_entropy_is_order_free_and_exact_at_its_edges() {
    assert_eq!(normalized_entropy(&mut vec![]), 0.0);
    assert_eq!(normalized_entropy(&mut vec![9]), 0.0);
    assert_eq!(normalized_entropy(&mut vec![9, 0]), 0.0);
    assert_eq!(normalized_entropy(&mut vec![3; 1000]), 1.0);
    assert_eq!(normalized_entropy(&mut vec![1, 1]), 1.0);
    let e = normalized_entropy(&mut vec![2, 1, 1]);
    assert!((e - 1.5 / 3f64.log2()).abs() < 1e-15, "{e}");
    // Any order gives the same bits.
    let base: Vec<u64> = (1..=200).map(|i| (i * 7919) % 97 + 1).collect();
    let want = normalized_entropy(&mut base.clone());
    let mut rev = base.clone();
    rev.reverse();
    assert_eq!(normalized_entropy(&mut rev).to_bits(), want.to_bits());
    let mut rot = base.clone();
    rot.rotate_left(77);
    assert_eq!(normalized_entropy(&mut rot).to_bits(), want.to_bits());
    assert!(want > 0.9 && want < 1.0);
}
