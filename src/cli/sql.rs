//! `driftlake sql`: explore a lake with SQL (issue 4).
//!
//! Every lake table is registered by name (hive `date` partitions as a
//! column, `engine::lake_tables`), our UDFs are available, and the `sql/`
//! files without required parameters are registered as views
//! (`observations_latest`, `trends_*`, and `attribution_state` when the lake
//! has no such table yet). Statements come from `-e`, `-f`, stdin, or an
//! interactive prompt with history when stdin is a terminal.
//!
//! Read-only by default: statements that write are refused with exit code 2
//! unless `--allow-write` (`engine::sql::check_read_only`).
//!
//! Exit codes: 0 every statement ran; 2 an error (message on stderr). A broken
//! pipe on stdout ends quietly with 0.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::view::ViewTable;
use datafusion::prelude::SessionContext as DfContext;
use datafusion::sql::parser::Statement as DfStatement;

use crate::engine::context::new_context_with;
use crate::engine::lake_tables::register_lake;
use crate::engine::sql::{check_read_only, param_values, parse_param, parse_statements, SQL_FILES};
use crate::engine::EngineError;
use crate::extract::attribution::AttributionThresholds;

/// Output formats of `driftlake sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table.
    Table,
    /// CSV with a header line.
    Csv,
    /// JSON Lines, one object per row.
    Json,
}

/// Run SQL over a lake: `-e`, `-f`, stdin, or an interactive prompt.
#[derive(clap::Args, Debug, Clone)]
pub struct SqlArgs {
    /// The lake to query: a path, file://, s3://, gs://, az:// or memory:// URL.
    #[arg(long, default_value = "./lake", value_name = "URL")]
    pub lake: String,
    /// Run these statements and exit.
    #[arg(
        short = 'e',
        long = "execute",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    pub execute: Option<String>,
    /// Run the statements in this file and exit (e.g. sql/observation_series.sql).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A value for a `$name` placeholder (repeatable): --param identity=203.0.113.7.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the last statement's result to this Parquet file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Allow statements that write (COPY, INSERT, CREATE TABLE, DROP, …).
    #[arg(long)]
    pub allow_write: bool,
    /// Memory limit and spill directory of the queries.
    #[command(flatten)]
    pub engine: super::EngineFlags,
}

/// Where statements come from.
enum Input {
    Text(String),
    Interactive,
}

/// Run `driftlake sql`.
///
/// # Errors
/// Only for failures to start (the runtime); statement errors are printed
/// and turn into exit code 2.
pub fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(match runtime.block_on(run_async(args)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", crate::error::chain_text(err.as_ref()));
            ExitCode::from(2)
        }
    })
}

async fn run_async(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let mut given = BTreeMap::new();
    for kv in &args.params {
        let (k, v) = parse_param(kv)?;
        given.insert(k, v);
    }
    let input = match (&args.execute, &args.file) {
        (Some(sql), _) => Input::Text(sql.clone()),
        (None, Some(path)) => Input::Text(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        (None, None) if std::io::stdin().is_terminal() => Input::Interactive,
        (None, None) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading statements from stdin")?;
            Input::Text(text)
        }
    };
    let engine = args.engine.options();
    engine.make_spill_dir().with_context(|| {
        format!(
            "creating the spill directory {}",
            engine
                .spill_dir
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        )
    })?;
    let ctx = new_context_with(&AttributionThresholds::default(), &engine);
    let tables = register_lake(&ctx, &args.lake)
        .await
        .with_context(|| format!("registering the lake {}", args.lake))?;
    register_views(&ctx, &tables).await;
    match input {
        Input::Text(text) => {
            let session = Session {
                ctx: &ctx,
                args: &args,
                given: &given,
            };
            session.run_text(&text).await
        }
        Input::Interactive => interactive(&ctx, &args, &given, &tables).await,
    }
}

/// Register the `sql/` files that need no parameter (or have defaults) as
/// views, unless a lake table already has the name. A file that does not
/// plan against this lake (e.g. no `observations` table) is skipped.
async fn register_views(ctx: &DfContext, tables: &[String]) {
    for f in SQL_FILES {
        if tables.iter().any(|t| t == f.name) {
            continue;
        }
        let Ok(values) = param_values(f.text, &BTreeMap::new()) else {
            continue;
        };
        let Ok(plan) = ctx.state().create_logical_plan(f.text).await else {
            continue;
        };
        let Ok(plan) = plan.with_param_values(values) else {
            continue;
        };
        let view = ViewTable::new(plan, Some(f.text.to_owned()));
        if ctx.register_table(f.name, Arc::new(view)).is_err() {
            tracing::debug!(view = f.name, "Could not register a sql/ view.");
        }
    }
}

struct Session<'a> {
    ctx: &'a DfContext,
    args: &'a SqlArgs,
    given: &'a BTreeMap<String, String>,
}

