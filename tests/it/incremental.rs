//! Incremental runs and backfill (lake.md §7): only new or changed inputs
//! are read; the partitions they feed and every derived table are
//! recomputed; a backfill of days equals processing each day on its night.

use std::path::{Path, PathBuf};

use driftlake::job::JobPlan;
use driftlake::model::schema::{self, RunRow, Table};
use driftlake::pipeline::{self, RunOptions, RunSummary, Scope};
use driftlake::sink::Lake;
use driftlake::source::InputKind;

use crate::idempotency::support::*;

/// The demo's sources under `root` (the demo job's kinds).
fn demo_plan(root: &Path, lake: &Path) -> JobPlan {
    let k = |kind: InputKind, dir: &str| (kind, root.join(dir).display().to_string());
    let srcs = [
        k(InputKind::Sessrec, "artifacts"),
        k(InputKind::SessionLog, "logs"),
        k(InputKind::Asciicast, "casts"),
        k(InputKind::AgentEvents, "agents"),
        k(InputKind::Otlp, "otlp"),
        k(InputKind::Spec, "specs"),
    ];
    let refs: Vec<(InputKind, &str)> = srcs.iter().map(|(k, u)| (*k, u.as_str())).collect();
    plan(&refs, lake.to_str().unwrap(), true)
}

/// A job file `dir/name` running every stage of the demo job over the
/// sources under `src` into `lake`.
pub fn demo_job_file(dir: &Path, name: &str, src: &Path, lake: &Path) -> PathBuf {
    let job = dir.join(name);
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"it\"\n[lake]\nurl = \"{}\"\n[sources]\n\
             sessrec = [\"{s}/artifacts\"]\nsession_logs = [\"{s}/logs\"]\n\
             asciicast = [\"{s}/casts\"]\nagents = [\"{s}/agents\"]\n\
             otlp = [\"{s}/otlp\"]\nspecs = [\"{s}/specs\"]\n\
             [stages]\nsessions = true\nattribution = true\nagents = true\n\
             drift_events = true\ntelemetry = true\n",
            lake.display(),
            s = src.display()
        ),
    )
    .unwrap();
    job
}

/// The sources read this run of one kind (by path under the source root).
fn read_of(s: &RunSummary, kind: &str) -> Vec<String> {
    s.inputs
        .iter()
        .filter(|i| i.kind == kind)
        .map(|i| {
            i.source
                .rsplit("/src/")
                .next()
                .unwrap_or(&i.source)
                .to_string()
        })
        .collect()
}

/// The managed tables of a local lake (not the ledgers).
fn tables(lake: &Path) -> Vec<String> {
    let mut t: Vec<String> = std::fs::read_dir(lake)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('_') && lake.join(n).is_dir())
        .collect();
    t.sort();
    t
}

/// Columns that record the lake's history rather than its content: the
/// run that wrote a row, and the spec graph's version counter and sync
/// time (they grow each night the graph's observed edges change).
const HISTORY: [&str; 3] = ["run_id", "kg_version", "last_synced_at"];

/// The same managed tables with the same rows (less the `skip` columns).
pub fn assert_same_tables(a: &Path, b: &Path, skip: &[&str]) {
    assert_eq!(tables(a), tables(b));
    for t in tables(a) {
        let (ra, rb) = (table_rows(a, &t, skip), table_rows(b, &t, skip));
        assert!(!ra.is_empty(), "{t} is empty");
        assert_eq!(ra, rb, "table {t} differs");
    }
}

/// Copy the files of `from` that `to` lacks or holds with other bytes
/// (what arrives in a source overnight; the others keep their mtime).
fn sync_tree(from: &Path, to: &Path) {
    for (rel, bytes) in files(from) {
        if std::fs::read(to.join(&rel)).ok().as_ref() != Some(&bytes) {
            write(to, &rel, &bytes);
        }
    }
}

