//! Inline SVG charts for the HTML report (`report::html`): pure string
//! builders, no I/O and no dependencies.
//!
//! Every chart has a fixed viewBox and `width="100%"`, so it scales with the
//! page; `role="img"` with an `aria-label`; axis titles with units; a legend
//! when it shows several series; and a `<title>` on every bar and point that
//! carries its exact value (a browser shows it as a tooltip). The output is
//! well-formed XML and parses as HTML5 foreign content without errors.
//!
//! There are no font metrics without a browser, so text widths are estimated
//! with a conservative width per character (see [`text_width`]); labels are
//! laid out and truncated against that estimate.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

/// Width of every chart's viewBox (user units ≈ CSS px at a 880 px page).
const WIDTH: f64 = 880.0;
/// Space left of a day chart's plot: y tick labels and the y axis title.
const LEFT: f64 = 64.0;
/// Space right of a day chart's plot: half of the last x tick label.
const RIGHT: f64 = 40.0;
/// Height of a day chart's plot area.
const PLOT_H: f64 = 220.0;
/// Space under a plot: tick labels, then the x axis title.
const BOTTOM: f64 = 46.0;
/// Space above a plot for its top tick label.
const TOP_PAD: f64 = 12.0;
/// Estimated advance of an ASCII glyph at 11 px (0.6 em, wider than the
/// average sans-serif glyph so estimates err on the side of more room).
const ASCII_W: f64 = 6.6;
/// Estimated advance of any other glyph (CJK and the like are 1 em).
const WIDE_W: f64 = 11.0;
/// At most this many x tick labels on a day axis.
pub(super) const MAX_X_LABELS: usize = 10;
/// Height of one legend row.
const LEGEND_ROW: f64 = 18.0;
/// Longest legend text before it is truncated.
const LEGEND_TEXT_MAX: f64 = 260.0;
/// Width of a horizontal chart's label column.
const LABEL_COL: f64 = 260.0;
/// Space right of a horizontal chart's bars for the value text.
const VALUE_COL: f64 = 64.0;
/// Height of one row of a horizontal chart.
const ROW_H: f64 = 22.0;
/// Widest bar of a day chart (one day over the whole plot would be a slab).
const MAX_BAR_W: f64 = 40.0;
/// Axis and tick colour.
const AXIS: &str = "#757575";
/// Gridline colour.
const GRID: &str = "#e0e0e0";
/// Text colour.
const INK: &str = "#333333";

/// One line of a line chart: a value per day of the axis, `None` where the
/// day has no data (the line breaks there).
pub(super) struct Line {
    /// Legend and tooltip name.
    pub name: String,
    /// Stroke colour (`#rrggbb`).
    pub color: &'static str,
    /// One entry per day of the axis.
    pub values: Vec<Option<f64>>,
}

/// One layer of a stacked chart: a count per day (vertical) or per row
/// (horizontal). Layers stack in the order given, the first at the bottom.
pub(super) struct Layer {
    /// Legend and tooltip name.
    pub name: String,
    /// Fill colour (`#rrggbb`).
    pub color: &'static str,
    /// One count per day or row.
    pub values: Vec<i64>,
}

/// A dashed horizontal reference line of a line chart, labelled at its
/// right end.
pub(super) struct Threshold {
    /// Where it is drawn on the y axis.
    pub value: f64,
    /// Its label (e.g. `low`).
    pub label: &'static str,
    /// Stroke colour (`#rrggbb`).
    pub color: &'static str,
}

/// One bar of a horizontal bar chart.
pub(super) struct Bar {
    /// Text left of the bar (truncated to fit; the full text is its title).
    pub label: String,
    /// The bar's tooltip, before its value.
    pub tooltip: String,
    /// Length of the bar.
    pub value: i64,
    /// Fill colour (`#rrggbb`).
    pub color: &'static str,
}

/// A legend entry of a horizontal bar chart whose bars are coloured by a
/// category.
pub(super) struct Key {
    /// The category.
    pub name: &'static str,
    /// Its colour (`#rrggbb`).
    pub color: &'static str,
}

/// What every chart has: an accessible name and axis titles with units.
pub(super) struct Frame<'a> {
    /// The `aria-label` and the chart's own `<title>`.
    pub label: &'a str,
    /// Horizontal axis title (e.g. `UTC day`, `events`).
    pub x_title: &'a str,
    /// Vertical axis title (e.g. `drift score (0–1)`, `primitive`).
    pub y_title: &'a str,
}

