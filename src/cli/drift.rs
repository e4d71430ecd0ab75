//! The commands that read what drifted back out of a lake (issue 6):
//! `gate`, `drifts`, `trends` and `report`.
//!
//! Exit codes, all four: 0 done (for `gate --fail`: passed); 1 `gate --fail`
//! found drift over its limits; 2 could not run (no lake, no data for the
//! window, a query error).
//!
//! A job's `[output]` ([`write_outputs`]) goes through the same functions
//! (`write_report`, `trend_table`, `gate_verdict`) as the commands.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext as DfContext;

use super::sql::{write_batches, Format};
use crate::drift::event::Level;
use crate::drift::gate::{evaluate, GateRow, Mode, Verdict, DEFAULT_MAX_MEDIUM};
use crate::engine::context::{new_context, run_sql_file, run_statement};
use crate::engine::lake_tables::register_lake;
use crate::engine::rows::Rows;
use crate::job::{GateMode, OutputWindow, Outputs, TrendsOutput};

/// A `YYYY-MM-DD` argument.
fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("expected YYYY-MM-DD: {e}"))
}

/// The window flags shared by the commands.
#[derive(clap::Args, Debug, Clone)]
pub struct WindowArgs {
    /// First UTC day (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    pub from: Option<NaiveDate>,
    /// Last UTC day (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    pub to: Option<NaiveDate>,
}

/// How the gate prints its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GateFormat {
    /// A readable table and a verdict line.
    Table,
    /// One JSON object.
    Json,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

/// `driftlake gate`: judge the behaviour drift of a window for CI.
#[derive(clap::Args, Debug, Clone)]
pub struct GateArgs {
    /// The lake to read.
    #[arg(long, default_value = "./lake", value_name = "URL")]
    pub lake: String,
    /// Report every drift ≥ low and pass (the default).
    #[arg(long, conflicts_with = "fail")]
    pub warn: bool,
    /// Fail (exit 1) when a node row is high or more than --max-medium are medium.
    #[arg(long)]
    pub fail: bool,
    /// Medium node rows allowed before --fail fails.
    #[arg(long, default_value_t = DEFAULT_MAX_MEDIUM, value_name = "N")]
    pub max_medium: usize,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GateFormat::Table)]
    pub format: GateFormat,
}

/// `driftlake drifts`: what drifted, per fingerprint (sql/what_drifted.sql).
#[derive(clap::Args, Debug, Clone)]
pub struct DriftsArgs {
    /// The lake to read.
    #[arg(long, default_value = "./lake", value_name = "URL")]
    pub lake: String,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Only patterns whose worst severity is at least this.
    #[arg(long, value_parser = ["green", "yellow", "red"], default_value = "green")]
    pub min_severity: String,
    /// List the events themselves (with --format json: one Drift Event
    /// object per line, as schemas/drift.schema.json describes).
    #[arg(long)]
    pub events: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Trend families (lake.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// Per context and spec node: drift score, level, EWMA and CV.
    Behavior,
    /// Per primitive and value: observations, identities.
    Primitives,
    /// Per primitive and state: identities.
    Attribution,
    /// Per drift type and severity: events, fingerprints, EWMA and CV.
    DriftEvents,
    /// Per tier: agents, mean anomaly score.
    Agents,
}

impl Family {
    fn relation(self) -> &'static str {
        match self {
            Family::Behavior => "trends_behavior",
            Family::Primitives => "trends_primitives",
            Family::Attribution => "trends_attribution",
            Family::DriftEvents => "trends_drift_events",
            Family::Agents => "trends_agents",
        }
    }

    /// The lake table it is computed from.
    fn source(self) -> &'static str {
        match self {
            Family::Behavior => "behavior_summary",
            Family::Primitives | Family::Attribution => "observations",
            Family::DriftEvents => "drift_events",
            Family::Agents => "agent_profiles",
        }
    }

    fn has_context(self) -> bool {
        matches!(self, Family::Behavior | Family::DriftEvents)
    }
}

