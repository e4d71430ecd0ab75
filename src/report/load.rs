//! Read a [`ReportData`] from a lake registered in a DataFusion context:
//! one small aggregate query per section, over `behavior_summary`,
//! `drift_events` (through `sql/what_drifted.sql`), `attribution_state`,
//! `agent_profiles` and `_runs`. A table the lake does not have yet leaves
//! its section empty.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use datafusion::prelude::SessionContext as DfContext;

use super::model::{
    AgentDay, AttributionCount, EventDay, Fingerprint, Level, LevelDay, NodeDay, ReportData,
    Severity,
};
use crate::engine::context::{run_sql_file, run_statement};
use crate::engine::rows::Rows;
use crate::engine::{EngineError, Result};

/// Fingerprints the report lists.
pub const TOP_FINGERPRINTS: usize = 20;

/// Days in the default window (ending at the newest day with data).
pub const DEFAULT_DAYS: u64 = 30;

/// The tables that give a report its days.
const DATED: [&str; 3] = ["behavior_summary", "drift_events", "agent_profiles"];

fn day(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

async fn query(ctx: &DfContext, sql: &str, from: NaiveDate, to: NaiveDate) -> Result<Rows> {
    let params = BTreeMap::from([
        ("from".to_string(), from.to_string()),
        ("to".to_string(), to.to_string()),
    ]);
    // The header declares the parameters for engine::sql::param_values.
    let text = format!("-- Params:  $from, $to\n{sql}");
    Ok(Rows::new(&run_statement(ctx, &text, &params).await?))
}

/// The oldest and newest UTC days with data in any dated table, if any.
///
/// # Errors
/// DataFusion errors.
pub async fn data_days(
    ctx: &DfContext,
    tables: &[String],
) -> Result<Option<(NaiveDate, NaiveDate)>> {
    let mut span: Option<(NaiveDate, NaiveDate)> = None;
    for t in DATED.iter().filter(|t| tables.iter().any(|x| x == *t)) {
        let b = run_statement(
            ctx,
            &format!("SELECT min(date) AS lo, max(date) AS hi FROM {t}"),
            &BTreeMap::new(),
        )
        .await?;
        let rows = Rows::new(&b);
        let lo = rows.strings("lo")?.first().and_then(day);
        let hi = rows.strings("hi")?.first().and_then(day);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            span = Some(match span {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
    }
    Ok(span)
}

/// The window `[from, to]`: as given, else the [`DEFAULT_DAYS`] ending at
/// `to` (given, or the newest day with data, or `today` for an empty lake),
/// starting no earlier than the oldest day with data (a lake with three
/// days of data shows those three days, not 27 empty ones before them).
pub fn window(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    data: Option<(NaiveDate, NaiveDate)>,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let to = to.or(data.map(|d| d.1)).unwrap_or(today);
    let from = from.unwrap_or_else(|| {
        let full = to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to);
        match data {
            Some((oldest, _)) if oldest > full && oldest <= to => oldest,
            _ => full,
        }
    });
    (from, to)
}

/// Read everything a report shows for `[from, to]`.
///
/// # Errors
/// DataFusion errors, or a lake whose values are not what the spec says
/// (an unknown level or severity).
pub async fn load(
    ctx: &DfContext,
    tables: &[String],
    lake: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ReportData> {
    let has = |t: &str| tables.iter().any(|x| x == t);
    let mut data = ReportData {
        lake: lake.to_string(),
        from,
        to,
        ..ReportData::default()
    };
    if has("_runs") {
        let b = run_statement(
            ctx,
            "SELECT max(run_id) AS r FROM _runs WHERE status = 'committed'",
            &BTreeMap::new(),
        )
        .await?;
        data.as_of_run = Rows::new(&b).strings("r")?.into_iter().next().flatten();
    }
    if has("behavior_summary") {
        data.node_days = node_days(ctx, from, to).await?;
        data.level_days = level_days(ctx, from, to).await?;
    }
    if has("drift_events") {
        data.event_days = event_days(ctx, from, to).await?;
        data.fingerprints = fingerprints(ctx, from, to).await?;
    }
    if has("attribution_state") {
        data.attribution = attribution(ctx).await?;
    }
    if has("agent_profiles") {
        data.agent_days = agent_days(ctx, from, to).await?;
    }
    Ok(data)
}

fn bad(what: &str, v: &str) -> EngineError {
    EngineError::Statement(format!("unknown {what} {v:?} in the lake"))
}

async fn node_days(ctx: &DfContext, from: NaiveDate, to: NaiveDate) -> Result<Vec<NodeDay>> {
    let r = query(
        ctx,
        "SELECT context, spec_node_id, date, max(drift_score) AS score,
                max(CASE drift_level WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) AS level_rank,
                sum(evidence_count) AS evidence
         FROM behavior_summary
         WHERE spec_node_id IS NOT NULL AND date >= $from AND date <= $to
         GROUP BY context, spec_node_id, date
         ORDER BY context, spec_node_id, date",
        from,
        to,
    )
    .await?;
    let (ctxs, nodes, days) = (
        r.strings("context")?,
        r.strings("spec_node_id")?,
        r.strings("date")?,
    );
    let (scores, ranks, ev) = (
        r.floats("score")?,
        r.ints("level_rank")?,
        r.ints("evidence")?,
    );
    Ok((0..r.len())
        .filter_map(|i| {
            Some(NodeDay {
                context: ctxs[i].clone().unwrap_or_default(),
                spec_node_id: nodes[i].clone()?,
                day: day(&days[i])?,
                drift_score: scores[i],
                level: Level::ALL[usize::try_from(ranks[i].clamp(0, 3)).unwrap_or(0)],
                evidence_count: ev[i],
            })
        })
        .collect())
}

async fn level_days(ctx: &DfContext, from: NaiveDate, to: NaiveDate) -> Result<Vec<LevelDay>> {
    let r = query(
        ctx,
        "SELECT date, drift_level, count(*) AS n FROM behavior_summary
         WHERE spec_node_id IS NOT NULL AND date >= $from AND date <= $to
         GROUP BY date, drift_level",
        from,
        to,
    )
    .await?;
    let (days, levels, n) = (r.strings("date")?, r.strings("drift_level")?, r.ints("n")?);
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let lv = levels[i].as_deref().unwrap_or("");
        let level = Level::parse(lv).ok_or_else(|| bad("drift_level", lv))?;
        if let Some(d) = day(&days[i]) {
            out.push(LevelDay {
                day: d,
                level,
                rows: n[i],
            });
        }
    }
    out.sort_by_key(|x| (x.day, x.level));
    Ok(out)
}

async fn event_days(ctx: &DfContext, from: NaiveDate, to: NaiveDate) -> Result<Vec<EventDay>> {
    let r = query(
        ctx,
        "SELECT date, severity, count(*) AS n FROM drift_events
         WHERE date >= $from AND date <= $to GROUP BY date, severity",
        from,
        to,
    )
    .await?;
    let (days, sev, n) = (r.strings("date")?, r.strings("severity")?, r.ints("n")?);
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let s = sev[i].as_deref().unwrap_or("");
        let severity = Severity::parse(s).ok_or_else(|| bad("severity", s))?;
        if let Some(d) = day(&days[i]) {
            out.push(EventDay {
                day: d,
                severity,
                events: n[i],
            });
        }
    }
    out.sort_by_key(|x| (x.day, x.severity));
    Ok(out)
}

async fn fingerprints(ctx: &DfContext, from: NaiveDate, to: NaiveDate) -> Result<Vec<Fingerprint>> {
    let params = BTreeMap::from([
        ("from".to_string(), from.to_string()),
        ("to".to_string(), to.to_string()),
    ]);
    let r = Rows::new(&run_sql_file(ctx, "what_drifted", &params).await?);
    let keys = r.strings("fingerprint_key")?;
    let (types, subjects) = (r.strings("drift_type")?, r.strings("subject")?);
    let (events, windows, episodes) = (r.ints("events")?, r.ints("windows")?, r.ints("episodes")?);
    let worst = r.strings("worst_severity")?;
    let (first, last) = (r.strings("first_seen")?, r.strings("last_seen")?);
    let patches = r.string_lists("patches")?;
    let required = r.bools("patch_required")?;
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let w = worst[i].as_deref().unwrap_or("");
        out.push(Fingerprint {
            key: keys[i].clone().unwrap_or_default(),
            drift_type: types[i].clone().unwrap_or_default(),
            subject: subjects[i].clone().unwrap_or_default(),
            events: events[i],
            windows: windows[i],
            worst: Severity::parse(w).ok_or_else(|| bad("severity", w))?,
            first_seen: stamp(first[i].as_deref()),
            last_seen: stamp(last[i].as_deref()),
            episodes: episodes[i],
            patches: patches[i].clone(),
            patch_required: required[i],
        });
    }
    out.sort_by(|a, b| b.events.cmp(&a.events).then(a.key.cmp(&b.key)));
    out.truncate(TOP_FINGERPRINTS);
    Ok(out)
}

