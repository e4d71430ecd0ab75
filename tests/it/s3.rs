//! The demo job against a real S3 endpoint (issue 9, first part): moto's S3
//! server from the test venv, started on 127.0.0.1 on a free port and stopped
//! by its PID. The fixtures are uploaded to a bucket, the job reads `s3://`
//! sources and writes an `s3://` lake, and every data table equals the
//! local-disk run's (object URLs aside). A rerun reads nothing new.
//!
//! Needs `DRIFTLAKE_ORACLE` (the venv's python, which `make test` sets);
//! without it the test says so and does nothing.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// The moto server, killed (by PID) when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start(python: &str) -> S3Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto's S3 server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // Stop it by its PID.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The test venv's Python (moto, boto3), or `None` with a note on stderr
/// when the tests run outside `make test`.
fn venv_python() -> Option<String> {
    let python = std::env::var("DRIFTLAKE_ORACLE").ok();
    if python.is_none() {
        eprintln!("DRIFTLAKE_ORACLE is not set: the S3 test needs the test venv (make test)");
    }
    python
}

fn driftlake(server: &S3Server) -> Command {
    driftlake_at(&server.endpoint)
}

/// The binary with the test's S3 credentials, talking to `endpoint`.
fn driftlake_at(endpoint: &str) -> Command {
    let mut c = crate::idempotency::support::bin();
    c.current_dir(MANIFEST)
        .env("AWS_ENDPOINT", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "driftlake-test")
        .env("AWS_SECRET_ACCESS_KEY", "driftlake-test-secret")
        .env("AWS_REGION", "us-east-1");
    c
}

/// Run `script` with `s3`, a boto3 client on the server with the test's
/// credentials, in scope; `sys.argv[2:]` are `args`.
fn boto3(python: &str, server: &S3Server, script: &str, args: &[&str]) {
    let prelude = "import boto3, json, os, sys\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='driftlake-test', \
        aws_secret_access_key='driftlake-test-secret', region_name='us-east-1')\n";
    ok(Command::new(python)
        .args(["-c", &format!("{prelude}{script}"), &server.endpoint])
        .args(args)
        .output()
        .unwrap());
}

