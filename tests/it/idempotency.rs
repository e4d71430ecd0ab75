//! Idempotency and partition replace (lake.md §2): a rerun over the same
//! sources leaves every table byte for byte as it was; a changed shard
//! replaces exactly its partitions; a killed run's leftovers are repaired.
//!
//! Also holds the helpers the other lake tests share (`support`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use driftlake::job::{JobPlan, SourceSpec};
use driftlake::pipeline::{self, RunOptions, RunSummary};
use driftlake::source::InputKind;

pub mod support {
    use super::*;
    use datafusion::arrow::array::{Array, RecordBatch};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// The `driftlake` binary of this build, `RUST_LOG` cleared.
    pub fn bin() -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_driftlake"));
        c.env_remove("RUST_LOG");
        c
    }

    /// A finished command's exit code.
    pub fn code(o: &std::process::Output) -> i32 {
        o.status.code().expect("exited normally")
    }

    /// A finished command's stdout as text.
    pub fn stdout(o: &std::process::Output) -> String {
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A finished command's stderr as text.
    pub fn stderr(o: &std::process::Output) -> String {
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// The repo's demo fixtures.
    pub fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo")
    }

    /// Recursively copy a directory.
    pub fn copy_tree(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            let to = dst.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &to);
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
    }

    /// One short sessrec session (`id` typed, its output) under `sid`,
    /// starting 2026-05-03: what the tests append to or add as a shard.
    pub fn short_session(sid: &str) -> String {
        format!(
            "{{\"sid\":\"{sid}\",\"hdr\":{{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1777780000,\"env\":{{\"SHELL\":\"/bin/bash\",\"TERM\":\"xterm\"}}}}}}\n\
             {{\"sid\":\"{sid}\",\"t\":0.500000,\"ch\":\"i\",\"d\":\"id\\r\"}}\n\
             {{\"sid\":\"{sid}\",\"t\":0.700000,\"ch\":\"o\",\"d\":\"uid=0(root)\\r\\n# \"}}\n"
        )
    }

    /// Write `bytes` at `root/rel`, creating directories.
    pub fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// A plan over the given sources (no attribution unless asked).
    pub fn plan(sources: &[(InputKind, &str)], lake: &str, attribution: bool) -> JobPlan {
        JobPlan {
            max_rows_per_file: driftlake::sink::FILE_ROWS,
            stream_shards_from: driftlake::job::STREAM_SHARDS_FROM,
            name: "it".into(),
            lake: lake.into(),
            sources: sources
                .iter()
                .map(|(k, u)| SourceSpec {
                    kind: *k,
                    url: u.to_string(),
                    signal: None,
                })
                .collect(),
            sessions: true,
            attribution,
            attribution_thresholds: Default::default(),
            agents: sources.iter().any(|(k, _)| *k == InputKind::AgentEvents),
            agent_settings: Default::default(),
            drift_events: attribution,
            telemetry: sources
                .iter()
                .any(|(k, _)| matches!(k, InputKind::Otlp | InputKind::Spec)),
            correlation_weights: Default::default(),
            outputs: Default::default(),
            storage: Default::default(),
            engine: Default::default(),
        }
    }

    /// Run a plan with `threads` workers.
    pub fn run(plan: &JobPlan, threads: usize) -> RunSummary {
        pipeline::run(
            plan,
            &RunOptions {
                threads,
                ..Default::default()
            },
        )
        .expect("run commits")
    }

    /// [`run`] reading every listed input (`driftlake run --full`).
    pub fn run_full(plan: &JobPlan, threads: usize) -> RunSummary {
        pipeline::run(
            plan,
            &RunOptions {
                threads,
                scope: pipeline::Scope::Full,
                ..Default::default()
            },
        )
        .expect("run commits")
    }

    /// Every file under `dir` (relative path → bytes).
    pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(root, &e.path(), out);
                } else {
                    let rel = e
                        .path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.insert(rel, std::fs::read(e.path()).unwrap());
                }
            }
        }
        walk(dir, dir, &mut out);
        out
    }

    /// Decode a Parquet file.
    pub fn read_parquet(bytes: &[u8]) -> Vec<RecordBatch> {
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    }

    /// Rows of batches rendered `col=value|…`, skipping `skip` columns.
    pub fn render(batches: &[RecordBatch], skip: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let opts = FormatOptions::default().with_null("∅");
        for b in batches {
            let schema = b.schema();
            let cols: Vec<(String, ArrayFormatter)> = schema
                .fields()
                .iter()
                .zip(b.columns())
                .filter(|(f, _)| !skip.contains(&f.name().as_str()))
                .map(|(f, c)| {
                    (
                        f.name().clone(),
                        ArrayFormatter::try_new(c.as_ref() as &dyn Array, &opts).unwrap(),
                    )
                })
                .collect();
            for r in 0..b.num_rows() {
                let cells: Vec<String> = cols
                    .iter()
                    .map(|(n, f)| format!("{n}={}", f.value(r)))
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out
    }

    /// Rows of one table of a local lake, `date=` prefix added, sorted.
    pub fn table_rows(lake: &Path, table: &str, skip: &[&str]) -> Vec<String> {
        let mut rows = Vec::new();
        for (rel, bytes) in files(&lake.join(table)) {
            if !rel.ends_with(".parquet") {
                continue;
            }
            let part = rel
                .split('/')
                .find(|p| p.starts_with("date="))
                .unwrap_or("")
                .to_string();
            rows.extend(
                render(&read_parquet(&bytes), skip)
                    .into_iter()
                    .map(|r| format!("{part}|{r}")),
            );
        }
        rows.sort();
        rows
    }

    /// The string values of one column of a table.
    pub fn column(lake: &Path, table: &str, col: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (rel, bytes) in files(&lake.join(table)) {
            if !rel.ends_with(".parquet") {
                continue;
            }
            for b in read_parquet(&bytes) {
                let Some(idx) = b.schema().index_of(col).ok() else {
                    continue;
                };
                let f = ArrayFormatter::try_new(
                    b.column(idx).as_ref(),
                    &FormatOptions::default().with_null("∅"),
                )
                .unwrap();
                out.extend((0..b.num_rows()).map(|r| f.value(r).to_string()));
            }
        }
        out
    }

    /// The data files of the managed tables plus their manifests.
    pub fn table_files(lake: &Path) -> BTreeMap<String, Vec<u8>> {
        files(lake)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("_runs/") && !k.starts_with("_inputs/"))
            .collect()
    }
}