/// The plot area of a chart, in viewBox units.
#[derive(Clone, Copy)]
struct Plot {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Plot {
    fn bottom(self) -> f64 {
        self.y + self.h
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    Box,
    Stroke,
}

/// A line chart over days with a fixed 0–1 y axis (drift and anomaly
/// scores), labelled gridlines, optional dashed thresholds and a legend.
/// Values outside 0–1 are drawn at the edge; tooltips keep the exact value.
pub(super) fn line_chart(
    frame: &Frame,
    days: &[NaiveDate],
    lines: &[Line],
    thresholds: &[Threshold],
) -> String {
    let keys: Vec<(&str, &str)> = lines.iter().map(|l| (l.name.as_str(), l.color)).collect();
    let (legend, legend_h) = legend(&keys, Swatch::Stroke, LEFT);
    let plot = day_plot(legend_h);
    let mut out = open_svg(frame.label, plot.bottom() + BOTTOM);
    out.push_str(&legend);
    score_y_axis(&mut out, plot, frame.y_title);
    day_x_axis(&mut out, plot, days, frame.x_title);
    for t in thresholds {
        threshold_line(&mut out, plot, t);
    }
    for line in lines {
        draw_line(&mut out, plot, days, line);
    }
    for t in thresholds {
        threshold_label(&mut out, plot, t);
    }
    out.push_str("</svg>");
    out
}

/// A stacked bar chart over days: one bar per day, layers stacked bottom-up
/// in the order given, a count y axis titled with its unit, and a legend.
pub(super) fn stacked_day_chart(frame: &Frame, days: &[NaiveDate], layers: &[Layer]) -> String {
    let keys: Vec<(&str, &str)> = layers.iter().map(|l| (l.name.as_str(), l.color)).collect();
    let (legend, legend_h) = legend(&keys, Swatch::Box, LEFT);
    let plot = day_plot(legend_h);
    let totals = totals(layers, days.len());
    let (top, step) = count_scale(totals.iter().copied().max().unwrap_or(0));
    let mut out = open_svg(frame.label, plot.bottom() + BOTTOM);
    out.push_str(&legend);
    count_y_axis(&mut out, plot, top, step, frame.y_title);
    day_x_axis(&mut out, plot, days, frame.x_title);
    let band = plot.w / days.len().max(1) as f64;
    let bar_w = (band * 0.8).min(MAX_BAR_W);
    for (i, day) in days.iter().enumerate() {
        let x = plot.x + i as f64 * band + (band - bar_w) / 2.0;
        let mut base = 0;
        for layer in layers {
            let v = layer.values.get(i).copied().unwrap_or(0).max(0);
            if v > 0 {
                let tip = format!("{day} · {}: {v} of {}", layer.name, totals[i]);
                let y0 = plot.bottom() - base as f64 / top as f64 * plot.h;
                let y1 = plot.bottom() - (base + v) as f64 / top as f64 * plot.h;
                rect(&mut out, (x, y1, bar_w, y0 - y1), layer.color, &tip);
            }
            base += v;
        }
    }
    out.push_str("</svg>");
    out
}

/// A horizontal bar chart: one row per bar, its label left (truncated with
/// `…`, full text in its `<title>`), its value right of the bar, a count x
/// axis and, when `keys` is not empty, a legend of what the colours mean.
pub(super) fn bar_chart(frame: &Frame, bars: &[Bar], keys: &[Key]) -> String {
    let keys: Vec<(&str, &str)> = keys.iter().map(|k| (k.name, k.color)).collect();
    let (legend, legend_h) = legend(&keys, Swatch::Box, LABEL_COL);
    let plot = row_plot(legend_h, bars.len());
    let (top, step) = count_scale(bars.iter().map(|b| b.value).max().unwrap_or(0));
    let mut out = open_svg(frame.label, plot.bottom() + BOTTOM);
    out.push_str(&legend);
    count_x_axis(&mut out, plot, top, step, frame.x_title);
    row_axis_title(&mut out, plot, frame.y_title);
    for (i, bar) in bars.iter().enumerate() {
        let row = plot.y + i as f64 * ROW_H;
        row_label(&mut out, plot, row, &bar.label);
        let v = bar.value.max(0);
        let w = v as f64 / top as f64 * plot.w;
        if v > 0 {
            let tip = format!("{}: {}", bar.tooltip, bar.value);
            rect(
                &mut out,
                (plot.x, row + 4.0, w, ROW_H - 8.0),
                bar.color,
                &tip,
            );
        }
        row_value(&mut out, plot.x + w, row, bar.value);
    }
    out.push_str("</svg>");
    out
}

/// A horizontal stacked bar chart: one row per label, layers stacked left to
/// right in the order given, the row total right of the bar, a count x axis
/// and a legend.
pub(super) fn stacked_bar_chart(frame: &Frame, labels: &[String], layers: &[Layer]) -> String {
    let keys: Vec<(&str, &str)> = layers.iter().map(|l| (l.name.as_str(), l.color)).collect();
    let (legend, legend_h) = legend(&keys, Swatch::Box, LABEL_COL);
    let plot = row_plot(legend_h, labels.len());
    let totals = totals(layers, labels.len());
    let (top, step) = count_scale(totals.iter().copied().max().unwrap_or(0));
    let mut out = open_svg(frame.label, plot.bottom() + BOTTOM);
    out.push_str(&legend);
    count_x_axis(&mut out, plot, top, step, frame.x_title);
    row_axis_title(&mut out, plot, frame.y_title);
    for (i, label) in labels.iter().enumerate() {
        let row = plot.y + i as f64 * ROW_H;
        row_label(&mut out, plot, row, label);
        let mut base = 0;
        for layer in layers {
            let v = layer.values.get(i).copied().unwrap_or(0).max(0);
            if v > 0 {
                let tip = format!("{label} · {}: {v} of {}", layer.name, totals[i]);
                let x0 = plot.x + base as f64 / top as f64 * plot.w;
                let w = v as f64 / top as f64 * plot.w;
                rect(&mut out, (x0, row + 4.0, w, ROW_H - 8.0), layer.color, &tip);
            }
            base += v;
        }
        row_value(
            &mut out,
            plot.x + base as f64 / top as f64 * plot.w,
            row,
            totals[i],
        );
    }
    out.push_str("</svg>");
    out
}

/// Escape text for XML and HTML alike: `& < > " '` become references, and
/// characters neither may contain (controls other than tab, newline and
/// carriage return; noncharacters) become U+FFFD, so hostile input can
/// neither inject markup nor break a parser.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unsafe_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Characters XML 1.0 forbids or HTML5 reports as a parse error.
pub(super) fn is_unsafe_char(c: char) -> bool {
    let noncharacter = matches!(c, '\u{FDD0}'..='\u{FDEF}') || (c as u32) & 0xFFFE == 0xFFFE;
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || noncharacter
}

/// Estimated width of `s` in viewBox units at the chart font size.
pub(super) fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { ASCII_W } else { WIDE_W })
        .sum()
}

