//! The Drift Event (seed 002; spec/telemetry-correlation.md §6,
//! spec/agent-monitor.md): its types, ids and fingerprints, its JSON form,
//! and the check of that form against `schemas/drift.schema.json`.
//!
//! Pure: no I/O, no clock. Every id is a hash of content, so a rerun over the
//! same lake yields the same events.

use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

/// The schema every event's JSON form must satisfy (draft 2020-12).
pub const DRIFT_SCHEMA: &str = include_str!("../../schemas/drift.schema.json");

/// `fingerprint.version` of every key computed here.
pub const FINGERPRINT_VERSION: &str = "1";

/// Rule id of an attribution state transition (lake.md §3 states).
pub const RULE_ATTRIBUTION: &str = "ATT-001";
/// Rule id of the multi-actor correlator (behave-shell.md §6.9).
pub const RULE_MULTI_ACTOR: &str = "ATT-002";
/// Rule id of an agent tier change (agent-monitor.md).
pub const RULE_AGENT_TIER: &str = "AGT-001";

/// A drift level (telemetry-correlation.md §5), in severity order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Below 0.20 (or gated away).
    None,
    /// ≥ 0.20.
    Low,
    /// ≥ 0.50.
    Medium,
    /// > 0.80.
    High,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 4] = [Level::None, Level::Low, Level::Medium, Level::High];

    /// The lake's spelling (`none`, `low`, `medium`, `high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    /// Parse the lake's spelling.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A drift event severity (seed 002), in severity order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational.
    Green,
    /// Warning.
    Yellow,
    /// Critical.
    Red,
}

impl Severity {
    /// All severities, mildest first.
    pub const ALL: [Severity; 3] = [Severity::Green, Severity::Yellow, Severity::Red];

    /// The lake's spelling (`green`, `yellow`, `red`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Green => "green",
            Severity::Yellow => "yellow",
            Severity::Red => "red",
        }
    }

    /// Parse the lake's spelling.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// `driftType` (seed 002, plus the two the Exhaust Inbox refiner adds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriftType {
    /// Elapsed time over a deadline.
    Time,
    /// A feature past its TTL.
    Freshness,
    /// A degrade ladder step.
    Fallback,
    /// Dispatched without a valid contract.
    Bypass,
    /// A verifier failed.
    Verify,
    /// An outcome differed from what was expected.
    Outcome,
    /// Over a fan-out limit.
    Fanout,
    /// A lock or rate limit caused a retry storm.
    Contention,
    /// Contradicts the canon.
    Contradiction,
    /// References something no longer in the graph.
    StaleReference,
}

impl DriftType {
    /// Every type, in schema order.
    pub const ALL: [DriftType; 10] = [
        DriftType::Time,
        DriftType::Freshness,
        DriftType::Fallback,
        DriftType::Bypass,
        DriftType::Verify,
        DriftType::Outcome,
        DriftType::Fanout,
        DriftType::Contention,
        DriftType::Contradiction,
        DriftType::StaleReference,
    ];

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftType::Time => "time",
            DriftType::Freshness => "freshness",
            DriftType::Fallback => "fallback",
            DriftType::Bypass => "bypass",
            DriftType::Verify => "verify",
            DriftType::Outcome => "outcome",
            DriftType::Fanout => "fanout",
            DriftType::Contention => "contention",
            DriftType::Contradiction => "contradiction",
            DriftType::StaleReference => "stale_reference",
        }
    }

    /// Parse the schema's spelling.
    pub fn parse(s: &str) -> Option<DriftType> {
        DriftType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// `recommendedPatchType` (seed 002).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PatchType {
    /// Adjust a deadline, stage budget or limit.
    DteChange,
    /// Change a TTL.
    TtlChange,
    /// Update a cached context bundle.
    CacheBundleChange,
    /// Redirect to another model, tool or data source.
    RoutingChange,
    /// Change a verifier.
    VerificationChange,
    /// Reduce blast radius or add preconditions.
    ActionScopeTighten,
    /// Escalate to a human.
    ManualReview,
}

