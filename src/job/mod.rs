//! Job files: `jobs/<job>.toml` → [`JobSpec`] (serde) → [`JobPlan`]
//! (validated). Never opens the object store (STYLE §1, §8: parse, then
//! validate, then do I/O).
//!
//! ```toml
//! [job]
//! name = "demo"
//!
//! [lake]
//! url = "./lake"                 # path, file://, s3://, gs://, az://, memory://
//!
//! [sources]
//! sessrec = ["fixtures/demo/artifacts"]
//! session_logs = ["fixtures/demo/logs"]
//! asciicast = []
//! agents = ["fixtures/demo/agents"]   # agent telemetry (.jsonl, .json)
//! otlp = ["fixtures/demo/otlp"]       # OTel Collector file exporter output
//! # otlp = [{ url = "s3://b/otel/traces", signal = "traces" }]  # proto: name the signal
//! specs = ["fixtures/demo/specs"]     # spec manifests (.yaml, .yml, .json)
//!
//! [stages]
//! sessions = true                # sources → sessions, observations, dlq
//! attribution = true             # observations → attribution_state
//! agents = true                  # agent telemetry → agent_events, agent_profiles
//! drift_events = true            # observations, agent_profiles, behavior_summary → drift_events
//! telemetry = true               # otlp, specs → evidence, correlations, behavior_summary, kg_*
//!
//! [attribution]                  # optional: spec §6.7 threshold overrides
//! min_observations_for_state = 3 # (snake_case or the reference's NAME)
//!
//! [agents]                       # optional: agent-monitor.md tunables
//! window_secs = 300
//!
//! [correlation]                  # optional: telemetry-correlation.md §4 weights
//! COR-101 = 0.35
//! ```
//!
//! Relative paths resolve against the current directory, as every command
//! line tool's paths do. Unknown keys are errors that name the key and its
//! line, so a typo cannot silently drop a source.

use serde::Deserialize;

use crate::agents::AgentSettings;
use crate::extract::attribution::AttributionThresholds;
use crate::source::InputKind;
use crate::telemetry::model::Signal;

/// Errors from reading or validating a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job file cannot be read.
    #[error("cannot read the job file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The job file is not valid TOML or has a wrong or unknown key.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (names the key).
        message: String,
    },
    /// The job parses but does not make sense.
    #[error("{path}: {message}")]
    Invalid {
        /// The file (or `--flag` when an override is wrong).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The job file as written (serde view).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// `[job]`.
    pub job: JobSection,
    /// `[lake]`.
    pub lake: LakeSection,
    /// `[sources]`.
    #[serde(default)]
    pub sources: SourcesSection,
    /// `[stages]`.
    #[serde(default)]
    pub stages: StagesSection,
    /// `[attribution]`: threshold overrides of spec §6.7 (the reference's
    /// values when absent). Unknown keys are errors, as everywhere.
    #[serde(default)]
    pub attribution: AttributionThresholds,
    /// `[agents]`: the agent monitor's window, hop, weights and thresholds.
    #[serde(default)]
    pub agents: AgentSettings,
    /// `[correlation]`: rule weight overrides (telemetry-correlation.md §4),
    /// `COR-001 = 0.9` or `cor_001 = 0.9`; checked when planned.
    #[serde(default)]
    pub correlation: std::collections::BTreeMap<String, f64>,
}

/// `[job]`: what the job is called (the `_runs.job` value).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// Job name: `[a-z0-9_-]+`.
    pub name: String,
}

/// `[lake]`: where the lake lives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LakeSection {
    /// Lake URL or path.
    pub url: String,
}

/// `[sources]`: URLs per input kind.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourcesSection {
    /// sessrec shard roots (DECNET artifacts layout) or single shards.
    #[serde(default)]
    pub sessrec: Vec<String>,
    /// Recorder syslog files or directories (`session_recorded` lines).
    #[serde(default)]
    pub session_logs: Vec<String>,
    /// asciinema `.cast` files or directories.
    #[serde(default)]
    pub asciicast: Vec<String>,
    /// Agent telemetry roots (`.jsonl` / `.json`, listed recursively).
    #[serde(default)]
    pub agents: Vec<String>,
    /// OTel Collector `file` exporter output (listed recursively): a URL,
    /// or `{ url, signal }` to name the signal of length-prefixed protobuf.
    #[serde(default)]
    pub otlp: Vec<OtlpSource>,
    /// Spec manifests (`.yaml`, `.yml`, `.json`, listed recursively).
    #[serde(default)]
    pub specs: Vec<String>,
}

