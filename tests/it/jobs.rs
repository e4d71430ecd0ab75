//! The shipped job files and schedules (issue 8), and a job's `[output]`
//! through the binary: every `jobs/*.toml` validates without I/O, the
//! backfill job plans like the nightly one, the cron and systemd examples
//! name shipped files, and an outputs-only job over the demo lake writes
//! the report, the trend tables and the gate's verdict.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, StringArray};
use driftlake::job::{JobSpec, Overrides};
use serde_json::Value;

use crate::drift::{check_page, run_demo};
use crate::idempotency::support::{
    bin, code, demo_dir, files, read_parquet, stderr, stdout, table_rows,
};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// The shipped job files, sorted.
fn shipped_jobs() -> Vec<PathBuf> {
    let mut jobs: Vec<PathBuf> = std::fs::read_dir(Path::new(MANIFEST).join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    jobs.sort();
    jobs
}

#[test]
fn every_shipped_job_validates_without_io() {
    let jobs = shipped_jobs();
    let names: Vec<String> = jobs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "backfill.toml",
        "demo.toml",
        "nightly.toml",
        "trends-weekly.toml",
    ] {
        assert!(names.iter().any(|n| n == want), "jobs/{want} is missing");
    }
    // An empty working directory (demo.toml's relative sources and lake do
    // not exist there) and an S3 endpoint nothing listens on: validate
    // passes only because it opens neither the sources nor the lake.
    let cwd = tempfile::tempdir().unwrap();
    for job in &jobs {
        let o = bin()
            .current_dir(cwd.path())
            .env("AWS_ENDPOINT", "http://127.0.0.1:9")
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "none")
            .env("AWS_SECRET_ACCESS_KEY", "none")
            .env("AWS_REGION", "us-east-1")
            .arg("validate")
            .arg(job)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}: {}", job.display(), stderr(&o));
        assert!(stdout(&o).contains(" is valid\n"), "{}", stdout(&o));
    }
    assert!(
        files(cwd.path()).is_empty() && std::fs::read_dir(cwd.path()).unwrap().next().is_none(),
        "validate created something in its working directory"
    );
    // The same demo job run from there fails: its sources are not there.
    let o = bin()
        .current_dir(cwd.path())
        .args(["run", "--lake", "memory://x/lake"])
        .arg(Path::new(MANIFEST).join("jobs/demo.toml"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn validate_prints_the_outputs_of_the_weekly_job() {
    let o = bin()
        .arg("validate")
        .arg(Path::new(MANIFEST).join("jobs/trends-weekly.toml"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "job trends-weekly is valid",
        "  stages  none",
        "  output  report        reports/weekly.html + reports/weekly.md",
        "  output  trends        reports/trends/trends_<family>.parquet, interval 1w",
        "  output  gate          reports/gate.json (fail, max medium 5)",
        "  window  28 days ending at the newest day with data",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    assert!(!out.contains("  source  "), "{out}");
}

#[test]
fn the_backfill_job_plans_like_the_nightly_job() {
    let plan = |name: &str| {
        let path = Path::new(MANIFEST).join("jobs").join(name);
        JobSpec::load(&path)
            .unwrap()
            .plan(name, &Overrides::default())
            .unwrap()
    };
    let (nightly, backfill) = (plan("nightly.toml"), plan("backfill.toml"));
    assert_eq!(
        (nightly.name.as_str(), backfill.name.as_str()),
        ("nightly", "backfill")
    );
    let mut same = backfill.clone();
    same.name = nightly.name.clone();
    assert_eq!(same, nightly, "backfill.toml drifted from nightly.toml");
}

/// The `jobs/…` files a schedule file names, e.g. `$JOBS/nightly.toml` or
/// `/opt/driftlake/jobs/nightly.toml` → `nightly.toml`.
fn named_jobs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for word in line.split_whitespace() {
            if let Some(rest) = word
                .strip_prefix("$JOBS/")
                .or_else(|| word.strip_prefix("/opt/driftlake/jobs/"))
            {
                out.push(rest.to_string());
            }
        }
    }
    out
}

#[test]
fn the_schedules_run_shipped_jobs() {
    let jobs = Path::new(MANIFEST).join("jobs");
    let cron = std::fs::read_to_string(jobs.join("crontab.example")).unwrap();
    let in_cron = named_jobs(&cron);
    assert_eq!(in_cron, ["nightly.toml", "trends-weekly.toml"], "{cron}");
    assert!(
        cron.contains("driftlake backfill"),
        "the monthly backfill note"
    );
    for (unit, job) in [
        ("driftlake-nightly", "nightly.toml"),
        ("driftlake-trends-weekly", "trends-weekly.toml"),
    ] {
        let service =
            std::fs::read_to_string(jobs.join(format!("systemd/{unit}.service"))).unwrap();
        assert_eq!(named_jobs(&service), [job], "{service}");
        for line in [
            "Type=oneshot",
            "User=driftlake",
            "EnvironmentFile=-/etc/driftlake/env",
            "WorkingDirectory=/var/lib/driftlake",
            "ReadWritePaths=/var/lib/driftlake",
            "ProtectSystem=strict",
        ] {
            assert!(service.lines().any(|l| l == line), "{unit}: {line}");
        }
        let timer = std::fs::read_to_string(jobs.join(format!("systemd/{unit}.timer"))).unwrap();
        assert!(
            timer.lines().any(|l| l == "Persistent=true"),
            "{unit}.timer"
        );
        assert!(
            timer.lines().any(|l| l.starts_with("OnCalendar=")),
            "{unit}.timer"
        );
    }
    for job in in_cron {
        assert!(jobs.join(&job).is_file(), "{job}");
    }
}

/// `jobs/trends-weekly.toml` with its lake pointed at `lake`.
fn weekly_job(dir: &Path, lake: &Path) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(MANIFEST).join("jobs/trends-weekly.toml"))
        .unwrap()
        .replace(
            "url = \"s3://decnet-lake/driftlake\"",
            &format!("url = {:?}", lake.to_str().unwrap()),
        );
    assert!(!text.contains("s3://decnet-lake"), "the lake line moved");
    let p = dir.join("weekly.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The managed tables' manifests of a lake (what a stage would rewrite).
fn manifests(lake: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    files(&lake.join("_manifest"))
}

#[test]
fn the_weekly_job_writes_report_trends_and_gate_from_the_demo_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    run_demo(&lake);
    let before = manifests(&lake);
    let cwd = tmp.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    let job = weekly_job(tmp.path(), &lake);
    // Relative output paths land under the working directory.
    let o = bin()
        .current_dir(&cwd)
        .arg("run")
        .arg(&job)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        stdout(&o).contains("driftlake run trends-weekly"),
        "{}",
        stdout(&o)
    );
    // The demo's days are 2026-05-01..03: 28 days back from the newest,
    // no earlier than the oldest.
    assert!(
        err.contains("report for 2026-05-01 – 2026-05-03 written to reports/weekly.html"),
        "{err}"
    );
    // No stage ran: every table is as the demo run left it; the run is in
    // _runs with no inputs.
    assert_eq!(
        manifests(&lake),
        before,
        "an outputs-only job rewrote a table"
    );
    let runs = table_rows(&lake, "_runs", &[]);
    assert!(
        runs.iter().any(|r| r.contains("|job=trends-weekly|")
            && r.contains("|status=committed|")
            && r.contains("|inputs=0|")),
        "{runs:#?}"
    );

    let reports = cwd.join("reports");
    let html = std::fs::read_to_string(reports.join("weekly.html")).unwrap();
    check_page(&html);
    let md = std::fs::read_to_string(reports.join("weekly.md")).unwrap();
    assert!(md.starts_with("# "), "{md}");
    assert!(
        md.contains("2026-05-01") && md.contains("2026-05-03"),
        "{md}"
    );

    let trends = files(&reports.join("trends"));
    let names: Vec<&str> = trends.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "trends_agents.parquet",
            "trends_attribution.parquet",
            "trends_behavior.parquet",
            "trends_drift_events.parquet",
            "trends_primitives.parquet",
        ]
    );
    for (name, bytes) in &trends {
        let batches = read_parquet(bytes);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert!(rows > 0, "{name} is empty");
        for b in &batches {
            assert!(
                b.column_by_name("bucket_start").is_some(),
                "{name}: bucket_start"
            );
            let interval = b
                .column_by_name("interval")
                .unwrap_or_else(|| panic!("{name}: interval"))
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap_or_else(|| panic!("{name}: interval is not Utf8"));
            assert_eq!(interval.null_count(), 0, "{name}");
            assert!(interval.iter().all(|v| v == Some("1w")), "{name}");
        }
    }

    let gate: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("gate.json")).unwrap())
            .expect("the verdict is JSON");
    assert_eq!(gate["mode"], "fail");
    assert_eq!(
        (gate["from"].as_str(), gate["to"].as_str()),
        (Some("2026-05-01"), Some("2026-05-03"))
    );
    // The demo has high node rows: the verdict fails, the job does not.
    assert_eq!(gate["failed"], true);
    assert!(gate["counts"]["high"].as_u64().unwrap() > 0, "{gate}");
    // The same verdict `driftlake gate --fail --format json` gives.
    let o = bin()
        .args([
            "gate",
            "--fail",
            "--format",
            "json",
            "--from",
            "2026-05-01",
            "--to",
            "2026-05-03",
            "--lake",
        ])
        .arg(&lake)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    let cli: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(cli, gate);
}

