//! Drift events from attribution state transitions, the multi-actor
//! correlator and agent tier changes (issue 6; behave-shell.md §6.9;
//! agent-monitor.md). Pure: rows in (from `sql/attribution_transitions.sql`
//! and `sql/agent_tier_changes.sql`), events out.
//!
//! Choices where the specs are silent, all documented in the README:
//! * severity of an attribution transition: into `drifting` green (the
//!   identity settled on a new value), into `conflicted` or `multi_actor`
//!   yellow; a multi-actor suspicion (≥ 2 primitives in `multi_actor`) red;
//! * their patch is `manual_review`: an analyst decides what a changed
//!   identity means;
//! * the correlator runs after every observation time of the identity (the
//!   reference ticks every 60 s over the current states; a batch job replays
//!   the history instead, so a suspicion that lasted less than a tick is
//!   also reported, and nothing depends on when the job ran).

use std::collections::{BTreeMap, HashMap};

use super::event::{
    agent_key, attribution_key, multi_actor_key, observation_drift_id, second_stamp, severity_of,
    stale_key, telemetry_key, windowed_drift_id, DriftEvent, DriftType, Origin, PatchType,
    Severity, StaleKind, RULE_AGENT_TIER, RULE_ATTRIBUTION, RULE_MULTI_ACTOR,
};
use crate::telemetry::model::{StaleRef, SummaryRow};

/// The rule id of a stale reference (telemetry-correlation.md §6).
pub const RULE_STALE: &str = "STALE-001";

/// Telemetry drift events (telemetry-correlation.md §6): one per (summary
/// row, triggered rule) whose own level — the level of sᵢ capped by the
/// row's confidence gating — is not `none`, and one `stale_reference` per
/// (context, window, stale flow or policy).
pub fn telemetry_events(rows: &[SummaryRow], stale: &[StaleRef]) -> Vec<DriftEvent> {
    let mut out = Vec::new();
    for r in rows {
        let Some(node) = r.spec_node_id.as_deref() else {
            continue;
        };
        for f in &r.findings {
            let Some(severity) = severity_of(f.level) else {
                continue;
            };
            let mut refs = f.evidence_refs.clone();
            if refs.is_empty() {
                refs.extend(r.evidence_ref.iter().cloned());
            }
            if refs.is_empty() {
                continue;
            }
            let key = telemetry_key(f.drift_type, &r.context, node, &f.rule_id);
            out.push(DriftEvent {
                drift_id: windowed_drift_id(&key, r.window_start_us),
                episode_id: f.episode_id.clone(),
                drift_type: f.drift_type,
                severity,
                detected_at_us: r.window_end_us,
                evidence_refs: refs,
                patch: PatchType::for_telemetry(f.drift_type),
                fingerprint_key: key,
                notes: Some(format!(
                    "{} scored {:.3} ({}) for {node} in {} on {} (row confidence {:.3})",
                    f.rule_id,
                    f.score,
                    f.level.as_str(),
                    r.context,
                    &second_stamp(r.window_start_us)[..10],
                    r.confidence
                )),
                origin: Origin::Telemetry,
                rule_id: f.rule_id.clone(),
                window_start_us: r.window_start_us,
                context: Some(r.context.clone()),
                spec_node_id: Some(node.to_string()),
                identity_ref: None,
                primitive: None,
                agent_id: None,
                drift_score: Some(f.score),
                confidence: Some(r.confidence),
            });
        }
    }
    for s in stale {
        if s.evidence_refs.is_empty() {
            continue;
        }
        let key = stale_key(s.kind, &s.context, &s.name);
        let what = match s.kind {
            StaleKind::Flow => "flow",
            StaleKind::Policy => "policy",
        };
        out.push(DriftEvent {
            drift_id: windowed_drift_id(&key, s.window_start_us),
            episode_id: s.episode_id.clone(),
            drift_type: DriftType::StaleReference,
            severity: Severity::Yellow,
            detected_at_us: s.window_end_us,
            evidence_refs: s.evidence_refs.clone(),
            patch: PatchType::ManualReview,
            fingerprint_key: key,
            notes: Some(format!(
                "telemetry names the {what} {:?} in {}, which no spec node defines",
                s.name, s.context
            )),
            origin: Origin::Telemetry,
            rule_id: RULE_STALE.into(),
            window_start_us: s.window_start_us,
            context: Some(s.context.clone()),
            spec_node_id: None,
            identity_ref: None,
            primitive: None,
            agent_id: None,
            drift_score: None,
            confidence: None,
        });
    }
    out
}

