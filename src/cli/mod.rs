//! The command line: clap types, subcommands, human and `--json` output
//! (STYLE §8). anyhow lives here and in `main.rs` only.
//!
//! Parse (clap) → validate (`job::JobSpec::plan`) → do I/O
//! (`pipeline::run`). `driftlake validate` stops after the second step.

mod drift;
mod output;
mod progress;
mod sql;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{ArgAction, Parser, Subcommand};

use crate::engine::context::EngineOptions;
use crate::job::{parse_source_flag, JobSpec, Overrides};
use crate::pipeline::{self, RunOptions, Scope};
use crate::source::InputKind;

const EXIT_CODES: &str = "\
Exit codes:
  0  the run committed and every input was read (dead letters are fine)
  1  the run committed, but some inputs could not be read (they are listed)
  2  nothing was committed: usage, job file, lake or fatal error; or the run
     committed but an [output] of the job could not be written (named)";

const GATE_EXIT_CODES: &str = "\
Exit codes:
  0  the gate ran and passed (--warn always passes)
  1  --fail: a node row is high, or more than --max-medium are medium
  2  the gate could not run: no lake, no behavior_summary rows in the window";

const ALL_EXIT_CODES: &str = "\
Exit codes (run, validate):
  0  the run committed and every input was read (dead letters are fine)
  1  the run committed, but some inputs could not be read (they are listed)
  2  nothing was committed: usage, job file, lake or fatal error; or the run
     committed but an [output] of the job could not be written (named)
Exit codes (gate): 0 pass, 1 drift over the limits (--fail), 2 could not run.
Exit codes (sql, drifts, trends, report): 0 done, 2 could not (message on stderr).";

/// Batch analytics over honeypot sessions and telemetry, written to a
/// Parquet lake.
#[derive(Debug, Parser)]
#[command(name = "driftlake", version, after_help = ALL_EXIT_CODES, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
    /// More log detail on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Less on stderr (-q errors only, -qq nothing).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job: read what is new or changed in its sources, write the lake.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Recompute the given days from all their inputs (and whatever is new),
    /// then every derived table.
    #[command(after_help = EXIT_CODES)]
    Backfill(BackfillArgs),
    /// Check a job file (and overrides) without reading or writing anything.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Query a lake with SQL.
    Sql(sql::SqlArgs),
    /// CI drift gate over behavior_summary: exit 0 pass, 1 drift over the
    /// limits (--fail), 2 could not run.
    #[command(after_help = GATE_EXIT_CODES)]
    Gate(drift::GateArgs),
    /// What drifted: drift events per fingerprint (or the events themselves).
    Drifts(drift::DriftsArgs),
    /// A trend table for a window: behavior, primitives, attribution,
    /// drift-events or agents.
    Trends(drift::TrendsArgs),
    /// Write the HTML report and its Markdown twin.
    Report(drift::ReportArgs),
}

/// `driftlake run`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The job file, e.g. jobs/demo.toml.
    job: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    #[command(flatten)]
    flags: RunFlags,
    /// Read every listed input, even those the input ledger shows unchanged
    /// since a run of this version read them.
    #[arg(long)]
    full: bool,
}

/// `driftlake backfill`.
#[derive(Debug, clap::Args)]
struct BackfillArgs {
    /// The job file, e.g. jobs/backfill.toml.
    job: PathBuf,
    /// First day to recompute (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    from: NaiveDate,
    /// Last day to recompute (UTC), inclusive.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    to: NaiveDate,
    #[command(flatten)]
    overrides: OverrideArgs,
    #[command(flatten)]
    flags: RunFlags,
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{s:?} is not a YYYY-MM-DD day ({e})"))
}

/// How a run or backfill behaves and reports.
#[derive(Debug, clap::Args)]
struct RunFlags {
    /// Print the run summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Worker threads for decoding and extraction (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// No progress bars (on a terminal) or stage lines (otherwise) on stderr.
    #[arg(long)]
    no_progress: bool,
    /// Take the lake even though another run's lock (`_lock.json`) is
    /// there: only when you know that run is gone (a lock of a dead process
    /// on this host is taken over without it).
    #[arg(long)]
    break_lock: bool,
    /// Memory limit and spill directory of the SQL stages (override the
    /// job's `[engine]`).
    #[command(flatten)]
    engine: EngineFlags,
}