impl PatchType {
    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchType::DteChange => "dte_change",
            PatchType::TtlChange => "ttl_change",
            PatchType::CacheBundleChange => "cache_bundle_change",
            PatchType::RoutingChange => "routing_change",
            PatchType::VerificationChange => "verification_change",
            PatchType::ActionScopeTighten => "action_scope_tighten",
            PatchType::ManualReview => "manual_review",
        }
    }

    /// Parse the schema's spelling.
    pub fn parse(s: &str) -> Option<PatchType> {
        [
            PatchType::DteChange,
            PatchType::TtlChange,
            PatchType::CacheBundleChange,
            PatchType::RoutingChange,
            PatchType::VerificationChange,
            PatchType::ActionScopeTighten,
            PatchType::ManualReview,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    /// The patch telemetry-correlation.md §6 recommends for a telemetry
    /// drift of type `t` (fallback and verify, which no rule emits, get a
    /// manual review).
    pub fn for_telemetry(t: DriftType) -> PatchType {
        match t {
            DriftType::Time | DriftType::Fanout => PatchType::DteChange,
            DriftType::Freshness => PatchType::TtlChange,
            DriftType::Bypass => PatchType::ActionScopeTighten,
            DriftType::Outcome => PatchType::VerificationChange,
            DriftType::Contention => PatchType::RoutingChange,
            DriftType::Fallback
            | DriftType::Verify
            | DriftType::Contradiction
            | DriftType::StaleReference => PatchType::ManualReview,
        }
    }
}

/// Which stage's data an event comes from (the `origin` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// `behavior_summary` (telemetry ↔ spec truth chain).
    Telemetry,
    /// `observations` replayed into attribution states.
    Attribution,
    /// `agent_profiles`.
    Agents,
}

impl Origin {
    /// Parse the lake's spelling.
    pub fn parse(s: &str) -> Option<Origin> {
        [Origin::Telemetry, Origin::Attribution, Origin::Agents]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    /// The lake's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Telemetry => "telemetry",
            Origin::Attribution => "attribution",
            Origin::Agents => "agents",
        }
    }
}

/// One drift event: the schema's fields plus the columns that say where it
/// came from (lake.md §4 `drift_events`).
#[derive(Clone, Debug, PartialEq)]
pub struct DriftEvent {
    /// 32 hex: see the constructors.
    pub drift_id: String,
    /// The episode that triggered it.
    pub episode_id: String,
    /// `driftType`.
    pub drift_type: DriftType,
    /// `severity`.
    pub severity: Severity,
    /// `detectedAt`, µs since the Unix epoch (UTC).
    pub detected_at_us: i64,
    /// `evidenceRefs`, worst first, 1 to 20.
    pub evidence_refs: Vec<String>,
    /// `recommendedPatchType`.
    pub patch: PatchType,
    /// `fingerprint.key` (16 hex).
    pub fingerprint_key: String,
    /// `notes`.
    pub notes: Option<String>,
    /// Where it came from.
    pub origin: Origin,
    /// The rule that fired (`PERF-001`, `ATT-001`, `AGT-001`, …).
    pub rule_id: String,
    /// Start of the window that shows it (µs UTC); for an attribution
    /// transition, the `ts` of the observation that changed the state.
    pub window_start_us: i64,
    /// `sea.domain` (telemetry).
    pub context: Option<String>,
    /// The spec node (telemetry).
    pub spec_node_id: Option<String>,
    /// The identity (attribution).
    pub identity_ref: Option<String>,
    /// The primitive, or the sorted primitives joined with `,` (attribution).
    pub primitive: Option<String>,
    /// The agent (agents).
    pub agent_id: Option<String>,
    /// The rule's score sᵢ (telemetry) or the anomaly score (agents).
    pub drift_score: Option<f64>,
    /// The confidence behind it (telemetry row confidence, attribution
    /// state confidence, 0.6 for the multi-actor correlator).
    pub confidence: Option<f64>,
}