/// `s` if it fits in `max` units, else its head and tail with a `…` in the
/// middle: labels such as `commerce / SEA-FLOW-… · PERF-001` differ at
/// both ends, so both stay readable (the full text is in the `<title>`).
pub(super) fn truncate(s: &str, max: f64) -> String {
    if text_width(s) <= max {
        return s.to_string();
    }
    let width = |c: char| text_width(c.encode_utf8(&mut [0; 4]));
    let budget = max - WIDE_W; // the ellipsis
    let chars: Vec<char> = s.chars().collect();
    // The tail gets up to 40 % of the room, the head the rest.
    let mut tail = 0usize;
    let mut tail_w = 0.0;
    while tail < chars.len() && tail_w + width(chars[chars.len() - 1 - tail]) <= budget * 0.4 {
        tail_w += width(chars[chars.len() - 1 - tail]);
        tail += 1;
    }
    let mut head = 0usize;
    let mut head_w = 0.0;
    while head < chars.len() - tail && head_w + width(chars[head]) + tail_w <= budget {
        head_w += width(chars[head]);
        head += 1;
    }
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Indices of the days that get an x tick label: every `step`-th day from
/// the first, so at most [`MAX_X_LABELS`] labels, evenly spaced.
pub(super) fn x_label_days(n: usize) -> Vec<usize> {
    let step = n.div_ceil(MAX_X_LABELS).max(1);
    (0..n).step_by(step).collect()
}

/// A day's tick label: `MM-DD` when the whole axis is in one year, else
/// `YYYY-MM-DD`.
fn day_label(day: NaiveDate, one_year: bool) -> String {
    if one_year {
        format!("{:02}-{:02}", day.month(), day.day())
    } else {
        day.to_string()
    }
}

/// A "nice" count axis for values up to `max`: `(top, step)` with `step` one
/// of 1, 2, 5 × 10^k, `top` the first multiple of `step` ≥ `max`, at most six
/// ticks; `(1, 1)` when everything is zero.
pub(super) fn count_scale(max: i64) -> (i64, i64) {
    if max <= 0 {
        return (1, 1);
    }
    let raw = (max + 4) / 5;
    let mut mag = 1;
    while mag * 10 <= raw {
        mag *= 10;
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .expect("10 × mag > raw by the loop above");
    ((max + step - 1) / step * step, step)
}

/// A count tick label, exact but short: `15k` for 15000, `20M` for 20000000.
fn compact(v: i64) -> String {
    if v >= 10_000_000 && v % 1_000_000 == 0 {
        format!("{}M", v / 1_000_000)
    } else if v >= 10_000 && v % 1_000 == 0 {
        format!("{}k", v / 1_000)
    } else {
        v.to_string()
    }
}

/// Per-position sums of the layers.
fn totals(layers: &[Layer], n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            layers
                .iter()
                .map(|l| l.values.get(i).copied().unwrap_or(0).max(0))
                .sum()
        })
        .collect()
}