/// One `[sources] otlp` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OtlpSource {
    /// Just the URL: the signal comes from the bytes or the file names.
    Url(String),
    /// The URL and the signal its protobuf files hold.
    Table {
        /// URL or path.
        url: String,
        /// `traces`, `logs` or `metrics`.
        signal: String,
    },
}

/// `[stages]`: which stages run.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StagesSection {
    /// Sources → `sessions`, `observations`, `dlq`.
    #[serde(default = "yes")]
    pub sessions: bool,
    /// `observations` → `attribution_state`.
    #[serde(default = "yes")]
    pub attribution: bool,
    /// Agent telemetry → `agent_events`, `agent_profiles`.
    #[serde(default = "yes")]
    pub agents: bool,
    /// `observations`, `agent_profiles`, `behavior_summary` → `drift_events`.
    #[serde(default = "yes")]
    pub drift_events: bool,
    /// OTLP and spec sources → `evidence`, `correlations`,
    /// `behavior_summary`, `kg_nodes`, `kg_edges`.
    #[serde(default = "yes")]
    pub telemetry: bool,
}

fn yes() -> bool {
    true
}

impl Default for StagesSection {
    fn default() -> Self {
        StagesSection {
            sessions: true,
            attribution: true,
            agents: true,
            drift_events: true,
            telemetry: true,
        }
    }
}

/// One source of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// Which decoder reads it.
    pub kind: InputKind,
    /// The URL or path, as written (resolved when opened).
    pub url: String,
    /// OTLP only: the signal of its length-prefixed protobuf files.
    pub signal: Option<crate::telemetry::model::Signal>,
}

/// A validated job: what `run` executes.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// Job name.
    pub name: String,
    /// Lake URL or path.
    pub lake: String,
    /// Sources in job-file order (sessrec, session_logs, asciicast).
    pub sources: Vec<SourceSpec>,
    /// Run the sessions stage.
    pub sessions: bool,
    /// Run the attribution stage.
    pub attribution: bool,
    /// The attribution stage's thresholds (validated).
    pub attribution_thresholds: AttributionThresholds,
    /// Run the agent monitor stage (when there are agent sources).
    pub agents: bool,
    /// The agent monitor's settings (validated).
    pub agent_settings: AgentSettings,
    /// Run the drift events stage.
    pub drift_events: bool,
    /// Run the telemetry stage (when there are OTLP or spec sources).
    pub telemetry: bool,
    /// The correlation rule weights: the spec's, with the job's
    /// `[correlation]` overrides applied (validated).
    pub correlation_weights: crate::telemetry::correlate::CorrelationWeights,
}

/// Command-line overrides of a job (STYLE §1: the job says what, flags say
/// how, but every source and the lake can be pointed elsewhere).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--source kind=url`, repeatable: replaces the job's sources of each
    /// kind named.
    pub sources: Vec<(InputKind, String)>,
    /// `--lake url`.
    pub lake: Option<String>,
}

