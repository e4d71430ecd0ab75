//! The agent monitor end to end (spec/agent-monitor.md, issue 7): incremental
//! reads through the input ledger, rotation, the half-line rule, a killed
//! run's repair, dead letters across appends, and the demo's three tiers.
//! The invariant throughout: an incremental lake equals a from-scratch run
//! over the same files.

use std::io::Write;
use std::path::{Path, PathBuf};

use driftlake::pipeline::RunSummary;
use driftlake::source::InputKind;

use crate::idempotency::support::{demo_dir, files, plan, run, table_rows};

/// One event line at `t` seconds after 2026-05-02T10:00:00Z.
fn ev(agent: &str, ty: &str, t: u32, target: &str) -> String {
    let t0: u64 = 1_777_716_000;
    format!(
        "{{\"type\":\"{ty}\",\"source\":\"{agent}\",\"timestamp\":{},\"data\":{{\"path\":\"{target}\"}}}}\n",
        t0 + u64::from(t)
    )
}

fn lines(agent: &str, from: u32, n: u32) -> String {
    (from..from + n)
        .map(|k| {
            ev(
                agent,
                if k % 3 == 0 { "api_call" } else { "file_read" },
                k * 7,
                &format!("/f{}", k % 5),
            )
        })
        .collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A temp dir with `agents/<rel>` holding `text`, and the lake path beside
/// it: (dir guard, source root, lake, file).
fn agent_file(rel: &str, text: &str) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (src, lake) = (tmp.path().join("agents"), tmp.path().join("lake"));
    let file = src.join(rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    (tmp, src, lake, file)
}

fn agents_run(src: &Path, lake: &Path) -> RunSummary {
    let p = plan(
        &[(InputKind::AgentEvents, src.to_str().unwrap())],
        lake.to_str().unwrap(),
        false,
    );
    run(&p, 2)
}

/// What a reader sees: agent_events and agent_profiles rows (run ids aside).
fn agent_tables(lake: &Path) -> (Vec<String>, Vec<String>) {
    (
        table_rows(lake, "agent_events", &["run_id"]),
        table_rows(lake, "agent_profiles", &["run_id"]),
    )
}

/// A from-scratch run over the current files, in a fresh lake.
fn from_scratch(src: &Path) -> (Vec<String>, Vec<String>) {
    let fresh = tempfile::tempdir().unwrap();
    agents_run(src, fresh.path());
    agent_tables(fresh.path())
}

fn input<'a>(s: &'a RunSummary, name: &str) -> &'a driftlake::pipeline::InputSummary {
    s.inputs
        .iter()
        .find(|i| i.source.ends_with(name))
        .unwrap_or_else(|| panic!("no input {name}"))
}

