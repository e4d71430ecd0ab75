//! Human-readable output of `run` and `validate` (stdout). Pointers and
//! counts only; never payload.

use std::fmt::Write as _;

use crate::job::{GateMode, JobPlan, Outputs};
use crate::pipeline::RunSummary;
use crate::source::redact;

/// What `validate` prints for a good job.
pub fn plan_text(plan: &JobPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "job {} is valid", plan.name);
    let _ = write!(s, "  lake    {}", redact(&plan.lake));
    if plan.max_rows_per_file != crate::sink::FILE_ROWS {
        let _ = write!(
            s,
            " (sessions and observations in files of {} rows)",
            plan.max_rows_per_file
        );
    }
    s.push('\n');
    for src in &plan.sources {
        let _ = writeln!(
            s,
            "  source  {:<13} {}",
            src.kind.job_key(),
            redact(&src.url)
        );
    }
    let stages: Vec<&str> = [
        ("sessions", plan.sessions),
        ("attribution", plan.attribution),
        ("agents", plan.agents),
        ("drift_events", plan.drift_events),
        ("telemetry", plan.telemetry),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| *n)
    .collect();
    if stages.is_empty() {
        let _ = writeln!(
            s,
            "  stages  none (the run only takes the lake and records itself)"
        );
    } else {
        let _ = writeln!(s, "  stages  {}", stages.join(", "));
    }
    if plan.storage != crate::source::StorageOptions::default() {
        let st = &plan.storage;
        let _ = writeln!(
            s,
            "  storage {} retries within {:.0} s, {:.1} s per request, {:.1} s to connect",
            st.max_retries,
            st.retry_timeout.as_secs_f64(),
            st.request_timeout.as_secs_f64(),
            st.connect_timeout.as_secs_f64()
        );
    }
    if let Some(limit) = plan.engine.memory_limit {
        let dir = plan.engine.spill_dir.as_ref().map_or_else(
            || "the OS temporary directory".to_string(),
            |d| d.display().to_string(),
        );
        let _ = writeln!(
            s,
            "  engine  memory limit {:.0} MiB, spilling to {dir}",
            limit as f64 / f64::from(1u32 << 20)
        );
    }
    if plan.stream_shards_from != crate::job::STREAM_SHARDS_FROM {
        let _ = writeln!(
            s,
            "  engine  sessrec shards of {:.1} MiB or more read in two streamed passes",
            plan.stream_shards_from as f64 / f64::from(1u32 << 20)
        );
    }
    outputs_text(&mut s, &plan.outputs);
    s
}