/// Arrow's timestamp text (`2026-05-02T10:10:00.25Z`) as `2026-05-02 10:10`
/// (UTC, minutes: what a reader scans a table for).
fn stamp(s: Option<&str>) -> String {
    let s = s.unwrap_or_default();
    match s.get(..16) {
        Some(head) if s.as_bytes().get(10) == Some(&b'T') => head.replacen('T', " ", 1),
        _ => s.to_string(),
    }
}

async fn attribution(ctx: &DfContext) -> Result<Vec<AttributionCount>> {
    let b = run_statement(
        ctx,
        "SELECT primitive, state, count(DISTINCT identity_ref) AS n FROM attribution_state
         GROUP BY primitive, state",
        &BTreeMap::new(),
    )
    .await?;
    let r = Rows::new(&b);
    let (p, s, n) = (r.strings("primitive")?, r.strings("state")?, r.ints("n")?);
    let order = |s: &str| {
        ["unknown", "stable", "drifting", "conflicted", "multi_actor"]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(5)
    };
    let mut out: Vec<AttributionCount> = (0..r.len())
        .map(|i| AttributionCount {
            primitive: p[i].clone().unwrap_or_default(),
            state: s[i].clone().unwrap_or_default(),
            identities: n[i],
        })
        .collect();
    out.sort_by(|a, b| {
        (a.primitive.as_str(), order(&a.state)).cmp(&(b.primitive.as_str(), order(&b.state)))
    });
    Ok(out)
}

