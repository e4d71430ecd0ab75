//! Crash safety (lake.md §2, issue 8): the job is killed with SIGKILL
//! before each of its lake writes in turn (`DRIFTLAKE_TEST_CRASH_AT`, see
//! `sink::crash`); after every kill the lake reads through its manifests,
//! and the next run converges to the tables of an uninterrupted run. Also:
//! two jobs started on one lake at the same moment.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use driftlake::sink::crash::CRASH_ENV;
use driftlake::sink::Lake;

use crate::idempotency::support::*;
use crate::incremental::{assert_same_tables, demo_job_file};

/// Tables compared after recovery, less the columns that name the run or
/// its clock (the graph's sync time is the run's start).
const SKIP: [&str; 2] = ["run_id", "last_synced_at"];

fn run_job(job: &Path, crash_at: Option<&str>) -> Output {
    let mut c = bin();
    c.args(["run", job.to_str().unwrap(), "-q"]);
    match crash_at {
        Some(k) => c.env(CRASH_ENV, k),
        None => c.env_remove(CRASH_ENV),
    };
    c.output().unwrap()
}

/// The `(n, op, object)` crash points a `list` run printed.
fn points(o: &Output) -> Vec<(u64, String, String)> {
    stderr(o)
        .lines()
        .filter_map(|l| l.strip_prefix("driftlake-crash-point "))
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let n = f.next().unwrap().parse().unwrap();
            (n, f.next().unwrap().into(), f.next().unwrap().into())
        })
        .collect()
}

/// Every file a table's manifest lists exists and decodes.
fn assert_readable(lake: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = Lake::open(lake.to_str().unwrap()).unwrap();
    let Ok(rd) = std::fs::read_dir(lake.join("_manifest")) else {
        return;
    };
    for e in rd {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let table = name.strip_suffix(".json").unwrap().to_string();
        for f in rt.block_on(l.current_files(&table)).unwrap() {
            rt.block_on(l.read_file(&table, &f))
                .unwrap_or_else(|e| panic!("{table}: {f} unreadable: {e}"));
        }
    }
}

/// No data file outside the manifests, no lock, no run left `running`.
fn assert_clean(lake: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = Lake::open(lake.to_str().unwrap()).unwrap();
    for (rel, _) in table_files(lake) {
        if rel.starts_with("_manifest/") {
            continue;
        }
        let table = rel.split('/').next().unwrap().to_string();
        let listed: Vec<String> = rt
            .block_on(l.current_files(&table))
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            listed.iter().any(|f| f.ends_with(&rel)),
            "{rel} is not in its manifest"
        );
    }
    assert!(!lake.join("_lock.json").exists());
    assert!(
        !column(lake, "_runs", "status").contains(&"running".to_string()),
        "a killed run is still `running` in _runs"
    );
}

/// Kill a run at every one of its crash points, each time on a fresh copy
/// of `base` (None: an empty lake), recover, and compare with `reference`.
fn kill_everywhere(
    tmp: &Path,
    src: &Path,
    base: Option<&Path>,
    reference: &Path,
) -> Vec<(u64, String, String)> {
    let stage = |name: &str| -> (PathBuf, PathBuf) {
        let lake = tmp.join(name);
        let _ = std::fs::remove_dir_all(&lake);
        if let Some(b) = base {
            copy_tree(b, &lake);
        }
        (
            demo_job_file(tmp, &format!("{name}.toml"), src, &lake),
            lake,
        )
    };
    let (job, lake) = stage("listing");
    let listed = run_job(&job, Some("list"));
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    let all = points(&listed);
    assert_eq!(
        table_rows(&lake, "sessions", &SKIP),
        table_rows(reference, "sessions", &SKIP),
        "the listing run is an ordinary run"
    );
    for (n, op, object) in &all {
        let (job, lake) = stage("killed");
        let o = run_job(&job, Some(&n.to_string()));
        assert_eq!(
            o.status.signal(),
            Some(9),
            "point {n} ({op} {object}) did not kill: {}",
            stderr(&o)
        );
        assert_readable(&lake);
        let o = run_job(&job, None);
        assert_eq!(code(&o), 0, "recovery after point {n}: {}", stderr(&o));
        assert_same_tables(reference, &lake, &SKIP);
        assert_clean(&lake);
    }
    all
}