/// First `n` hex chars of sha256(`text`).
///
/// ring's SHA-256 (assembly) rather than sha2's portable code, as for the
/// telemetry evidence ids (see Cargo.toml): the drift events stage hashes
/// an id for every event. Same digest; only the hex that is kept is encoded.
pub fn sha256_hex(text: &str, n: usize) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let bytes = digest.as_ref();
    let mut s = hex::encode(&bytes[..n.div_ceil(2).min(bytes.len())]);
    s.truncate(n);
    s
}

/// `YYYY-MM-DDTHH:MM:SSZ` of µs since the epoch (whole seconds, floor), or
/// the raw number for a time chrono cannot represent.
pub fn second_stamp(us: i64) -> String {
    DateTime::from_timestamp_micros(us.div_euclid(1_000_000) * 1_000_000)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| us.to_string())
}

/// RFC 3339 with `Z` and only as many fraction digits as needed.
pub fn rfc3339(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| us.to_string())
}

/// `driftId` of a windowed event (telemetry-correlation.md §6,
/// agent-monitor.md): first 32 hex of sha256(key + window start as
/// `YYYY-MM-DDTHH:MM:SSZ`).
pub fn windowed_drift_id(fingerprint_key: &str, window_start_us: i64) -> String {
    sha256_hex(
        &format!("{fingerprint_key}{}", second_stamp(window_start_us)),
        32,
    )
}

/// `fingerprint.key` of a telemetry rule (telemetry-correlation.md §6):
/// first 16 hex of sha256(`driftType|context|spec_node_id|rule_id`).
pub fn telemetry_key(t: DriftType, context: &str, spec_node_id: &str, rule_id: &str) -> String {
    sha256_hex(
        &format!("{}|{context}|{spec_node_id}|{rule_id}", t.as_str()),
        16,
    )
}

/// What a stale reference names (telemetry-correlation.md §5 no-match).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StaleKind {
    /// A `sea.flow` naming no flow node of its context.
    Flow,
    /// A `sea.policy` naming no policy node.
    Policy,
}

/// `fingerprint.key` of a stale reference: first 16 hex of
/// sha256(`stale_reference|flow:<context>.<name>|STALE-001`) (or `policy:`).
pub fn stale_key(kind: StaleKind, context: &str, name: &str) -> String {
    let k = match kind {
        StaleKind::Flow => "flow",
        StaleKind::Policy => "policy",
    };
    sha256_hex(
        &format!("stale_reference|{k}:{context}.{name}|STALE-001"),
        16,
    )
}

/// `fingerprint.key` of an agent tier change (agent-monitor.md): first 16
/// hex of sha256(`outcome|agent:<id>|AGT-001`).
pub fn agent_key(agent_id: &str) -> String {
    sha256_hex(&format!("outcome|agent:{agent_id}|{RULE_AGENT_TIER}"), 16)
}

/// `fingerprint.key` of an attribution transition: first 16 hex of
/// sha256(`outcome|identity:<identity>|primitive:<primitive>|ATT-001`).
/// The state entered is not in the key: one identity's primitive that keeps
/// moving is one recurring pattern.
pub fn attribution_key(identity: &str, primitive: &str) -> String {
    sha256_hex(
        &format!("outcome|identity:{identity}|primitive:{primitive}|{RULE_ATTRIBUTION}"),
        16,
    )
}

/// `fingerprint.key` of a multi-actor suspicion: first 16 hex of
/// sha256(`outcome|identity:<identity>|primitives:<p1,p2,…>|ATT-002`) with the
/// primitives sorted. A new set of primitives is a new pattern.
pub fn multi_actor_key(identity: &str, primitives: &[&str]) -> String {
    let mut p = primitives.to_vec();
    p.sort_unstable();
    sha256_hex(
        &format!(
            "outcome|identity:{identity}|primitives:{}|{RULE_MULTI_ACTOR}",
            p.join(",")
        ),
        16,
    )
}