/// The plot area of a day chart under a legend of height `legend_h`.
fn day_plot(legend_h: f64) -> Plot {
    Plot {
        x: LEFT,
        y: legend_h + TOP_PAD,
        w: WIDTH - LEFT - RIGHT,
        h: PLOT_H,
    }
}

/// The plot area of a horizontal chart with `rows` rows; one header row
/// above them holds the category axis title.
fn row_plot(legend_h: f64, rows: usize) -> Plot {
    Plot {
        x: LABEL_COL,
        y: legend_h + TOP_PAD + ROW_H,
        w: WIDTH - LABEL_COL - VALUE_COL,
        h: rows.max(1) as f64 * ROW_H,
    }
}

/// The opening tag and the accessible title of a chart `height` units high.
fn open_svg(label: &str, height: f64) -> String {
    let label = escape(label);
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"100%\" \
         role=\"img\" aria-label=\"{label}\" font-size=\"11\" fill=\"{INK}\">\
         <title>{label}</title>\n"
    )
}

/// A legend starting at `x0`, wrapped to the chart width: its markup and
/// height (0 when there are no keys).
fn legend(keys: &[(&str, &str)], swatch: Swatch, x0: f64) -> (String, f64) {
    let mut out = String::new();
    if keys.is_empty() {
        return (out, 0.0);
    }
    let (mut x, mut row) = (x0, 0usize);
    for (name, color) in keys {
        let text = truncate(name, LEGEND_TEXT_MAX);
        let item_w = 18.0 + text_width(&text) + 16.0;
        if x > x0 && x + item_w > WIDTH - RIGHT {
            x = x0;
            row += 1;
        }
        let y = 4.0 + row as f64 * LEGEND_ROW;
        let _ = write!(out, "<g><title>{}</title>", escape(name));
        match swatch {
            Swatch::Box => {
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/>"
                );
            }
            Swatch::Stroke => {
                let ym = y + 6.0;
                let _ = write!(
                    out,
                    "<line x1=\"{x:.1}\" y1=\"{ym:.1}\" x2=\"{:.1}\" y2=\"{ym:.1}\" \
                     stroke=\"{color}\" stroke-width=\"3\"/>",
                    x + 12.0
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            x + 18.0,
            y + 10.0,
            escape(&text)
        );
        x += item_w;
    }
    (out, (row + 1) as f64 * LEGEND_ROW + 4.0)
}

/// A horizontal line from `(x1, y1)` to `(x2, y2)`.
fn hline(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str) {
    let _ = writeln!(
        out,
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\"/>"
    );
}

/// A text at `(x, y)` with an anchor (`start`, `middle`, `end`).
fn text(out: &mut String, (x, y): (f64, f64), anchor: &str, s: &str) {
    let _ = writeln!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
        escape(s)
    );
}