use support::*;

fn demo_sources(root: &Path) -> Vec<(InputKind, String)> {
    vec![
        (
            InputKind::Sessrec,
            root.join("artifacts").display().to_string(),
        ),
        (
            InputKind::SessionLog,
            root.join("logs").display().to_string(),
        ),
        (
            InputKind::Asciicast,
            root.join("casts").display().to_string(),
        ),
    ]
}

fn as_refs(v: &[(InputKind, String)]) -> Vec<(InputKind, &str)> {
    v.iter().map(|(k, u)| (*k, u.as_str())).collect()
}

#[test]
fn rerun_leaves_tables_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let srcs = demo_sources(&src);
    let p = plan(&as_refs(&srcs), lake.to_str().unwrap(), false);

    let first = run(&p, 2);
    assert!(first.sessions.ok > 0 && first.observations > 0, "{first:?}");
    let before = table_files(&lake);
    assert!(
        before.keys().any(|k| k.starts_with("observations/date=")),
        "{:?}",
        before.keys()
    );
    let rows_before = table_rows(&lake, "observations", &[]);
    assert_eq!(rows_before.len() as u64, first.observations);

    let second = run(&p, 2);
    assert_ne!(first.run_id, second.run_id);
    assert_eq!(
        table_files(&lake),
        before,
        "a rerun must not change any table byte"
    );
    assert_eq!(table_rows(&lake, "observations", &[]), rows_before);
    for t in ["sessions", "observations", "dlq"] {
        let s = &second.tables[t];
        assert_eq!(s.partitions_written, 0, "{t}: {s:?}");
        assert!(s.partitions_unchanged > 0, "{t}: {s:?}");
    }
    // Nothing new: no session-side input was read again.
    assert!(
        second
            .inputs
            .iter()
            .all(|i| matches!(i.kind, "agent_events" | "spec")),
        "{:?}",
        second.inputs
    );
    assert_eq!(
        second.inputs_unchanged as usize,
        first.inputs.len() - second.inputs.len()
    );
    assert_eq!((second.sessions.ok, second.observations), (0, 0));
    // Both runs are in the run ledger, both committed.
    let runs = column(&lake, "_runs", "status");
    assert_eq!(runs, ["committed", "committed"]);
    assert_eq!(
        column(&lake, "_inputs", "run_id").len(),
        first.inputs.len() + second.inputs.len()
    );
    // `--full` reads everything again and changes no byte either.
    let third = run_full(&p, 2);
    assert_eq!(
        (third.inputs.len(), third.inputs_unchanged),
        (first.inputs.len(), 0)
    );
    assert_eq!(third.observations, first.observations);
    assert_eq!(table_files(&lake), before);
}