/// Create the bucket `decnet` and upload the demo fixtures under `demo/`.
fn upload_demo(python: &str, server: &S3Server) {
    let script = r#"
s3.create_bucket(Bucket='decnet')
for d, _, fs in os.walk(sys.argv[2]):
    for f in fs:
        p = os.path.join(d, f)
        s3.upload_file(p, 'decnet', 'demo/' + os.path.relpath(p, sys.argv[2]))
"#;
    boto3(
        python,
        server,
        script,
        &[&format!("{MANIFEST}/fixtures/demo")],
    );
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `driftlake sql --lake LAKE --format FORMAT -e QUERY` through `cmd`; its
/// stdout, the command having succeeded.
fn sql(mut cmd: Command, lake: &str, format: &str, query: &str) -> String {
    ok(cmd
        .args(["sql", "--lake", lake, "--format", format, "-e", query])
        .output()
        .unwrap())
}

/// Every data table of a lake as sorted CSV, `run_id` columns left out and
/// the source roots replaced by `<src>`.
fn tables(cmd: &mut dyn FnMut() -> Command, lake: &str, src_root: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in [
        "sessions",
        "observations",
        "attribution_state",
        "agent_events",
        "agent_profiles",
        "drift_events",
        "dlq",
        "evidence",
        "correlations",
        "behavior_summary",
        "kg_nodes",
        "kg_edges",
    ] {
        let cols = sql(cmd(), lake, "csv", &format!(
            "SELECT column_name FROM information_schema.columns WHERE table_name = '{t}' AND column_name NOT IN ('run_id', 'date', 'last_synced_at') ORDER BY ordinal_position"
        ));
        let cols: Vec<&str> = cols.lines().skip(1).collect();
        assert!(!cols.is_empty(), "{t} has columns");
        // A bad name's raw_sha256 hashes the object's URL, which differs
        // between stores by design; every other column must match.
        let list = cols
            .iter()
            .map(|c| match (t, *c) {
                ("dlq", "raw_sha256") => {
                    "CASE WHEN stage = 'list' THEN 'url hash' ELSE raw_sha256 END AS raw_sha256"
                        .to_string()
                }
                _ => c.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let csv = sql(
            cmd(),
            lake,
            "csv",
            &format!("SELECT {list} FROM {t} ORDER BY {}", cols.join(", ")),
        );
        out.push((t.to_string(), csv.replace(src_root, "<src>")));
    }
    out
}

#[test]
fn demo_job_on_a_real_s3_endpoint_equals_the_local_run() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = S3Server::start(&python);
    upload_demo(&python, &server);

    let s3_args = [
        "run",
        "jobs/demo.toml",
        "-q",
        "--source",
        "sessrec=s3://decnet/demo/artifacts",
        "--source",
        "session_logs=s3://decnet/demo/logs",
        "--source",
        "asciicast=s3://decnet/demo/casts",
        "--source",
        "agents=s3://decnet/demo/agents",
        "--source",
        "otlp=s3://decnet/demo/otlp",
        "--source",
        "specs=s3://decnet/demo/specs",
        "--lake",
        "s3://decnet/lake",
        "--json",
    ];
    let first: serde_json::Value =
        serde_json::from_str(&ok(driftlake(&server).args(s3_args).output().unwrap())).unwrap();
    assert_eq!(first["failed_inputs"], 0, "{first}");

    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("lake");
    ok(driftlake(&server)
        .args([
            "run",
            "jobs/demo.toml",
            "-q",
            "--lake",
            local.to_str().unwrap(),
        ])
        .output()
        .unwrap());

    let s3_tables = tables(
        &mut || driftlake(&server),
        "s3://decnet/lake",
        "s3://decnet/demo",
    );
    let local_root = format!(
        "file://{}",
        Path::new(MANIFEST).join("fixtures/demo").display()
    );
    let local_tables = tables(
        &mut || driftlake(&server),
        local.to_str().unwrap(),
        &local_root,
    );
    for ((t, s3), (_, disk)) in s3_tables.iter().zip(&local_tables) {
        assert!(s3.lines().count() > 1 || t == "dlq", "{t} is empty on S3");
        assert_eq!(s3, disk, "{t}: the S3 lake differs from the local one");
    }

    // A rerun on S3: nothing appended, nothing rewritten.
    let again: serde_json::Value =
        serde_json::from_str(&ok(driftlake(&server).args(s3_args).output().unwrap())).unwrap();
    for (table, s) in again["tables"].as_object().expect("tables") {
        assert_eq!(
            s["partitions_written"], 0,
            "{table} rewritten on a rerun: {again}"
        );
    }
    // The secret never reaches the output or the ledgers.
    let mut seen = again.to_string();
    for t in ["_runs", "_inputs"] {
        seen.push_str(&sql(
            driftlake(&server),
            "s3://decnet/lake",
            "json",
            &format!("SELECT * FROM {t}"),
        ));
    }
    assert!(
        seen.contains("s3://decnet/demo/"),
        "the ledgers name the inputs"
    );
    assert!(
        !seen.contains("driftlake-test-secret"),
        "a credential leaked"
    );
    drop(server);
}

/// `tools/faults/s3_fault_proxy.py` in front of a moto server, killed by
/// PID when dropped.
struct FaultProxy {
    child: Child,
    endpoint: String,
    log: std::path::PathBuf,
}

impl FaultProxy {
    fn start(python: &str, upstream: &S3Server, args: &[&str], log: &Path) -> FaultProxy {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .arg(format!("{MANIFEST}/tools/faults/s3_fault_proxy.py"))
            .args([
                "--upstream",
                upstream.endpoint.trim_start_matches("http://"),
            ])
            .args(["--port", &port.to_string(), "--log", log.to_str().unwrap()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the fault proxy");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the proxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        FaultProxy {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        }
    }

    /// The faults injected so far, by kind.
    fn injected(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for l in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            *m.entry(l.split(' ').next().unwrap().to_string())
                .or_default() += 1;
        }
        m
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The demo job with S3 sources, the lake `lake` and a `[storage]` section.
fn s3_demo_job(dir: &Path, lake: &str, storage: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("{MANIFEST}/jobs/demo.toml")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.split_once(" = [\"fixtures/demo/") {
            Some((key, rest)) => format!("{key} = [\"s3://decnet/demo/{rest}"),
            None if line.starts_with("url = ") => format!("url = \"{lake}\""),
            None => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("\n[storage]\n");
    out.push_str(storage);
    let p = dir.join("faults.toml");
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn transient_store_faults_are_retried_and_a_permanent_one_fails_the_run_cleanly() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = S3Server::start(&python);
    upload_demo(&python, &server);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("lake");
    ok(driftlake(&server)
        .args([
            "run",
            "jobs/demo.toml",
            "-q",
            "--lake",
            local.to_str().unwrap(),
        ])
        .output()
        .unwrap());
    let local_root = format!(
        "file://{}",
        Path::new(MANIFEST).join("fixtures/demo").display()
    );
    let local_tables = tables(
        &mut || driftlake(&server),
        local.to_str().unwrap(),
        &local_root,
    );

    // Every 4th request fails in one of five ways; retries ride them out.
    let proxy = FaultProxy::start(
        &python,
        &server,
        &["--every", "6", "--slow-s", "2"],
        &tmp.path().join("transient.log"),
    );
    let job = s3_demo_job(
        tmp.path(),
        "s3://decnet/retried",
        "max_retries = 8\nretry_timeout_s = 120\nrequest_timeout_s = 1\n",
    );
    let o = driftlake_at(&proxy.endpoint)
        .args(["run", job.to_str().unwrap(), "-q", "--json"])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&ok(o)).unwrap();
    assert_eq!(summary["failed_inputs"], 0, "{summary}");
    let injected = proxy.injected();
    for kind in ["503", "drop", "reset", "short", "slow"] {
        assert!(
            injected.get(kind).is_some_and(|n| *n > 0),
            "no {kind} fault: {injected:?}"
        );
    }
    drop(proxy);
    let retried = tables(
        &mut || driftlake(&server),
        "s3://decnet/retried",
        "s3://decnet/demo",
    );
    for ((t, s3), (_, disk)) in retried.iter().zip(&local_tables) {
        assert_eq!(s3, disk, "{t}: faults changed the result");
    }

    // A permanent fault: the observations manifest cannot be written.
    let proxy = FaultProxy::start(
        &python,
        &server,
        &["--fail", "PUT:_manifest/observations.json"],
        &tmp.path().join("permanent.log"),
    );
    let job = s3_demo_job(
        tmp.path(),
        "s3://decnet/broken",
        "max_retries = 2\nretry_timeout_s = 10\n",
    );
    let o = driftlake_at(&proxy.endpoint)
        .args(["run", job.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot write s3://decnet/broken/_manifest/observations.json")
            && err.contains("500"),
        "{err}"
    );
    assert!(
        proxy.injected()["fail"] >= 3,
        "retried: {:?}",
        proxy.injected()
    );
    drop(proxy);
    // The run is recorded failed, with the reason; observations, whose
    // switch never happened, are not visible at all (its part files are
    // not read without a manifest), while sessions committed before it.
    let broken = |q: &str| sql(driftlake(&server), "s3://decnet/broken", "csv", q);
    let runs = broken("SELECT status, error FROM _runs");
    assert!(
        runs.contains("failed,") && runs.contains("_manifest/observations.json"),
        "{runs}"
    );
    let names = broken(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    assert!(
        names.contains("sessions") && !names.contains("observations"),
        "{names}"
    );
    // The next run without the fault converges to the local lake.
    ok(driftlake(&server)
        .args(["run", job.to_str().unwrap(), "-q"])
        .output()
        .unwrap());
    let healed = tables(
        &mut || driftlake(&server),
        "s3://decnet/broken",
        "s3://decnet/demo",
    );
    for ((t, s3), (_, disk)) in healed.iter().zip(&local_tables) {
        assert_eq!(s3, disk, "{t}: the run after the failure did not converge");
    }
    drop(server);
}

#[test]
fn hostile_keys_become_dead_letters_and_never_paths_or_failures() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = S3Server::start(&python);
    // One good shard, and keys S3 takes but object_store cannot parse
    // ('..', '.', empty segments, a control character), or that fail
    // DECNET's naming (odd Unicode, NUL, a right-to-left override).
    let hostile = [
        "art/x/../../../etc/ssh/sessions-2026-05-03.jsonl",
        "art/edge-01/ssh/../../../../escape.jsonl",
        "art//abs/ssh/sessions-2026-05-03.jsonl",
        "art/edge-01/./ssh/sessions-2026-05-03.jsonl",
        "art/edge-01/ssh/\u{1}sessions-2026-05-03.jsonl",
        "art/d\u{e9}cky/ssh/sessions-2026-05-03.jsonl",
        "art/edge-\u{202e}lnx/ssh/sessions-2026-05-03.jsonl",
        "art/nul\u{0}decky/ssh/sessions-2026-05-03.jsonl",
    ];
    let script = r#"
s3.create_bucket(Bucket='hostile')
body = open(sys.argv[2], 'rb').read()
for k in ['art/edge-01/ssh/sessions-2026-05-03.jsonl'] + json.loads(sys.argv[3]):
    s3.put_object(Bucket='hostile', Key=k, Body=body)
"#;
    let shard = format!("{MANIFEST}/fixtures/demo/artifacts/Lab_04/ssh/sessions-2026-05-03.jsonl");
    let keys = serde_json::to_string(&hostile).unwrap();
    boto3(&python, &server, script, &[&shard, &keys]);

    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let o = driftlake(&server)
        .args(["run", "jobs/demo.toml", "--json", "-vv", "--no-progress"])
        .args(["--source", "sessrec=s3://hostile/art", "--lake"])
        .arg(&lake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(run["observations"].as_u64().unwrap() > 0, "{run}");
    // Every hostile key is one bad_name dead letter, its key kept as data.
    assert_eq!(
        run["dead_letters_by_reason"]["bad_name"].as_u64(),
        Some(hostile.len() as u64),
        "{run}"
    );
    let lake_url = lake.to_str().unwrap();
    let dlq = sql(
        driftlake(&server),
        lake_url,
        "json",
        "SELECT source FROM dlq WHERE reason = 'bad_name'",
    );
    let sources: Vec<String> = dlq
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["source"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for k in hostile {
        assert!(
            sources.contains(&format!("s3://hostile/{k}")),
            "{k:?} in {sources:?}"
        );
    }
    // Nothing is written outside the lake, and no name reaches a path.
    let written: Vec<String> = crate::idempotency::support::files(tmp.path())
        .into_keys()
        .collect();
    for w in &written {
        assert!(w.starts_with("lake/"), "written outside the lake: {w}");
        for part in [
            "etc", "escape", "abs", "cky", "lnx", "\u{1}", "\u{0}", "\u{202e}",
        ] {
            assert!(!w.contains(part), "a key reached a path: {w:?}");
        }
        assert!(
            !w.split('/').any(|p| p == ".." || p == "." || p.is_empty()),
            "{w}"
        );
    }
    assert!(written
        .iter()
        .any(|w| w.starts_with("lake/dlq/date=2026-05-03/")));
    // The credentials never reach the log or the ledgers.
    let ledgers = sql(driftlake(&server), lake_url, "json", "SELECT * FROM _runs");
    for text in [&stderr, &ledgers, &dlq] {
        assert!(
            !text.contains("driftlake-test-secret"),
            "a credential leaked"
        );
    }
    drop(server);
}

#[test]
fn gs_and_az_credentials_never_reach_errors_logs_or_the_ledger() {
    // No server: each store is pointed at a closed port, so the run fails
    // after using its credentials; what it prints must not hold them.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let key = serde_json::json!({
        "type": "service_account",
        "client_email": "driftlake@example.iam.gserviceaccount.com",
        "private_key_id": "gs-secret-key-id-0001",
        // base64 of "gs-secret-private-key-material": PEM that is no key.
        "private_key": "-----BEGIN PRIVATE KEY-----\nZ3Mtc2VjcmV0LXByaXZhdGUta2V5LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n",
        "token_uri": format!("http://127.0.0.1:{closed}/token"),
    });
    let job = tmp.path().join("job.toml");
    let lake = tmp.path().join("lake");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"creds\"\n[lake]\nurl = {:?}\n[storage]\nmax_retries = 0\nrequest_timeout_s = 2\nconnect_timeout_s = 1\n",
            lake.display().to_string()
        ),
    )
    .unwrap();
    let az_key = "YXotc2VjcmV0LWFjY291bnQta2V5LXZhbHVlLTAwMDE=";
    for (source, secrets) in [
        (
            "sessrec=gs://bucket/art",
            vec![
                "Z3Mtc2VjcmV0",
                "gs-secret-private-key-material",
                "gs-secret-key-id-0001",
            ],
        ),
        ("sessrec=az://container/art", vec![az_key]),
    ] {
        let o = crate::idempotency::support::bin()
            .args([
                "run",
                job.to_str().unwrap(),
                "-vv",
                "--json",
                "--source",
                source,
            ])
            .env("GOOGLE_SERVICE_ACCOUNT_KEY", key.to_string())
            .env("AZURE_STORAGE_ACCOUNT_NAME", "driftlaketest")
            .env("AZURE_STORAGE_ACCOUNT_KEY", az_key)
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env(
                "AZURITE_BLOB_STORAGE_URL",
                format!("http://127.0.0.1:{closed}"),
            )
            .output()
            .unwrap();
        let mut seen = String::from_utf8_lossy(&o.stderr).to_string();
        seen.push_str(&String::from_utf8_lossy(&o.stdout));
        assert_eq!(o.status.code(), Some(2), "{source}: {seen}");
        let url = source.trim_start_matches("sessrec=");
        assert!(
            seen.contains(&format!("cannot open the store for {url}"))
                || seen.contains(&format!("cannot list {url}")),
            "{source}: the failure names the source: {seen}"
        );
        if lake.join("_runs").is_dir() {
            for (rel, bytes) in crate::idempotency::support::files(&lake) {
                seen.push_str(&rel);
                seen.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        for s in secrets {
            assert!(!seen.contains(s), "{source}: a credential leaked: {seen}");
        }
    }
}