/// A filled rectangle `(x, y, w, h)` with a tooltip.
fn rect(out: &mut String, (x, y, w, h): (f64, f64, f64, f64), fill: &str, tip: &str) {
    let _ = writeln!(
        out,
        "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"{fill}\">\
         <title>{}</title></rect>",
        escape(tip)
    );
}

/// The vertical axis title, rotated, left of the plot.
fn y_title(out: &mut String, plot: Plot, title: &str) {
    let _ = writeln!(
        out,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" \
         font-weight=\"bold\">{}</text>",
        plot.y + plot.h / 2.0,
        escape(title)
    );
}

/// The horizontal axis title, centred under the plot.
fn x_title(out: &mut String, plot: Plot, title: &str) {
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
        plot.x + plot.w / 2.0,
        plot.bottom() + 38.0,
        escape(title)
    );
}

/// The 0–1 y axis: gridlines and labels every 0.2, and the axis title.
fn score_y_axis(out: &mut String, plot: Plot, title: &str) {
    for i in 0..=5 {
        let v = i as f64 / 5.0;
        let y = plot.bottom() - v * plot.h;
        let stroke = if i == 0 { AXIS } else { GRID };
        hline(out, (plot.x, y), (plot.x + plot.w, y), stroke);
        text(out, (plot.x - 6.0, y + 4.0), "end", &format!("{v:.2}"));
    }
    hline(out, (plot.x, plot.y), (plot.x, plot.bottom()), AXIS);
    y_title(out, plot, title);
}

/// A count y axis from 0 to `top` with a gridline and label every `step`,
/// and the axis title.
fn count_y_axis(out: &mut String, plot: Plot, top: i64, step: i64, title: &str) {
    for v in (0..=top).step_by(step as usize) {
        let y = plot.bottom() - v as f64 / top as f64 * plot.h;
        let stroke = if v == 0 { AXIS } else { GRID };
        hline(out, (plot.x, y), (plot.x + plot.w, y), stroke);
        text(out, (plot.x - 6.0, y + 4.0), "end", &compact(v));
    }
    hline(out, (plot.x, plot.y), (plot.x, plot.bottom()), AXIS);
    y_title(out, plot, title);
}

/// A count x axis under a horizontal chart: gridlines and labels every
/// `step` from 0 to `top`, and the axis title.
fn count_x_axis(out: &mut String, plot: Plot, top: i64, step: i64, title: &str) {
    for v in (0..=top).step_by(step as usize) {
        let x = plot.x + v as f64 / top as f64 * plot.w;
        let stroke = if v == 0 { AXIS } else { GRID };
        hline(out, (x, plot.y), (x, plot.bottom()), stroke);
        text(out, (x, plot.bottom() + 16.0), "middle", &compact(v));
    }
    hline(
        out,
        (plot.x, plot.bottom()),
        (plot.x + plot.w, plot.bottom()),
        AXIS,
    );
    x_title(out, plot, title);
}

/// The day x axis: one band per day, a tick and a label on at most
/// [`MAX_X_LABELS`] of them, and the axis title.
fn day_x_axis(out: &mut String, plot: Plot, days: &[NaiveDate], title: &str) {
    let band = plot.w / days.len().max(1) as f64;
    let one_year = days.first().map(|d| d.year()) == days.last().map(|d| d.year());
    for i in x_label_days(days.len()) {
        let x = plot.x + (i as f64 + 0.5) * band;
        hline(out, (x, plot.bottom()), (x, plot.bottom() + 4.0), AXIS);
        text(
            out,
            (x, plot.bottom() + 16.0),
            "middle",
            &day_label(days[i], one_year),
        );
    }
    x_title(out, plot, title);
}

/// The category axis title of a horizontal chart, atop its label column.
fn row_axis_title(out: &mut String, plot: Plot, title: &str) {
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"bold\">{}</text>",
        plot.x - 8.0,
        plot.y - 7.0,
        escape(title)
    );
}

/// A row label, right-aligned against the plot, truncated to the label
/// column with the full text as its `<title>`.
fn row_label(out: &mut String, plot: Plot, row: f64, label: &str) {
    let shown = truncate(label, LABEL_COL - 16.0);
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
        plot.x - 8.0,
        row + 15.0,
        escape(label),
        escape(&shown)
    );
}

