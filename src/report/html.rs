//! The HTML report: one self-contained page (inline CSS and SVG; no
//! JavaScript, no fonts, images or links outside the page) that a browser
//! opens offline and a printer prints.
//!
//! Pure: [`render_html`] is a function of a [`ReportData`] only (no I/O, no
//! clock), so one lake gives one byte-identical page. The page is polyglot
//! markup: it parses as HTML5 without parse errors and as XML, because every
//! element is closed, every attribute quoted and every text escaped.
//!
//! The section texts and the aggregates the Markdown twin shares
//! (`report::markdown`) live here too, so both say the same.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;

use super::model::{Level, ReportData, Severity};
use super::svg::{self, escape, Bar, Frame, Key, Layer, Line, Threshold};

/// Most rows any table shows (telemetry-correlation.md §4: per-node listings
/// cap at 1000).
pub(super) const MAX_TABLE_ROWS: usize = 1000;

/// Spec nodes drawn in the drift score chart (the table lists all).
const TOP_NODES: usize = 8;

/// The crate version, for the footer.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a report section is called and what it says when it has no data.
pub(super) struct SectionText {
    /// Anchor (`<section id>`).
    pub id: &'static str,
    /// Heading.
    pub heading: &'static str,
    /// The sentence shown instead of charts: what is missing and which stage
    /// writes it.
    pub empty: &'static str,
}

/// §1 drift score over time.
pub(super) const DRIFT_SCORE: SectionText = SectionText {
    id: "drift-score",
    heading: "Drift score over time",
    empty: "no behavior_summary rows in this window (the telemetry stage writes them)",
};

/// §2 drift levels per day.
pub(super) const DRIFT_LEVELS: SectionText = SectionText {
    id: "drift-levels",
    heading: "Drift levels per day",
    empty: "no behavior_summary rows in this window (the telemetry stage writes them)",
};

/// §3 drift events and recurring fingerprints.
pub(super) const FINGERPRINTS: SectionText = SectionText {
    id: "fingerprints",
    heading: "Drift events and recurring fingerprints",
    empty: "no drift_events in this window (the telemetry stage writes them)",
};

/// §4 attribution states.
pub(super) const ATTRIBUTION: SectionText = SectionText {
    id: "attribution",
    heading: "Attribution states",
    empty: "no attribution_state rows in this lake (the attribution stage writes them)",
};

/// §5 agent tiers.
pub(super) const AGENTS: SectionText = SectionText {
    id: "agents",
    heading: "Agent tiers",
    empty: "no agent_profiles in this window (the agents stage writes them)",
};

/// The sections, in page order.
pub(super) const SECTIONS: [&SectionText; 5] = [
    &DRIFT_SCORE,
    &DRIFT_LEVELS,
    &FINGERPRINTS,
    &ATTRIBUTION,
    &AGENTS,
];

/// Attribution states in their documented order (model `AttributionCount`).
pub(super) const STATES: [&str; 5] = ["unknown", "stable", "drifting", "conflicted", "multi_actor"];

/// Colours of the top spec nodes' lines (Okabe–Ito, distinguishable with
/// the common colour-vision deficiencies; yellow swapped for brown, which
/// shows on white).
const NODE_PALETTE: [&str; TOP_NODES] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00", "#000000", "#8c564b",
];

/// The drift level thresholds (telemetry-correlation.md §5).
const THRESHOLDS: [Threshold; 3] = [
    Threshold {
        value: 0.20,
        label: "low",
        color: "#2e7d32",
    },
    Threshold {
        value: 0.50,
        label: "medium",
        color: "#f9a825",
    },
    Threshold {
        value: 0.80,
        label: "high",
        color: "#c62828",
    },
];

/// Legend of the fingerprint bars, which are coloured by worst severity.
const WORST_KEYS: [Key; 3] = [
    Key {
        name: "worst severity green",
        color: "#2e7d32",
    },
    Key {
        name: "worst severity yellow",
        color: "#f9a825",
    },
    Key {
        name: "worst severity red",
        color: "#c62828",
    },
];

/// Colour for anything outside the documented categories.
const OTHER: &str = "#6d4c41";

/// The page's only style sheet. It holds no `<` or `&`, so it reads the
/// same as HTML raw text and as XML character data.
const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  max-width: 74rem; margin: 0 auto; padding: 1rem 1.25rem 2rem; color: #1f2328; background: #ffffff;
  line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.25rem; margin: 2.25rem 0 0.25rem; padding-bottom: 0.2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; margin: 1.25rem 0 0.25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