/// `_inputs.byte_offset_done` of `name` in the run `run_id`.
fn offset_done(lake: &Path, run_id: &str, name: &str) -> i64 {
    let rows = table_rows(lake, "_inputs", &[]);
    let row = rows
        .iter()
        .find(|r| r.contains(&format!("run_id={run_id}|")) && r.contains(name))
        .unwrap_or_else(|| panic!("no _inputs row for {name} in {run_id}"));
    row.split('|')
        .find_map(|c| c.strip_prefix("byte_offset_done="))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn appended_lines_are_read_alone_and_equal_a_from_scratch_run() {
    let (_tmp, src, lake, file) = agent_file("host-1/agent.jsonl", &lines("a", 0, 40));
    let first = agents_run(&src, &lake);
    assert_eq!(input(&first, "agent.jsonl").records_read, 40);
    let len1 = std::fs::metadata(&file).unwrap().len();
    assert_eq!(
        offset_done(&lake, &first.run_id, "agent.jsonl"),
        len1 as i64
    );

    // New lines, some in a window the first run already profiled, and a
    // last line still being written (no newline yet).
    append(&file, &lines("a", 40, 25));
    append(&file, &ev("b", "file_write", 3, "/early"));
    let len2 = std::fs::metadata(&file).unwrap().len();
    append(&file, "{\"type\":\"file_read\",\"source\":\"a\",\"timest");
    let second = agents_run(&src, &lake);
    let i = input(&second, "agent.jsonl");
    assert_eq!((i.records_read, i.records_ok, i.records_dead), (26, 26, 0));
    assert_eq!(
        offset_done(&lake, &second.run_id, "agent.jsonl"),
        len2 as i64
    );
    assert_eq!(second.agent_events, 26);
    assert_eq!(agent_tables(&lake), from_scratch(&src));
    let (events, profiles) = agent_tables(&lake);
    assert_eq!(events.len(), 66, "the half line is not consumed");
    assert!(profiles.iter().any(|r| r.contains("agent_id=b|")));

    // Nothing new: not read at all, nothing rewritten.
    let before = files(&lake.join("agent_profiles"));
    let idle = agents_run(&src, &lake);
    assert_eq!(input(&idle, "agent.jsonl").records_read, 0);
    assert_eq!(idle.agent_inputs_unchanged, 1);
    assert_eq!(files(&lake.join("agent_profiles")), before);

    // The half line is completed: it is read now, once.
    append(&file, "amp\":1777716500}\n");
    let third = agents_run(&src, &lake);
    let i = input(&third, "agent.jsonl");
    assert_eq!((i.records_read, i.records_ok), (1, 1));
    assert_eq!(agent_tables(&lake), from_scratch(&src));
    assert_eq!(agent_tables(&lake).0.len(), 67);
}

#[test]
fn a_truncated_or_replaced_file_is_read_again_from_the_start() {
    let (_tmp, src, lake, file) = agent_file("agent.jsonl", &lines("a", 0, 30));
    agents_run(&src, &lake);

    // Truncated (rotated, copytruncate): shorter than the offset read.
    std::fs::write(&file, lines("c", 100, 4)).unwrap();
    let s = agents_run(&src, &lake);
    assert_eq!(input(&s, "agent.jsonl").records_read, 4);
    assert_eq!(agent_tables(&lake), from_scratch(&src));
    assert_eq!(
        agent_tables(&lake).0.len(),
        4,
        "no stale rows of the old content"
    );

    // Replaced by other content that is longer than the offset: the head
    // hash tells it from an append.
    std::fs::write(&file, lines("d", 500, 50)).unwrap();
    let s = agents_run(&src, &lake);
    assert_eq!(input(&s, "agent.jsonl").records_read, 50);
    assert_eq!(agent_tables(&lake), from_scratch(&src));
    assert!(agent_tables(&lake)
        .0
        .iter()
        .all(|r| r.contains("agent_id=d|")));
}

#[test]
fn a_run_killed_before_its_ledger_write_is_repaired_without_doubles() {
    let (_tmp, src, lake, file) = agent_file("agent.jsonl", &lines("a", 0, 20));
    agents_run(&src, &lake);
    append(&file, &lines("a", 20, 10));
    let second = agents_run(&src, &lake);
    // As if the second run died after committing its tables but before
    // writing `_inputs` (and `_runs`): the ledger still says 20 lines.
    std::fs::remove_file(lake.join(format!("_inputs/{}.parquet", second.run_id))).unwrap();
    let third = agents_run(&src, &lake);
    assert_eq!(
        input(&third, "agent.jsonl").records_read,
        10,
        "re-read from the old offset"
    );
    assert_eq!(agent_tables(&lake), from_scratch(&src));
    assert_eq!(agent_tables(&lake).0.len(), 30);
}

#[test]
fn dead_letters_survive_appends_and_every_input_balances() {
    let mut text = lines("a", 0, 5);
    text += "{\"type\":\"file_read\",\"timestamp\":\"1777716000\"}\n\nnot json\r\n";
    let (_tmp, src, lake, file) = agent_file("agent.jsonl", &text);
    std::fs::write(src.join("doc.json"), ev("j", "api_call", 9, "/x")).unwrap();
    let first = agents_run(&src, &lake);
    let i = input(&first, "agent.jsonl");
    assert_eq!(
        (
            i.records_read,
            i.records_ok,
            i.records_skipped,
            i.records_dead
        ),
        (8, 5, 1, 2)
    );
    append(&file, &lines("a", 5, 3));
    let second = agents_run(&src, &lake);
    assert_eq!(
        input(&second, "doc.json").records_read,
        0,
        "unchanged document"
    );
    let dlq = table_rows(&lake, "dlq", &["run_id"]);
    let reasons: Vec<&str> = dlq
        .iter()
        .filter_map(|r| r.split('|').find_map(|c| c.strip_prefix("reason=")))
        .collect();
    assert_eq!(reasons, ["bad_timestamp", "json_syntax"], "{dlq:?}");
    assert!(dlq
        .iter()
        .all(|r| r.contains("stage=agents|") && r.contains("line=")));
    for r in table_rows(&lake, "_inputs", &[]) {
        let n = |k: &str| -> i64 {
            r.split('|')
                .find_map(|c| c.strip_prefix(&format!("{k}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(
            n("records_read"),
            n("records_ok") + n("records_skipped") + n("records_dead"),
            "{r}"
        );
    }
    // A changed document is read again and replaces its row.
    std::fs::write(src.join("doc.json"), ev("j2", "api_call", 9, "/x")).unwrap();
    let third = agents_run(&src, &lake);
    assert_eq!(input(&third, "doc.json").records_read, 1);
    let events = agent_tables(&lake).0;
    assert!(events.iter().any(|r| r.contains("agent_id=j2|")));
    assert!(!events.iter().any(|r| r.contains("agent_id=j|")));
    assert_eq!(agent_tables(&lake), from_scratch(&src));
}

#[test]
fn demo_agents_land_in_tiers_one_two_and_three() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    agents_run(&demo_dir().join("agents"), &lake);
    let profiles = table_rows(&lake, "agent_profiles", &["run_id"]);
    let max_tier = |agent: &str| {
        profiles
            .iter()
            .filter(|r| r.contains(&format!("agent_id={agent}|")))
            .filter_map(|r| r.split('|').find_map(|c| c.strip_prefix("tier=")))
            .map(|t| t.parse::<i32>().unwrap())
            .max()
            .unwrap()
    };
    assert_eq!(max_tier("agent-quiet"), 1);
    assert_eq!(max_tier("agent-files"), 2);
    assert_eq!(max_tier("agent-mixed"), 3);
    // The busy agent's tier change is visible in its second window.
    assert!(profiles.iter().any(
        |r| r.contains("agent_id=agent-files|") && r.contains("prev_tier=1|tier_changed=true")
    ));
    // No target text reaches the lake: only digests (decoded rows searched,
    // as Parquet pages are compressed).
    for table in ["agent_events", "agent_profiles", "dlq", "_inputs"] {
        for row in table_rows(&lake, table, &[]) {
            assert!(
                !row.contains("/srv/data/part-"),
                "{table} holds a target path: {row}"
            );
            assert!(
                !row.contains("example.net"),
                "{table} holds a target url: {row}"
            );
        }
    }
    assert!(table_rows(&lake, "agent_events", &[])
        .iter()
        .any(|r| r.contains("target_hash=") && !r.contains("target_hash=∅")));
}

/// Rows of one table of any lake URL, through DataFusion (run ids aside).
fn lake_rows(lake: &str, sql: &str) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = driftlake::engine::context::new_context();
        driftlake::engine::lake_tables::register_lake(&ctx, lake)
            .await
            .unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        crate::idempotency::support::render(&batches, &["run_id"])
    })
}

