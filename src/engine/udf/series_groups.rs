//! What the attribution aggregates share: the groups' observations in typed
//! buffers (no per-row `ScalarValue`, no allocation per group), their
//! partial-aggregate state, and each group's series in
//! `ORDER BY ts, evidence_ref` order, parsed for the replay. The aggregates
//! differ only in what they make of a group's ordered series (an
//! [`Evaluate`] function).
//!
//! DataFusion's ordered `array_agg(x ORDER BY …)` keeps one `ScalarValue`
//! per row and merges sorted runs of them; over 300,000 observations that
//! cost seconds per aggregated column. Buffering the rows and sorting each
//! group once in `evaluate` gives the same order (ascending, NULLs last,
//! floats in total order, as `ORDER BY` sorts) at a fraction of the cost.
//! One text buffer and one row vector for all groups, rather than buffers
//! per group, halve the aggregation's CPU time again (fewer, larger
//! allocations).

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, ListArray, ListBuilder, StringArray,
    StringBuilder,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{internal_err, plan_err, Result};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};

use super::single_group::{list_of, one_state_per_row, state_field, Grow};
use crate::extract::attribution::{AttributionThresholds, MergerKind, SeriesObs};

/// The argument types of an attribution aggregate `name(value_kind, value,
/// ts, evidence_ref)`.
///
/// # Errors
/// A plan error when there are not four arguments.
pub(crate) fn coerce_series_args(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if arg_types.len() != 4 {
        return plan_err!(
            "{name}(value_kind, value, ts, evidence_ref) takes 4 arguments, got {}",
            arg_types.len()
        );
    }
    Ok(vec![
        DataType::Utf8,
        DataType::Utf8,
        DataType::Float64,
        DataType::Utf8,
    ])
}

/// The partial-aggregate state fields of an attribution aggregate.
pub(crate) fn series_state_fields(name: &str) -> Vec<FieldRef> {
    let f = |suffix: &str, t: DataType| state_field(name, suffix, t);
    vec![
        f("kind", DataType::Utf8),
        f("values", list_of(DataType::Utf8)),
        f("ts", list_of(DataType::Float64)),
        f("refs", list_of(DataType::Utf8)),
    ]
}

/// A byte range of [`SeriesGroups`]' text buffer.
type Span = (usize, usize);

/// One buffered row: its group, `ts`, and where its value and evidence_ref
/// texts are (`None` for a NULL).
#[derive(Clone, Copy, Debug)]
struct Obs {
    group: usize,
    ts: Option<f64>,
    value: Option<Span>,
    evidence_ref: Option<Span>,
}

/// One group's observation series, in `ORDER BY ts, evidence_ref` order.
#[derive(Debug)]
pub(crate) struct Series<'a> {
    kind: Option<&'a str>,
    text: &'a str,
    rows: &'a [Obs],
}

impl<'a> Series<'a> {
    fn span(&self, s: Option<Span>) -> Option<&'a str> {
        let text = self.text;
        s.map(|(a, n)| &text[a..a + n])
    }

    /// The stored JSON text of observation `i` (`None` for a NULL value).
    pub(crate) fn value(&self, i: usize) -> Option<&'a str> {
        self.rows.get(i).and_then(|o| self.span(o.value))
    }

    /// The evidence_ref of observation `i` (`None` for a NULL).
    pub(crate) fn evidence_ref(&self, i: usize) -> Option<&'a str> {
        self.rows.get(i).and_then(|o| self.span(o.evidence_ref))
    }

    /// Fill `buf` with the series (JSON parsed; a NULL value is JSON null,
    /// a NULL ts NaN) and return its merger, or `None` when the group has no
    /// usable series: no rows, a value kind that is not a registry kind, or
    /// a value that is not JSON (the NULL rule of `attribution_merge`).
    pub(crate) fn parse(&self, buf: &mut Vec<SeriesObs>) -> Option<MergerKind> {
        let kind = MergerKind::for_value_kind(self.kind).ok()?;
        if self.rows.is_empty() {
            return None;
        }
        buf.clear();
        for (i, o) in self.rows.iter().enumerate() {
            let value = match self.value(i) {
                None => serde_json::Value::Null,
                Some(text) => serde_json::from_str(text).ok()?,
            };
            buf.push(SeriesObs {
                value,
                ts: o.ts.unwrap_or(f64::NAN),
            });
        }
        Some(kind)
    }
}