#[test]
fn nothing_new_reads_nothing_and_one_new_shard_is_all_that_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let p = demo_plan(&src, &lake);
    let first = run(&p, 2);
    assert!(read_of(&first, "sessrec").len() > 1);

    // Nothing new: no input of any kind is decoded (agent inputs are
    // listed with nothing new; manifests are the job's reference).
    let second = run(&p, 2);
    assert!(
        second
            .inputs
            .iter()
            .all(|i| (i.kind == "agent_events" && i.records_read == 0) || i.kind == "spec"),
        "{:?}",
        second.inputs
    );
    assert_eq!(second.agent_events, 0);
    assert_eq!(
        second.inputs_unchanged as usize,
        first.inputs.len() - second.inputs.len()
    );
    let files_before = table_files(&lake);

    // One new shard: it alone is read (with the logs, for identities).
    let sid = "6a1f0e2d-3c4b-4a59-8e7f-9d0c1b2a3948";
    write(
        &src,
        "artifacts/edge-09/ssh/transcripts/sessions-2026-05-03.jsonl",
        short_session(sid).as_bytes(),
    );
    let third = run(&p, 2);
    assert_eq!(
        read_of(&third, "sessrec"),
        ["artifacts/edge-09/ssh/transcripts/sessions-2026-05-03.jsonl"]
    );
    assert_eq!(read_of(&third, "session_log").len(), 2);
    assert!(read_of(&third, "asciicast").is_empty() && read_of(&third, "otlp").is_empty());
    assert_eq!(third.sessions.ok, 1);
    let after = table_files(&lake);
    for (k, v) in &files_before {
        if k.starts_with("sessions/date=2026-05-02")
            || k.starts_with("observations/date=2026-05-02")
        {
            assert_eq!(after.get(k), Some(v), "{k} rewritten");
        }
    }
    assert!(table_rows(&lake, "sessions", &[])
        .iter()
        .any(|r| r.contains(sid)));

    // The incremental lake equals a fresh lake over the same sources.
    let fresh = tmp.path().join("fresh");
    run(&demo_plan(&src, &fresh), 2);
    assert_same_tables(&lake, &fresh, &HISTORY);
}

#[test]
fn a_changed_log_rereads_the_shards_whose_identities_it_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let day3_log = src.join("logs/sessrec-2026-05-03.log");
    let held = std::fs::read(&day3_log).unwrap();
    std::fs::remove_file(&day3_log).unwrap();
    let lake = tmp.path().join("lake");
    let p = demo_plan(&src, &lake);
    run(&p, 2);
    let no_ip = |lake: &Path| {
        column(lake, "sessions", "src_ip")
            .iter()
            .filter(|v| *v == "∅")
            .count()
    };
    let missing = no_ip(&lake);
    assert!(missing > 0, "the 05-03 sessions have no identity yet");

    // The recorder's log of 05-03 arrives late.
    std::fs::write(&day3_log, held).unwrap();
    let second = run(&p, 2);
    let shards = read_of(&second, "sessrec");
    assert!(!shards.is_empty(), "{:?}", second.inputs);
    assert!(
        shards.iter().all(|s| s.contains("2026-05-03")),
        "only shards whose sessions change identity: {shards:?}"
    );
    assert!(no_ip(&lake) < missing);
    let fresh = tmp.path().join("fresh");
    run(&demo_plan(&src, &fresh), 2);
    assert_same_tables(&lake, &fresh, &HISTORY);
}

#[test]
fn a_new_driftlake_version_reads_everything_again() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let p = demo_plan(&src, &lake);
    let first = run(&p, 2);
    assert_eq!(
        run(&p, 2)
            .inputs
            .iter()
            .filter(|i| i.kind == "sessrec")
            .count(),
        0
    );

    // Pretend the first run was made by an older build.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = Lake::open(lake.to_str().unwrap()).unwrap();
    let row = RunRow {
        status: "committed",
        ..RunRow::running(&first.run_id, "it", 0, "0.0.1-older".into())
    };
    let b = schema::runs_batch(&[&row]).unwrap();
    rt.block_on(l.write_ledger(Table::Runs, &first.run_id, &b))
        .unwrap();
    let again = run(&p, 2);
    assert_eq!(
        read_of(&again, "sessrec").len(),
        read_of(&first, "sessrec").len()
    );
    assert_eq!(again.observations, first.observations);
}