/// The confidence of a multi-actor suspicion (behave-shell.md §6.9).
pub const MULTI_ACTOR_CONFIDENCE: f64 = 0.6;

/// One state change of one (identity, primitive) series.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The identity (source IP).
    pub identity_ref: String,
    /// The primitive.
    pub primitive: String,
    /// Order of changes within the series.
    pub seq: i64,
    /// `ts` of the observation that changed the state (epoch seconds).
    pub ts: f64,
    /// The state entered.
    pub state: String,
    /// The state left (None for the series' first state).
    pub prev_state: Option<String>,
    /// The state's confidence after the change.
    pub confidence: f64,
    /// The session the changing observation came from.
    pub evidence_ref: String,
}

/// One agent profile row whose tier changed.
#[derive(Clone, Debug, PartialEq)]
pub struct TierChange {
    /// The agent.
    pub agent_id: String,
    /// Window start, µs UTC.
    pub window_start_us: i64,
    /// Window end, µs UTC.
    pub window_end_us: i64,
    /// The tier before.
    pub prev_tier: Option<i32>,
    /// The tier now.
    pub tier: i32,
    /// The window's anomaly score.
    pub anomaly_score: f64,
    /// File operations in the window.
    pub file_ops: i64,
    /// Network operations in the window.
    pub network_ops: i64,
    /// Other events in the window.
    pub other_ops: i64,
}

/// µs of epoch seconds (rounded to the µs, as the lake stores timestamps).
fn ts_micros(ts: f64) -> i64 {
    (ts * 1e6).round() as i64
}

/// The severity of entering `state`, None for states that are not drift.
fn transition_severity(state: &str) -> Option<Severity> {
    match state {
        "drifting" => Some(Severity::Green),
        "conflicted" | "multi_actor" => Some(Severity::Yellow),
        _ => None,
    }
}

/// One event per transition into `drifting`, `conflicted` or `multi_actor`.
pub fn attribution_events(transitions: &[Transition]) -> Vec<DriftEvent> {
    // One key per (identity, primitive) series, however many events it has
    // (a hash each; only looked up, so the map's order never shows).
    let mut keys: HashMap<(&str, &str), String> = HashMap::new();
    transitions
        .iter()
        .filter_map(|t| {
            let severity = transition_severity(&t.state)?;
            let key = keys
                .entry((&t.identity_ref, &t.primitive))
                .or_insert_with(|| attribution_key(&t.identity_ref, &t.primitive))
                .clone();
            let at = ts_micros(t.ts);
            Some(DriftEvent {
                drift_id: observation_drift_id(&key, &t.evidence_ref),
                episode_id: t.evidence_ref.clone(),
                drift_type: DriftType::Outcome,
                severity,
                detected_at_us: at,
                evidence_refs: vec![t.evidence_ref.clone()],
                patch: PatchType::ManualReview,
                fingerprint_key: key,
                notes: Some(format!(
                    "{} of identity {}: {} → {} (confidence {:.3})",
                    t.primitive,
                    t.identity_ref,
                    t.prev_state.as_deref().unwrap_or("(first state)"),
                    t.state,
                    t.confidence
                )),
                origin: Origin::Attribution,
                rule_id: RULE_ATTRIBUTION.into(),
                window_start_us: at,
                context: None,
                spec_node_id: None,
                identity_ref: Some(t.identity_ref.clone()),
                primitive: Some(t.primitive.clone()),
                agent_id: None,
                drift_score: None,
                confidence: Some(t.confidence),
            })
        })
        .collect()
}

/// The multi-actor correlator (behave-shell.md §6.9) over the history:
/// after each observation time of an identity, the primitives currently in
/// `multi_actor`; when there are at least `min_primitives` and the set
/// differs from the last one fired, one event. A set that drops below the
/// floor re-arms the identity. `transitions` must be sorted by
/// (identity_ref, ts) as the SQL file returns them.
pub fn multi_actor_events(transitions: &[Transition], min_primitives: usize) -> Vec<DriftEvent> {
    let mut out = Vec::new();
    for identity in transitions.chunk_by(|a, b| a.identity_ref == b.identity_ref) {
        let mut states: BTreeMap<&str, &str> = BTreeMap::new();
        let mut fired: Option<Vec<&str>> = None;
        for moment in identity.chunk_by(|a, b| a.ts.total_cmp(&b.ts).is_eq()) {
            for t in moment {
                states.insert(&t.primitive, &t.state);
            }
            let set: Vec<&str> = states
                .iter()
                .filter(|(_, s)| **s == "multi_actor")
                .map(|(p, _)| *p)
                .collect();
            if set.len() < min_primitives.max(2) {
                fired = None;
                continue;
            }
            if fired.as_ref() == Some(&set) {
                continue;
            }
            let first = moment
                .iter()
                .min_by(|a, b| a.evidence_ref.cmp(&b.evidence_ref))
                .expect("chunk_by never yields an empty chunk");
            out.push(multi_actor_event(first, &set));
            fired = Some(set);
        }
    }
    out
}

