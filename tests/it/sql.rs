//! SQL over a fixture lake: every `sql/` file against `tests/slt/<relation>.slt`,
//! order independence of `attribution_state`, and `driftlake sql` end to end.
//!
//! The fixture lake is built from `fixtures/lake_small/sessions.jsonl` (one
//! compact line per session with its observations; see the README there)
//! into a temp dir with the real table schemas (`model::schema`) and the
//! hive layout of spec/lake.md §1.
//!
//! `.slt` files use a small subset of sqllogictest: `statement ok`,
//! `statement error <substring>`, `query <types> [rowsort]` followed by the SQL,
//! `----` and the expected rows (columns separated by one space, NULL as
//! `NULL`, empty strings as `(empty)`, floats rounded to 12 significant
//! digits; bit-exact checks live in tests/it/attribution.rs). A line
//! `# param: name=value` binds a parameter of the file's relation.
//! `BLESS=1 cargo test --test it slt` rewrites the expected rows; review the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::view::ViewTable;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext as DfContext;
use driftlake::engine::context::{compute_attribution_state, new_context};
use driftlake::engine::lake_tables::register_lake;
use driftlake::engine::sql::{param_values, sql_file};
use driftlake::model::observation::Primitive;
use driftlake::model::schema::{observations_schema, sessions_schema};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------
// The fixture lake

/// One session line of fixtures/lake_small/sessions.jsonl.
struct FixtureSession {
    date: String,
    sid: String,
    identity_ref: Option<String>,
    started_at: f64,
    ended_at: f64,
    obs: Vec<(String, String)>,
}

fn fixture_sessions() -> Vec<FixtureSession> {
    let text = std::fs::read_to_string(format!("{MANIFEST}/fixtures/lake_small/sessions.jsonl"))
        .expect("fixture");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("fixture json");
            FixtureSession {
                date: v["date"].as_str().expect("date").to_owned(),
                sid: v["sid"].as_str().expect("sid").to_owned(),
                identity_ref: v["identity_ref"].as_str().map(str::to_owned),
                started_at: v["started_at"].as_f64().expect("started_at"),
                ended_at: v["ended_at"].as_f64().expect("ended_at"),
                obs: v["obs"]
                    .as_object()
                    .expect("obs")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_owned()))
                    .collect(),
            }
        })
        .collect()
}

fn evidence_ref(s: &FixtureSession) -> String {
    format!("shard:decky1/ssh/{}.jsonl#{}", s.date, s.sid)
}

/// The `sessions` row of a fixture session (fields not listed get defaults).
fn session_row(s: &FixtureSession) -> Map<String, Value> {
    let v = json!({
        "evidence_ref": evidence_ref(s), "sid": s.sid, "decky": "decky1", "service": "ssh",
        "shard": format!("fixtures/decky1/ssh/{}.jsonl", s.date),
        "started_at": s.started_at, "ended_at": s.ended_at, "duration_s": s.ended_at - s.started_at,
        "input_events": 10, "output_events": 10, "commands": 2, "truncated": false,
        "src_ip": s.identity_ref, "identity_ref": s.identity_ref, "status": "ok", "run_id": "fixture",
    });
    v.as_object().expect("object").clone()
}

/// The `observations` rows of a fixture session, one per primitive.
fn observation_rows(s: &FixtureSession) -> Vec<Map<String, Value>> {
    let er = evidence_ref(s);
    s.obs
        .iter()
        .map(|(prim, label)| {
            let kind = Primitive::parse(prim).expect("registry primitive").value_kind().as_str();
            let mut h = Sha256::new();
            h.update(er.as_bytes());
            h.update([0x1f]);
            h.update(prim.as_bytes());
            let id = hex::encode(h.finalize())[..32].to_owned();
            let v = json!({
                "id": id, "primitive": prim, "value_kind": kind,
                "value": serde_json::to_string(label).expect("json"), "value_str": label,
                "confidence": 0.8, "window_start_ts": s.started_at, "window_end_ts": s.ended_at,
                "offset_start_s": 0.0, "offset_end_s": s.ended_at - s.started_at,
                "source": "behave-shell", "evidence_ref": er, "identity_ref": s.identity_ref, "v": 1,
                "ts": s.ended_at, "decky": "decky1", "service": "ssh", "sid": s.sid, "run_id": "fixture",
            });
            v.as_object().expect("object").clone()
        })
        .collect()
}