async fn agent_days(ctx: &DfContext, from: NaiveDate, to: NaiveDate) -> Result<Vec<AgentDay>> {
    let r = query(
        ctx,
        "SELECT date, tier, count(DISTINCT agent_id) AS agents, count(*) AS windows,
                avg(anomaly_score) AS score
         FROM agent_profiles WHERE date >= $from AND date <= $to
         GROUP BY date, tier ORDER BY date, tier",
        from,
        to,
    )
    .await?;
    let (days, tiers) = (r.strings("date")?, r.ints("tier")?);
    let (agents, windows, score) = (r.ints("agents")?, r.ints("windows")?, r.floats("score")?);
    Ok((0..r.len())
        .filter_map(|i| {
            Some(AgentDay {
                day: day(&days[i])?,
                tier: i32::try_from(tiers[i]).ok()?,
                agents: agents[i],
                windows: windows[i],
                mean_anomaly_score: score[i],
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_ends_at_the_newest_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-11-22");
        let span = Some((d("2026-01-01"), d("2026-05-31")));
        assert_eq!(
            window(None, None, span, today),
            (d("2026-05-02"), d("2026-05-31"))
        );
        assert_eq!(window(None, None, None, today), (d("2026-10-24"), today));
        assert_eq!(
            window(Some(d("2026-01-01")), None, span, today),
            (d("2026-01-01"), d("2026-05-31"))
        );
        // Fewer days of data than the default window: only those days.
        let short = Some((d("2026-05-01"), d("2026-05-03")));
        assert_eq!(
            window(None, None, short, today),
            (d("2026-05-01"), d("2026-05-03"))
        );
        // An explicit --to before the data keeps the full default window.
        assert_eq!(
            window(None, Some(d("2026-04-10")), short, today),
            (d("2026-03-12"), d("2026-04-10"))
        );
        assert_eq!(
            stamp(Some("2026-05-02T00:24:31.250952Z")),
            "2026-05-02 00:24"
        );
        assert_eq!(stamp(Some("2026-05-02T00:24:31Z")), "2026-05-02 00:24");
        assert_eq!(stamp(Some("garbage")), "garbage");
    }
}