/// What an aggregate makes of its groups' series: one output row per group.
pub(crate) type Evaluate = fn(&[Series<'_>], &AttributionThresholds) -> Result<ArrayRef>;

/// The groups accumulator. Every group's rows share one text buffer and
/// one row vector (appends only, no allocation per group or row); they are
/// grouped and sorted once, when the groups are emitted.
#[derive(Debug)]
pub(crate) struct SeriesGroups {
    name: &'static str,
    thresholds: AttributionThresholds,
    evaluate: Evaluate,
    /// Per group: the first non-NULL value kind seen.
    kinds: Vec<Option<Span>>,
    text: String,
    rows: Vec<Obs>,
}

impl SeriesGroups {
    /// An empty accumulator for the aggregate `name`, whose groups become
    /// rows through `evaluate`.
    pub(crate) fn new(
        name: &'static str,
        thresholds: AttributionThresholds,
        evaluate: Evaluate,
    ) -> Self {
        SeriesGroups {
            name,
            thresholds,
            evaluate,
            kinds: Vec::new(),
            text: String::new(),
            rows: Vec::new(),
        }
    }

    fn push_text(&mut self, s: Option<&str>) -> Option<Span> {
        s.map(|s| {
            let start = self.text.len();
            self.text.push_str(s);
            (start, s.len())
        })
    }

    fn push(
        &mut self,
        group: usize,
        kind: Option<&str>,
        value: Option<&str>,
        ts: Option<f64>,
        r: Option<&str>,
    ) {
        if self.kinds[group].is_none() {
            self.kinds[group] = self.push_text(kind);
        }
        let value = self.push_text(value);
        let evidence_ref = self.push_text(r);
        self.rows.push(Obs {
            group,
            ts,
            value,
            evidence_ref,
        });
    }

    /// Take the groups `emit_to` names: their kinds, the text, and their
    /// rows bucketed by group (group order, arrival order within a group),
    /// with `bounds[g]..bounds[g + 1]` the rows of group `g`. Groups left
    /// behind are renumbered from 0 with their text copied to a new buffer.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<Option<Span>>, String, Vec<Obs>, Vec<usize>) {
        let kinds = emit_to.take_needed(&mut self.kinds);
        let n = kinds.len();
        let mut text = std::mem::take(&mut self.text);
        let mut taken = std::mem::take(&mut self.rows);
        if !self.kinds.is_empty() {
            // EmitTo::First(n): keep the rest, renumbered.
            let (out, kept): (Vec<Obs>, Vec<Obs>) = taken.into_iter().partition(|o| o.group < n);
            taken = out;
            let old_text = text;
            let kept_kinds = std::mem::take(&mut self.kinds);
            self.kinds = kept_kinds
                .iter()
                .map(|k| self.push_text(k.map(|(a, l)| &old_text[a..a + l])))
                .collect();
            for o in kept {
                let span = |s: Option<Span>| s.map(|(a, l)| &old_text[a..a + l]);
                let value = self.push_text(span(o.value));
                let evidence_ref = self.push_text(span(o.evidence_ref));
                self.rows.push(Obs {
                    group: o.group - n,
                    ts: o.ts,
                    value,
                    evidence_ref,
                });
            }
            text = old_text;
        }
        // Counting sort by group (stable).
        let mut bounds = vec![0usize; n + 1];
        for o in &taken {
            bounds[o.group + 1] += 1;
        }
        for g in 0..n {
            bounds[g + 1] += bounds[g];
        }
        let mut next = bounds.clone();
        let mut rows = vec![
            Obs {
                group: 0,
                ts: None,
                value: None,
                evidence_ref: None,
            };
            taken.len()
        ];
        for o in taken {
            rows[next[o.group]] = o;
            next[o.group] += 1;
        }
        (kinds, text, rows, bounds)
    }
}

/// Sort one group's rows by `ORDER BY ts, evidence_ref` (ASC, NULLS LAST,
/// floats by total order; stable, so exact ties keep their arrival order).
fn sort_series(text: &str, rows: &mut [Obs]) {
    fn nulls_last<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => cmp(a, b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let span = |s: Option<Span>| s.map(|(a, n)| &text.as_bytes()[a..a + n]);
    rows.sort_by(|x, y| {
        nulls_last(x.ts, y.ts, |a, b| a.total_cmp(&b))
            .then_with(|| nulls_last(span(x.evidence_ref), span(y.evidence_ref), Ord::cmp))
    });
}

fn str_opt(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

impl Grow for SeriesGroups {
    fn grow(&mut self, total_num_groups: usize) {
        if self.kinds.len() < total_num_groups {
            self.kinds.resize(total_num_groups, None);
        }
    }
}

impl GroupsAccumulator for SeriesGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let name = self.name;
        let [kind, value, ts, r] = values else {
            return internal_err!("{name}: expected 4 argument arrays");
        };
        let (Some(kind), Some(value), Some(ts), Some(r)) = (
            kind.as_string_opt::<i32>(),
            value.as_string_opt::<i32>(),
            ts.as_primitive_opt::<Float64Type>(),
            r.as_string_opt::<i32>(),
        ) else {
            return internal_err!("{name}: arguments not coerced to (Utf8, Utf8, Float64, Utf8)");
        };
        self.grow(total_num_groups);
        self.rows.reserve(group_indices.len());
        for (i, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
                continue;
            }
            let t = ts.is_valid(i).then(|| ts.value(i));
            self.push(g, str_opt(kind, i), str_opt(value, i), t, str_opt(r, i));
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let name = self.name;
        let [kind, value, ts, r] = values else {
            return internal_err!("{name}: expected 4 state arrays");
        };
        let (Some(kind), Some(value), Some(ts), Some(r)) = (
            kind.as_string_opt::<i32>(),
            value.as_list_opt::<i32>(),
            ts.as_list_opt::<i32>(),
            r.as_list_opt::<i32>(),
        ) else {
            return internal_err!("{name}: state arrays have unexpected types");
        };
        let (Some(vals), Some(tss), Some(refs)) = (
            value.values().as_string_opt::<i32>(),
            ts.values().as_primitive_opt::<Float64Type>(),
            r.values().as_string_opt::<i32>(),
        ) else {
            return internal_err!("{name}: state list children have unexpected types");
        };
        self.grow(total_num_groups);
        let (vo, to, ro) = (value.value_offsets(), ts.value_offsets(), r.value_offsets());
        for (i, &g) in group_indices.iter().enumerate() {
            let (vs, ve) = (vo[i] as usize, vo[i + 1] as usize);
            let (ts_s, ts_e) = (to[i] as usize, to[i + 1] as usize);
            let (rs, re) = (ro[i] as usize, ro[i + 1] as usize);
            if ve - vs != ts_e - ts_s || ve - vs != re - rs {
                return internal_err!("{name}: state lists of different lengths");
            }
            let k = str_opt(kind, i);
            for ((vi, ti), ri) in (vs..ve).zip(ts_s..ts_e).zip(rs..re) {
                let t = tss.is_valid(ti).then(|| tss.value(ti));
                self.push(g, k, str_opt(vals, vi), t, str_opt(refs, ri));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (kinds, text, mut rows, bounds) = self.take(emit_to);
        let span = |s: Option<Span>| s.map(|(a, n)| &text[a..a + n]);
        let mut groups = Vec::with_capacity(kinds.len());
        let mut rest: &mut [Obs] = &mut rows;
        for (g, kind) in kinds.iter().enumerate() {
            let (mine, tail) = rest.split_at_mut(bounds[g + 1] - bounds[g]);
            rest = tail;
            sort_series(&text, mine);
            groups.push(Series {
                kind: span(*kind),
                text: &text,
                rows: mine,
            });
        }
        (self.evaluate)(&groups, &self.thresholds)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (kinds, text, rows, bounds) = self.take(emit_to);
        let span = |s: Option<Span>| s.map(|(a, n)| &text[a..a + n]);
        let n = rows.len();
        let mut kind = StringBuilder::new();
        let mut values = ListBuilder::new(StringBuilder::with_capacity(n, text.len()));
        let mut ts = ListBuilder::new(Float64Builder::with_capacity(n));
        let mut refs = ListBuilder::new(StringBuilder::with_capacity(n, text.len()));
        for (g, k) in kinds.iter().enumerate() {
            kind.append_option(span(*k));
            for o in &rows[bounds[g]..bounds[g + 1]] {
                values.values().append_option(span(o.value));
                ts.values().append_option(o.ts);
                refs.values().append_option(span(o.evidence_ref));
            }
            values.append(true);
            ts.append(true);
            refs.append(true);
        }
        Ok(vec![
            Arc::new(kind.finish()),
            Arc::new(values.finish()),
            Arc::new(ts.finish()),
            Arc::new(refs.finish()),
        ])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row is a one-observation series: without a filter its state
        // is the argument arrays themselves, each wrapped as one-element
        // lists (no copy). Rows skipped by a filter take the general path.
        match (values, opt_filter) {
            ([kind, value, ts, r], None) => {
                let one_each = OffsetBuffer::from_lengths(std::iter::repeat_n(1, kind.len()));
                let list = |a: &ArrayRef, t: DataType| -> Result<ArrayRef> {
                    Ok(Arc::new(ListArray::try_new(
                        Arc::new(Field::new_list_field(t, true)),
                        one_each.clone(),
                        Arc::clone(a),
                        None,
                    )?))
                };
                Ok(vec![
                    Arc::clone(kind),
                    list(value, DataType::Utf8)?,
                    list(ts, DataType::Float64)?,
                    list(r, DataType::Utf8)?,
                ])
            }
            _ => one_state_per_row(
                SeriesGroups::new(self.name, self.thresholds.clone(), self.evaluate),
                values,
                opt_filter,
            ),
        }
    }

    fn size(&self) -> usize {
        self.text.capacity()
            + self.rows.capacity() * std::mem::size_of::<Obs>()
            + self.kinds.capacity() * std::mem::size_of::<Option<Span>>()
    }
}