/// A copy of the demo sources in a new temporary directory, and two lake
/// paths beside it.
fn demo_copy() -> (
    tempfile::TempDir,
    Vec<(InputKind, String)>,
    PathBuf,
    PathBuf,
) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let srcs = demo_sources(&src);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    (tmp, srcs, a, b)
}

#[test]
fn fresh_lake_and_thread_count_give_the_same_rows_and_ids() {
    let (_tmp, srcs, a, b) = demo_copy();
    run(&plan(&as_refs(&srcs), a.to_str().unwrap(), false), 1);
    run(&plan(&as_refs(&srcs), b.to_str().unwrap(), false), 4);
    for t in ["sessions", "observations", "dlq"] {
        let ra = table_rows(&a, t, &["run_id"]);
        assert!(!ra.is_empty(), "{t}");
        assert_eq!(ra, table_rows(&b, t, &["run_id"]), "{t}");
    }
    // Content-addressed names do not depend on the run either.
    let names = |l: &Path| {
        table_files(l)
            .into_keys()
            .filter(|k| k.ends_with(".parquet"))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&b));
    // Ids are the documented hash, and unique per (evidence_ref, primitive).
    let ids = column(&a, "observations", "id");
    let refs = column(&a, "observations", "evidence_ref");
    let prims = column(&a, "observations", "primitive");
    let mut seen = std::collections::HashSet::new();
    for ((id, r), p) in ids.iter().zip(&refs).zip(&prims) {
        assert_eq!(id, &pipeline::observation_id(r, p));
        assert!(seen.insert((r.clone(), p.clone())), "duplicate ({r}, {p})");
    }
}

#[test]
fn shards_read_in_two_streamed_passes_give_the_same_lake() {
    let (tmp, srcs, a, b) = demo_copy();
    let whole = run(&plan(&as_refs(&srcs), a.to_str().unwrap(), false), 2);
    let mut streamed = plan(&as_refs(&srcs), b.to_str().unwrap(), false);
    streamed.stream_shards_from = 0;
    // Small chunks: a shard's rows reach the spool in many pieces a day.
    streamed.max_rows_per_file = 7;
    let streamed = run(&streamed, 2);
    assert!(whole.sessions.ok > 0);
    assert_eq!(
        format!(
            "{:?}",
            (whole.sessions, whole.observations, whole.dead_letters)
        ),
        format!(
            "{:?}",
            (
                streamed.sessions,
                streamed.observations,
                streamed.dead_letters
            )
        )
    );
    // The same rows, in files of 7 rows rather than one file a partition.
    for t in ["sessions", "observations", "dlq", "_inputs"] {
        let ra = table_rows(&a, t, &["run_id"]);
        assert!(!ra.is_empty(), "{t}");
        assert_eq!(ra, table_rows(&b, t, &["run_id"]), "{t}");
    }
    let parquet_files = |l: &Path| {
        files(&l.join("observations"))
            .keys()
            .filter(|k| k.ends_with(".parquet"))
            .count()
    };
    assert!(parquet_files(&b) > 2 * parquet_files(&a));
    // Read whole into files of 7 rows too: the same file names, which are
    // the hash of the rows in order (the Parquet bytes may differ with the
    // batches the writer was handed).
    let c = tmp.path().join("c");
    let mut whole7 = plan(&as_refs(&srcs), c.to_str().unwrap(), false);
    whole7.max_rows_per_file = 7;
    run(&whole7, 2);
    let names = |l: &Path| {
        table_files(l)
            .into_keys()
            .filter(|k| {
                k.ends_with(".parquet")
                    && (k.starts_with("sessions/") || k.starts_with("observations/"))
            })
            .collect::<Vec<_>>()
    };
    assert!(names(&b).len() > 10);
    assert_eq!(names(&c), names(&b));
}