#[test]
fn a_later_copy_of_a_committed_shard_stays_a_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let p = demo_plan(&src, &lake);
    run(&p, 2);
    let before = table_rows(&lake, "sessions", &["run_id"]);
    // A compressed copy next to the committed shard sorts after it.
    let plain = src.join("artifacts/edge-01/ssh/transcripts/sessions-2026-05-02.jsonl");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &std::fs::read(&plain).unwrap()).unwrap();
    std::fs::write(plain.with_extension("jsonl.gz"), gz.finish().unwrap()).unwrap();
    let second = run(&p, 2);
    assert_eq!(read_of(&second, "sessrec").len(), 1);
    assert!(second.sessions.duplicate > 0, "{:?}", second.sessions);
    assert_eq!(table_rows(&lake, "sessions", &["run_id"]), before);
}

#[test]
fn backfill_equals_the_nightly_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_dir();
    let src = tmp.path().join("src");
    let nightly = tmp.path().join("nightly");
    let p = demo_plan(&src, &nightly);

    // Night of 2026-05-02: that day's shards and log, the first half of
    // each agent file, the rotated OTLP file; the manifests.
    for dir in ["specs", "casts"] {
        copy_tree(&demo.join(dir), &src.join(dir));
    }
    for rel in [
        "artifacts/db-02/ssh/transcripts/sessions-2026-05-02.jsonl",
        "artifacts/db-02/telnet/transcripts/sessions-2026-05-02.jsonl",
        "artifacts/edge-01/ssh/transcripts/sessions-2026-05-02.jsonl",
        "artifacts/edge-01/telnet/transcripts/sessions-2026-05-02.jsonl",
        "logs/sessrec-2026-05-02.log",
        "otlp/otel-export-2026-05-03T00-00-00.000.json",
        "agents/quiet/startup.json",
    ] {
        write(&src, rel, &std::fs::read(demo.join(rel)).unwrap());
    }
    let agent_files = [
        "agents/busy/agent-files.jsonl",
        "agents/mixed/agent-mixed.jsonl",
        "agents/quiet/agent-quiet.jsonl",
    ];
    for rel in agent_files {
        let text = std::fs::read_to_string(demo.join(rel)).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        write(&src, rel, lines[..lines.len() / 2].concat().as_bytes());
    }
    let night1 = run(&p, 2);
    assert!(night1.sessions.ok > 0);
    // Night of 2026-05-03: everything else arrives, agent files grow.
    sync_tree(&demo, &src);
    let night2 = run(&p, 2);
    assert!(night2.inputs_unchanged > 0, "night 2 is incremental");

    // The same sources backfilled into a new lake in one go.
    let backfilled = tmp.path().join("backfilled");
    let job = demo_job_file(tmp.path(), "job.toml", &src, &backfilled);
    let o = bin()
        .args(["backfill", job.to_str().unwrap()])
        .args(["--from", "2026-05-01", "--to", "2026-05-03", "--json", "-q"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_same_tables(&nightly, &backfilled, &HISTORY);

    // Backfilling one day of the nightly lake reads that day's inputs (and
    // the ones feeding it) again, and changes no table byte.
    let before = table_files(&nightly);
    let again = pipeline::run(
        &p,
        &RunOptions {
            threads: 2,
            scope: Scope::Days {
                from: "2026-05-02".parse().unwrap(),
                to: "2026-05-02".parse().unwrap(),
            },
            ..Default::default()
        },
    )
    .unwrap();
    let shards = read_of(&again, "sessrec");
    assert_eq!(shards.len(), 4, "{shards:?}");
    assert!(shards.iter().all(|s| s.ends_with("2026-05-02.jsonl")));
    assert_eq!(table_files(&nightly), before);

    // Days the wrong way round are a usage error.
    let o = bin()
        .args(["backfill", job.to_str().unwrap()])
        .args(["--from", "2026-05-03", "--to", "2026-05-01"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--from 2026-05-03 is after --to 2026-05-01"));
}