/// `driftId` of an event tied to one observation (attribution): first 32
/// hex of sha256(key + `|` + evidence_ref). The observation, not its second,
/// makes it unique: two sessions may end in the same second.
pub fn observation_drift_id(fingerprint_key: &str, evidence_ref: &str) -> String {
    sha256_hex(&format!("{fingerprint_key}|{evidence_ref}"), 32)
}

/// The level of a score (seed thresholds): `high` > 0.80, `medium` ≥ 0.50,
/// `low` ≥ 0.20, else `none`.
pub fn level_of(score: f64) -> Level {
    if score > 0.80 {
        Level::High
    } else if score >= 0.50 {
        Level::Medium
    } else if score >= 0.20 {
        Level::Low
    } else {
        Level::None
    }
}

/// The most a row of this confidence may show (seed gating, 1e-9
/// tolerance): ≥ 0.70 any level, [0.30, 0.70) at most `low`, below `none`.
pub fn level_cap(confidence: f64) -> Level {
    const TOL: f64 = 1e-9;
    if confidence >= 0.70 - TOL {
        Level::High
    } else if confidence >= 0.30 - TOL {
        Level::Low
    } else {
        Level::None
    }
}

/// `level` capped by the gating of `confidence`.
pub fn gated_level(level: Level, confidence: f64) -> Level {
    level.min(level_cap(confidence))
}

/// The severity of a level (`none` has none).
pub fn severity_of(level: Level) -> Option<Severity> {
    match level {
        Level::None => None,
        Level::Low => Some(Severity::Green),
        Level::Medium => Some(Severity::Yellow),
        Level::High => Some(Severity::Red),
    }
}

impl DriftEvent {
    /// The event as the Drift Event JSON object (camelCase, schema order).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "driftId": self.drift_id,
            "episodeId": self.episode_id,
            "driftType": self.drift_type.as_str(),
            "severity": self.severity.as_str(),
            "detectedAt": rfc3339(self.detected_at_us),
            "evidenceRefs": self.evidence_refs,
            "recommendedPatchType": self.patch.as_str(),
            "fingerprint": {"key": self.fingerprint_key, "version": FINGERPRINT_VERSION},
        });
        if let (Some(n), Some(obj)) = (&self.notes, v.as_object_mut()) {
            obj.insert("notes".into(), Value::String(n.clone()));
        }
        v
    }
}

/// The compiled drift schema.
///
/// # Panics
/// Never at run time: the schema is a constant checked by a unit test.
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(DRIFT_SCHEMA).expect("schemas/drift.schema.json is JSON");
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schemas/drift.schema.json is a valid draft 2020-12 schema")
    })
}