.meta { margin: 0; color: #57606a; overflow-wrap: anywhere; }
nav { margin: 0.75rem 0 0; font-size: 0.9rem; }
nav a { margin-right: 1rem; }
.intro { margin: 0.25rem 0 0.75rem; color: #424a53; }
.empty { font-style: italic; color: #57606a; border-left: 3px solid #d0d7de; padding-left: 0.75rem; }
.note { font-size: 0.85rem; color: #57606a; }
svg.chart { display: block; width: 100%; height: auto; margin: 0.5rem 0 1rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { padding: 0.25rem 0.5rem; border-bottom: 1px solid #d8dee4; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
th { background: #f6f8fa; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap; }
tr.patch td { background: #fdecea; }
.sw { display: inline-block; width: 0.75em; height: 0.75em; margin-right: 0.35em; border-radius: 2px; }
footer { margin-top: 2.5rem; padding-top: 0.5rem; border-top: 1px solid #d0d7de; font-size: 0.8rem; color: #57606a; }
@media print {
  nav { display: none; }
  body { max-width: none; padding: 0; }
  h2, h3 { break-after: avoid; }
  svg.chart, tr { break-inside: avoid; }
  .table-wrap { overflow: visible; }
}
";

/// Render the report as one self-contained HTML page.
///
/// ```
/// use driftlake::report::{html::render_html, model::ReportData};
/// let page = render_html(&ReportData::default());
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("no committed run"));
/// ```
pub fn render_html(data: &ReportData) -> String {
    let days = window_days(data);
    let mut out = String::with_capacity(1 << 16);
    push_head(&mut out, data);
    push_header(&mut out, data, days.len());
    out.push_str("<main>\n");
    let intro = "Each line is one spec node's drift score per UTC day (0 = behaves as specified, \
                 1 = fully drifted); dashed lines mark the low, medium and high thresholds, and \
                 the table lists every node by its highest score.";
    push_section(&mut out, &DRIFT_SCORE, intro, drift_score(data, &days));
    let intro =
        "Each bar counts one UTC day's behavior_summary node rows, stacked by drift level; \
                 a growing amber or red share means more nodes drifted that day.";
    push_section(&mut out, &DRIFT_LEVELS, intro, drift_levels(data, &days));
    let intro = "Bars count drift events per UTC day by severity; below, the patterns that recur \
                 most (same fingerprint, several windows), with those needing a patch highlighted.";
    push_section(&mut out, &FINGERPRINTS, intro, fingerprints(data, &days));
    let intro = "Each bar splits one primitive's identities by their current attribution state: \
                 stable is expected, drifting, conflicted and multi_actor deserve a look.";
    push_section(&mut out, &ATTRIBUTION, intro, attribution(data));
    let intro = "Bars count the agents with a window in each tier per UTC day (tier 3 is \
                 anomalous); the line shows the mean anomaly score of each tier's windows.";
    push_section(&mut out, &AGENTS, intro, agents(data, &days));
    out.push_str("</main>\n");
    let _ = writeln!(
        out,
        "<footer><p>generated by driftlake {VERSION}</p></footer>"
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// The doctype, `<head>` and the opening `<body>`.
fn push_head(out: &mut String, data: &ReportData) {
    let title = format!(
        "driftlake report · {} · {} – {}",
        data.lake, data.from, data.to
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&title)
    );
}

/// `lake … · window … (N UTC days) · as of run …`, with the lake and the
/// run quoted by `quote` (HTML `<code>`, Markdown escaping).
pub(super) fn meta_line(data: &ReportData, days: usize, quote: &dyn Fn(&str) -> String) -> String {
    let run = match &data.as_of_run {
        Some(run) => format!("as of run {}", quote(run)),
        None => "no committed run".to_string(),
    };
    format!(
        "lake {} · window {} – {} ({days} UTC {}) · {run}",
        quote(&data.lake),
        data.from,
        data.to,
        if days == 1 { "day" } else { "days" }
    )
}

/// The page header: title, lake, window, run and the section links.
fn push_header(out: &mut String, data: &ReportData, days: usize) {
    out.push_str("<header>\n<h1>driftlake report</h1>\n");
    let code = |t: &str| format!("<code>{}</code>", escape(t));
    let _ = writeln!(
        out,
        "<p class=\"meta\">{}</p>",
        meta_line(data, days, &code)
    );
    out.push_str("<nav aria-label=\"sections\">");
    for s in SECTIONS {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", s.id, escape(s.heading));
    }
    out.push_str("</nav>\n</header>\n");
}

/// One `<section>`: heading, intro, then the body or the empty sentence.
fn push_section(out: &mut String, text: &SectionText, intro: &str, body: Option<String>) {
    let _ = writeln!(
        out,
        "<section id=\"{}\">\n<h2>{}</h2>\n<p class=\"intro\">{}</p>",
        text.id,
        escape(text.heading),
        escape(intro)
    );
    match body {
        Some(body) => out.push_str(&body),
        None => {
            let _ = writeln!(out, "<p class=\"empty\">{}</p>", escape(text.empty));
        }
    }
    out.push_str("</section>\n");
}

/// §1: the top nodes' daily scores and a table of every node.
fn drift_score(data: &ReportData, days: &[NaiveDate]) -> Option<String> {
    if data.node_days.is_empty() {
        return None;
    }
    let nodes = node_summaries(data, days);
    let top = &nodes[..nodes.len().min(TOP_NODES)];
    let lines: Vec<Line> = top
        .iter()
        .zip(NODE_PALETTE)
        .map(|(n, color)| Line {
            name: n.label(),
            color,
            values: n.daily.clone(),
        })
        .collect();
    let label = format!(
        "Daily drift score of the {} spec nodes with the highest score, {} to {}",
        top.len(),
        data.from,
        data.to
    );
    let frame = Frame {
        label: &label,
        x_title: "UTC day",
        y_title: "drift score (0–1)",
    };
    let mut out = svg::line_chart(&frame, days, &lines, &THRESHOLDS);
    out.push('\n');
    if nodes.len() > top.len() {
        let note = format!(
            "The chart shows the {} nodes with the highest score; the table lists all {}.",
            top.len(),
            nodes.len()
        );
        push_note(&mut out, &note);
    }
    push_node_table(&mut out, &nodes);
    Some(out)
}

/// The table of every spec node, highest score first.
fn push_node_table(out: &mut String, nodes: &[NodeSummary]) {
    let cols = [
        ("context", false),
        ("spec node", false),
        ("max score", true),
        ("worst level", false),
        ("days", true),
        ("evidence", true),
    ];
    open_table(out, &cols);
    for n in nodes.iter().take(MAX_TABLE_ROWS) {
        push_row(
            out,
            None,
            &[
                Cell::Text(n.context.to_string()),
                Cell::Text(n.spec_node_id.to_string()),
                Cell::Num(fmt_score(n.max_score)),
                Cell::Swatch(level_color(n.worst), n.worst.as_str().to_string()),
                Cell::Num(n.days.to_string()),
                Cell::Num(n.evidence.to_string()),
            ],
        );
    }
    close_table(out);
    push_cap_note(out, nodes.len(), "spec nodes");
}

/// §2: node rows per day stacked by level, and the totals per level.
fn drift_levels(data: &ReportData, days: &[NaiveDate]) -> Option<String> {
    if data.level_days.is_empty() {
        return None;
    }
    let layers = day_layers(
        &data.level_days,
        days,
        &Level::ALL,
        |r| (r.day, level_index(r.level), r.rows),
        |l| (l.as_str().to_string(), level_color(l)),
    );
    let label = format!(
        "behavior_summary node rows per UTC day by drift level, {} to {}",
        data.from, data.to
    );
    let mut out = day_chart(&label, "node rows", days, &layers);
    out.push('\n');
    push_layer_totals(&mut out, "level", "node rows", &layers);
    Some(out)
}

/// §3: events per day by severity, the top fingerprints as bars and a table.
fn fingerprints(data: &ReportData, days: &[NaiveDate]) -> Option<String> {
    if data.event_days.is_empty() && data.fingerprints.is_empty() {
        return None;
    }
    let mut out = String::new();
    if !data.event_days.is_empty() {
        out.push_str("<h3>Drift events per day</h3>\n");
        push_event_chart(&mut out, data, days);
    }
    if !data.fingerprints.is_empty() {
        out.push_str("<h3>Most recurring fingerprints</h3>\n");
        push_fingerprint_chart(&mut out, data);
        push_fingerprint_table(&mut out, data);
    }
    Some(out)
}

/// Drift events per day stacked by severity, and the totals per severity.
fn push_event_chart(out: &mut String, data: &ReportData, days: &[NaiveDate]) {
    let layers = day_layers(
        &data.event_days,
        days,
        &Severity::ALL,
        |r| (r.day, severity_index(r.severity), r.events),
        |s| (s.as_str().to_string(), severity_color(s)),
    );
    let label = format!(
        "Drift events per UTC day by severity, {} to {}",
        data.from, data.to
    );
    out.push_str(&day_chart(&label, "events", days, &layers));
    out.push('\n');
    push_layer_totals(out, "severity", "events", &layers);
}

/// The top fingerprints by events, coloured by worst severity.
fn push_fingerprint_chart(out: &mut String, data: &ReportData) {
    let bars: Vec<Bar> = data
        .fingerprints
        .iter()
        .take(MAX_TABLE_ROWS)
        .map(|f| Bar {
            label: if f.subject.is_empty() {
                f.key.clone()
            } else {
                f.subject.clone()
            },
            tooltip: format!(
                "{} · {} · {} (worst {})",
                f.key,
                f.drift_type,
                f.subject,
                f.worst.as_str()
            ),
            value: f.events,
            color: severity_color(f.worst),
        })
        .collect();
    let label = format!(
        "Drift events of the {} most recurring fingerprints",
        bars.len()
    );
    let frame = Frame {
        label: &label,
        x_title: "events",
        y_title: "fingerprint",
    };
    out.push_str(&svg::bar_chart(&frame, &bars, &WORST_KEYS));
    out.push('\n');
}

/// The fingerprint table's columns (name, numeric), in both renderings.
pub(super) const FINGERPRINT_COLUMNS: [(&str, bool); 11] = [
    ("key", false),
    ("type", false),
    ("subject", false),
    ("events", true),
    ("windows", true),
    ("worst severity", false),
    ("first seen (UTC)", false),
    ("last seen (UTC)", false),
    ("episodes", true),
    ("patches", false),
    ("patch required", false),
];

/// The fingerprint table; rows that need a patch are highlighted.
fn push_fingerprint_table(out: &mut String, data: &ReportData) {
    open_table(out, &FINGERPRINT_COLUMNS);
    for f in data.fingerprints.iter().take(MAX_TABLE_ROWS) {
        let required = if f.patch_required { "yes" } else { "no" };
        push_row(
            out,
            f.patch_required.then_some("patch"),
            &[
                Cell::Key(f.key.clone()),
                Cell::Text(f.drift_type.clone()),
                Cell::Text(f.subject.clone()),
                Cell::Num(f.events.to_string()),
                Cell::Num(f.windows.to_string()),
                Cell::Swatch(severity_color(f.worst), f.worst.as_str().to_string()),
                Cell::Text(f.first_seen.clone()),
                Cell::Text(f.last_seen.clone()),
                Cell::Num(f.episodes.to_string()),
                Cell::Text(f.patches.join(", ")),
                Cell::Strong(f.patch_required, required.to_string()),
            ],
        );
    }
    close_table(out);
    push_cap_note(out, data.fingerprints.len(), "fingerprints");
}

/// §4: identities per primitive stacked by state, and the same as a table.
fn attribution(data: &ReportData) -> Option<String> {
    if data.attribution.is_empty() {
        return None;
    }
    let states = attribution_states(data);
    let rows = attribution_rows(data, &states);
    let shown = &rows[..rows.len().min(MAX_TABLE_ROWS)];
    let labels: Vec<String> = shown.iter().map(|(p, _)| p.to_string()).collect();
    let layers: Vec<Layer> = states
        .iter()
        .enumerate()
        .map(|(i, s)| Layer {
            name: s.to_string(),
            color: state_color(s),
            values: shown.iter().map(|(_, counts)| counts[i]).collect(),
        })
        .collect();
    let frame = Frame {
        label: "Identities per primitive by current attribution state",
        x_title: "identities",
        y_title: "primitive",
    };
    let mut out = svg::stacked_bar_chart(&frame, &labels, &layers);
    out.push('\n');
    let mut cols = vec![("primitive", false)];
    cols.extend(states.iter().map(|s| (*s, true)));
    cols.push(("total", true));
    open_table(&mut out, &cols);
    for (primitive, counts) in shown {
        let mut cells = vec![Cell::Text(primitive.to_string())];
        cells.extend(counts.iter().map(|c| Cell::Num(c.to_string())));
        cells.push(Cell::Num(counts.iter().sum::<i64>().to_string()));
        push_row(&mut out, None, &cells);
    }
    close_table(&mut out);
    push_cap_note(&mut out, rows.len(), "primitives");
    Some(out)
}

/// §5: agents per day stacked by tier, mean anomaly score per tier, and a
/// table per tier.
fn agents(data: &ReportData, days: &[NaiveDate]) -> Option<String> {
    if data.agent_days.is_empty() {
        return None;
    }
    let tiers = agent_tiers(data);
    let tier_index = |t: i32| {
        tiers
            .iter()
            .position(|x| *x == t)
            .expect("tiers hold every row's tier")
    };
    let layers = day_layers(
        &data.agent_days,
        days,
        &tiers,
        |r| (r.day, tier_index(r.tier), r.agents),
        |t| (tier_name(t), tier_color(t)),
    );
    let label = format!("Agents per UTC day by tier, {} to {}", data.from, data.to);
    let mut out = String::from("<h3>Agents per day</h3>\n");
    out.push_str(&day_chart(&label, "agents", days, &layers));
    out.push_str("\n<h3>Mean anomaly score</h3>\n");
    push_anomaly_chart(&mut out, data, days, &tiers);
    push_tier_table(&mut out, data);
    Some(out)
}

/// One line per tier: the mean anomaly score of its windows per day.
fn push_anomaly_chart(out: &mut String, data: &ReportData, days: &[NaiveDate], tiers: &[i32]) {
    let lines: Vec<Line> = tiers
        .iter()
        .map(|t| {
            let mut values = vec![None; days.len()];
            for r in data.agent_days.iter().filter(|r| r.tier == *t) {
                if let Some(i) = day_index(days, r.day) {
                    values[i] = Some(r.mean_anomaly_score);
                }
            }
            Line {
                name: tier_name(*t),
                color: tier_color(*t),
                values,
            }
        })
        .collect();
    let label = format!(
        "Mean anomaly score per tier and UTC day, {} to {}",
        data.from, data.to
    );
    let frame = Frame {
        label: &label,
        x_title: "UTC day",
        y_title: "mean anomaly score (0–1)",
    };
    out.push_str(&svg::line_chart(&frame, days, &lines, &[]));
    out.push('\n');
}

/// The per-tier summary table.
fn push_tier_table(out: &mut String, data: &ReportData) {
    let cols = [
        ("tier", false),
        ("days", true),
        ("agent-days", true),
        ("windows", true),
        ("mean anomaly score", true),
    ];
    open_table(out, &cols);
    for t in tier_summaries(data) {
        push_row(
            out,
            None,
            &[
                Cell::Swatch(tier_color(t.tier), tier_name(t.tier)),
                Cell::Num(t.days.to_string()),
                Cell::Num(t.agent_days.to_string()),
                Cell::Num(t.windows.to_string()),
                Cell::Num(fmt_score(t.mean_anomaly)),
            ],
        );
    }
    close_table(out);
}

/// A small table of each layer's total over the window, so the stacked
/// chart's numbers are readable without colour.
fn push_layer_totals(out: &mut String, what: &'static str, unit: &'static str, layers: &[Layer]) {
    open_table(out, &[(what, false), (unit, true), ("days", true)]);
    for l in layers {
        let total: i64 = l.values.iter().sum();
        let days = l.values.iter().filter(|v| **v > 0).count();
        push_row(
            out,
            None,
            &[
                Cell::Swatch(l.color, l.name.clone()),
                Cell::Num(total.to_string()),
                Cell::Num(days.to_string()),
            ],
        );
    }
    close_table(out);
}

/// One table cell.
enum Cell {
    /// Plain text.
    Text(String),
    /// A right-aligned number.
    Num(String),
    /// Monospaced text (a key).
    Key(String),
    /// A colour swatch and its name.
    Swatch(&'static str, String),
    /// Text, bold when the flag is set.
    Strong(bool, String),
}

/// Open a table with its header row; `(name, numeric)` per column.
fn open_table(out: &mut String, cols: &[(&str, bool)]) {
    out.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for (name, num) in cols {
        let class = if *num { " class=\"num\"" } else { "" };
        let _ = write!(out, "<th scope=\"col\"{class}>{}</th>", escape(name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

/// Close a table opened by [`open_table`].
fn close_table(out: &mut String) {
    out.push_str("</tbody>\n</table></div>\n");
}

/// One body row, with an optional class.
fn push_row(out: &mut String, class: Option<&str>, cells: &[Cell]) {
    match class {
        Some(c) => {
            let _ = write!(out, "<tr class=\"{c}\">");
        }
        None => out.push_str("<tr>"),
    }
    for cell in cells {
        match cell {
            Cell::Text(t) => {
                let _ = write!(out, "<td>{}</td>", escape(t));
            }
            Cell::Num(t) => {
                let _ = write!(out, "<td class=\"num\">{}</td>", escape(t));
            }
            Cell::Key(t) => {
                let _ = write!(out, "<td class=\"key\">{}</td>", escape(t));
            }
            Cell::Swatch(color, t) => {
                let _ = write!(
                    out,
                    "<td><span class=\"sw\" style=\"background:{color}\" aria-hidden=\"true\">\
                     </span>{}</td>",
                    escape(t)
                );
            }
            Cell::Strong(true, t) => {
                let _ = write!(out, "<td><strong>{}</strong></td>", escape(t));
            }
            Cell::Strong(false, t) => {
                let _ = write!(out, "<td>{}</td>", escape(t));
            }
        }
    }
    out.push_str("</tr>\n");
}

/// A note under a chart or table.
fn push_note(out: &mut String, note: &str) {
    let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
}

/// Say so when a table was cut at [`MAX_TABLE_ROWS`].
fn push_cap_note(out: &mut String, total: usize, what: &str) {
    if total > MAX_TABLE_ROWS {
        push_note(out, &cap_note(total, what));
    }
}

/// The sentence under a table cut at [`MAX_TABLE_ROWS`] of `total` rows.
pub(super) fn cap_note(total: usize, what: &str) -> String {
    format!("Showing the first {MAX_TABLE_ROWS} of {total} {what}.")
}

/// A score with two decimals (`n/a` when not finite; never `-0.00`).
pub(super) fn fmt_score(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    let s = format!("{x:.2}");
    if s == "-0.00" {
        "0.00".to_string()
    } else {
        s
    }
}

/// A level's position in [`Level::ALL`].
pub(super) fn level_index(level: Level) -> usize {
    Level::ALL
        .iter()
        .position(|l| *l == level)
        .expect("ALL lists every level")
}

/// A severity's position in [`Severity::ALL`].
pub(super) fn severity_index(severity: Severity) -> usize {
    Severity::ALL
        .iter()
        .position(|s| *s == severity)
        .expect("ALL lists every severity")
}

/// A drift level's colour: grey, green, amber, red.
pub(super) fn level_color(level: Level) -> &'static str {
    match level {
        Level::None => "#9e9e9e",
        Level::Low => "#2e7d32",
        Level::Medium => "#f9a825",
        Level::High => "#c62828",
    }
}

/// A severity's colour: green, yellow (amber), red.
pub(super) fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Green => "#2e7d32",
        Severity::Yellow => "#f9a825",
        Severity::Red => "#c62828",
    }
}

/// An attribution state's colour: unknown grey, stable green, drifting
/// amber, conflicted orange, multi_actor red.
pub(super) fn state_color(state: &str) -> &'static str {
    match state {
        "unknown" => "#9e9e9e",
        "stable" => "#2e7d32",
        "drifting" => "#f9a825",
        "conflicted" => "#ef6c00",
        "multi_actor" => "#c62828",
        _ => OTHER,
    }
}

/// An agent tier's colour: 1 normal green, 2 elevated amber, 3 anomalous red.
pub(super) fn tier_color(tier: i32) -> &'static str {
    match tier {
        1 => "#2e7d32",
        2 => "#f9a825",
        3 => "#c62828",
        _ => OTHER,
    }
}

/// A tier's name with its meaning (agent-monitor.md "Profiles").
pub(super) fn tier_name(tier: i32) -> String {
    match tier {
        1 => "tier 1 (normal)".to_string(),
        2 => "tier 2 (elevated)".to_string(),
        3 => "tier 3 (anomalous)".to_string(),
        t => format!("tier {t}"),
    }
}

/// The window's UTC days, `from` to `to` inclusive (just `from` when `to`
/// is earlier, so every chart has at least one day).
pub(super) fn window_days(data: &ReportData) -> Vec<NaiveDate> {
    let days: Vec<NaiveDate> = data
        .from
        .iter_days()
        .take_while(|d| *d <= data.to)
        .collect();
    if days.is_empty() {
        vec![data.from]
    } else {
        days
    }
}

/// The position of `day` in the window, if it is in it.
pub(super) fn day_index(days: &[NaiveDate], day: NaiveDate) -> Option<usize> {
    let i = usize::try_from((day - *days.first()?).num_days()).ok()?;
    (i < days.len()).then_some(i)
}

/// Per category, a count per window day: `key` gives a row's day, category
/// index and count. Rows outside the window are left out.
/// One stacked layer per category in `keys` order, from per-day rows:
/// `row` gives (day, category index, count), `style` a category's legend
/// name and colour.
fn day_layers<T, K: Copy>(
    rows: &[T],
    days: &[NaiveDate],
    keys: &[K],
    row: impl Fn(&T) -> (NaiveDate, usize, i64),
    style: impl Fn(K) -> (String, &'static str),
) -> Vec<Layer> {
    keys.iter()
        .zip(day_counts(rows, days, keys.len(), row))
        .map(|(k, values)| {
            let (name, color) = style(*k);
            Layer {
                name,
                color,
                values,
            }
        })
        .collect()
}

/// A stacked bar chart over the window's days.
fn day_chart(label: &str, y_title: &str, days: &[NaiveDate], layers: &[Layer]) -> String {
    let frame = Frame {
        label,
        x_title: "UTC day",
        y_title,
    };
    svg::stacked_day_chart(&frame, days, layers)
}

pub(super) fn day_counts<T>(
    rows: &[T],
    days: &[NaiveDate],
    categories: usize,
    key: impl Fn(&T) -> (NaiveDate, usize, i64),
) -> Vec<Vec<i64>> {
    let mut counts = vec![vec![0; days.len()]; categories];
    for row in rows {
        let (day, category, n) = key(row);
        if let Some(i) = day_index(days, day) {
            counts[category][i] += n;
        }
    }
    counts
}

/// One spec node over the window.
pub(super) struct NodeSummary<'a> {
    /// `sea.domain`.
    pub context: &'a str,
    /// The spec node.
    pub spec_node_id: &'a str,
    /// Highest score (NaN when none is finite).
    pub max_score: f64,
    /// Worst level.
    pub worst: Level,
    /// Days with a row.
    pub days: usize,
    /// Evidence rows, summed over the days.
    pub evidence: i64,
    /// The score per window day, `None` where the node has no row.
    pub daily: Vec<Option<f64>>,
}

impl NodeSummary<'_> {
    /// `context / node`, or just the node without a context.
    pub fn label(&self) -> String {
        if self.context.is_empty() {
            self.spec_node_id.to_string()
        } else {
            format!("{} / {}", self.context, self.spec_node_id)
        }
    }
}

/// Every spec node of the window, highest max score first, ties by
/// (context, node).
pub(super) fn node_summaries<'a>(data: &'a ReportData, days: &[NaiveDate]) -> Vec<NodeSummary<'a>> {
    let mut by_node: BTreeMap<(&str, &str), NodeSummary> = BTreeMap::new();
    for r in &data.node_days {
        let key = (r.context.as_str(), r.spec_node_id.as_str());
        let node = by_node.entry(key).or_insert_with(|| NodeSummary {
            context: key.0,
            spec_node_id: key.1,
            max_score: f64::NAN,
            worst: Level::None,
            days: 0,
            evidence: 0,
            daily: vec![None; days.len()],
        });
        node.max_score = node.max_score.max(r.drift_score);
        node.worst = node.worst.max(r.level);
        node.days += 1;
        node.evidence += r.evidence_count;
        if let Some(i) = day_index(days, r.day) {
            let slot = &mut node.daily[i];
            *slot = Some(slot.map_or(r.drift_score, |s| s.max(r.drift_score)));
        }
    }
    let mut nodes: Vec<NodeSummary> = by_node.into_values().collect();
    let rank = |x: f64| if x.is_finite() { x } else { f64::NEG_INFINITY };
    // A stable sort keeps the (context, node) order of the map for ties.
    nodes.sort_by(|a, b| rank(b.max_score).total_cmp(&rank(a.max_score)));
    nodes
}

/// The attribution states to show: the documented five, then any other
/// state the lake holds, by name.
pub(super) fn attribution_states(data: &ReportData) -> Vec<&str> {
    let extra: BTreeSet<&str> = data
        .attribution
        .iter()
        .map(|a| a.state.as_str())
        .filter(|s| !STATES.contains(s))
        .collect();
    STATES.into_iter().chain(extra).collect()
}

/// Identities per primitive (by name) and state (in `states` order).
pub(super) fn attribution_rows<'a>(
    data: &'a ReportData,
    states: &[&str],
) -> Vec<(&'a str, Vec<i64>)> {
    let mut rows: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for a in &data.attribution {
        let i = states
            .iter()
            .position(|s| *s == a.state)
            .expect("attribution_states holds every row's state");
        rows.entry(a.primitive.as_str())
            .or_insert_with(|| vec![0; states.len()])[i] += a.identities;
    }
    rows.into_iter().collect()
}

/// The tiers to show: 1, 2 and 3, plus any other the lake holds, ascending.
pub(super) fn agent_tiers(data: &ReportData) -> Vec<i32> {
    let mut tiers: BTreeSet<i32> = [1, 2, 3].into();
    tiers.extend(data.agent_days.iter().map(|r| r.tier));
    tiers.into_iter().collect()
}

/// One agent tier over the window.
pub(super) struct TierSummary {
    /// The tier.
    pub tier: i32,
    /// Days with a window in this tier.
    pub days: usize,
    /// Agents summed over the days (an agent counts once per day).
    pub agent_days: i64,
    /// Windows in this tier.
    pub windows: i64,
    /// Mean anomaly score of those windows (NaN without windows).
    pub mean_anomaly: f64,
}

/// Per tier in [`agent_tiers`] order: days, agent-days, windows and the
/// window-weighted mean anomaly score.
pub(super) fn tier_summaries(data: &ReportData) -> Vec<TierSummary> {
    agent_tiers(data)
        .into_iter()
        .map(|tier| {
            let rows = data.agent_days.iter().filter(|r| r.tier == tier);
            let (mut days, mut agent_days, mut windows, mut weighted) = (0, 0, 0, 0.0);
            for r in rows {
                days += 1;
                agent_days += r.agents;
                windows += r.windows;
                weighted += r.mean_anomaly_score * r.windows as f64;
            }
            let mean_anomaly = if windows > 0 {
                weighted / windows as f64
            } else {
                f64::NAN
            };
            TierSummary {
                tier,
                days,
                agent_days,
                windows,
                mean_anomaly,
            }
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::report::model::{
        AgentDay, AttributionCount, EventDay, Fingerprint, LevelDay, NodeDay,
    };

    pub(crate) fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap() + chrono::Days::new(u64::from(d))
    }

    /// A report over `n` days with every section populated.
    pub(crate) fn populated(n: u32) -> ReportData {
        let mut data = ReportData {
            lake: "s3://decnet-lake/driftlake".to_string(),
            from: day(0),
            to: day(n - 1),
            as_of_run: Some("20260507T010203Z-abc123".to_string()),
            ..ReportData::default()
        };
        for node in 0..10 {
            for d in (0..n).filter(|d| (d + node) % 3 != 0) {
                let score = f64::from((d * 7 + node * 13) % 100) / 100.0;
                data.node_days.push(NodeDay {
                    context: "shell".to_string(),
                    spec_node_id: format!("node.{node:02}"),
                    day: day(d),
                    drift_score: score,
                    level: level_of(score),
                    evidence_count: i64::from(d + 1),
                });
            }
        }
        for d in 0..n {
            for level in Level::ALL {
                data.level_days.push(LevelDay {
                    day: day(d),
                    level,
                    rows: i64::from(d % 4) + level as i64,
                });
            }
            for severity in Severity::ALL {
                data.event_days.push(EventDay {
                    day: day(d),
                    severity,
                    events: i64::from(d % 3) * (severity as i64 + 1),
                });
            }
            for tier in 1..=3 {
                data.agent_days.push(AgentDay {
                    day: day(d),
                    tier,
                    agents: i64::from(4 - tier),
                    windows: i64::from(10 - tier),
                    mean_anomaly_score: f64::from(tier) * 0.3 - 0.1,
                });
            }
        }
        data.fingerprints = (0..5)
            .map(|i| Fingerprint {
                key: format!("{i:016x}"),
                drift_type: "behavior".to_string(),
                subject: format!("shell / node.{i:02} · rule"),
                events: 50 - i64::from(i) * 7,
                windows: 5 - i64::from(i),
                worst: Severity::ALL[i as usize % 3],
                first_seen: "2026-05-01T00:00:00Z".to_string(),
                last_seen: "2026-05-03T12:00:00Z".to_string(),
                episodes: 2,
                patches: vec!["retune".to_string(), "spec".to_string()],
                patch_required: i == 2,
            })
            .collect();
        for primitive in ["motor.typing_cadence", "shell.prompt"] {
            for (i, state) in STATES.iter().enumerate() {
                data.attribution.push(AttributionCount {
                    primitive: primitive.to_string(),
                    state: state.to_string(),
                    identities: i as i64 * 3,
                });
            }
        }
        data
    }

    fn level_of(score: f64) -> Level {
        match score {
            s if s > 0.8 => Level::High,
            s if s >= 0.5 => Level::Medium,
            s if s >= 0.2 => Level::Low,
            _ => Level::None,
        }
    }

    fn parse(page: &str) -> roxmltree::Document<'_> {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        roxmltree::Document::parse_with_options(page, opts).expect("page is well-formed XML")
    }

    fn section<'a, 'i>(doc: &'a roxmltree::Document<'i>, id: &str) -> roxmltree::Node<'a, 'i> {
        doc.descendants()
            .find(|n| n.has_tag_name("section") && n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("section {id}"))
    }

    fn count(node: roxmltree::Node, tag: &str) -> usize {
        node.descendants().filter(|n| n.has_tag_name(tag)).count()
    }

    fn all_text(node: roxmltree::Node) -> String {
        node.descendants().filter_map(|n| n.text()).collect()
    }

    #[test]
    fn populated_page_is_well_formed_with_sections_in_order() {
        let page = render_html(&populated(7));
        assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        let doc = parse(&page);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "html");
        assert_eq!(root.attribute("lang"), Some("en"));
        let ids: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("section"))
            .filter_map(|n| n.attribute("id"))
            .collect();
        assert_eq!(
            ids,
            [
                "drift-score",
                "drift-levels",
                "fingerprints",
                "attribution",
                "agents"
            ]
        );
        for id in ids {
            let h2 = section(&doc, id)
                .children()
                .find(|n| n.is_element())
                .unwrap();
            assert_eq!(h2.tag_name().name(), "h2");
        }
        assert_eq!(count(root, "style"), 1);
        let head = root.first_element_child().unwrap();
        assert_eq!(head.tag_name().name(), "head");
        assert_eq!(count(head, "title"), 1);
        let metas: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("meta"))
            .collect();
        assert_eq!(metas[0].attribute("charset"), Some("utf-8"));
        assert_eq!(metas[1].attribute("name"), Some("viewport"));
    }

    #[test]
    fn empty_page_is_well_formed_and_every_section_says_what_is_missing() {
        let page = render_html(&ReportData::default());
        let doc = parse(&page);
        assert!(!page.contains("<svg"));
        for text in SECTIONS {
            let s = section(&doc, text.id);
            let empty: Vec<_> = s
                .descendants()
                .filter(|n| n.attribute("class") == Some("empty"))
                .collect();
            assert_eq!(empty.len(), 1, "{}", text.id);
            assert_eq!(empty[0].tag_name().name(), "p");
            assert_eq!(empty[0].text(), Some(text.empty));
            assert_eq!(count(s, "table"), 0);
        }
        assert_eq!(
            DRIFT_SCORE.empty,
            "no behavior_summary rows in this window (the telemetry stage writes them)"
        );
        assert!(FINGERPRINTS.empty.contains("no drift_events"));
        assert!(ATTRIBUTION.empty.contains("no attribution_state"));
        assert!(AGENTS.empty.contains("no agent_profiles"));
    }

    #[test]
    fn each_section_with_data_has_its_charts() {
        let page = render_html(&populated(7));
        let doc = parse(&page);
        let expected = [
            ("drift-score", 1),
            ("drift-levels", 1),
            ("fingerprints", 2),
            ("attribution", 1),
            ("agents", 2),
        ];
        for (id, charts) in expected {
            let s = section(&doc, id);
            assert_eq!(count(s, "svg"), charts, "{id}");
            assert_eq!(count_class(s, "empty"), 0, "{id}");
        }
        assert_eq!(page.matches("<svg").count(), 7);
    }

    fn count_class(node: roxmltree::Node, class: &str) -> usize {
        node.descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .count()
    }

    #[test]
    fn only_the_empty_sections_say_so() {
        let mut data = populated(3);
        data.fingerprints.clear();
        data.event_days.clear();
        data.agent_days.clear();
        let page = render_html(&data);
        let doc = parse(&page);
        for (id, empty) in [
            ("drift-score", false),
            ("drift-levels", false),
            ("fingerprints", true),
            ("attribution", false),
            ("agents", true),
        ] {
            let s = section(&doc, id);
            assert_eq!(count_class(s, "empty") == 1, empty, "{id}");
            assert_eq!(count(s, "svg") == 0, empty, "{id}");
        }
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let evil = "<script>&\"'";
        let mut data = populated(3);
        data.lake = format!("memory://{evil}");
        data.as_of_run = Some(evil.to_string());
        data.node_days[0].spec_node_id = evil.to_string();
        data.node_days[0].context = evil.to_string();
        data.fingerprints[0].subject = format!("{evil}\u{0}");
        data.fingerprints[0].key = evil.to_string();
        data.attribution[0].primitive = evil.to_string();
        data.attribution[0].state = evil.to_string();
        let page = render_html(&data);
        assert!(!page.contains("<script"));
        assert!(!page.contains(evil));
        assert!(page.contains("&lt;script&gt;&amp;&quot;&#39;"));
        assert!(!page.contains('\u{0}'));
        let doc = parse(&page);
        let cells: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("td"))
            .filter_map(|n| n.text())
            .collect();
        assert!(
            cells.contains(&evil),
            "escaped text reads back as the original"
        );
    }

    #[test]
    fn page_is_self_contained() {
        for data in [populated(7), ReportData::default()] {
            let page = render_html(&data);
            assert!(!page.contains("<script"));
            assert!(!page.contains("http://") && !page.contains("https://"));
            assert!(!page.contains(" src=") && !page.contains("url("));
            assert!(!page.contains("@import"));
            let doc = parse(&page);
            for n in doc.descendants() {
                if let Some(href) = n.attribute("href") {
                    assert!(href.starts_with('#'), "{href}");
                }
            }
        }
        assert!(
            !CSS.contains('<') && !CSS.contains('&'),
            "CSS reads the same in XML"
        );
    }

    #[test]
    fn header_shows_lake_window_and_run() {
        let doc_page = render_html(&populated(7));
        let doc = parse(&doc_page);
        let header = doc
            .descendants()
            .find(|n| n.has_tag_name("header"))
            .unwrap();
        let text = all_text(header);
        assert!(text.contains("driftlake report"));
        assert!(text.contains("lake s3://decnet-lake/driftlake"));
        assert!(text.contains("window 2026-05-01 – 2026-05-07 (7 UTC days)"));
        assert!(text.contains("as of run 20260507T010203Z-abc123"));
        let empty = render_html(&ReportData::default());
        assert!(empty.contains("no committed run"));
        assert!(!empty.contains("as of run"));
    }

    #[test]
    fn footer_names_the_crate_version() {
        let page = render_html(&ReportData::default());
        let want = format!("<footer><p>generated by driftlake {}</p></footer>", VERSION);
        assert!(page.contains(&want));
        assert!(!VERSION.is_empty());
    }

    #[test]
    fn one_day_window_renders_one_bar_per_category() {
        let data = populated(1);
        let page = render_html(&data);
        let doc = parse(&page);
        let levels = section(&doc, "drift-levels");
        let bars = levels
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.children().any(|c| c.has_tag_name("title")))
            .count();
        let nonzero = data.level_days.iter().filter(|r| r.rows > 0).count();
        assert_eq!(bars, nonzero);
        assert!(all_text(doc.root_element()).contains("(1 UTC day)"));
    }

    #[test]
    fn four_hundred_day_window_keeps_ten_x_labels_per_chart() {
        let data = populated(400);
        let page = render_html(&data);
        let doc = parse(&page);
        let charts: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .collect();
        assert_eq!(charts.len(), 7);
        for chart in charts {
            let days = chart
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .filter(|n| {
                    n.text()
                        .is_some_and(|t| t.len() == 10 && t.starts_with("20"))
                })
                .count();
            let is_day_chart = all_text(chart).contains("UTC day");
            assert!(days <= svg::MAX_X_LABELS, "{days}");
            assert_eq!(days > 0, is_day_chart);
        }
        let points = section(&doc, "drift-score")
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        let top: usize = node_summaries(&data, &window_days(&data))
            .iter()
            .take(TOP_NODES)
            .map(|n| n.days)
            .sum();
        assert_eq!(points, top, "one point per node day");
    }

    #[test]
    fn node_table_lists_every_node_up_to_the_cap() {
        let mut data = populated(2);
        data.node_days = (0..1005)
            .map(|i| NodeDay {
                context: "c".to_string(),
                spec_node_id: format!("n{i:04}"),
                day: day(0),
                drift_score: 0.5,
                level: Level::Medium,
                evidence_count: 1,
            })
            .collect();
        let page = render_html(&data);
        let doc = parse(&page);
        let s = section(&doc, "drift-score");
        let rows = s
            .descendants()
            .filter(|n| n.has_tag_name("tbody"))
            .map(|b| b.children().filter(|r| r.has_tag_name("tr")).count())
            .sum::<usize>();
        assert_eq!(rows, MAX_TABLE_ROWS);
        assert!(all_text(s).contains("Showing the first 1000 of 1005 spec nodes."));
        assert_eq!(
            count(s, "polyline") + count(s, "circle"),
            TOP_NODES,
            "one point each"
        );
    }

    #[test]
    fn node_table_is_sorted_by_max_score_with_two_decimals() {
        let data = populated(7);
        let nodes = node_summaries(&data, &window_days(&data));
        assert_eq!(nodes.len(), 10);
        for pair in nodes.windows(2) {
            assert!(pair[0].max_score >= pair[1].max_score);
        }
        let page = render_html(&data);
        let first = format!("<td class=\"num\">{:.2}</td>", nodes[0].max_score);
        assert!(page.contains(&first));
        assert_eq!(fmt_score(0.125), "0.12");
        assert_eq!(fmt_score(-0.001), "0.00");
        assert_eq!(fmt_score(f64::NAN), "n/a");
    }

    #[test]
    fn patch_required_fingerprints_are_highlighted() {
        let data = populated(3);
        let page = render_html(&data);
        let doc = parse(&page);
        let highlighted: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("tr") && n.attribute("class") == Some("patch"))
            .collect();
        assert_eq!(highlighted.len(), 1);
        let text = all_text(highlighted[0]);
        assert!(text.contains(&data.fingerprints[2].key) && text.ends_with("yes"));
        assert_eq!(count(highlighted[0], "strong"), 1);
    }

    #[test]
    fn tier_summary_weights_the_mean_by_windows() {
        let mut data = populated(1);
        data.agent_days = vec![
            AgentDay {
                day: day(0),
                tier: 2,
                agents: 1,
                windows: 1,
                mean_anomaly_score: 0.5,
            },
            AgentDay {
                day: day(1),
                tier: 2,
                agents: 2,
                windows: 3,
                mean_anomaly_score: 0.7,
            },
        ];
        let tiers = tier_summaries(&data);
        assert_eq!(tiers.iter().map(|t| t.tier).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            (tiers[1].days, tiers[1].agent_days, tiers[1].windows),
            (2, 3, 4)
        );
        assert_eq!(fmt_score(tiers[1].mean_anomaly), "0.65");
        assert!(tiers[0].mean_anomaly.is_nan());
    }

    #[test]
    fn rendering_is_deterministic() {
        for data in [populated(30), ReportData::default()] {
            assert_eq!(render_html(&data), render_html(&data.clone()));
        }
    }
}
