//! The job file's `[attribution]` thresholds reach the attribution stage
//! (spec behave-shell §6.7; jobs/demo.toml documents the keys).

use std::collections::BTreeMap;
use std::path::Path;

use driftlake::job::{JobSpec, Overrides};
use driftlake::pipeline::{self, RunOptions};

use crate::idempotency::support::*;

/// A demo job writing `lake`, with `extra` appended to the job text.
fn job_text(src: &Path, lake: &Path, extra: &str) -> String {
    format!(
        "[job]\nname = \"attr-job\"\n[lake]\nurl = {:?}\n[sources]\nsessrec = [{:?}]\nsession_logs = [{:?}]\n[stages]\nsessions = true\nattribution = true\n{extra}",
        lake.display().to_string(),
        src.join("artifacts").display().to_string(),
        src.join("logs").display().to_string(),
    )
}

/// Run the job text and return `attribution_state`'s rows per state.
fn states(text: &str) -> BTreeMap<String, usize> {
    let plan = JobSpec::parse(text, "job.toml")
        .expect("job parses")
        .plan("job.toml", &Overrides::default())
        .expect("job plans");
    let lake = Path::new(&plan.lake).to_path_buf();
    pipeline::run(
        &plan,
        &RunOptions {
            threads: 1,
            ..Default::default()
        },
    )
    .expect("run commits");
    let mut out = BTreeMap::new();
    for s in column(&lake, "attribution_state", "state") {
        *out.entry(s).or_default() += 1;
    }
    out
}

#[test]
fn job_attribution_thresholds_change_states() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    copy_tree(&demo_dir(), &src);
    let default = states(&job_text(&src, &tmp.path().join("lake_default"), ""));
    let lowered = states(&job_text(
        &src,
        &tmp.path().join("lake_lowered"),
        "[attribution]\nmin_observations_for_state = 1\n",
    ));
    let total = |m: &BTreeMap<String, usize>| m.values().sum::<usize>();
    assert!(total(&default) > 0, "{default:?}");
    // Thresholds change states, never which (identity, primitive) rows exist.
    assert_eq!(total(&lowered), total(&default));
    let unknown = |m: &BTreeMap<String, usize>| m.get("unknown").copied().unwrap_or(0);
    // The demo has pairs with fewer than 3 observations: unknown by default,
    // decided once a single observation is enough.
    assert!(
        unknown(&lowered) < unknown(&default),
        "default {default:?} lowered {lowered:?}"
    );
}

#[test]
fn job_attribution_unknown_key_names_key_and_line() {
    let text = job_text(
        Path::new("src"),
        Path::new("lake"),
        "[attribution]\nmin_observations_for_state = 2\nmin_observation_for_state = 2\n",
    );
    let err = JobSpec::parse(&text, "job.toml").expect_err("unknown key");
    let shown = err.to_string();
    assert!(shown.starts_with("job.toml:13:"), "{shown}");
    assert!(shown.contains("min_observation_for_state"), "{shown}");
}