#[test]
fn a_run_killed_at_any_write_leaves_a_readable_lake_and_the_next_run_converges() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let src = tmp.join("src");
    copy_tree(&demo_dir(), &src);

    // A first run over an empty lake: every stage writes.
    let first = tmp.join("first");
    let o = run_job(&demo_job_file(tmp, "first.toml", &src, &first), None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let cover = demo_job_file(tmp, "cover.toml", &src, &tmp.join("cover"));
    let listed = points(&run_job(&cover, Some("list")));
    let ledgers = ["_inputs", "_runs"];
    for table in driftlake::model::schema::MANAGED_TABLES
        .iter()
        .chain(&ledgers)
    {
        assert!(
            listed
                .iter()
                .any(|(_, _, o)| o.contains(&format!("/{table}/"))
                    || o.ends_with(&format!("_manifest/{table}.json"))),
            "no crash point writes {table}"
        );
    }
    let n1 = kill_everywhere(tmp, &src, None, &first).len();
    assert!(n1 >= 20, "{n1} crash points");

    // An incremental run that replaces partitions (old files deleted after
    // the switch): one shard grows, one agent file gets new lines.
    let shard = src.join("artifacts/lab-03/ssh/sessions-2026-05-03.jsonl");
    let mut text = std::fs::read(&shard).unwrap();
    let sid = "2c9d8e7f-6a5b-4c3d-9e1f-0a1b2c3d4e5f";
    text.extend_from_slice(short_session(sid).as_bytes());
    std::fs::write(&shard, text).unwrap();
    let agent = src.join("agents/quiet/agent-quiet.jsonl");
    let mut lines = std::fs::read(&agent).unwrap();
    let last = lines[..lines.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let tail = lines[last..].to_vec();
    lines.extend_from_slice(&tail);
    std::fs::write(&agent, lines).unwrap();
    let second = tmp.join("second");
    copy_tree(&first, &second);
    let o = run_job(&demo_job_file(tmp, "second.toml", &src, &second), None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(table_rows(&second, "sessions", &[])
        .iter()
        .any(|r| r.contains(sid)));
    let p2 = kill_everywhere(tmp, &src, Some(&first), &second);
    assert!(p2.len() >= 10, "{p2:?}");
    assert!(
        p2.iter()
            .any(|(_, op, o)| op == "delete" && o.contains("/sessions/date=")),
        "the replaced partition's old file is deleted after the switch: {p2:?}"
    );
}

#[test]
fn two_jobs_started_together_on_one_lake_do_not_corrupt_it() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let src = tmp.join("src");
    copy_tree(&demo_dir(), &src);
    let reference = tmp.join("reference");
    let o = run_job(&demo_job_file(tmp, "ref.toml", &src, &reference), None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let lake = tmp.join("shared");
    let job = demo_job_file(tmp, "shared.toml", &src, &lake);
    let mut refused = 0;
    for _ in 0..5 {
        let start = || {
            bin()
                .args(["run", job.to_str().unwrap(), "-q", "--full"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (start(), start());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            match code(o) {
                0 => {}
                2 => {
                    assert!(
                        stderr(o).contains("is in use by run"),
                        "the second job names the holder: {}",
                        stderr(o)
                    );
                    refused += 1;
                }
                c => panic!("exit {c}: {}", stderr(o)),
            }
        }
        assert_readable(&lake);
        assert_same_tables(&reference, &lake, &SKIP);
        assert_clean(&lake);
    }
    assert!(refused > 0, "the two jobs never overlapped in 5 tries");
}