/// `--memory-limit` and `--spill-dir`.
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct EngineFlags {
    /// Memory the query operators may hold together (sorts, aggregates,
    /// joins), e.g. 512MiB or 2GiB; over it they spill to disk, and a query
    /// that cannot spill fails naming the limit. Default: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
    memory_limit: Option<usize>,
    /// Directory for spill files (created if missing). Default: the OS
    /// temporary directory.
    #[arg(long, value_name = "DIR")]
    spill_dir: Option<std::path::PathBuf>,
}

impl EngineFlags {
    /// The flags as engine options (unset flags: no limit, OS temp dir).
    pub(crate) fn options(&self) -> EngineOptions {
        self.apply(EngineOptions::default())
    }

    /// `base` (a job's `[engine]`) with the flags given on top.
    fn apply(&self, mut base: EngineOptions) -> EngineOptions {
        if let Some(n) = self.memory_limit {
            base.memory_limit = Some(n);
        }
        if let Some(d) = &self.spill_dir {
            base.spill_dir = Some(d.clone());
        }
        base
    }
}

fn parse_memory_limit(s: &str) -> Result<usize, String> {
    let n = crate::job::parse_size(s)?;
    crate::job::check_memory_limit(n)?;
    Ok(n)
}

/// `driftlake validate`.
#[derive(Debug, clap::Args)]
struct ValidateArgs {
    /// The job file, e.g. jobs/demo.toml.
    job: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
}

/// Where to read and write instead of what the job file says.
#[derive(Debug, clap::Args)]
struct OverrideArgs {
    /// Replace the job's sources of one kind (repeatable):
    /// --source sessrec=s3://bucket/artifacts, --source session_logs=./logs,
    /// --source asciicast=./casts.
    #[arg(long = "source", value_name = "KIND=URL", value_parser = parse_source_flag)]
    sources: Vec<(InputKind, String)>,
    /// Write to this lake instead (path, file://, s3://, gs://, az://, memory://).
    #[arg(long, value_name = "URL")]
    lake: Option<String>,
}

impl OverrideArgs {
    fn to_overrides(&self) -> Overrides {
        Overrides {
            sources: self.sources.clone(),
            lake: self.lake.clone(),
        }
    }
}

/// The binary's entry point: parse, dispatch, map the outcome to an exit
/// code (see `--help`).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help / --version print and exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let progress = match &cli.cmd {
        Command::Run(RunArgs { flags, .. }) | Command::Backfill(BackfillArgs { flags, .. })
            if cli.quiet == 0 && !flags.no_progress =>
        {
            Some(if std::io::stderr().is_terminal() {
                progress::Mode::Bars
            } else {
                progress::Mode::Lines
            })
        }
        _ => None,
    };
    init_tracing(cli.verbose, cli.quiet, progress);
    let result = match cli.cmd {
        Command::Run(args) => {
            let scope = if args.full {
                Scope::Full
            } else {
                Scope::Incremental
            };
            run(&args.job, &args.overrides, &args.flags, scope)
        }
        Command::Backfill(args) => {
            if args.from > args.to {
                eprintln!("error: --from {} is after --to {}", args.from, args.to);
                return ExitCode::from(2);
            }
            let scope = Scope::Days {
                from: args.from,
                to: args.to,
            };
            run(&args.job, &args.overrides, &args.flags, scope)
        }
        Command::Validate(args) => validate(args),
        Command::Sql(args) => sql::run(args),
        Command::Gate(args) => drift::gate(args),
        Command::Drifts(args) => drift::drifts(args),
        Command::Trends(args) => drift::trends(args),
        Command::Report(args) => drift::report(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", crate::error::chain_text(err.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8, quiet: u8, progress: Option<progress::Mode>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let level = match (verbose, quiet) {
        (_, 1) => "error",
        (_, q) if q >= 2 => "off",
        (0, _) => "warn",
        (1, _) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level))
        .add_directive(
            format!("{}=off", crate::pipeline::progress::TARGET)
                .parse()
                .expect("a valid directive"),
        );
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let bars = progress.map(|mode| {
        progress::ProgressLayer::new(mode).with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target(crate::pipeline::progress::TARGET, tracing::Level::INFO),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(bars)
        .try_init();
}

fn load_plan(job: &std::path::Path, ov: &OverrideArgs) -> anyhow::Result<crate::job::JobPlan> {
    let spec = JobSpec::load(job)?;
    Ok(spec.plan(&job.display().to_string(), &ov.to_overrides())?)
}

fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let plan = load_plan(&args.job, &args.overrides)?;
    let mut out = std::io::stdout().lock();
    let text = output::plan_text(&plan);
    Ok(finish_write(
        out.write_all(text.as_bytes()),
        ExitCode::SUCCESS,
    ))
}