/// A row's value, just right of its bar.
fn row_value(out: &mut String, x: f64, row: f64, value: i64) {
    text(out, (x + 4.0, row + 15.0), "start", &value.to_string());
}

/// Where a threshold is drawn.
fn threshold_y(plot: Plot, t: &Threshold) -> f64 {
    plot.bottom() - t.value.clamp(0.0, 1.0) * plot.h
}

/// A dashed reference line across the plot.
fn threshold_line(out: &mut String, plot: Plot, t: &Threshold) {
    let y = threshold_y(plot, t);
    let _ = writeln!(
        out,
        "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" \
         stroke-dasharray=\"6 4\" stroke-width=\"1.5\"><title>{} ({:.2})</title></line>",
        plot.x,
        plot.x + plot.w,
        t.color,
        escape(t.label),
        t.value
    );
}

/// A threshold's label at its right end, drawn over the data lines.
fn threshold_label(out: &mut String, plot: Plot, t: &Threshold) {
    // A white halo keeps the label legible where a data line crosses it.
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" paint-order=\"stroke\" \
         stroke=\"#ffffff\" stroke-width=\"3\">{} {:.2}</text>",
        plot.x + plot.w - 4.0,
        threshold_y(plot, t) - 4.0,
        escape(t.label),
        t.value
    );
}

/// One series: polylines through runs of consecutive days with data (a day
/// without data breaks the line) and a point with a tooltip per value.
fn draw_line(out: &mut String, plot: Plot, days: &[NaiveDate], line: &Line) {
    let band = plot.w / days.len().max(1) as f64;
    let radius = (band / 3.0).clamp(1.2, 3.0);
    let point = |i: usize, v: f64| {
        let x = plot.x + (i as f64 + 0.5) * band;
        (x, plot.bottom() - v.clamp(0.0, 1.0) * plot.h)
    };
    let values = &line.values[..line.values.len().min(days.len())];
    let finite = |v: &Option<f64>| v.filter(|v| v.is_finite());
    let mut run = String::new();
    for (i, v) in values.iter().enumerate() {
        match finite(v) {
            Some(v) => {
                let (x, y) = point(i, v);
                let _ = write!(run, "{x:.1},{y:.1} ");
            }
            None => flush_run(out, &mut run, line.color),
        }
    }
    flush_run(out, &mut run, line.color);
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = finite(v) {
            let (x, y) = point(i, v);
            let _ = writeln!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius:.1}\" fill=\"{}\">\
                 <title>{} · {}: {v:.2}</title></circle>",
                line.color,
                escape(&line.name),
                days[i]
            );
        }
    }
}