impl JobSpec {
    /// Parse a job file's text. `path` only labels errors.
    ///
    /// # Errors
    /// [`JobError::Parse`] naming the line, column and key.
    pub fn parse(text: &str, path: &str) -> Result<Self, JobError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            JobError::Parse {
                path: path.to_string(),
                line,
                column,
                message: e.message().to_string(),
            }
        })
    }

    /// Read and parse a job file.
    ///
    /// # Errors
    /// [`JobError::Read`] or [`JobError::Parse`].
    pub fn load(path: &std::path::Path) -> Result<Self, JobError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Validate into a plan, applying overrides.
    ///
    /// # Errors
    /// [`JobError::Invalid`] for a bad name, an empty or malformed URL, a
    /// job that has nothing to read, or out-of-range `[attribution]`
    /// thresholds.
    pub fn plan(&self, path: &str, ov: &Overrides) -> Result<JobPlan, JobError> {
        let invalid = |message: String| JobError::Invalid {
            path: path.to_string(),
            message,
        };
        let name = self.job.name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid(format!(
                "[job] name {name:?} must be non-empty [A-Za-z0-9_-]"
            )));
        }
        let lake = ov.lake.clone().unwrap_or_else(|| self.lake.url.clone());
        check_url(&lake).map_err(|m| invalid(format!("lake url: {m}")))?;
        let mut sources = Vec::new();
        let mut otlp = Vec::new();
        for o in &self.sources.otlp {
            otlp.push(match o {
                OtlpSource::Url(u) => (u.clone(), None),
                OtlpSource::Table { url, signal } => {
                    let s = Signal::parse(signal).ok_or_else(|| {
                        invalid(format!(
                            "otlp source {}: signal {signal:?} is not traces, logs or metrics",
                            crate::source::redact(url)
                        ))
                    })?;
                    (url.clone(), Some(s))
                }
            });
        }
        let plain = |v: &Vec<String>| v.iter().map(|u| (u.clone(), None)).collect::<Vec<_>>();
        for (kind, urls) in [
            (InputKind::Sessrec, plain(&self.sources.sessrec)),
            (InputKind::SessionLog, plain(&self.sources.session_logs)),
            (InputKind::Asciicast, plain(&self.sources.asciicast)),
            (InputKind::AgentEvents, plain(&self.sources.agents)),
            (InputKind::Otlp, otlp),
            (InputKind::Spec, plain(&self.sources.specs)),
        ] {
            let over: Vec<(String, Option<Signal>)> = ov
                .sources
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, u)| split_signal(kind, u))
                .collect::<Result<_, _>>()
                .map_err(|m| invalid(format!("--source {}: {m}", kind.job_key())))?;
            let chosen = if over.is_empty() { urls } else { over };
            for (url, signal) in chosen {
                check_url(&url).map_err(|m| invalid(format!("{} source: {m}", kind.job_key())))?;
                sources.push(SourceSpec { kind, url, signal });
            }
        }
        let has = |k: &dyn Fn(InputKind) -> bool| sources.iter().any(|s| k(s.kind));
        let session_sources = has(&|k| matches!(k, InputKind::Sessrec | InputKind::Asciicast));
        let agent_sources = has(&|k| k == InputKind::AgentEvents);
        let telemetry_sources = has(&|k| matches!(k, InputKind::Otlp | InputKind::Spec));
        let has_work = session_sources
            || (self.stages.agents && agent_sources)
            || (self.stages.telemetry && telemetry_sources);
        if self.stages.sessions && !has_work {
            return Err(invalid(
                "the job has nothing to read: no sessrec, asciicast, agents or otlp source ([sources] or --source)"
                    .into(),
            ));
        }
        if self.stages.telemetry
            && has(&|k| k == InputKind::Otlp)
            && !has(&|k| k == InputKind::Spec)
        {
            return Err(invalid(
                "the telemetry stage has otlp sources but no specs source to correlate them with ([sources] specs or --source specs=URL)"
                    .into(),
            ));
        }
        let mut weights = crate::telemetry::correlate::CorrelationWeights::default();
        for (k, v) in &self.correlation {
            weights
                .set(k, *v)
                .map_err(|e| invalid(format!("[correlation] {e}")))?;
        }
        self.agents
            .validate()
            .map_err(|e| invalid(format!("[agents] {e}")))?;
        self.attribution
            .validate()
            .map_err(|e| invalid(format!("[attribution] {e}")))?;
        Ok(JobPlan {
            name: name.to_string(),
            lake,
            sources,
            sessions: self.stages.sessions,
            attribution: self.stages.attribution,
            attribution_thresholds: self.attribution.clone(),
            agents: self.stages.agents && agent_sources,
            agent_settings: self.agents.clone(),
            drift_events: self.stages.drift_events,
            telemetry: self.stages.telemetry && telemetry_sources,
            correlation_weights: weights,
        })
    }
}

/// Parse a `--source kind=url` flag.
///
/// # Errors
/// A message naming the accepted kinds.
pub fn parse_source_flag(s: &str) -> Result<(InputKind, String), String> {
    let (k, url) = s
        .split_once('=')
        .ok_or_else(|| format!("expected kind=url, got {s:?}"))?;
    // `otlp:traces=URL` names the signal of length-prefixed protobuf.
    let (k, sig) = match k.split_once(':') {
        Some((k, sig)) => (k, Some(sig)),
        None => (k, None),
    };
    let kind = InputKind::from_job_key(k.trim()).ok_or_else(|| {
        format!("unknown source kind {k:?} (sessrec, session_logs, asciicast, agents, otlp, specs)")
    })?;
    if let Some(sig) = sig {
        if kind != InputKind::Otlp {
            return Err(format!("only otlp sources take a signal, got {k}:{sig}"));
        }
        if Signal::parse(sig.trim()).is_none() {
            return Err(format!("signal {sig:?} is not traces, logs or metrics"));
        }
        return Ok((kind, format!("{}#signal={}", url.trim(), sig.trim())));
    }
    if url.trim().is_empty() {
        return Err("empty url".into());
    }
    Ok((kind, url.trim().to_string()))
}