#[test]
fn an_output_that_cannot_be_written_exits_2_and_the_run_stays_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    run_demo(&lake);
    let cwd = tmp.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    // `reports` is a file, so no output under it can be written …
    std::fs::write(cwd.join("reports"), b"not a directory").unwrap();
    let job = weekly_job(tmp.path(), &lake);
    let text = std::fs::read_to_string(&job)
        .unwrap()
        // … except the gate, moved next to it.
        .replace("gate = \"reports/gate.json\"", "gate = \"gate.json\"");
    std::fs::write(&job, text).unwrap();
    let o = bin()
        .current_dir(&cwd)
        .arg("run")
        .arg(&job)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("error: output report reports/weekly.html: creating reports"),
        "{err}"
    );
    assert!(
        err.contains("error: output trends reports/trends: creating reports/trends"),
        "{err}"
    );
    assert!(
        err.contains("is committed; only the outputs above are missing"),
        "{err}"
    );
    // Every output is tried: the gate was written.
    assert!(cwd.join("gate.json").is_file(), "{err}");
    let runs = table_rows(&lake, "_runs", &[]);
    assert!(
        runs.iter()
            .any(|r| r.contains("|job=trends-weekly|") && r.contains("|status=committed|")),
        "{runs:#?}"
    );
}

#[test]
fn a_bad_output_key_stops_the_job_before_the_lake_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let job = weekly_job(tmp.path(), &lake);
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("interval = \"1w\"", "interval = \"1m\"");
    std::fs::write(&job, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("interval = "))
        .unwrap()
        + 1;
    for cmd in ["validate", "run"] {
        let o = bin().arg(cmd).arg(&job).output().unwrap();
        assert_eq!(code(&o), 2, "{cmd}");
        let err = stderr(&o);
        let want = format!(
            "{}:{line}:12: [output] interval: unknown variant `1m`",
            job.display()
        );
        assert!(err.contains(&want), "{cmd}: {want:?} not in {err}");
    }
    assert!(!lake.exists(), "a bad job file must not create the lake");
}

#[test]
fn the_weekly_job_skips_the_gate_on_a_lake_without_telemetry() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    // A sessions-only lake: no behavior_summary table.
    let demo = demo_dir();
    let sessions_job = tmp.path().join("sessions.toml");
    std::fs::write(
        &sessions_job,
        format!(
            "[job]\nname = \"sessions\"\n[lake]\nurl = {:?}\n[sources]\nsessrec = [{:?}]\n",
            lake.to_str().unwrap(),
            demo.join("artifacts").to_str().unwrap()
        ),
    )
    .unwrap();
    let o = bin()
        .args(["run", sessions_job.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!lake.join("behavior_summary").exists());
    let cwd = tmp.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    let job = weekly_job(tmp.path(), &lake);
    let o = bin()
        .current_dir(&cwd)
        .arg("run")
        .arg(&job)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("gate skipped: the lake has no behavior_summary table"),
        "{err}"
    );
    assert!(!cwd.join("reports/gate.json").exists());
    assert!(cwd.join("reports/weekly.html").is_file());
    assert!(cwd
        .join("reports/trends/trends_primitives.parquet")
        .is_file());
}