/// `driftlake trends`: one trend table for a window.
#[derive(clap::Args, Debug, Clone)]
pub struct TrendsArgs {
    /// Which trend table.
    #[arg(value_enum)]
    pub family: Family,
    /// The lake to read.
    #[arg(long, default_value = "./lake", value_name = "URL")]
    pub lake: String,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Bucket size.
    #[arg(long, value_parser = ["1h", "1d", "1w"], default_value = "1d")]
    pub interval: String,
    /// Only this context (sea.domain); behavior and drift-events only.
    #[arg(long, value_name = "DOMAIN")]
    pub context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the table to this Parquet file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `driftlake report`: an HTML page and its Markdown twin.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// The lake to read.
    #[arg(long, default_value = "./lake", value_name = "URL")]
    pub lake: String,
    /// The window (default: the 30 days ending at the newest day with data,
    /// or fewer when the data starts later).
    #[command(flatten)]
    pub window: WindowArgs,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html", value_name = "FILE")]
    pub out: PathBuf,
    /// The Markdown file to write (default: --out with .md).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A context over the lake and its table names; a lake that cannot be
/// opened, or a local lake directory that does not exist, is an error.
async fn open_lake(url: &str) -> anyhow::Result<(DfContext, Vec<String>)> {
    // Opening checks that a local lake exists (a reader never creates one).
    crate::source::open_url(url).with_context(|| format!("opening lake {url}"))?;
    let ctx = new_context();
    let tables = register_lake(&ctx, url)
        .await
        .with_context(|| format!("reading lake {url}"))?;
    Ok((ctx, tables))
}

/// Print `text` to stdout; a closed stdout is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// Run a driftlake command body, mapping errors to exit code 2.
fn exit_2_on_error(f: impl FnOnce() -> anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match f() {
        Ok(c) => Ok(c),
        Err(e) => {
            eprintln!("error: {}", crate::error::chain_text(e.as_ref()));
            Ok(ExitCode::from(2))
        }
    }
}

/// `driftlake gate`.
///
/// # Errors
/// Never: every failure prints and becomes exit code 2.
pub fn gate(args: GateArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| runtime()?.block_on(gate_async(&args)))
}

async fn gate_async(args: &GateArgs) -> anyhow::Result<ExitCode> {
    let (ctx, tables) = open_lake(&args.lake).await?;
    let mode = if args.fail { Mode::Fail } else { Mode::Warn };
    let verdict = gate_verdict(
        &ctx,
        &tables,
        &args.lake,
        &args.window,
        mode,
        args.max_medium,
    )
    .await?;
    let text = match args.format {
        GateFormat::Table => verdict.to_table(),
        GateFormat::Github => verdict.to_github(),
        GateFormat::Json => verdict_json(&verdict)?,
    };
    emit(&text)?;
    Ok(if verdict.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The gate's verdict over `window` of an opened lake (default: the
/// latest day of `behavior_summary`).
///
/// # Errors
/// No `behavior_summary` table or no rows in the window, query errors.
async fn gate_verdict(
    ctx: &DfContext,
    tables: &[String],
    lake: &str,
    window: &WindowArgs,
    mode: Mode,
    max_medium: usize,
) -> anyhow::Result<Verdict> {
    if !tables.iter().any(|t| t == "behavior_summary") {
        anyhow::bail!("lake {lake} has no behavior_summary table (has the telemetry stage run?)");
    }
    let (from, to) = match (window.from, window.to) {
        (None, None) => {
            let b = run_statement(
                ctx,
                "SELECT max(date) AS d FROM behavior_summary",
                &BTreeMap::new(),
            )
            .await?;
            let d = first_string(&b).context("behavior_summary has no rows")?;
            (d.clone(), d)
        }
        (f, t) => (
            f.map_or_else(|| "0000-01-01".to_string(), |d| d.to_string()),
            t.map_or_else(|| "9999-12-31".to_string(), |d| d.to_string()),
        ),
    };
    let params = BTreeMap::from([
        ("from".to_string(), from.clone()),
        ("to".to_string(), to.clone()),
    ]);
    let batches = run_statement(
        ctx,
        "-- Params:  $from, $to
         SELECT context, spec_node_id, date, drift_score, drift_level, confidence,
                evidence_count, triggered_rules, evidence_ref
         FROM behavior_summary WHERE date >= $from AND date <= $to",
        &params,
    )
    .await?;
    let rows = gate_rows(&batches)?;
    if rows.is_empty() {
        anyhow::bail!("no behavior_summary rows between {from} and {to}");
    }
    let shown_from = rows
        .iter()
        .map(|r| r.date.as_str())
        .min()
        .unwrap_or(&from)
        .to_string();
    let shown_to = rows
        .iter()
        .map(|r| r.date.as_str())
        .max()
        .unwrap_or(&to)
        .to_string();
    Ok(evaluate(&rows, mode, max_medium, &shown_from, &shown_to))
}

/// `gate --format json`: the verdict as one JSON line.
fn verdict_json(verdict: &Verdict) -> anyhow::Result<String> {
    let mut s = serde_json::to_string(verdict).context("serialising the verdict")?;
    s.push('\n');
    Ok(s)
}

fn first_string(batches: &[datafusion::arrow::array::RecordBatch]) -> Option<String> {
    Rows::new(batches)
        .strings("d")
        .ok()?
        .into_iter()
        .next()
        .flatten()
}

fn gate_rows(batches: &[datafusion::arrow::array::RecordBatch]) -> anyhow::Result<Vec<GateRow>> {
    let r = Rows::new(batches);
    let (ctx, node, date) = (
        r.strings("context")?,
        r.strings("spec_node_id")?,
        r.strings("date")?,
    );
    let (level, eref) = (r.strings("drift_level")?, r.strings("evidence_ref")?);
    let (score, conf) = (r.floats("drift_score")?, r.floats("confidence")?);
    let (count, rules) = (
        r.ints("evidence_count")?,
        r.string_lists("triggered_rules")?,
    );
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let lv = level[i].as_deref().unwrap_or("");
        let drift_level = Level::parse(lv)
            .with_context(|| format!("behavior_summary has an unknown drift_level {lv:?}"))?;
        out.push(GateRow {
            context: ctx[i].clone().unwrap_or_default(),
            spec_node_id: node[i].clone(),
            date: date[i].clone().unwrap_or_default(),
            drift_score: score[i],
            drift_level,
            confidence: conf[i],
            evidence_count: count[i],
            triggered_rules: rules[i].clone(),
            evidence_ref: eref[i].clone(),
        });
    }
    Ok(out)
}

fn window_params(w: &WindowArgs) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    if let Some(d) = w.from {
        p.insert("from".to_string(), d.to_string());
    }
    if let Some(d) = w.to {
        p.insert("to".to_string(), d.to_string());
    }
    p
}

