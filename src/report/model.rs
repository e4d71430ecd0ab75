//! What a report shows: plain rows, already aggregated by the loader
//! (`report::load`). The renderers (`report::html`, `report::markdown`) are
//! pure functions of a [`ReportData`]: no I/O, no clock, so one lake gives one
//! byte-identical report.

use chrono::NaiveDate;

pub use crate::drift::event::{Level, Severity};

/// Everything one report shows. Every list is sorted as documented on its
/// field; an empty list means the lake has no such data in the window and the
/// section says so instead of drawing an empty chart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportData {
    /// The lake the report was read from (URL as given; never credentials).
    pub lake: String,
    /// First day of the window (UTC, inclusive).
    pub from: NaiveDate,
    /// Last day of the window (UTC, inclusive).
    pub to: NaiveDate,
    /// The newest committed run of the lake (`_runs.run_id`), if any: the
    /// report's "as of", so it needs no wall clock.
    pub as_of_run: Option<String>,
    /// §1 drift score over time: one point per (spec node, day) that has a
    /// `behavior_summary` node row; sorted by (context, spec_node_id, day).
    pub node_days: Vec<NodeDay>,
    /// §2 level counts: node rows per (day, level); sorted by (day, level
    /// order none < low < medium < high). Days without rows are absent.
    pub level_days: Vec<LevelDay>,
    /// §3a drift events per (day, severity); sorted by (day, severity order
    /// green < yellow < red).
    pub event_days: Vec<EventDay>,
    /// §3b the most recurring fingerprints (at most 20), most events first,
    /// ties by fingerprint key.
    pub fingerprints: Vec<Fingerprint>,
    /// §4 attribution: identities per (primitive, state) now; sorted by
    /// (primitive, state order unknown < stable < drifting < conflicted <
    /// multi_actor).
    pub attribution: Vec<AttributionCount>,
    /// §5 agent tiers: per (day, tier) the agents with a window in that tier
    /// and their mean anomaly score; sorted by (day, tier).
    pub agent_days: Vec<AgentDay>,
}

/// One spec node's drift on one day (the max over its context's rows).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeDay {
    /// `sea.domain` of the row.
    pub context: String,
    /// The spec node.
    pub spec_node_id: String,
    /// The UTC day of the window.
    pub day: NaiveDate,
    /// Drift score in [0, 1].
    pub drift_score: f64,
    /// The gated level.
    pub level: Level,
    /// Evidence rows behind the score.
    pub evidence_count: i64,
}

/// Node rows of one level on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelDay {
    /// The UTC day.
    pub day: NaiveDate,
    /// The level.
    pub level: Level,
    /// Node rows (not no-match rows).
    pub rows: i64,
}

/// Drift events of one severity on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDay {
    /// The UTC day of `detected_at`.
    pub day: NaiveDate,
    /// The severity.
    pub severity: Severity,
    /// Events.
    pub events: i64,
}

/// One recurring drift pattern (`sql/what_drifted.sql`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fingerprint {
    /// `fingerprint.key` (16 hex).
    pub key: String,
    /// `driftType`.
    pub drift_type: String,
    /// What the pattern is about, for a reader: `context / node · rule`,
    /// `identity · primitive`, `agent <id>`.
    pub subject: String,
    /// Events with this key.
    pub events: i64,
    /// Distinct windows it was seen in.
    pub windows: i64,
    /// Worst severity seen.
    pub worst: Severity,
    /// First `window_start` (UTC, `YYYY-MM-DD HH:MM`).
    pub first_seen: String,
    /// Last `window_start` (UTC, `YYYY-MM-DD HH:MM`).
    pub last_seen: String,
    /// Distinct episodes.
    pub episodes: i64,
    /// Recommended patch types, sorted, distinct.
    pub patches: Vec<String>,
    /// Seen in ≥ 3 windows with worst severity red.
    pub patch_required: bool,
}

/// Identities in one attribution state for one primitive.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributionCount {
    /// The BEHAVE primitive (e.g. `motor.typing_cadence`).
    pub primitive: String,
    /// `unknown`, `stable`, `drifting`, `conflicted` or `multi_actor`.
    pub state: String,
    /// Identities.
    pub identities: i64,
}

/// Agents of one tier on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentDay {
    /// The UTC day of the windows.
    pub day: NaiveDate,
    /// 1, 2 or 3.
    pub tier: i32,
    /// Distinct agents with a window in this tier that day.
    pub agents: i64,
    /// Windows in this tier that day.
    pub windows: i64,
    /// Mean anomaly score of those windows.
    pub mean_anomaly_score: f64,
}
