//! The drift gate (telemetry-correlation.md §8; seed 000 "CI Drift Gate"):
//! judge the `behavior_summary` node rows of a window. Pure: rows in, a
//! verdict and its renderings out; `cli::drift` reads the rows.
//!
//! * `--warn` (default) reports every drift ≥ low and passes;
//! * `--fail` fails when any node row is high or more than `max_medium`
//!   (default 5) node rows are medium;
//! * no-match rows (`spec_node_id` null) are listed apart and never counted.

use std::fmt::Write as _;

use serde::Serialize;

use super::event::Level;

/// Node rows listed at most (the seed's per-node listing cap).
pub const LISTING_CAP: usize = 1000;

/// Default for `--max-medium` (seed: "MEDIUM count > 5").
pub const DEFAULT_MAX_MEDIUM: usize = 5;

/// One `behavior_summary` row as the gate sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GateRow {
    /// `sea.domain`.
    pub context: String,
    /// The spec node (None: a no-match row).
    pub spec_node_id: Option<String>,
    /// The window's UTC day (`YYYY-MM-DD`).
    pub date: String,
    /// Drift score.
    pub drift_score: f64,
    /// The gated level.
    #[serde(serialize_with = "level_str")]
    pub drift_level: Level,
    /// Mean correlation confidence.
    pub confidence: f64,
    /// Evidence rows.
    pub evidence_count: i64,
    /// Rules with sᵢ ≥ 0.20.
    pub triggered_rules: Vec<String>,
    /// The worst evidence of the top rule.
    pub evidence_ref: Option<String>,
}

fn level_str<S: serde::Serializer>(l: &Level, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(l.as_str())
}

/// How the gate judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Report, never fail.
    Warn,
    /// Fail on high, or on more than `max_medium` medium.
    Fail,
}

/// Node rows per level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Level high.
    pub high: usize,
    /// Level medium.
    pub medium: usize,
    /// Level low.
    pub low: usize,
    /// Level none.
    pub none: usize,
    /// No-match rows (not counted above).
    pub no_match: usize,
}

/// The gate's judgement of one window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The mode it ran in.
    pub mode: Mode,
    /// First UTC day evaluated.
    pub from: String,
    /// Last UTC day evaluated.
    pub to: String,
    /// The medium limit.
    pub max_medium: usize,
    /// Node rows per level.
    pub counts: Counts,
    /// True when the gate fails (exit 1).
    pub failed: bool,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
    /// Node rows at level ≥ low, worst first (score, then node id), at
    /// most [`LISTING_CAP`].
    pub drifts: Vec<GateRow>,
    /// Node rows at level ≥ low beyond the cap.
    pub drifts_not_listed: usize,
}

/// Judge `rows` (the window's `behavior_summary` rows).
pub fn evaluate(rows: &[GateRow], mode: Mode, max_medium: usize, from: &str, to: &str) -> Verdict {
    let mut counts = Counts::default();
    let mut drifts: Vec<&GateRow> = Vec::new();
    for r in rows {
        if r.spec_node_id.is_none() {
            counts.no_match += 1;
            continue;
        }
        match r.drift_level {
            Level::High => counts.high += 1,
            Level::Medium => counts.medium += 1,
            Level::Low => counts.low += 1,
            Level::None => counts.none += 1,
        }
        if r.drift_level >= Level::Low {
            drifts.push(r);
        }
    }
    drifts.sort_by(|a, b| {
        b.drift_level
            .cmp(&a.drift_level)
            .then(b.drift_score.total_cmp(&a.drift_score))
            .then(a.spec_node_id.cmp(&b.spec_node_id))
            .then(a.context.cmp(&b.context))
            .then(a.date.cmp(&b.date))
    });
    let mut reasons = Vec::new();
    if mode == Mode::Fail {
        if counts.high > 0 {
            reasons.push(format!("{} node row(s) at level high", counts.high));
        }
        if counts.medium > max_medium {
            reasons.push(format!(
                "{} node rows at level medium (more than {max_medium})",
                counts.medium
            ));
        }
    }
    let not_listed = drifts.len().saturating_sub(LISTING_CAP);
    Verdict {
        mode,
        from: from.to_string(),
        to: to.to_string(),
        max_medium,
        counts,
        failed: !reasons.is_empty(),
        reasons,
        drifts: drifts.into_iter().take(LISTING_CAP).cloned().collect(),
        drifts_not_listed: not_listed,
    }
}