fn run(
    job: &std::path::Path,
    overrides: &OverrideArgs,
    args: &RunFlags,
    scope: Scope,
) -> anyhow::Result<ExitCode> {
    let mut plan = load_plan(job, overrides)?;
    plan.engine = args.engine.apply(plan.engine);
    let mut opts = RunOptions::default();
    if let Some(n) = args.threads {
        opts.threads = usize::from(n);
    }
    opts.break_lock = args.break_lock;
    opts.scope = scope;
    let summary = pipeline::run(&plan, &opts)
        .map_err(|e| anyhow::Error::new(e).context(format!("running job {}", plan.name)))?;
    let code = if summary.all_inputs_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    let text = if args.json {
        let mut s = serde_json::to_string(&summary).expect("the summary always serialises");
        s.push('\n');
        s
    } else {
        output::summary_text(&summary)
    };
    let code = {
        let mut out = std::io::stdout().lock();
        finish_write(
            out.write_all(text.as_bytes()).and_then(|()| out.flush()),
            code,
        )
    };
    if plan.outputs.is_empty() {
        return Ok(code);
    }
    let failed = drift::write_outputs(&plan.lake, &plan.outputs);
    if failed.is_empty() {
        return Ok(code);
    }
    for f in &failed {
        eprintln!(
            "error: output {}: {}",
            f.output,
            crate::error::chain_text(f.error.as_ref())
        );
    }
    eprintln!(
        "error: run {} of job {} is committed; only the outputs above are missing (run the job again to write them)",
        summary.run_id, plan.name
    );
    Ok(ExitCode::from(2))
}

/// A broken pipe on stdout (`driftlake run … | head`) ends quietly with the
/// run's own exit code, as ripgrep does.
fn finish_write(res: std::io::Result<()>, code: ExitCode) -> ExitCode {
    match res {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "driftlake",
            "run",
            "jobs/demo.toml",
            "--source",
            "sessrec=memory://a/x",
            "--source",
            "session_logs=./logs",
            "--lake",
            "memory://a/lake",
            "--json",
            "--threads",
            "3",
            "-v",
        ])
        .unwrap();
        let Command::Run(r) = cli.cmd else { panic!() };
        assert_eq!(r.overrides.sources.len(), 2);
        assert_eq!(r.overrides.sources[1].0, InputKind::SessionLog);
        assert_eq!(r.overrides.lake.as_deref(), Some("memory://a/lake"));
        assert!(r.flags.json && !r.full);
        assert_eq!(r.flags.threads, Some(3));
        assert_eq!(cli.verbose, 1);
    }

    #[test]
    fn usage_errors_exit_2() {
        for argv in [
            vec!["driftlake"],
            vec!["driftlake", "run"],
            vec!["driftlake", "run", "j.toml", "--source", "bogus=x"],
            vec!["driftlake", "run", "j.toml", "--threads", "0"],
            vec!["driftlake", "backfill", "j.toml", "--from", "2026-05-01"],
            vec![
                "driftlake",
                "backfill",
                "j.toml",
                "--from",
                "2026-13-01",
                "--to",
                "2026-05-02",
            ],
        ] {
            let e = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{argv:?}");
        }
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("Exit codes (run, validate):")
                && help.contains("nothing was committed")
                && help.contains("Exit codes (gate): 0 pass, 1 drift"),
            "{help}"
        );
        let mut cmd = Cli::command();
        let gate = cmd
            .find_subcommand_mut("gate")
            .expect("gate")
            .render_long_help()
            .to_string();
        assert!(gate.contains("2  the gate could not run"), "{gate}");
        let mut cmd = Cli::command();
        let run = cmd
            .find_subcommand_mut("run")
            .expect("run")
            .render_long_help()
            .to_string();
        assert!(
            run.contains("1  the run committed, but some inputs"),
            "{run}"
        );
    }
}