fn multi_actor_event(at: &Transition, set: &[&str]) -> DriftEvent {
    let key = multi_actor_key(&at.identity_ref, set);
    let when = ts_micros(at.ts);
    DriftEvent {
        drift_id: observation_drift_id(&key, &at.evidence_ref),
        episode_id: at.evidence_ref.clone(),
        drift_type: DriftType::Outcome,
        severity: Severity::Red,
        detected_at_us: when,
        evidence_refs: vec![at.evidence_ref.clone()],
        patch: PatchType::ManualReview,
        fingerprint_key: key,
        notes: Some(format!(
            "multi_actor_suspected: identity {}: {} primitives flagged multi_actor ({}); confidence {MULTI_ACTOR_CONFIDENCE}",
            at.identity_ref,
            set.len(),
            set.join(", ")
        )),
        origin: Origin::Attribution,
        rule_id: RULE_MULTI_ACTOR.into(),
        window_start_us: when,
        context: None,
        spec_node_id: None,
        identity_ref: Some(at.identity_ref.clone()),
        primitive: Some(set.join(",")),
        agent_id: None,
        drift_score: None,
        confidence: Some(MULTI_ACTOR_CONFIDENCE),
    }
}

/// One event per tier change (agent-monitor.md): outcome, severity by the
/// new tier, `action_scope_tighten`, AGT-001.
pub fn agent_events(changes: &[TierChange]) -> Vec<DriftEvent> {
    changes
        .iter()
        .filter_map(|c| {
            let severity = match c.tier {
                1 => Severity::Green,
                2 => Severity::Yellow,
                3 => Severity::Red,
                _ => return None,
            };
            let key = agent_key(&c.agent_id);
            let episode = format!("agent:{}@{}", c.agent_id, second_stamp(c.window_start_us));
            Some(DriftEvent {
                drift_id: windowed_drift_id(&key, c.window_start_us),
                episode_id: episode.clone(),
                drift_type: DriftType::Outcome,
                severity,
                detected_at_us: c.window_end_us,
                evidence_refs: vec![episode],
                patch: PatchType::ActionScopeTighten,
                fingerprint_key: key,
                notes: Some(format!(
                    "agent {}: tier {} → {} (anomaly score {:.3}; {} file, {} network, {} other ops)",
                    c.agent_id,
                    c.prev_tier.map_or_else(|| "-".to_string(), |t| t.to_string()),
                    c.tier,
                    c.anomaly_score,
                    c.file_ops,
                    c.network_ops,
                    c.other_ops
                )),
                origin: Origin::Agents,
                rule_id: RULE_AGENT_TIER.into(),
                window_start_us: c.window_start_us,
                context: None,
                spec_node_id: None,
                identity_ref: None,
                primitive: None,
                agent_id: Some(c.agent_id.clone()),
                drift_score: Some(c.anomaly_score),
                confidence: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::event::schema_errors;
    use super::*;

    fn tr(ip: &str, p: &str, ts: f64, prev: Option<&str>, state: &str, eref: &str) -> Transition {
        Transition {
            identity_ref: ip.into(),
            primitive: p.into(),
            seq: 0,
            ts,
            state: state.into(),
            prev_state: prev.map(Into::into),
            confidence: 0.5,
            evidence_ref: eref.into(),
        }
    }

    #[test]
    fn only_transitions_into_drift_states_are_events() {
        let t = [
            tr("ip", "a", 1.0, None, "unknown", "s1"),
            tr("ip", "a", 3.0, Some("unknown"), "stable", "s3"),
            tr("ip", "a", 4.0, Some("stable"), "conflicted", "s4"),
            tr("ip", "a", 9.0, Some("conflicted"), "drifting", "s9"),
            tr("ip", "a", 12.0, Some("drifting"), "multi_actor", "s12"),
        ];
        let ev = attribution_events(&t);
        let got: Vec<(&str, Severity)> = ev
            .iter()
            .map(|e| (e.episode_id.as_str(), e.severity))
            .collect();
        assert_eq!(
            got,
            vec![
                ("s4", Severity::Yellow),
                ("s9", Severity::Green),
                ("s12", Severity::Yellow)
            ]
        );
        // One pattern: the same key; three events: three ids.
        assert!(ev
            .iter()
            .all(|e| e.fingerprint_key == ev[0].fingerprint_key));
        assert_eq!(ev[0].detected_at_us, 4_000_000);
        let mut ids: Vec<&str> = ev.iter().map(|e| e.drift_id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3);
        for e in &ev {
            assert!(schema_errors(&e.to_json()).is_empty(), "{:?}", e.to_json());
        }
    }

    #[test]
    fn multi_actor_fires_once_per_set_and_rearms() {
        let t = [
            tr("ip", "a", 1.0, Some("stable"), "multi_actor", "s1"),
            // Second primitive joins: fire {a, b}.
            tr("ip", "b", 2.0, Some("stable"), "multi_actor", "s2"),
            // Nothing new about the set at t=3 (another primitive moves).
            tr("ip", "c", 3.0, Some("unknown"), "stable", "s3"),
            // c joins: fire {a, b, c}.
            tr("ip", "c", 4.0, Some("stable"), "multi_actor", "s4"),
            // Two leave at the same moment: below the floor, re-armed.
            tr("ip", "a", 5.0, Some("multi_actor"), "stable", "s5"),
            tr("ip", "b", 5.0, Some("multi_actor"), "stable", "s5"),
            // Back to {a, c}: fires again (re-armed).
            tr("ip", "a", 6.0, Some("stable"), "multi_actor", "s6"),
            // Another identity with a single primitive never fires.
            tr("other", "a", 1.0, None, "multi_actor", "o1"),
        ];
        let ev = multi_actor_events(&t, 2);
        let got: Vec<(&str, &str)> = ev
            .iter()
            .map(|e| (e.episode_id.as_str(), e.primitive.as_deref().unwrap()))
            .collect();
        assert_eq!(got, vec![("s2", "a,b"), ("s4", "a,b,c"), ("s6", "a,c")]);
        assert!(ev
            .iter()
            .all(|e| e.confidence == Some(MULTI_ACTOR_CONFIDENCE)
                && e.rule_id == RULE_MULTI_ACTOR
                && e.severity == Severity::Red));
        assert_ne!(ev[0].fingerprint_key, ev[1].fingerprint_key);
        // A floor of 3 fires only for the three-primitive set.
        let ev3 = multi_actor_events(&t, 3);
        assert_eq!(ev3.len(), 1);
        assert_eq!(ev3[0].primitive.as_deref(), Some("a,b,c"));
        for e in &ev {
            assert!(schema_errors(&e.to_json()).is_empty());
        }
    }

    #[test]
    fn agent_tier_changes_follow_the_contract() {
        let ws = 1_700_000_100_000_000;
        let c = |prev, tier| TierChange {
            agent_id: "bot-1".into(),
            window_start_us: ws,
            window_end_us: ws + 300_000_000,
            prev_tier: Some(prev),
            tier,
            anomaly_score: 0.75,
            file_ops: 40,
            network_ops: 10,
            other_ops: 1,
        };
        let ev = agent_events(&[c(1, 3), c(3, 2), c(2, 1)]);
        let sev: Vec<Severity> = ev.iter().map(|e| e.severity).collect();
        assert_eq!(sev, vec![Severity::Red, Severity::Yellow, Severity::Green]);
        let e = &ev[0];
        assert_eq!(e.episode_id, "agent:bot-1@2023-11-14T22:15:00Z");
        assert_eq!(e.detected_at_us, ws + 300_000_000);
        assert_eq!(e.patch, PatchType::ActionScopeTighten);
        assert_eq!(e.fingerprint_key, agent_key("bot-1"));
        assert_eq!(e.drift_id, windowed_drift_id(&agent_key("bot-1"), ws));
        let j = e.to_json();
        assert_eq!(j["detectedAt"], "2023-11-14T22:20:00Z");
        assert!(schema_errors(&j).is_empty(), "{j}");
    }
}