/// The `[output]` lines of [`plan_text`].
fn outputs_text(s: &mut String, o: &Outputs) {
    if let Some(r) = &o.report {
        let _ = writeln!(
            s,
            "  output  report        {} + {}",
            r.html.display(),
            r.markdown.display()
        );
    }
    if let Some(t) = &o.trends {
        let _ = writeln!(
            s,
            "  output  trends        {}/trends_<family>.parquet, interval {}",
            t.dir.display(),
            t.interval.as_str()
        );
    }
    if let Some(g) = &o.gate {
        let mode = match g.mode {
            GateMode::Warn => "warn".to_string(),
            GateMode::Fail => format!("fail, max medium {}", g.max_medium),
        };
        let _ = writeln!(s, "  output  gate          {} ({mode})", g.path.display());
    }
    if o.is_empty() {
        return;
    }
    let w = &o.window;
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string());
    let text = match (w.days, day(w.from), day(w.to)) {
        (Some(n), _, Some(to)) => format!("{n} days ending {to}"),
        (Some(n), _, None) => format!("{n} days ending at the newest day with data"),
        (None, Some(from), Some(to)) => format!("{from} – {to}"),
        (None, Some(from), None) => format!("from {from} to each output's default end"),
        (None, None, Some(to)) => format!("each output's default start to {to}"),
        (None, None, None) => "each output's default (as its command)".to_string(),
    };
    let _ = writeln!(s, "  window  {text}");
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The run summary: inputs, sessions, observations per family, dead
/// letters, wall time; failed inputs listed.
pub fn summary_text(r: &RunSummary) -> String {
    let mut s = String::new();
    let ok = r.inputs.len() as u64 - r.failed_inputs;
    let _ = writeln!(
        s,
        "driftlake run {} -> {} (run {})",
        r.job, r.lake, r.run_id
    );
    let _ = write!(
        s,
        "  inputs            {} ({ok} ok, {} failed), {}",
        r.inputs.len(),
        r.failed_inputs,
        mib(r.input_bytes)
    );
    if r.inputs_unchanged > 0 {
        let _ = write!(
            s,
            "; {} unchanged since the last run, not read",
            r.inputs_unchanged
        );
    }
    let _ = writeln!(s);
    let c = &r.sessions;
    let _ = write!(
        s,
        "  sessions          {} ({} ok, {} empty, {} error",
        c.ok + c.empty + c.error,
        c.ok,
        c.empty,
        c.error
    );
    if c.duplicate > 0 {
        let _ = write!(s, ", {} duplicates dropped", c.duplicate);
    }
    if c.carried > 0 {
        let _ = write!(s, "; {} kept from inputs not read this run", c.carried);
    }
    let _ = writeln!(s, ")");
    let _ = writeln!(s, "  observations      {}", r.observations);
    for (family, n) in &r.observations_by_family {
        let _ = writeln!(s, "    {family:<18} {n}");
    }
    let agent_inputs = r.inputs.iter().filter(|i| i.kind == "agent_events").count();
    if agent_inputs > 0 {
        let _ = writeln!(
            s,
            "  agent events      {} new ({agent_inputs} inputs, {} unchanged since the last run)",
            r.agent_events, r.agent_inputs_unchanged
        );
    }
    let reasons: Vec<String> = r
        .dead_letters_by_reason
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if reasons.is_empty() {
        let _ = writeln!(s, "  dead letters      0");
    } else {
        let _ = writeln!(
            s,
            "  dead letters      {} ({})",
            r.dead_letters,
            reasons.join(", ")
        );
    }
    for (table, t) in &r.tables {
        let _ = writeln!(
            s,
            "  {table:<17} {} rows, {} partitions written, {} unchanged",
            t.rows, t.partitions_written, t.partitions_unchanged
        );
    }
    if r.spill_files > 0 {
        let _ = writeln!(
            s,
            "  spilled           {:.1} MiB in {} files (memory limit)",
            r.spilled_bytes as f64 / f64::from(1u32 << 20),
            r.spill_files
        );
    }
    if r.spool_files > 0 {
        let _ = writeln!(
            s,
            "  spooled           {:.1} MiB in {} files (new session rows)",
            r.spooled_bytes as f64 / f64::from(1u32 << 20),
            r.spool_files
        );
    }
    let _ = writeln!(s, "  wall time         {:.2} s", r.wall_s);
    if r.failed_inputs > 0 {
        let _ = writeln!(s, "failed inputs:");
        for i in r.inputs.iter().filter(|i| i.status == "failed") {
            let _ = writeln!(
                s,
                "  {}: {}",
                i.source,
                i.error.as_deref().unwrap_or("unknown error")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{JobSpec, Overrides};

    fn plan(lake: &str) -> JobPlan {
        let text = format!("[job]\nname = \"t\"\n[lake]\n{lake}\n[sources]\nsessrec = [\"a\"]\n");
        JobSpec::parse(&text, "t.toml")
            .unwrap()
            .plan("t", &Overrides::default())
            .unwrap()
    }

    #[test]
    fn validate_names_rows_per_file_only_when_set() {
        let text = plan_text(&plan("url = \"./lake\"\nmax_rows_per_file = 5000"));
        assert!(
            text.contains("  lake    ./lake (sessions and observations in files of 5000 rows)\n"),
            "{text}"
        );
        let text = plan_text(&plan("url = \"./lake\""));
        assert!(text.contains("  lake    ./lake\n"), "{text}");
        assert!(!text.contains("streamed"), "{text}");
    }

    #[test]
    fn validate_names_the_streamed_shard_size_only_when_set() {
        let text = plan_text(&plan(
            "url = \"./lake\"\n[engine]\nstream_shards_from = \"8MiB\"",
        ));
        assert!(
            text.contains(
                "  engine  sessrec shards of 8.0 MiB or more read in two streamed passes\n"
            ),
            "{text}"
        );
    }
}