/// Every way `event` breaks the drift schema, as `"<json pointer>: <message>"`
/// (empty when it validates).
pub fn schema_errors(event: &Value) -> Vec<String> {
    let v = validator();
    // The usual case, without building the error iterator.
    if v.is_valid(event) {
        return Vec::new();
    }
    v.iter_errors(event)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sample() -> DriftEvent {
        let key = agent_key("agent-7");
        DriftEvent {
            drift_id: windowed_drift_id(&key, 1_700_000_100_000_000),
            episode_id: "agent:agent-7@2023-11-14T22:15:00Z".into(),
            drift_type: DriftType::Outcome,
            severity: Severity::Red,
            detected_at_us: 1_700_000_400_000_000,
            evidence_refs: vec!["agent:agent-7@2023-11-14T22:15:00Z".into()],
            patch: PatchType::ActionScopeTighten,
            fingerprint_key: key,
            notes: Some("tier 1 → 3".into()),
            origin: Origin::Agents,
            rule_id: RULE_AGENT_TIER.into(),
            window_start_us: 1_700_000_100_000_000,
            context: None,
            spec_node_id: None,
            identity_ref: None,
            primitive: None,
            agent_id: Some("agent-7".into()),
            drift_score: Some(0.9),
            confidence: None,
        }
    }

    #[test]
    fn schema_file_is_draft_2020_12_and_closed() {
        let s: Value = serde_json::from_str(DRIFT_SCHEMA).unwrap();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(
            s["properties"]["fingerprint"]["additionalProperties"],
            false
        );
        let types: Vec<&str> = s["properties"]["driftType"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = DriftType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(types, ours);
    }

    #[test]
    fn a_well_formed_event_validates() {
        let e = sample();
        assert_eq!(schema_errors(&e.to_json()), Vec::<String>::new());
        let mut no_notes = e;
        no_notes.notes = None;
        let v = no_notes.to_json();
        assert!(v.get("notes").is_none());
        assert!(schema_errors(&v).is_empty());
    }

    #[test]
    fn the_schema_rejects_what_it_must() {
        let good = sample().to_json();
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("extra key", Box::new(|v| v["extra"] = json!(1))),
            (
                "no fingerprint",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("fingerprint");
                }),
            ),
            (
                "fingerprint extra",
                Box::new(|v| v["fingerprint"]["x"] = json!("y")),
            ),
            ("bad type", Box::new(|v| v["driftType"] = json!("weird"))),
            (
                "bad severity",
                Box::new(|v| v["severity"] = json!("orange")),
            ),
            (
                "bad patch",
                Box::new(|v| v["recommendedPatchType"] = json!("reboot")),
            ),
            ("empty refs", Box::new(|v| v["evidenceRefs"] = json!([]))),
            (
                "21 refs",
                Box::new(|v| v["evidenceRefs"] = json!(vec!["x"; 21])),
            ),
            (
                "bad time",
                Box::new(|v| v["detectedAt"] = json!("yesterday")),
            ),
            (
                "local time",
                Box::new(|v| v["detectedAt"] = json!("2026-01-01T00:00:00+02:00")),
            ),
            (
                "short key",
                Box::new(|v| v["fingerprint"]["key"] = json!("abc")),
            ),
            (
                "upper id",
                Box::new(|v| v["driftId"] = json!("A".repeat(32))),
            ),
        ];
        for (name, mutate) in cases {
            let mut v = good.clone();
            mutate(&mut v);
            assert!(!schema_errors(&v).is_empty(), "{name} passed the schema");
        }
    }

    #[test]
    fn fingerprints_ignore_the_window_and_name_the_pattern() {
        // Same pattern on two days: one key; the drift ids differ.
        let k = telemetry_key(
            DriftType::Time,
            "commerce",
            "SEA-FLOW-commerce.place_order",
            "PERF-001",
        );
        let k2 = telemetry_key(
            DriftType::Time,
            "commerce",
            "SEA-FLOW-commerce.place_order",
            "PERF-001",
        );
        assert_eq!(k, k2);
        assert_eq!(k.len(), 16);
        let day1 = 1_767_225_600_000_000; // 2026-01-01
        let day2 = day1 + 86_400_000_000;
        assert_ne!(windowed_drift_id(&k, day1), windowed_drift_id(&k, day2));
        assert_eq!(
            windowed_drift_id(&k, day1),
            windowed_drift_id(&k, day1 + 999_999)
        );
        // Another node, rule, context or type: another key.
        let others = [
            telemetry_key(
                DriftType::Time,
                "commerce",
                "SEA-FLOW-commerce.refund",
                "PERF-001",
            ),
            telemetry_key(
                DriftType::Time,
                "commerce",
                "SEA-FLOW-commerce.place_order",
                "BASE-001",
            ),
            telemetry_key(
                DriftType::Time,
                "billing",
                "SEA-FLOW-commerce.place_order",
                "PERF-001",
            ),
            telemetry_key(
                DriftType::Outcome,
                "commerce",
                "SEA-FLOW-commerce.place_order",
                "PERF-001",
            ),
        ];
        for o in &others {
            assert_ne!(&k, o);
        }
        // The spec's formula, spelled out.
        assert_eq!(
            k,
            &hex::encode(Sha256::digest(
                b"time|commerce|SEA-FLOW-commerce.place_order|PERF-001"
            ))[..16]
        );
        assert_eq!(
            windowed_drift_id(&k, day1),
            &hex::encode(Sha256::digest(
                format!("{k}2026-01-01T00:00:00Z").as_bytes()
            ))[..32]
        );
    }

    #[test]
    fn agent_and_attribution_keys_follow_their_formulas() {
        assert_eq!(
            agent_key("a1"),
            &hex::encode(Sha256::digest(b"outcome|agent:a1|AGT-001"))[..16]
        );
        assert_eq!(
            stale_key(StaleKind::Policy, "commerce", "auth_required"),
            &hex::encode(Sha256::digest(
                b"stale_reference|policy:commerce.auth_required|STALE-001"
            ))[..16]
        );
        assert_ne!(
            attribution_key("10.0.0.1", "a"),
            attribution_key("10.0.0.1", "b")
        );
        assert_ne!(
            attribution_key("10.0.0.1", "a"),
            attribution_key("10.0.0.2", "a")
        );
        // The set is sorted first.
        assert_eq!(
            multi_actor_key("ip", &["b", "a"]),
            multi_actor_key("ip", &["a", "b"])
        );
        assert_ne!(
            multi_actor_key("ip", &["a", "b"]),
            multi_actor_key("ip", &["a", "b", "c"])
        );
        assert_ne!(
            observation_drift_id("k", "shard:a#1"),
            observation_drift_id("k", "shard:a#2")
        );
    }

    #[test]
    fn levels_and_gating_at_their_edges() {
        assert_eq!(level_of(0.80), Level::Medium);
        assert_eq!(level_of(0.800_000_000_000_1), Level::High);
        assert_eq!(level_of(0.50), Level::Medium);
        assert_eq!(level_of(0.499_999_999), Level::Low);
        assert_eq!(level_of(0.20), Level::Low);
        assert_eq!(level_of(0.199_999_999), Level::None);
        assert_eq!(level_cap(0.70), Level::High);
        assert_eq!(level_cap(0.70 - 5e-10), Level::High);
        assert_eq!(level_cap(0.699_999), Level::Low);
        assert_eq!(level_cap(0.30), Level::Low);
        assert_eq!(level_cap(0.30 - 5e-10), Level::Low);
        assert_eq!(level_cap(0.299_999), Level::None);
        assert_eq!(gated_level(Level::High, 0.5), Level::Low);
        assert_eq!(gated_level(Level::Medium, 0.9), Level::Medium);
        assert_eq!(severity_of(Level::None), None);
        assert_eq!(severity_of(Level::High), Some(Severity::Red));
    }

    #[test]
    fn stamps_are_utc_and_floor_to_the_second() {
        assert_eq!(second_stamp(1_500_000), "1970-01-01T00:00:01Z");
        assert_eq!(second_stamp(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.500Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn patch_types_follow_the_spec_table() {
        use DriftType as T;
        use PatchType as P;
        for (t, p) in [
            (T::Time, P::DteChange),
            (T::Fanout, P::DteChange),
            (T::Freshness, P::TtlChange),
            (T::Bypass, P::ActionScopeTighten),
            (T::Outcome, P::VerificationChange),
            (T::Contention, P::RoutingChange),
            (T::Contradiction, P::ManualReview),
            (T::StaleReference, P::ManualReview),
        ] {
            assert_eq!(P::for_telemetry(t), p, "{t:?}");
        }
    }
}