#[test]
fn object_store_sources_are_read_by_range_too() {
    use object_store::{ObjectStoreExt, PutPayload};
    let src = driftlake::source::open_url("memory://agents-it-src/telemetry").unwrap();
    let put = |text: String| {
        let loc = src.child("host/agent.jsonl");
        let store = src.store.clone();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async move { store.put(&loc, PutPayload::from(text)).await.unwrap() });
    };
    let first = lines("m", 0, 12);
    put(first.clone());
    let p = plan(
        &[(InputKind::AgentEvents, "memory://agents-it-src/telemetry")],
        "memory://agents-it-lake/lake",
        false,
    );
    let s1 = run(&p, 2);
    assert_eq!(input(&s1, "agent.jsonl").records_read, 12);
    // The object is rewritten with more lines (what an append is in S3).
    put(first + &lines("m", 12, 5) + "{\"timestamp\":");
    let s2 = run(&p, 2);
    assert_eq!(input(&s2, "agent.jsonl").records_read, 5);
    let scratch = plan(
        &[(InputKind::AgentEvents, "memory://agents-it-src/telemetry")],
        "memory://agents-it-lake2/lake",
        false,
    );
    run(&scratch, 1);
    for q in [
        "SELECT * FROM agent_events ORDER BY source, byte_offset",
        "SELECT * FROM agent_profiles ORDER BY agent_id, window_start",
    ] {
        let inc = lake_rows("memory://agents-it-lake/lake", q);
        assert_eq!(inc, lake_rows("memory://agents-it-lake2/lake", q), "{q}");
        assert!(!inc.is_empty());
    }
    assert_eq!(
        lake_rows(
            "memory://agents-it-lake/lake",
            "SELECT count(*) AS n FROM agent_events"
        ),
        ["n=17"]
    );
}