/// Draw the collected points as one polyline when there are two or more
/// (a lone point is its circle), then clear them.
fn flush_run(out: &mut String, run: &mut String, color: &str) {
    if run.trim_end().contains(' ') {
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\"/>",
            run.trim_end()
        );
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<NaiveDate> {
        let from = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        from.iter_days().take(n).collect()
    }

    fn frame() -> Frame<'static> {
        Frame {
            label: "a chart",
            x_title: "UTC day",
            y_title: "events",
        }
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).expect("chart is well-formed XML")
    }

    fn count(svg: &str, tag: &str) -> usize {
        parse(svg)
            .descendants()
            .filter(|n| n.has_tag_name(tag))
            .count()
    }

    /// The x tick labels of a day chart, in order: (x, text).
    fn x_labels(svg: &str) -> Vec<(f64, String)> {
        let doc = parse(svg);
        doc.descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("middle"))
            .filter(|n| n.text().is_some_and(|t| t.contains('-')))
            .map(|n| {
                let x = n.attribute("x").unwrap().parse().unwrap();
                (x, n.text().unwrap().to_string())
            })
            .collect()
    }

    fn layer(name: &str, values: Vec<i64>) -> Layer {
        Layer {
            name: name.to_string(),
            color: "#2e7d32",
            values,
        }
    }

    #[test]
    fn escape_replaces_markup_and_forbidden_chars() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            escape("a\u{0}b\u{7f}c\u{fffe}d\te\n"),
            "a\u{fffd}b\u{fffd}c\u{fffd}d\te\n"
        );
    }

    #[test]
    fn count_scale_is_nice_and_covers_max() {
        assert_eq!(count_scale(0), (1, 1));
        assert_eq!(count_scale(1), (1, 1));
        assert_eq!(count_scale(7), (8, 2));
        assert_eq!(count_scale(10), (10, 2));
        assert_eq!(count_scale(11), (15, 5));
        assert_eq!(count_scale(999), (1000, 200));
        for max in 1..3000 {
            let (top, step) = count_scale(max);
            assert!(top >= max && top % step == 0 && top / step <= 6, "{max}");
        }
    }

    #[test]
    fn compact_labels_stay_exact() {
        assert_eq!(compact(1500), "1500");
        assert_eq!(compact(15_000), "15k");
        assert_eq!(compact(15_500), "15500");
        assert_eq!(compact(20_000_000), "20M");
    }

    #[test]
    fn truncate_keeps_short_text_and_cuts_long_text_to_width() {
        assert_eq!(truncate("short", 100.0), "short");
        let long = "x".repeat(200);
        let cut = truncate(&long, 100.0);
        assert!(cut.contains('…'));
        assert!(text_width(&cut) <= 100.0);
        assert!(cut.len() < long.len());
        // Head and tail both survive: the rule id at the end stays visible.
        let label = "commerce / SEA-FLOW-commerce.place_order · PERF-001";
        let cut = truncate(label, text_width(label) - 20.0);
        assert!(
            cut.starts_with("commerce /") && cut.ends_with("PERF-001"),
            "{cut}"
        );
    }

    #[test]
    fn x_labels_are_at_most_ten_and_never_overlap() {
        for n in [1, 2, 9, 10, 11, 31, 99, 366, 400, 1000] {
            let svg = stacked_day_chart(&frame(), &days(n), &[layer("a", vec![1; n])]);
            let labels = x_labels(&svg);
            assert!(!labels.is_empty() && labels.len() <= MAX_X_LABELS, "{n}");
            for pair in labels.windows(2) {
                let gap = pair[1].0 - pair[0].0;
                let need = (text_width(&pair[0].1) + text_width(&pair[1].1)) / 2.0 + 4.0;
                assert!(gap >= need, "{n} days: {pair:?} overlap");
            }
            let (first_x, _) = labels[0];
            let (last_x, last) = labels.last().unwrap();
            assert!(first_x - text_width(&labels[0].1) / 2.0 >= 0.0);
            assert!(last_x + text_width(last) / 2.0 <= WIDTH);
        }
    }

    #[test]
    fn x_labels_show_the_year_only_across_years() {
        let svg = stacked_day_chart(&frame(), &days(3), &[layer("a", vec![1, 2, 3])]);
        assert_eq!(x_labels(&svg)[0].1, "05-01");
        let span = days(400);
        let svg = stacked_day_chart(&frame(), &span, &[layer("a", vec![1; 400])]);
        assert_eq!(x_labels(&svg)[0].1, "2026-05-01");
    }

    #[test]
    fn chart_root_is_accessible_and_scales() {
        let svg = stacked_day_chart(&frame(), &days(3), &[layer("a", vec![1, 2, 3])]);
        let doc = parse(&svg);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("role"), Some("img"));
        assert_eq!(root.attribute("aria-label"), Some("a chart"));
        assert_eq!(root.attribute("width"), Some("100%"));
        assert!(root.attribute("viewBox").unwrap().starts_with("0 0 880 "));
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"UTC day") && texts.contains(&"events"));
    }

    #[test]
    fn stacked_day_chart_titles_every_nonzero_segment() {
        let layers = [layer("low", vec![0, 2, 0]), layer("high", vec![1, 3, 0])];
        let svg = stacked_day_chart(&frame(), &days(3), &layers);
        assert_eq!(count(&svg, "rect"), 3 + 2, "3 segments + 2 legend swatches");
        assert!(svg.contains("<title>2026-05-02 · high: 3 of 5</title>"));
        assert!(svg.contains("<title>2026-05-01 · high: 1 of 1</title>"));
        assert!(!svg.contains("2026-05-03 ·"), "an empty day draws nothing");
    }

    #[test]
    fn stacked_day_chart_of_zeros_has_a_unit_axis() {
        let svg = stacked_day_chart(&frame(), &days(1), &[layer("a", vec![0])]);
        assert_eq!(count(&svg, "rect"), 1, "only the legend swatch");
        assert!(svg.contains(">1</text>") && svg.contains(">0</text>"));
    }

    #[test]
    fn one_day_bar_is_not_a_slab() {
        let svg = stacked_day_chart(&frame(), &days(1), &[layer("a", vec![4])]);
        let doc = parse(&svg);
        let bar = doc
            .descendants()
            .find(|n| n.has_tag_name("rect") && n.children().any(|c| c.has_tag_name("title")))
            .unwrap();
        let w: f64 = bar.attribute("width").unwrap().parse().unwrap();
        assert!(w <= MAX_BAR_W);
    }

    #[test]
    fn line_chart_draws_a_point_per_value_and_breaks_at_gaps() {
        let line = Line {
            name: "ctx / n1".to_string(),
            color: "#0072b2",
            values: vec![
                Some(0.1),
                Some(0.25),
                None,
                Some(0.9),
                None,
                Some(0.3),
                Some(0.3),
            ],
        };
        let svg = line_chart(&frame(), &days(7), &[line], &[]);
        assert_eq!(count(&svg, "circle"), 5);
        assert_eq!(count(&svg, "polyline"), 2, "the lone 0.9 has no segment");
        assert!(svg.contains("<title>ctx / n1 · 2026-05-02: 0.25</title>"));
    }

    #[test]
    fn line_chart_handles_one_day_and_equal_values() {
        let one = Line {
            name: "a".to_string(),
            color: "#0072b2",
            values: vec![Some(0.0)],
        };
        let svg = line_chart(&frame(), &days(1), &[one], &[]);
        assert_eq!(count(&svg, "circle"), 1);
        assert_eq!(count(&svg, "polyline"), 0);
        let flat = Line {
            name: "b".to_string(),
            color: "#0072b2",
            values: vec![Some(0.5); 400],
        };
        let svg = line_chart(&frame(), &days(400), &[flat], &[]);
        assert_eq!(count(&svg, "circle"), 400);
        assert_eq!(count(&svg, "polyline"), 1);
        assert!(svg.contains(">1.00</text>") && svg.contains(">0.00</text>"));
    }

    #[test]
    fn line_chart_labels_thresholds() {
        let t = [Threshold {
            value: 0.5,
            label: "medium",
            color: "#f9a825",
        }];
        let svg = line_chart(&frame(), &days(2), &[], &t);
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains(">medium 0.50</text>"));
    }

    #[test]
    fn bar_chart_truncates_long_labels_and_keeps_them_in_titles() {
        let label = format!("{}<&>", "very long subject ".repeat(10));
        let bars = [
            Bar {
                label: label.clone(),
                tooltip: "tip".to_string(),
                value: 7,
                color: "#c62828",
            },
            Bar {
                label: "zero".to_string(),
                tooltip: "z".to_string(),
                value: 0,
                color: "#2e7d32",
            },
        ];
        let keys = [Key {
            name: "red",
            color: "#c62828",
        }];
        let svg = bar_chart(&frame(), &bars, &keys);
        let doc = parse(&svg);
        let shown = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .find(|n| n.children().any(|c| c.has_tag_name("title")))
            .unwrap();
        let title = shown.first_child().unwrap().text().unwrap();
        assert_eq!(title, label, "full label in the title");
        let visible = shown.last_child().unwrap().text().unwrap();
        assert!(visible.contains('…') && text_width(visible) <= LABEL_COL - 16.0);
        assert!(svg.contains("<title>tip: 7</title>"));
        assert_eq!(
            count(&svg, "rect"),
            1 + 1,
            "one bar (zero draws none) + legend"
        );
    }

    #[test]
    fn stacked_bar_chart_titles_segments_with_row_totals() {
        let labels = ["motor.typing_cadence".to_string(), "other".to_string()];
        let layers = [layer("stable", vec![3, 0]), layer("drifting", vec![4, 0])];
        let svg = stacked_bar_chart(&frame(), &labels, &layers);
        assert_eq!(
            count(&svg, "rect"),
            2 + 2,
            "two segments + two legend swatches"
        );
        assert!(svg.contains("<title>motor.typing_cadence · stable: 3 of 7</title>"));
        assert!(svg.contains("<title>motor.typing_cadence · drifting: 4 of 7</title>"));
        assert!(
            svg.contains(">7</text>"),
            "row total (axis ticks are 0, 2, …, 8)"
        );
    }
}