impl Session<'_> {
    /// Run every statement of `text`; stop at the first error.
    async fn run_text(&self, text: &str) -> anyhow::Result<ExitCode> {
        let stmts = parse_statements(text)?;
        if stmts.is_empty() {
            anyhow::bail!("no statement to run");
        }
        let params = param_values(text, self.given)?;
        let mut last: Option<(SchemaRef, Vec<RecordBatch>)> = None;
        for stmt in stmts {
            let (schema, batches) = self.run_one(stmt, &params).await?;
            let shown = self.args.out.is_none() && !schema.fields().is_empty();
            if shown && !print_batches(&batches, &schema, self.args.format)? {
                return Ok(ExitCode::SUCCESS);
            }
            last = Some((schema, batches));
        }
        if let (Some(path), Some((schema, batches))) = (&self.args.out, last) {
            write_parquet(path, &schema, &batches)?;
        }
        Ok(ExitCode::SUCCESS)
    }

    async fn run_one(
        &self,
        stmt: DfStatement,
        params: &datafusion::common::ParamValues,
    ) -> anyhow::Result<(SchemaRef, Vec<RecordBatch>)> {
        if !self.args.allow_write {
            check_read_only(&stmt)?;
        }
        let plan = self
            .ctx
            .state()
            .statement_to_plan(stmt)
            .await
            .map_err(EngineError::from)?;
        let plan = plan
            .with_param_values(params.clone())
            .map_err(EngineError::from)?;
        let df = self
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(EngineError::from)?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(EngineError::from)?;
        Ok((schema, batches))
    }
}

/// The prompt loop: one statement per `;`-terminated input, history in
/// `~/.driftlake_sql_history` when a home directory is known.
async fn interactive(
    ctx: &DfContext,
    args: &SqlArgs,
    given: &BTreeMap<String, String>,
    tables: &[String],
) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".driftlake_sql_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    eprintln!(
        "driftlake sql: {} table(s): {}. End statements with ';', quit with \\q or Ctrl-D.",
        tables.len(),
        tables.join(", ")
    );
    let session = Session { ctx, args, given };
    let mut buf = String::new();
    loop {
        let prompt = if buf.is_empty() {
            "driftlake> "
        } else {
            "       ...> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if buf.is_empty() && matches!(line.trim(), "\\q" | "quit" | "exit") {
                    break;
                }
                buf.push_str(&line);
                buf.push('\n');
                if line.trim_end().ends_with(';') {
                    let _ = editor.add_history_entry(buf.trim_end());
                    if let Err(err) = session.run_text(&buf).await {
                        eprintln!("error: {}", crate::error::chain_text(err.as_ref()));
                    }
                    buf.clear();
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buf.clear(),
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(err) => return Err(err).context("reading a line"),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}

/// Print batches to stdout. Returns `false` when stdout is closed (broken
/// pipe): the caller stops quietly.
fn print_batches(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: Format,
) -> anyhow::Result<bool> {
    // Render into memory, then write: a closed stdout then shows up as a
    // plain io::Error (arrow's CSV writer would wrap it in a string).
    let mut buf = Vec::new();
    write_batches(&mut buf, batches, schema, format)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match out.write_all(&buf).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

/// Render batches in `format` to `w`.
///
/// # Errors
/// Formatting or I/O errors.
pub fn write_batches(
    w: &mut dyn Write,
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: Format,
) -> anyhow::Result<()> {
    let empty = [RecordBatch::new_empty(Arc::clone(schema))];
    // An empty result still prints its header.
    let batches = if batches.is_empty() {
        &empty[..]
    } else {
        batches
    };
    match format {
        Format::Table => {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(w, "{table}")?;
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *w);
            for b in batches {
                writer.write(&nested_as_text(b)?)?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut *w);
            for b in batches {
                writer.write(b)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}

/// `batch` with every nested column (list, struct, map) rendered as text
/// (`[a, b]`, `{k: v}`), since CSV has no nested values.
fn nested_as_text(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, StringBuilder};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        if !f.data_type().is_nested() {
            fields.push(f.as_ref().clone());
            cols.push(Arc::clone(c));
            continue;
        }
        let fmt = ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default())?;
        let mut b = StringBuilder::with_capacity(c.len(), c.len() * 16);
        for i in 0..c.len() {
            if c.is_null(i) {
                b.append_null();
            } else {
                b.append_value(fmt.value(i).to_string());
            }
        }
        fields.push(Field::new(f.name(), DataType::Utf8, true));
        cols.push(Arc::new(b.finish()));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

pub(crate) fn write_parquet(
    path: &std::path::Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, Arc::clone(schema), None)
            .with_context(|| format!("writing {}", path.display()))?;
    for b in batches {
        writer
            .write(b)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    writer
        .close()
        .with_context(|| format!("closing {}", path.display()))?;
    Ok(())
}