/// A batch of `schema` from JSON rows; a missing field is NULL when nullable,
/// else a zero value. Timestamps are given as epoch seconds.
fn batch(schema: &SchemaRef, rows: &[Map<String, Value>]) -> RecordBatch {
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            let get = |r: &Map<String, Value>| r.get(f.name()).filter(|v| !v.is_null()).cloned();
            let col: ArrayRef = match f.data_type() {
                DataType::Utf8 => {
                    let mut b = StringBuilder::new();
                    for r in rows {
                        match get(r) {
                            Some(v) => b.append_value(v.as_str().expect("string")),
                            None if f.is_nullable() => b.append_null(),
                            None => b.append_value(""),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Float64 => {
                    let mut b = Float64Builder::new();
                    for r in rows {
                        match get(r) {
                            Some(v) => b.append_value(v.as_f64().expect("f64")),
                            None if f.is_nullable() => b.append_null(),
                            None => b.append_value(0.0),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Int64 => {
                    let mut b = Int64Builder::new();
                    for r in rows {
                        match get(r) {
                            Some(v) => b.append_value(v.as_i64().expect("i64")),
                            None if f.is_nullable() => b.append_null(),
                            None => b.append_value(0),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Int32 => {
                    let mut b = Int32Builder::new();
                    for r in rows {
                        match get(r) {
                            Some(v) => b.append_value(
                                i32::try_from(v.as_i64().expect("i32")).expect("i32"),
                            ),
                            None if f.is_nullable() => b.append_null(),
                            None => b.append_value(0),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Boolean => {
                    let mut b = BooleanBuilder::new();
                    for r in rows {
                        match get(r) {
                            Some(v) => b.append_value(v.as_bool().expect("bool")),
                            None if f.is_nullable() => b.append_null(),
                            None => b.append_value(false),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Timestamp(_, tz) => {
                    let mut b = TimestampMicrosecondBuilder::new();
                    for r in rows {
                        match get(r) {
                            Some(v) => {
                                b.append_value((v.as_f64().expect("secs") * 1e6).round() as i64)
                            }
                            None if f.is_nullable() => b.append_null(),
                            None => b.append_value(0),
                        }
                    }
                    Arc::new(b.finish().with_timezone_opt(tz.clone()))
                }
                other => panic!("fixture builder: unsupported type {other}"),
            };
            col
        })
        .collect();
    RecordBatch::try_new(Arc::clone(schema), cols).expect("fixture batch")
}

pub(crate) fn write_parquet(path: &Path, b: &RecordBatch) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create parquet");
    let mut w = ArrowWriter::try_new(file, b.schema(), None).expect("writer");
    w.write(b).expect("write");
    w.close().expect("close");
}

/// How to lay the fixture out: `days` in this order, each day's sessions
/// reversed or not, split into this many part files per day.
pub(crate) struct Layout {
    pub reverse_days: bool,
    pub reverse_rows: bool,
    pub parts: usize,
}

/// Build the fixture lake under `root` (sessions + observations, hive `date=`).
pub(crate) fn build_lake(root: &Path, layout: &Layout) {
    let sessions = fixture_sessions();
    let mut days: Vec<String> = sessions.iter().map(|s| s.date.clone()).collect();
    days.sort();
    days.dedup();
    if layout.reverse_days {
        days.reverse();
    }
    for (n, day) in days.iter().enumerate() {
        let mut todays: Vec<&FixtureSession> = sessions.iter().filter(|s| &s.date == day).collect();
        if layout.reverse_rows {
            todays.reverse();
        }
        let chunk = todays.len().div_ceil(layout.parts).max(1);
        for (p, part) in todays.chunks(chunk).enumerate() {
            // The write order shows in the file names, so listing order
            // differs between layouts too.
            let name = format!("part-{:02}{:02}.parquet", n, p);
            let srows: Vec<_> = part.iter().map(|s| session_row(s)).collect();
            write_parquet(
                &root.join(format!("sessions/date={day}/{name}")),
                &batch(&sessions_schema(), &srows),
            );
            let orows: Vec<_> = part.iter().flat_map(|s| observation_rows(s)).collect();
            write_parquet(
                &root.join(format!("observations/date={day}/{name}")),
                &batch(&observations_schema(), &orows),
            );
        }
    }
    write_agent_events(root);
    let summary: Vec<Value> = std::fs::read_to_string(format!(
        "{MANIFEST}/fixtures/lake_small/behavior_summary.jsonl"
    ))
    .expect("fixture")
    .lines()
    .map(|l| serde_json::from_str(l).expect("fixture json"))
    .collect();
    crate::drift::write_summary(root, &summary);
    write_drift_events(root);
}

/// `drift_events` of the fixture lake, computed by the library from its
/// observations and the agent profiles of its agent events.
fn write_drift_events(root: &Path) {
    use datafusion::datasource::MemTable;
    let url = root.to_str().expect("utf8 path").to_owned();
    runtime().block_on(async {
        let ctx = new_context();
        let mut tables = register_lake(&ctx, &url).await.expect("register lake");
        let settings = driftlake::agents::AgentSettings::default();
        let profiles = driftlake::engine::context::run_sql_file(
            &ctx,
            "agent_profiles",
            &settings.sql_params(),
        )
        .await
        .expect("agent_profiles");
        let schema = profiles.first().expect("profiles").schema();
        let mem = MemTable::try_new(schema, vec![profiles]).expect("mem table");
        ctx.register_table("agent_profiles", Arc::new(mem))
            .expect("register");
        tables.push("agent_profiles".into());
        let events =
            driftlake::drift::table::compute_events(&ctx, &tables, &Default::default(), None)
                .await
                .expect("drift events");
        for (day, batches) in
            driftlake::drift::table::event_partitions(&events, "fixture").expect("partitions")
        {
            for (i, b) in batches.iter().enumerate() {
                write_parquet(
                    &root.join(format!("drift_events/date={day}/part-{i}.parquet")),
                    b,
                );
            }
        }
    });
}

/// `agent_events` of the demo agent fixtures, decoded by the library's
/// decoder (one file per source and day).
fn write_agent_events(root: &Path) {
    use driftlake::decode::agent::AgentDecoder;
    use driftlake::decode::frame::LineFramer;
    let dir = crate::idempotency::support::demo_dir().join("agents");
    for (n, (rel, bytes)) in crate::idempotency::support::files(&dir)
        .into_iter()
        .enumerate()
    {
        let mut dec = AgentDecoder::default();
        if rel.ends_with(".jsonl") {
            LineFramer::new().push(&bytes, &mut dec);
        } else {
            dec.document(&bytes);
        }
        let by_day = driftlake::agents::event_batches(&dec.events, &format!("fixture:{rel}"), "r0")
            .expect("agent batches");
        for (day, b) in by_day {
            write_parquet(
                &root.join(format!("agent_events/date={day}/part-{n:02}.parquet")),
                &b,
            );
        }
    }
}

pub(crate) fn in_order() -> Layout {
    Layout {
        reverse_days: false,
        reverse_rows: false,
        parts: 1,
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------------------
// The slt subset

/// Render one cell the slt way.
fn cell(formatter: &ArrayFormatter<'_>, array: &ArrayRef, row: usize) -> String {
    if array.is_null(row) {
        return "NULL".to_owned();
    }
    if let DataType::Float64 = array.data_type() {
        let v = array
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Float64Array>()
            .expect("f64")
            .value(row);
        return float_cell(v);
    }
    let s = formatter.value(row).to_string();
    if s.is_empty() {
        "(empty)".to_owned()
    } else {
        s
    }
}

/// Floats with 12 significant digits, trailing zeros trimmed.
fn float_cell(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let digits = 12 - 1 - v.abs().log10().floor() as i32;
    let s = if digits >= 0 {
        format!("{:.*}", digits as usize, v)
    } else {
        format!(
            "{}",
            (v / 10f64.powi(-digits)).round() * 10f64.powi(-digits)
        )
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn render(batches: &[RecordBatch]) -> Vec<String> {
    let opts = FormatOptions::default();
    let mut rows = Vec::new();
    for b in batches {
        let fmts: Vec<ArrayFormatter<'_>> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"))
            .collect();
        for r in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .zip(&fmts)
                .map(|(c, f)| cell(f, c, r))
                .collect();
            rows.push(cells.join(" "));
        }
    }
    rows
}

/// A context over `lake` with every `sql/` relation registered as a view:
/// `relation` with `params`, the others with their defaults (those needing a
/// parameter are left out), so a test can join relations.
async fn slt_context(lake: &Path, relation: &str, params: &BTreeMap<String, String>) -> DfContext {
    let ctx = new_context();
    register_lake(&ctx, lake.to_str().expect("utf8 path"))
        .await
        .expect("register lake");
    assert!(sql_file(relation).is_some(), "no sql/{relation}.sql");
    let none = BTreeMap::new();
    for file in driftlake::engine::sql::SQL_FILES {
        let given = if file.name == relation { params } else { &none };
        let Ok(values) = param_values(file.text, given) else {
            assert_ne!(file.name, relation, "{relation}: missing # param: lines");
            continue;
        };
        let plan = ctx
            .state()
            .create_logical_plan(file.text)
            .await
            .expect("plan");
        let plan = plan.with_param_values(values).expect("bind");
        ctx.register_table(
            file.name,
            Arc::new(ViewTable::new(plan, Some(file.text.to_owned()))),
        )
        .expect("view");
    }
    ctx
}

enum Record {
    Statement {
        sql: String,
        error: Option<String>,
    },
    Query {
        header: String,
        sql: String,
        sort: bool,
        expected: Vec<String>,
    },
}

/// `# param:` values, and each record with the comment lines before it.
type Slt = (BTreeMap<String, String>, Vec<(Vec<String>, Record)>);

fn parse_slt(text: &str) -> Slt {
    let mut params = BTreeMap::new();
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    let mut comments = Vec::new();
    while let Some(line) = lines.next() {
        if let Some(p) = line.strip_prefix("# param: ") {
            let (k, v) = p.split_once('=').expect("param k=v");
            params.insert(k.trim().to_owned(), v.trim().to_owned());
            comments.push(line.to_owned());
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('#') {
            comments.push(line.to_owned());
            continue;
        }
        let mut sql = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim().is_empty() || *l == "----" {
                break;
            }
            sql.push(lines.next().expect("peeked").to_owned());
        }
        let sql = sql.join("\n");
        let record = if let Some(rest) = line.strip_prefix("statement") {
            let rest = rest.trim();
            let error = rest.strip_prefix("error").map(|e| e.trim().to_owned());
            Record::Statement { sql, error }
        } else if line.starts_with("query") {
            let sort = line.split_whitespace().any(|w| w == "rowsort");
            let mut expected = Vec::new();
            if lines.peek() == Some(&"----") {
                lines.next();
                while let Some(l) = lines.peek() {
                    if l.trim().is_empty() {
                        break;
                    }
                    expected.push(lines.next().expect("peeked").to_owned());
                }
            }
            Record::Query {
                header: line.to_owned(),
                sql,
                sort,
                expected,
            }
        } else {
            panic!("slt: unknown record {line:?}");
        };
        out.push((std::mem::take(&mut comments), record));
    }
    (params, out)
}

/// Run one .slt file; returns the blessed text and the mismatches.
async fn run_slt(lake: &Path, relation: &str, text: &str) -> (String, Vec<String>) {
    let (params, records) = parse_slt(text);
    let ctx = slt_context(lake, relation, &params).await;
    let mut blessed = String::new();
    let mut failures = Vec::new();
    for (comments, record) in records {
        for c in comments {
            blessed.push_str(&c);
            blessed.push('\n');
        }
        match record {
            Record::Statement { sql, error } => {
                let got = match ctx.sql(&sql).await {
                    Ok(df) => df.collect().await.map(|_| ()),
                    Err(e) => Err(e),
                };
                match (&got, &error) {
                    (Ok(()), None) => {}
                    (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => {}
                    _ => failures.push(format!(
                        "{relation}: statement {sql:?}: got {got:?}, want error {error:?}"
                    )),
                }
                blessed.push_str(&match &error {
                    Some(e) => format!("statement error {e}\n{sql}\n"),
                    None => format!("statement ok\n{sql}\n"),
                });
            }
            Record::Query {
                header,
                sql,
                sort,
                expected,
            } => {
                let got = match ctx.sql(&sql).await {
                    Ok(df) => df.collect().await.map(|b| render(&b)),
                    Err(e) => Err(e),
                };
                let mut rows = match got {
                    Ok(rows) => rows,
                    Err(e) => {
                        failures.push(format!("{relation}: query failed: {e}\n{sql}"));
                        vec![format!("ERROR: {e}")]
                    }
                };
                if sort {
                    rows.sort();
                }
                if rows != expected {
                    failures.push(format!(
                        "{relation}: query differs\n{sql}\n--- expected\n{}\n--- got\n{}",
                        expected.join("\n"),
                        rows.join("\n")
                    ));
                }
                blessed.push_str(&format!("{header}\n{sql}\n----\n"));
                for r in &rows {
                    blessed.push_str(r);
                    blessed.push('\n');
                }
            }
        }
        blessed.push('\n');
    }
    while blessed.ends_with("\n\n") {
        blessed.pop();
    }
    (blessed, failures)
}

#[test]
fn slt_every_sql_file_against_fixture_lake() {
    let tmp = tempfile::tempdir().expect("tempdir");
    build_lake(tmp.path(), &in_order());
    let bless = std::env::var_os("BLESS").is_some();
    let rt = runtime();
    let mut failures = Vec::new();
    for f in driftlake::engine::sql::SQL_FILES {
        let path = PathBuf::from(format!("{MANIFEST}/tests/slt/{}.slt", f.name));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (every sql/ file needs one)", path.display()));
        let (blessed, mut fails) = rt.block_on(run_slt(tmp.path(), f.name, &text));
        if bless {
            std::fs::write(&path, blessed).expect("bless");
        } else {
            failures.append(&mut fails);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------
// Order independence

async fn attribution_rows(lake: &Path) -> Vec<String> {
    let ctx = new_context();
    register_lake(&ctx, lake.to_str().expect("utf8"))
        .await
        .expect("register");
    render(
        &compute_attribution_state(&ctx)
            .await
            .expect("attribution_state"),
    )
}

#[test]
fn attribution_state_does_not_depend_on_ingestion_order() {
    let rt = runtime();
    let layouts = [
        in_order(),
        Layout {
            reverse_days: true,
            reverse_rows: true,
            parts: 1,
        },
        Layout {
            reverse_days: true,
            reverse_rows: false,
            parts: 3,
        },
        Layout {
            reverse_days: false,
            reverse_rows: true,
            parts: 2,
        },
    ];
    let mut results = Vec::new();
    for layout in &layouts {
        let tmp = tempfile::tempdir().expect("tempdir");
        build_lake(tmp.path(), layout);
        results.push(rt.block_on(attribution_rows(tmp.path())));
    }
    // Every identity with an identity_ref × 4 primitives.
    assert_eq!(results[0].len(), 12, "{:#?}", results[0]);
    for r in &results[1..] {
        assert_eq!(r, &results[0]);
    }
}

#[test]
fn attribution_state_columns_follow_lake_md() {
    let tmp = tempfile::tempdir().expect("tempdir");
    build_lake(tmp.path(), &in_order());
    let batches = runtime().block_on(async {
        let ctx = new_context();
        register_lake(&ctx, tmp.path().to_str().expect("utf8"))
            .await
            .expect("register");
        compute_attribution_state(&ctx)
            .await
            .expect("attribution_state")
    });
    let schema = batches[0].schema();
    let got: Vec<(String, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let want: Vec<(String, DataType)> = [
        ("identity_ref", DataType::Utf8),
        ("primitive", DataType::Utf8),
        ("value_kind", DataType::Utf8),
        ("current_value", DataType::Utf8),
        ("state", DataType::Utf8),
        ("confidence", DataType::Float64),
        ("observation_count", DataType::Int64),
        ("last_observation_ts", DataType::Float64),
        ("last_change_ts", DataType::Float64),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), t))
    .collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// driftlake sql end to end

fn driftlake(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_driftlake"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run driftlake")
}

/// A lake with a written attribution_state table (as the runner writes it,
/// run_id added).
fn lake_with_attribution_state(root: &Path) {
    build_lake(root, &in_order());
    let rt = runtime();
    let batches = rt.block_on(async {
        let ctx = new_context();
        register_lake(&ctx, root.to_str().expect("utf8"))
            .await
            .expect("register");
        compute_attribution_state(&ctx)
            .await
            .expect("attribution_state")
    });
    let merged =
        datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let run_id: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec![
        "fixture";
        merged
            .num_rows(
            )
    ]));
    let mut fields: Vec<_> = merged.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(datafusion::arrow::datatypes::Field::new(
        "run_id",
        DataType::Utf8,
        false,
    )));
    let mut cols = merged.columns().to_vec();
    cols.push(run_id);
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let with_run = RecordBatch::try_new(schema, cols).expect("batch");
    write_parquet(
        &root.join("attribution_state/part-0000000000000000.parquet"),
        &with_run,
    );
}

#[test]
fn cli_sql_counts_states_and_refuses_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    lake_with_attribution_state(tmp.path());
    let lake = tmp.path().to_str().expect("utf8");
    let out = driftlake(&[
        "sql",
        "--lake",
        lake,
        "--format",
        "csv",
        "-e",
        "select state, count(*) AS n from attribution_state group by 1 order by 1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(
        stdout,
        "state,n\nconflicted,1\ndrifting,1\nmulti_actor,2\nstable,5\nunknown,3\n"
    );

    // The default table format is aligned.
    let out = driftlake(&[
        "sql",
        "--lake",
        lake,
        "-e",
        "select count(*) AS n from observations",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("| 80 |"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Parameters bind $names (never spliced into the text).
    let out = driftlake(&[
        "sql",
        "--lake",
        lake,
        "--format",
        "json",
        "--param",
        "identity=192.0.2.99",
        "-e",
        "select count(*) AS n from observations where identity_ref = $identity",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"n\":8}\n");

    // A sql/ file with a parameter default overridden: weekly buckets start
    // on Mondays (2026-04-27 and 2026-05-04 for data from 05-01 to 05-04).
    let file = format!("{MANIFEST}/sql/trends_primitives.sql");
    let out = driftlake(&[
        "sql",
        "--lake",
        lake,
        "--format",
        "csv",
        "--param",
        "interval=1w",
        "-f",
        &file,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).expect("utf8");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.starts_with("2026-04-27T00:00:00Z,1w,")
                || r.starts_with("2026-05-04T00:00:00Z,1w,")),
        "{csv}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("2026-05-04"))
            && rows.iter().any(|r| r.starts_with("2026-04-27"))
    );

    for write in [
        "COPY (select 1) TO '/tmp/driftlake_sql_copy.parquet'",
        "INSERT INTO attribution_state SELECT * FROM attribution_state",
        "CREATE TABLE x AS select 1",
        "DROP TABLE observations",
    ] {
        let out = driftlake(&["sql", "--lake", lake, "-e", write]);
        assert_eq!(out.status.code(), Some(2), "{write}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("read-only") && stderr.contains("--allow-write"),
            "{write}: {stderr}"
        );
    }
    assert!(!Path::new("/tmp/driftlake_sql_copy.parquet").exists());

    // --out writes Parquet; a bad statement is exit 2 with a message.
    let out_file = tmp.path().join("states.parquet");
    let out = driftlake(&[
        "sql",
        "--lake",
        lake,
        "--out",
        out_file.to_str().expect("utf8"),
        "-e",
        "select * from attribution_state",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out_file.metadata().expect("parquet written").len() > 0);
    let out = driftlake(&[
        "sql",
        "--lake",
        lake,
        "-e",
        "select nope from attribution_state",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
}
