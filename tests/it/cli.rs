//! The `driftlake` binary: exit codes 0/1/2, `--json`, `--source`/`--lake`
//! overrides, `validate`, and `--help`.

use std::path::Path;

use crate::idempotency::support::*;

/// A job file over `src` (sessrec + logs) writing `lake`.
fn job(dir: &Path, src: &Path, lake: &Path) -> std::path::PathBuf {
    let p = dir.join("job.toml");
    std::fs::write(
        &p,
        format!(
            "[job]\nname = \"cli-test\"\n[lake]\nurl = {:?}\n[sources]\nsessrec = [{:?}]\nsession_logs = [{:?}]\n[stages]\nsessions = true\nattribution = false\n",
            lake.display().to_string(),
            src.join("artifacts").display().to_string(),
            src.join("logs").display().to_string(),
        ),
    )
    .unwrap();
    p
}

#[test]
fn usage_errors_exit_2() {
    let o = bin().output().unwrap();
    assert_eq!(code(&o), 2, "no arguments");
    let o = bin().arg("run").output().unwrap();
    assert_eq!(code(&o), 2, "run without a job");
    assert!(stderr(&o).contains("<JOB>"), "{}", stderr(&o));
    let o = bin()
        .args(["run", "x.toml", "--source", "nope=1"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
}

#[test]
fn help_documents_exit_codes() {
    let o = bin().arg("--help").output().unwrap();
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert!(
        out.contains("Exit codes (run, validate):")
            && out.contains("Exit codes (gate):")
            && out.contains("Exit codes (sql, drifts, trends, report):"),
        "{out}"
    );
    let o = bin().args(["gate", "--help"]).output().unwrap();
    assert!(stdout(&o).contains("--max-medium") && stdout(&o).contains("Exit codes:"));
    let o = bin().args(["run", "--help"]).output().unwrap();
    assert!(stdout(&o).contains("--source") && stdout(&o).contains("Exit codes:"));
}

#[test]
fn good_run_exits_0_and_json_summary_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let j = job(tmp.path(), &src, &lake);
    let o = bin()
        .args(["run", j.to_str().unwrap(), "--json", "-q"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["status"], "committed");
    assert_eq!(v["job"], "cli-test");
    assert!(v["observations"].as_u64().unwrap() > 0);
    assert!(v["observations_by_family"]["motor"].as_u64().unwrap() > 0);
    assert!(v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "ok"));
    assert!(lake.join("_manifest/observations.json").is_file());

    // The human summary names inputs, sessions, families, dead letters, time.
    let o = bin()
        .args(["run", j.to_str().unwrap(), "--full"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    // Not a terminal: one progress line per stage on stderr.
    let err = stderr(&o);
    for want in [
        "driftlake: decode: ",
        "driftlake: commit: ",
        "committed sessions, observations",
        "driftlake: drift events: ",
    ] {
        assert!(err.contains(want), "{want} missing from:\n{err}");
    }
    let quiet = bin()
        .args(["run", j.to_str().unwrap(), "--no-progress"])
        .output()
        .unwrap();
    assert!(
        !stderr(&quiet).contains("driftlake: "),
        "{}",
        stderr(&quiet)
    );
    let out = stdout(&o);
    for want in [
        "inputs",
        "sessions",
        "observations",
        "motor",
        "dead letters",
        "wall time",
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
}

#[test]
fn failed_input_exits_1_and_is_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    write(
        &src,
        "artifacts/broken-1/ssh/sessions-2026-06-01.jsonl.zst",
        b"\x28\xb5\x2f\xfd garbage garbage",
    );
    let lake = tmp.path().join("lake");
    let j = job(tmp.path(), &src, &lake);
    let o = bin().args(["run", j.to_str().unwrap()]).output().unwrap();
    assert_eq!(
        code(&o),
        1,
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(
        out.contains("failed inputs:")
            && out.contains("broken-1/ssh/sessions-2026-06-01.jsonl.zst"),
        "{out}"
    );
}

#[test]
fn overrides_point_the_job_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let j = job(tmp.path(), &tmp.path().join("nowhere"), &lake);
    // As written the job's sources do not exist: nothing committed.
    let o = bin().args(["run", j.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    // --source and --lake replace them.
    let other = tmp.path().join("other-lake");
    let o = bin()
        .args(["run", j.to_str().unwrap(), "--json"])
        .arg("--source")
        .arg(format!("sessrec={}", src.join("artifacts").display()))
        .arg("--source")
        .arg(format!("session_logs={}", src.join("logs").display()))
        .arg("--lake")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(other.join("sessions").is_dir());
    assert!(!lake.join("sessions").exists());
}

#[test]
fn validate_checks_without_io() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let j = job(tmp.path(), &tmp.path().join("src"), &lake);
    let o = bin()
        .args(["validate", j.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("job cli-test is valid"));
    assert!(!lake.exists(), "validate must not create the lake");

    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[job]\nname = \"x\"\n[lake]\nurl = \"./l\"\n[sources]\nsesrec = [\"a\"]\n",
    )
    .unwrap();
    let o = bin()
        .args(["validate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("sesrec") && err.contains(":6:"), "{err}");
}

/// Write `_lock.json` into `lake` as if `host`/`pid` held it.
fn plant_lock(lake: &Path, host: &str, pid: u32) {
    std::fs::create_dir_all(lake).unwrap();
    let holder = driftlake::sink::lock::LockHolder {
        run_id: "20260101T000000.000000Z-deadbeef".into(),
        job: "other".into(),
        pid,
        host: host.into(),
        started_at: "2026-01-01T00:00:00Z".into(),
    };
    std::fs::write(
        lake.join("_lock.json"),
        serde_json::to_vec(&holder).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_locked_lake_refuses_a_second_job_until_broken() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let run = |extra: &[&str]| {
        bin()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "run",
                "jobs/demo.toml",
                "-q",
                "--lake",
                lake.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // A run on another host holds it: refused, nothing written.
    plant_lock(&lake, "another-host", 1);
    let o = run(&[]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains(
            "is in use by run 20260101T000000.000000Z-deadbeef of job other (pid 1 on another-host"
        ) && err.contains("--break-lock"),
        "{err}"
    );
    assert!(!lake.join("sessions").exists(), "nothing committed");
    // The operator breaks it: the run commits and leaves no lock behind.
    let o = run(&["--break-lock"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(lake.join("sessions").exists());
    assert!(!lake.join("_lock.json").exists(), "released at the end");
    // A lock of a dead process on this host (a killed run) is taken over.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    plant_lock(&lake, host.trim(), 4_194_305);
    let o = run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!lake.join("_lock.json").exists());
}

#[test]
fn memory_limit_flags_are_checked_and_reach_run_and_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let lake = tmp.path().join("lake");
    let j = job(tmp.path(), &src, &lake);
    let j = j.to_str().unwrap();
    for (bad, says) in [
        ("1KiB", "below the minimum of 16 MiB"),
        ("lots", "\"lots\" is not a size"),
    ] {
        let o = bin()
            .args(["run", j, "--memory-limit", bad])
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    assert!(!lake.exists(), "nothing ran");

    // The job file's [engine] shows in the plan.
    let with_engine = tmp.path().join("engine.toml");
    let text = std::fs::read_to_string(j).unwrap();
    std::fs::write(
        &with_engine,
        format!("{text}[engine]\nmemory_limit = \"1.5GiB\"\nspill_dir = \"/var/tmp/dl\"\n"),
    )
    .unwrap();
    let o = bin()
        .args(["validate", with_engine.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("engine  memory limit 1536 MiB, spilling to /var/tmp/dl"),
        "{}",
        stdout(&o)
    );

    let spill = tmp.path().join("spill");
    let spill = spill.to_str().unwrap();
    let o = bin()
        .args([
            "run",
            j,
            "--json",
            "-q",
            "--memory-limit",
            "64MiB",
            "--spill-dir",
            spill,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["status"], "committed");
    assert_eq!(
        (v["spill_files"].as_u64(), v["spilled_bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(Path::new(spill).is_dir(), "the spill directory is made");

    let o = bin()
        .args([
            "sql",
            "--lake",
            lake.to_str().unwrap(),
            "--memory-limit",
            "16MiB",
        ])
        .args([
            "--format",
            "csv",
            "-e",
            "SELECT count(*) AS n FROM observations",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let n: u64 = stdout(&o).lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(Some(n), v["observations"].as_u64());
}