/// Undo the `#signal=` marker [`parse_source_flag`] puts on an otlp URL.
fn split_signal(kind: InputKind, u: &str) -> Result<(String, Option<Signal>), String> {
    match u.rsplit_once("#signal=") {
        Some((url, sig)) if kind == InputKind::Otlp => {
            let s = Signal::parse(sig)
                .ok_or_else(|| format!("signal {sig:?} is not traces, logs or metrics"))?;
            Ok((url.to_string(), Some(s)))
        }
        _ => Ok((u.to_string(), None)),
    }
}

/// Shape-check a URL without I/O.
fn check_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("empty".into());
    }
    if url.contains("://") {
        let u =
            ::url::Url::parse(url).map_err(|e| format!("{} ({e})", crate::source::redact(url)))?;
        if !matches!(
            u.scheme(),
            "file" | "memory" | "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss"
        ) {
            return Err(format!("unsupported scheme {:?}", u.scheme()));
        }
    }
    Ok(())
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[job]
name = "demo"
[lake]
url = "./lake"
[sources]
sessrec = ["fixtures/demo/artifacts"]
session_logs = ["fixtures/demo/logs"]
[stages]
sessions = true
attribution = false
"#;

    #[test]
    fn parse_and_plan_a_job() {
        let spec = JobSpec::parse(GOOD, "demo.toml").unwrap();
        let plan = spec.plan("demo.toml", &Overrides::default()).unwrap();
        assert_eq!(plan.name, "demo");
        assert_eq!(plan.lake, "./lake");
        assert_eq!(
            plan.sources,
            vec![
                SourceSpec {
                    kind: InputKind::Sessrec,
                    url: "fixtures/demo/artifacts".into(),
                    signal: None,
                },
                SourceSpec {
                    kind: InputKind::SessionLog,
                    url: "fixtures/demo/logs".into(),
                    signal: None,
                },
            ]
        );
        assert!(plan.sessions && !plan.attribution);
        assert_eq!(
            plan.attribution_thresholds,
            AttributionThresholds::default()
        );
    }

    #[test]
    fn correlation_section_overrides_weights_or_names_the_bad_key() {
        let text = format!("{GOOD}[correlation]\nCOR-101 = 0.5\ncor_004 = 0.1\n");
        let plan = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap();
        assert_eq!(plan.correlation_weights.get("COR-101"), Some(0.5));
        assert_eq!(plan.correlation_weights.get("COR-004"), Some(0.1));
        // Keys not given keep the spec's weights.
        assert_eq!(plan.correlation_weights.get("COR-001"), Some(0.95));
        for bad in ["COR-999 = 0.5", "COR-101 = 1.5"] {
            let text = format!("{GOOD}[correlation]\n{bad}\n");
            let err = JobSpec::parse(&text, "x")
                .unwrap()
                .plan("x", &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("[correlation]"), "{err}");
        }
    }

    #[test]
    fn attribution_section_overrides_thresholds() {
        let text =
            format!("{GOOD}[attribution]\nmin_observations_for_state = 2\nHASH_DRIFT_MAX = 5\n");
        let plan = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap();
        assert_eq!(plan.attribution_thresholds.min_observations_for_state, 2);
        assert_eq!(plan.attribution_thresholds.hash_drift_max, 5);
        // Keys not given keep the reference's values.
        assert_eq!(
            plan.attribution_thresholds.categorical_window_n,
            AttributionThresholds::default().categorical_window_n
        );
    }

    #[test]
    fn attribution_unknown_key_names_key_and_line() {
        let text = format!("{GOOD}[attribution]\nmin_observations_for_state = 2\nmin_obs = 2\n");
        let err = JobSpec::parse(&text, "x.toml").unwrap_err();
        let JobError::Parse { line, message, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 14, "{err}");
        assert!(message.contains("min_obs"), "{message}");
    }

    #[test]
    fn attribution_out_of_range_is_invalid() {
        let text = format!("{GOOD}[attribution]\ncategorical_window_n = 0\n");
        let err = JobSpec::parse(&text, "x")
            .unwrap()
            .plan("x", &Overrides::default())
            .unwrap_err();
        assert!(matches!(err, JobError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("categorical_window_n"), "{err}");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = GOOD.replace("sessrec = ", "sesrec = ");
        let err = JobSpec::parse(&text, "x.toml").unwrap_err();
        let JobError::Parse { line, message, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 7);
        assert!(message.contains("sesrec"), "{message}");
        assert!(err.to_string().starts_with("x.toml:7:"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_line() {
        let text = GOOD.replace("sessions = true", "sessions = \"yes\"");
        let JobError::Parse { line, .. } = JobSpec::parse(&text, "x").unwrap_err() else {
            panic!()
        };
        assert_eq!(line, 10);
    }

    #[test]
    fn overrides_replace_sources_of_that_kind_and_the_lake() {
        let spec = JobSpec::parse(GOOD, "d").unwrap();
        let ov = Overrides {
            sources: vec![
                parse_source_flag("sessrec=memory://t/a").unwrap(),
                parse_source_flag("sessrec=memory://t/b").unwrap(),
            ],
            lake: Some("memory://t/lake".into()),
        };
        let plan = spec.plan("d", &ov).unwrap();
        assert_eq!(plan.lake, "memory://t/lake");
        let urls: Vec<_> = plan
            .sources
            .iter()
            .map(|s| (s.kind, s.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                (InputKind::Sessrec, "memory://t/a"),
                (InputKind::Sessrec, "memory://t/b"),
                (InputKind::SessionLog, "fixtures/demo/logs")
            ]
        );
    }

    #[test]
    fn agent_sources_settings_and_overrides() {
        let text =
            format!("{GOOD}[agents]\nwindow_secs = 600\nhop_secs = 300\nweight_entropy = 0.5\n");
        let spec = JobSpec::parse(&text, "d").unwrap();
        let plan = spec.plan("d", &Overrides::default()).unwrap();
        assert!(!plan.agents, "no agent source: the stage has nothing to do");
        assert_eq!(plan.agent_settings.windows_per_event(), 2);
        assert_eq!(plan.agent_settings.weight_entropy, 0.5);
        let ov = Overrides {
            sources: vec![parse_source_flag("agents=memory://t/agents").unwrap()],
            lake: None,
        };
        let plan = spec.plan("d", &ov).unwrap();
        assert!(plan.agents);
        assert!(plan.sources.contains(&SourceSpec {
            kind: InputKind::AgentEvents,
            url: "memory://t/agents".into(),
            signal: None,
        }));
        // An agents-only job needs no session source.
        let only =
            "[job]\nname = \"a\"\n[lake]\nurl = \"./lake\"\n[sources]\nagents = [\"./agents\"]\n";
        assert!(
            JobSpec::parse(only, "d")
                .unwrap()
                .plan("d", &Overrides::default())
                .unwrap()
                .agents
        );
        // Bad settings name the section and key; unknown keys name the line.
        let bad = format!("{GOOD}[agents]\nhop_secs = 900\n");
        let err = JobSpec::parse(&bad, "d")
            .unwrap()
            .plan("d", &Overrides::default())
            .unwrap_err();
        assert!(err.to_string().contains("[agents] hop_secs"), "{err}");
        let typo = format!("{GOOD}[agents]\nwindow = 60\n");
        let err = JobSpec::parse(&typo, "d").unwrap_err().to_string();
        assert!(err.contains("window"), "{err}");
    }

    #[test]
    fn invalid_plans_are_rejected() {
        let spec = JobSpec::parse(GOOD, "d").unwrap();
        let bad_lake = Overrides {
            lake: Some("ftp://x/y".into()),
            ..Default::default()
        };
        assert!(matches!(
            spec.plan("d", &bad_lake),
            Err(JobError::Invalid { .. })
        ));
        let no_src = JobSpec::parse(
            &GOOD.replace("sessrec = [\"fixtures/demo/artifacts\"]", ""),
            "d",
        )
        .unwrap();
        assert!(matches!(
            no_src.plan("d", &Overrides::default()),
            Err(JobError::Invalid { .. })
        ));
        let bad_name = JobSpec::parse(&GOOD.replace("\"demo\"", "\"a/b\""), "d").unwrap();
        assert!(bad_name.plan("d", &Overrides::default()).is_err());
        assert!(parse_source_flag("nope=x").is_err());
        assert!(parse_source_flag("sessrec").is_err());
        assert_eq!(
            parse_source_flag("session_logs=a=b").unwrap(),
            (InputKind::SessionLog, "a=b".into())
        );
    }
}