/// `driftlake drifts`.
///
/// # Errors
/// Never: every failure prints and becomes exit code 2.
pub fn drifts(args: DriftsArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| runtime()?.block_on(drifts_async(&args)))
}

async fn drifts_async(args: &DriftsArgs) -> anyhow::Result<ExitCode> {
    let (ctx, tables) = open_lake(&args.lake).await?;
    if !tables.iter().any(|t| t == "drift_events") {
        anyhow::bail!(
            "lake {} has no drift_events table (run a job with the drift_events stage)",
            args.lake
        );
    }
    let mut params = window_params(&args.window);
    params.insert("min_severity".into(), args.min_severity.clone());
    if args.events {
        return print_events(&ctx, args, &params).await;
    }
    let batches = run_sql_file(&ctx, "what_drifted", &params).await?;
    let schema = schema_of(&batches, &ctx, "what_drifted", &params).await?;
    let mut buf = Vec::new();
    write_batches(&mut buf, &batches, &schema, args.format)?;
    emit(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// The schema of a result (from the batches, or the plan when empty).
async fn schema_of(
    batches: &[datafusion::arrow::array::RecordBatch],
    ctx: &DfContext,
    relation: &str,
    params: &BTreeMap<String, String>,
) -> anyhow::Result<SchemaRef> {
    if let Some(b) = batches.first() {
        return Ok(b.schema());
    }
    let f = crate::engine::sql::sql_file(relation).context("unknown statement")?;
    let plan = ctx.state().create_logical_plan(f.text).await?;
    let plan = plan.with_param_values(crate::engine::sql::param_values(f.text, params)?)?;
    Ok(std::sync::Arc::new(plan.schema().as_arrow().clone()))
}

async fn print_events(
    ctx: &DfContext,
    args: &DriftsArgs,
    params: &BTreeMap<String, String>,
) -> anyhow::Result<ExitCode> {
    let sql = "-- Params:  $from = 0000-01-01, $to = 9999-12-31, $min_severity = green
        SELECT drift_id, episode_id, drift_type, severity, detected_at, evidence_refs,
               recommended_patch_type, fingerprint_key, fingerprint_version, notes,
               origin, rule_id, context, spec_node_id, identity_ref, primitive, agent_id,
               drift_score, confidence, date
        FROM drift_events
        WHERE date >= $from AND date <= $to
          AND CASE severity WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 ELSE 1 END
              >= CASE $min_severity WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 ELSE 1 END
        ORDER BY detected_at, drift_id";
    let batches = run_statement(ctx, sql, params).await?;
    if args.format == Format::Json {
        let mut text = String::new();
        for e in crate::drift::table::events_from_batches(&batches)? {
            text.push_str(&e.to_json().to_string());
            text.push('\n');
        }
        emit(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(first) = batches.first() else {
        emit("No drift events in this window.\n")?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut buf = Vec::new();
    write_batches(&mut buf, &batches, &first.schema(), args.format)?;
    emit(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// `driftlake trends`.
///
/// # Errors
/// Never: every failure prints and becomes exit code 2.
pub fn trends(args: TrendsArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| runtime()?.block_on(trends_async(&args)))
}

async fn trends_async(args: &TrendsArgs) -> anyhow::Result<ExitCode> {
    if args.context.is_some() && !args.family.has_context() {
        anyhow::bail!("--context applies to the behavior and drift-events trends only");
    }
    let (ctx, tables) = open_lake(&args.lake).await?;
    let (batches, schema) = trend_table(
        &ctx,
        &tables,
        &args.lake,
        args.family,
        &args.window,
        &args.interval,
        args.context.as_deref(),
    )
    .await?;
    if let Some(path) = &args.out {
        super::sql::write_parquet(path, &schema, &batches)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut buf = Vec::new();
    write_batches(&mut buf, &batches, &schema, args.format)?;
    emit(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// One trend table of an opened lake for a window, `interval` (`1h`, `1d`,
/// `1w`) and optional context, with its schema (also when it has no rows).
///
/// # Errors
/// The lake lacks the family's source table, query errors.
async fn trend_table(
    ctx: &DfContext,
    tables: &[String],
    lake: &str,
    family: Family,
    window: &WindowArgs,
    interval: &str,
    context: Option<&str>,
) -> anyhow::Result<(Vec<RecordBatch>, SchemaRef)> {
    let relation = family.relation();
    let source = family.source();
    if !tables.iter().any(|t| t == source) {
        anyhow::bail!("lake {lake} has no {source} table, which {relation} is computed from");
    }
    let mut params = window_params(window);
    params.insert("interval".into(), interval.to_string());
    if let Some(c) = context {
        params.insert("context".into(), c.to_string());
    }
    let batches = run_sql_file(ctx, relation, &params)
        .await
        .with_context(|| format!("computing {relation} over lake {lake}"))?;
    let schema = schema_of(&batches, ctx, relation, &params).await?;
    Ok((batches, schema))
}

/// `driftlake report`.
///
/// # Errors
/// Never: every failure prints and becomes exit code 2.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    exit_2_on_error(|| runtime()?.block_on(report_async(&args)))
}

async fn report_async(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let (ctx, tables) = open_lake(&args.lake).await?;
    let md_path = args
        .markdown
        .clone()
        .unwrap_or_else(|| args.out.with_extension("md"));
    write_report(&ctx, &tables, &args.lake, &args.window, &args.out, &md_path).await?;
    Ok(ExitCode::SUCCESS)
}

/// Render the report of an opened lake for a window (default: the 30 days
/// ending at the newest day with data) to `html` and its twin `md`.
///
/// # Errors
/// `from` after `to`, query errors, a file that cannot be written.
async fn write_report(
    ctx: &DfContext,
    tables: &[String],
    lake: &str,
    window: &WindowArgs,
    html: &Path,
    md: &Path,
) -> anyhow::Result<()> {
    use crate::report::{html as page, load, markdown};
    let span = load::data_days(ctx, tables).await?;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = load::window(window.from, window.to, span, today);
    if from > to {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let data = load::load(ctx, tables, lake, from, to).await?;
    std::fs::write(html, page::render_html(&data))
        .with_context(|| format!("writing {}", html.display()))?;
    std::fs::write(md, markdown::render_markdown(&data))
        .with_context(|| format!("writing {}", md.display()))?;
    eprintln!(
        "report for {from} – {to} written to {} and {}",
        html.display(),
        md.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// A job's [output]

/// An output of a job that could not be written, and why.
pub struct OutputFailure {
    /// Which output: `report reports/weekly.html`, `trends reports/trends`, …
    pub output: String,
    /// Why.
    pub error: anyhow::Error,
}

/// Write a job's `[output]` from its lake after a committed run, through
/// the code of `report`, `trends --out` and `gate --format json`. Every
/// output is tried; the ones that failed are returned.
pub fn write_outputs(lake: &str, outputs: &Outputs) -> Vec<OutputFailure> {
    let fail = |output: String, error: anyhow::Error| vec![OutputFailure { output, error }];
    match runtime() {
        Ok(rt) => rt.block_on(write_outputs_async(lake, outputs)),
        Err(e) => fail("outputs".into(), e),
    }
}

async fn write_outputs_async(lake: &str, outputs: &Outputs) -> Vec<OutputFailure> {
    let mut failed = Vec::new();
    let mut fail = |output: String, error: anyhow::Error| {
        failed.push(OutputFailure { output, error });
    };
    let (ctx, tables) = match open_lake(lake).await {
        Ok(x) => x,
        Err(e) => {
            fail("outputs".into(), e);
            return failed;
        }
    };
    let window = match output_window(&ctx, &tables, &outputs.window).await {
        Ok(w) => w,
        Err(e) => {
            fail("outputs".into(), e.context("resolving [output.window]"));
            return failed;
        }
    };
    if let Some(r) = &outputs.report {
        let res = async {
            create_parent(&r.html)?;
            create_parent(&r.markdown)?;
            write_report(&ctx, &tables, lake, &window, &r.html, &r.markdown).await
        };
        if let Err(e) = res.await {
            fail(format!("report {}", r.html.display()), e);
        }
    }
    if let Some(t) = &outputs.trends {
        if let Err(e) = write_trends(&ctx, &tables, lake, &window, t).await {
            fail(format!("trends {}", t.dir.display()), e);
        }
    }
    if let Some(g) = outputs.gate.as_ref().filter(|_| {
        // As a trend family without its table: the lake of a job without the
        // telemetry stage has nothing to gate.
        let has = tables.iter().any(|t| t == "behavior_summary");
        if !has {
            eprintln!(
                "gate skipped: the lake has no behavior_summary table (no telemetry stage has run)"
            );
        }
        has
    }) {
        let res = async {
            let mode = match g.mode {
                GateMode::Warn => Mode::Warn,
                GateMode::Fail => Mode::Fail,
            };
            let verdict = gate_verdict(&ctx, &tables, lake, &window, mode, g.max_medium).await?;
            create_parent(&g.path)?;
            std::fs::write(&g.path, verdict_json(&verdict)?)
                .with_context(|| format!("writing {}", g.path.display()))?;
            eprintln!(
                "gate verdict ({} – {}, {}) written to {}",
                verdict.from,
                verdict.to,
                if verdict.failed { "failed" } else { "passed" },
                g.path.display()
            );
            anyhow::Ok(())
        };
        if let Err(e) = res.await {
            fail(format!("gate {}", g.path.display()), e);
        }
    }
    failed
}

/// `[output.window]` as window flags. `days` becomes explicit days ending
/// at `to`, or at the newest day with data, and starting no earlier than
/// the oldest (the report's default rule with its own length), so the
/// report, trends and gate cover the same days. Without `days` the ends
/// pass through and each output defaults as its command does.
async fn output_window(
    ctx: &DfContext,
    tables: &[String],
    w: &OutputWindow,
) -> anyhow::Result<WindowArgs> {
    let Some(days) = w.days else {
        return Ok(WindowArgs {
            from: w.from,
            to: w.to,
        });
    };
    let span = crate::report::load::data_days(ctx, tables).await?;
    let to =
        w.to.or(span.map(|(_, newest)| newest))
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let full = to
        .checked_sub_days(chrono::Days::new(u64::from(days.get()) - 1))
        .unwrap_or(NaiveDate::MIN);
    let from = match span {
        Some((oldest, _)) if oldest > full && oldest <= to => oldest,
        _ => full,
    };
    Ok(WindowArgs {
        from: Some(from),
        to: Some(to),
    })
}

/// Every trend family into `dir/trends_<family>.parquet`. A family whose
/// source table the lake does not have yet (no agent monitor, no
/// telemetry) is skipped with a note: the others are still worth having.
async fn write_trends(
    ctx: &DfContext,
    tables: &[String],
    lake: &str,
    window: &WindowArgs,
    out: &TrendsOutput,
) -> anyhow::Result<()> {
    use clap::ValueEnum as _;
    std::fs::create_dir_all(&out.dir).with_context(|| format!("creating {}", out.dir.display()))?;
    let (mut written, mut skipped) = (Vec::new(), Vec::new());
    for &family in Family::value_variants() {
        if !tables.iter().any(|t| t == family.source()) {
            skipped.push(format!(
                "{} (no {} table)",
                family.relation(),
                family.source()
            ));
            continue;
        }
        let interval = out.interval.as_str();
        let (batches, schema) =
            trend_table(ctx, tables, lake, family, window, interval, None).await?;
        let path = out.dir.join(format!("{}.parquet", family.relation()));
        super::sql::write_parquet(&path, &schema, &batches)?;
        written.push(family.relation());
    }
    eprintln!(
        "trends ({}) written to {}: {}",
        out.interval.as_str(),
        out.dir.display(),
        if written.is_empty() {
            "none".to_string()
        } else {
            written.join(", ")
        }
    );
    if !skipped.is_empty() {
        eprintln!("trends skipped: {}", skipped.join(", "));
    }
    Ok(())
}

/// Create the directory a file output goes into.
fn create_parent(file: &Path) -> anyhow::Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
        }
        _ => Ok(()),
    }
}