#[test]
fn changed_shard_replaces_only_its_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let srcs = demo_sources(&src);
    let p = plan(&as_refs(&srcs), lake.to_str().unwrap(), false);
    run(&p, 2);
    let before = table_files(&lake);
    let sessions_before = table_rows(&lake, "sessions", &["run_id"]);

    // A new session appended to one 2026-05-03 shard.
    let shard = src.join("artifacts/lab-03/ssh/sessions-2026-05-03.jsonl");
    let mut text = std::fs::read(&shard).unwrap();
    let sid = "77777777-1111-4222-8333-944444444444";
    text.extend_from_slice(short_session(sid).as_bytes());
    std::fs::write(&shard, text).unwrap();
    let second = run(&p, 2);
    assert_eq!(second.tables["sessions"].partitions_written, 1);
    let after = table_files(&lake);
    // 2026-05-02 files untouched; the 2026-05-03 session file replaced, not appended.
    for (k, v) in &before {
        if k.contains("date=2026-05-02") {
            assert_eq!(after.get(k), Some(v), "{k}");
        }
    }
    let d3 = |m: &BTreeMap<String, Vec<u8>>| {
        m.keys()
            .filter(|k| k.starts_with("sessions/date=2026-05-03/"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(d3(&after).len(), 1, "old file removed: {:?}", d3(&after));
    assert_ne!(d3(&after), d3(&before));
    let sessions_after = table_rows(&lake, "sessions", &["run_id"]);
    assert_eq!(sessions_after.len(), sessions_before.len() + 1);
    assert!(sessions_after.iter().any(|r| r.contains(sid)));
}

#[test]
fn leftovers_of_a_killed_run_are_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let srcs = demo_sources(&src);
    let p = plan(&as_refs(&srcs), lake.to_str().unwrap(), false);
    run(&p, 2);
    let before = table_files(&lake);
    // A run killed after writing a new file, before switching the manifest.
    write(
        &lake,
        "observations/date=2026-05-02/part-deadbeefdeadbeef.parquet",
        b"half-written",
    );
    write(
        &lake,
        "sessions/date=2031-01-01/part-0123456789abcdef.parquet",
        b"orphan",
    );
    run(&p, 2);
    let after = table_files(&lake);
    assert!(
        after
            .keys()
            .all(|k| !k.contains("deadbeef") && !k.contains("2031")),
        "{:?}",
        after.keys()
    );
    assert_eq!(after, before);
}

#[test]
fn memory_lake_and_sources_round_trip() {
    use object_store::{ObjectStoreExt, PutPayload};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let src = driftlake::source::open_url("memory://it-memory/src").unwrap();
    for (rel, bytes) in files(&demo_dir().join("artifacts")) {
        let loc = src.child(&rel);
        rt.block_on(src.store.put(&loc, PutPayload::from(bytes)))
            .unwrap();
    }
    let p = plan(
        &[(InputKind::Sessrec, "memory://it-memory/src")],
        "memory://it-memory/lake",
        false,
    );
    let first = run(&p, 2);
    assert!(first.sessions.ok > 0);
    let lake = driftlake::sink::Lake::open("memory://it-memory/lake").unwrap();
    let files1 = rt.block_on(lake.current_files("observations")).unwrap();
    assert!(!files1.is_empty());
    let second = run(&p, 2);
    assert_eq!(second.tables["observations"].partitions_written, 0);
    assert_eq!(
        rt.block_on(lake.current_files("observations")).unwrap(),
        files1
    );
    // The files the manifest lists exist and decode to the summary's count.
    let mut n = 0;
    for f in &files1 {
        let bytes =
            rt.block_on(async { lake.root.store.get(f).await.unwrap().bytes().await.unwrap() });
        n += read_parquet(&bytes)
            .iter()
            .map(|b| b.num_rows() as u64)
            .sum::<u64>();
    }
    assert_eq!(n, first.observations);
}