impl Verdict {
    /// The window as people read it: one day or `from – to`.
    fn window(&self) -> String {
        if self.from == self.to {
            self.from.clone()
        } else {
            format!("{} – {}", self.from, self.to)
        }
    }

    /// The one-line outcome.
    pub fn headline(&self) -> String {
        let c = &self.counts;
        let outcome = match (self.mode, self.failed) {
            (_, true) => format!("FAIL: {}", self.reasons.join("; ")),
            (Mode::Fail, false) => "PASS".to_string(),
            (Mode::Warn, false) => "WARN-ONLY (never fails; use --fail to gate)".to_string(),
        };
        format!(
            "drift gate {}: {} high, {} medium (limit {}), {} low, {} none, {} no-match over {} → {}",
            match self.mode {
                Mode::Warn => "--warn",
                Mode::Fail => "--fail",
            },
            c.high,
            c.medium,
            self.max_medium,
            c.low,
            c.none,
            c.no_match,
            self.window(),
            outcome
        )
    }

    /// A readable table of the drifts and the headline.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<[String; 7]> = vec![[
            "level".into(),
            "score".into(),
            "conf".into(),
            "day".into(),
            "context".into(),
            "spec node".into(),
            "rules".into(),
        ]];
        for d in &self.drifts {
            rows.push([
                d.drift_level.as_str().into(),
                format!("{:.2}", d.drift_score),
                format!("{:.2}", d.confidence),
                d.date.clone(),
                d.context.clone(),
                d.spec_node_id.clone().unwrap_or_default(),
                d.triggered_rules.join(","),
            ]);
        }
        let mut out = String::new();
        if self.drifts.is_empty() {
            let _ = writeln!(out, "No drift at level low or above.");
        } else {
            let widths: Vec<usize> = (0..7)
                .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                .collect();
            for r in &rows {
                let line: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                let _ = writeln!(out, "{}", line.join("  ").trim_end());
            }
            if self.drifts_not_listed > 0 {
                let _ = writeln!(out, "… and {} more not listed", self.drifts_not_listed);
            }
        }
        let _ = writeln!(out, "{}", self.headline());
        out
    }

    /// GitHub Actions workflow commands: one annotation per drift (error
    /// for what fails the gate, warning for medium, notice for low) and a
    /// summary annotation.
    pub fn to_github(&self) -> String {
        let mut out = String::new();
        for d in &self.drifts {
            let fails = self.mode == Mode::Fail
                && (d.drift_level == Level::High
                    || (d.drift_level == Level::Medium && self.counts.medium > self.max_medium));
            let kind = if fails {
                "error"
            } else if d.drift_level >= Level::Medium {
                "warning"
            } else {
                "notice"
            };
            let node = d.spec_node_id.as_deref().unwrap_or("");
            let _ = writeln!(
                out,
                "::{kind} title={}::{}",
                gh_property(&format!("Behaviour drift {} on {node}", d.drift_level.as_str())),
                gh_message(&format!(
                    "{} / {node} on {}: drift score {:.2}, confidence {:.2}, rules {}, {} evidence (worst: {})",
                    d.context,
                    d.date,
                    d.drift_score,
                    d.confidence,
                    if d.triggered_rules.is_empty() { "-".to_string() } else { d.triggered_rules.join(", ") },
                    d.evidence_count,
                    d.evidence_ref.as_deref().unwrap_or("-")
                ))
            );
        }
        let kind = if self.failed { "error" } else { "notice" };
        let _ = writeln!(
            out,
            "::{kind} title=Behaviour drift gate::{}",
            gh_message(&self.headline())
        );
        out
    }
}

/// Escape a workflow command message (GitHub's `%`, CR, LF rules).
fn gh_message(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command property value (also `:` and `,`).
fn gh_property(s: &str) -> String {
    gh_message(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: Option<&str>, level: Level, score: f64) -> GateRow {
        GateRow {
            context: "commerce".into(),
            spec_node_id: node.map(Into::into),
            date: "2026-05-02".into(),
            drift_score: score,
            drift_level: level,
            confidence: 0.9,
            evidence_count: 10,
            triggered_rules: vec!["PERF-001".into()],
            evidence_ref: Some("ifl:hash:ab".into()),
        }
    }

    fn mediums(n: usize) -> Vec<GateRow> {
        (0..n)
            .map(|i| row(Some(&format!("N-{i}")), Level::Medium, 0.6))
            .collect()
    }

    #[test]
    fn fail_mode_counts_node_rows_only() {
        let d = "2026-05-02";
        let low = vec![
            row(Some("A"), Level::Low, 0.3),
            row(Some("B"), Level::None, 0.1),
        ];
        assert!(!evaluate(&low, Mode::Fail, 5, d, d).failed);
        let high = vec![row(Some("A"), Level::High, 0.9)];
        assert!(evaluate(&high, Mode::Fail, 5, d, d).failed);
        assert!(evaluate(&mediums(6), Mode::Fail, 5, d, d).failed);
        assert!(!evaluate(&mediums(5), Mode::Fail, 5, d, d).failed);
        // The limit is a flag.
        assert!(evaluate(&mediums(5), Mode::Fail, 4, d, d).failed);
        // A no-match row never counts, whatever its level says.
        let mut nm = mediums(5);
        nm.push(row(None, Level::High, 0.95));
        let v = evaluate(&nm, Mode::Fail, 5, d, d);
        assert!(!v.failed);
        assert_eq!(v.counts.no_match, 1);
        // Warn mode reports and never fails.
        let v = evaluate(&high, Mode::Warn, 5, d, d);
        assert!(!v.failed);
        assert_eq!(v.drifts.len(), 1);
    }

    #[test]
    fn drifts_are_listed_worst_first_and_capped() {
        let d = "2026-05-02";
        let mut rows = vec![
            row(Some("L"), Level::Low, 0.25),
            row(Some("H"), Level::High, 0.85),
            row(Some("M"), Level::Medium, 0.55),
            row(Some("N"), Level::None, 0.05),
        ];
        let v = evaluate(&rows, Mode::Warn, 5, d, d);
        let order: Vec<&str> = v
            .drifts
            .iter()
            .map(|r| r.spec_node_id.as_deref().unwrap())
            .collect();
        assert_eq!(order, vec!["H", "M", "L"]);
        rows = (0..LISTING_CAP + 7)
            .map(|i| row(Some(&format!("N{i:05}")), Level::Low, 0.3))
            .collect();
        let v = evaluate(&rows, Mode::Warn, 5, d, d);
        assert_eq!(v.drifts.len(), LISTING_CAP);
        assert_eq!(v.drifts_not_listed, 7);
        assert!(v.to_table().contains("… and 7 more not listed"));
    }

    #[test]
    fn github_output_escapes_and_marks_failures() {
        let d = "2026-05-02";
        let mut r = row(Some("SEA,FLOW:x"), Level::High, 0.9);
        r.context = "a%b\nc".into();
        let v = evaluate(&[r], Mode::Fail, 5, d, d);
        let gh = v.to_github();
        let lines: Vec<&str> = gh.lines().collect();
        assert_eq!(lines.len(), 2, "{gh}");
        assert!(
            lines[0].starts_with(
                "::error title=Behaviour drift high on SEA%2CFLOW%3Ax::a%25b%0Ac / SEA,FLOW:x"
            ),
            "{gh}"
        );
        assert!(
            lines[1].starts_with("::error title=Behaviour drift gate::drift gate --fail"),
            "{gh}"
        );
        let v = evaluate(&mediums(1), Mode::Fail, 5, d, d);
        assert!(v.to_github().starts_with("::warning "));
    }
}
