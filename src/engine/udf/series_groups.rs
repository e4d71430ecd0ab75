//! What the attribution aggregates share: the groups' observations in typed
//! buffers (no per-row `ScalarValue`, no allocation per group), their
//! partial-aggregate state, and each group's series in
//! `ORDER BY ts, evidence_ref` order, as texts for the replay. The aggregates
//! differ only in what they make of a group's ordered series (an
//! [`Evaluate`] function).
//!
//! DataFusion's ordered `array_agg(x ORDER BY …)` keeps one `ScalarValue`
//! per row and merges sorted runs of them; over 300,000 observations that
//! cost seconds per aggregated column. Buffering the rows and sorting each
//! group once in `evaluate` gives the same order (ascending, NULLs last,
//! floats in total order, as `ORDER BY` sorts) at a fraction of the cost.
//! One row vector for all groups, rather than buffers per group, halves
//! the aggregation's CPU time again (fewer, larger allocations), and rows
//! point into the arrays they arrived in rather than copying their texts.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, ListArray, ListBuilder, StringArray,
    StringBuilder, UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{internal_err, plan_err, Result};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};

use super::single_group::{list_of, one_state_per_row, state_field, Grow};
use crate::extract::attribution::{AttributionThresholds, MergerKind};

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

/// A byte range of [`SeriesGroups`]' kind text.
type Span = (usize, usize);

/// The value and evidence_ref texts of a run of rows, as DataFusion handed
/// them over: the argument arrays of one `update_batch`, or the list
/// children of one `merge_batch`. Kept as they are (shared buffers, no copy)
/// unless they hold much more than their rows (see [`own`]), while a group
/// still has a row in them.
#[derive(Clone, Debug)]
struct Chunk {
    values: StringArray,
    refs: StringArray,
}

impl Chunk {
    fn bytes(&self) -> usize {
        self.values.get_array_memory_size() + self.refs.get_array_memory_size()
    }
}

/// One buffered row: its group, `ts`, and where its value and evidence_ref
/// are (row `row` of chunk `chunk`).
#[derive(Clone, Copy, Debug)]
struct Obs {
    group: usize,
    ts: Option<f64>,
    chunk: u32,
    row: u32,
}

/// One group's observation series, in `ORDER BY ts, evidence_ref` order.
#[derive(Debug)]
pub(crate) struct Series<'a> {
    kind: Option<&'a str>,
    chunks: &'a [Chunk],
    rows: &'a [Obs],
    /// Positions in `rows`, in series order.
    order: &'a [usize],
}

impl<'a> Series<'a> {
    fn obs(&self, i: usize) -> Option<(&'a Chunk, usize, &'a Obs)> {
        let o = self.rows.get(*self.order.get(i)?)?;
        Some((self.chunks.get(o.chunk as usize)?, o.row as usize, o))
    }

    /// The stored JSON text of observation `i` (`None` for a NULL value).
    pub(crate) fn value(&self, i: usize) -> Option<&'a str> {
        self.obs(i).and_then(|(c, r, _)| str_opt(&c.values, r))
    }

    /// The evidence_ref of observation `i` (`None` for a NULL).
    pub(crate) fn evidence_ref(&self, i: usize) -> Option<&'a str> {
        self.obs(i).and_then(|(c, r, _)| str_opt(&c.refs, r))
    }

    /// Fill `values` and `ts` with the series (a NULL ts is NaN) and return
    /// its merger, or `None` when the group has no rows or a value kind that
    /// is not a registry kind (the NULL rule of `attribution_merge`).
    pub(crate) fn texts(
        &self,
        values: &mut Vec<Option<&'a str>>,
        ts: &mut Vec<f64>,
    ) -> Option<MergerKind> {
        let kind = MergerKind::for_value_kind(self.kind).ok()?;
        if self.order.is_empty() {
            return None;
        }
        values.clear();
        ts.clear();
        for i in 0..self.order.len() {
            let (c, r, o) = self.obs(i)?;
            values.push(str_opt(&c.values, r));
            ts.push(o.ts.unwrap_or(f64::NAN));
        }
        Some(kind)
    }
}

/// What an aggregate makes of its groups' series: one output row per group.
pub(crate) type Evaluate = fn(&[Series<'_>], &AttributionThresholds) -> Result<ArrayRef>;

/// The groups accumulator. Rows are kept in one vector for all groups (no
/// allocation per group or row), pointing into the arrays they came in;
/// they are grouped and sorted once, when the groups are emitted.
#[derive(Debug)]
pub(crate) struct SeriesGroups {
    name: &'static str,
    thresholds: AttributionThresholds,
    evaluate: Evaluate,
    /// Per group: the first non-NULL value kind seen, in `kind_text`.
    kinds: Vec<Option<Span>>,
    kind_text: String,
    chunks: Vec<Chunk>,
    /// What `chunks` hold, as `get_array_memory_size` counts it.
    chunk_bytes: usize,
    rows: Vec<Obs>,
}

/// The groups taken by [`SeriesGroups::take`].
struct Taken {
    kinds: Vec<Option<Span>>,
    kind_text: String,
    chunks: Vec<Chunk>,
    rows: Vec<Obs>,
    /// Positions in `rows`, group by group (arrival order within a group):
    /// `order[bounds[g]..bounds[g + 1]]` are group `g`'s.
    order: Vec<usize>,
    bounds: Vec<usize>,
}

impl Taken {
    fn kind(&self, g: usize) -> Option<&str> {
        self.kinds
            .get(g)
            .copied()
            .flatten()
            .map(|(a, n)| &self.kind_text[a..a + n])
    }
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
            kind_text: String::new(),
            chunks: Vec::new(),
            chunk_bytes: 0,
            rows: Vec::new(),
        }
    }

    fn push_kind(&mut self, group: usize, kind: Option<&str>) {
        if self.kinds[group].is_none() {
            if let Some(k) = kind {
                self.kinds[group] = Some((self.kind_text.len(), k.len()));
                self.kind_text.push_str(k);
            }
        }
    }

    /// Keep `values` and `refs` as a chunk; its number for [`Obs::chunk`].
    ///
    /// `exact`: copy the arrays unless they hold little more than their rows
    /// (the state rows of `merge_batch`, which is the road under a memory
    /// limit, where the count must stay near what the rows need).
    fn keep(&mut self, values: &StringArray, refs: &StringArray, exact: bool) -> Result<u32> {
        let slack = if exact { 4 << 10 } else { 64 << 10 };
        let name = self.name;
        let Ok(n) = u32::try_from(self.chunks.len()) else {
            return internal_err!("{name}: more than 2^32 batches in one aggregate");
        };
        if values.len() > u32::MAX as usize || refs.len() > u32::MAX as usize {
            return internal_err!("{name}: a batch of more than 2^32 rows");
        }
        let c = Chunk {
            values: own(values, slack)?,
            refs: own(refs, slack)?,
        };
        self.chunk_bytes += c.bytes();
        self.chunks.push(c);
        Ok(n)
    }

    /// Take the groups `emit_to` names: their kinds, their rows and the
    /// chunks those point into, with the rows bucketed by group. Groups left
    /// behind are renumbered from 0 and keep only the chunks they use.
    fn take(&mut self, emit_to: EmitTo) -> Taken {
        let kinds = emit_to.take_needed(&mut self.kinds);
        let n = kinds.len();
        let mut kind_text = std::mem::take(&mut self.kind_text);
        let mut rows = std::mem::take(&mut self.rows);
        // The taken rows may point into any chunk: they keep the whole list.
        let chunks = std::mem::take(&mut self.chunks);
        self.chunk_bytes = 0;
        if !self.kinds.is_empty() {
            // EmitTo::First(n): keep the rest, renumbered, with the chunks
            // they point into (renumbered too).
            let (out, kept): (Vec<Obs>, Vec<Obs>) = rows.into_iter().partition(|o| o.group < n);
            rows = out;
            let old_text = kind_text;
            let kept_kinds = std::mem::take(&mut self.kinds);
            self.kinds = kept_kinds
                .iter()
                .map(|k| {
                    k.map(|(a, l)| {
                        let start = self.kind_text.len();
                        self.kind_text.push_str(&old_text[a..a + l]);
                        (start, l)
                    })
                })
                .collect();
            kind_text = old_text;
            let mut renumber: Vec<Option<u32>> = vec![None; chunks.len()];
            for mut o in kept {
                let c = o.chunk as usize;
                let to = match renumber[c] {
                    Some(to) => to,
                    None => {
                        let to = self.chunks.len() as u32;
                        self.chunk_bytes += chunks[c].bytes();
                        self.chunks.push(chunks[c].clone());
                        renumber[c] = Some(to);
                        to
                    }
                };
                o.group -= n;
                o.chunk = to;
                self.rows.push(o);
            }
        }
        // Counting sort by group (stable).
        let mut bounds = vec![0usize; n + 1];
        for o in &rows {
            bounds[o.group + 1] += 1;
        }
        for g in 0..n {
            bounds[g + 1] += bounds[g];
        }
        let mut next = bounds.clone();
        let mut order = vec![0usize; rows.len()];
        for (i, o) in rows.iter().enumerate() {
            order[next[o.group]] = i;
            next[o.group] += 1;
        }
        Taken {
            kinds,
            kind_text,
            chunks,
            rows,
            order,
            bounds,
        }
    }
}

/// `a` itself, or a compact copy when it is a view into much larger
/// buffers (e.g. a column of a batch read back from a spill file, whose
/// buffers are slices of the whole IPC message): keeping such a view would
/// keep, and count, the whole message.
///
/// `slack` is how many bytes over what the rows need an array may hold and
/// still be kept as it is.
fn own(a: &StringArray, slack: usize) -> Result<StringArray> {
    let offsets = a.value_offsets();
    let text = (offsets[offsets.len() - 1] - offsets[0]).max(0) as usize;
    let needed = text + offsets.len() * 4 + a.len() / 8;
    if a.get_array_memory_size() <= needed + slack {
        return Ok(a.clone());
    }
    let all = UInt32Array::from_iter_values(0..a.len() as u32);
    Ok(take(a, &all, None)?.as_string::<i32>().clone())
}

/// Sort one group's row positions by `ORDER BY ts, evidence_ref` (ASC,
/// NULLS LAST, floats by total order; stable, so exact ties keep their
/// arrival order).
fn sort_series(chunks: &[Chunk], rows: &[Obs], order: &mut [usize]) {
    fn nulls_last<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => cmp(a, b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let evidence_ref = |o: &Obs| {
        chunks
            .get(o.chunk as usize)
            .and_then(|c| str_opt(&c.refs, o.row as usize))
            .map(str::as_bytes)
    };
    order.sort_by(|&x, &y| {
        let (x, y) = (&rows[x], &rows[y]);
        nulls_last(x.ts, y.ts, |a, b| a.total_cmp(&b))
            .then_with(|| nulls_last(evidence_ref(x), evidence_ref(y), Ord::cmp))
    });
}

fn str_opt(a: &StringArray, i: usize) -> Option<&str> {
    (i < a.len() && a.is_valid(i)).then(|| a.value(i))
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
        let chunk = self.keep(value, r, false)?;
        self.rows.reserve(group_indices.len());
        for (i, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
                continue;
            }
            self.push_kind(g, str_opt(kind, i));
            self.rows.push(Obs {
                group: g,
                ts: ts.is_valid(i).then(|| ts.value(i)),
                chunk,
                // `keep` checked that the batch's rows fit.
                row: i as u32,
            });
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
        let (vo, to, ro) = (value.value_offsets(), ts.value_offsets(), r.value_offsets());
        let lengths_agree = (0..group_indices.len()).all(|i| {
            let n = vo[i + 1] - vo[i];
            n == to[i + 1] - to[i] && n == ro[i + 1] - ro[i]
        });
        if !lengths_agree {
            return internal_err!("{name}: state lists of different lengths");
        }
        self.grow(total_num_groups);
        // A chunk holds a row's value and evidence_ref at one position. The
        // lists this aggregate writes share their offsets; others get their
        // evidence_refs laid out at the values' positions first.
        let aligned;
        let refs = if vo == ro && vals.len() == refs.len() {
            refs
        } else {
            if refs.len() > u32::MAX as usize {
                return internal_err!("{name}: a state batch of more than 2^32 rows");
            }
            let mut at: Vec<Option<u32>> = vec![None; vals.len()];
            for i in 0..group_indices.len() {
                for k in 0..(vo[i + 1] - vo[i]) as usize {
                    at[vo[i] as usize + k] = Some((ro[i] as usize + k) as u32);
                }
            }
            let taken = take(refs, &UInt32Array::from(at), None)?;
            aligned = taken.as_string::<i32>().clone();
            &aligned
        };
        let chunk = self.keep(vals, refs, true)?;
        for (i, &g) in group_indices.iter().enumerate() {
            let (vs, ve) = (vo[i] as usize, vo[i + 1] as usize);
            let ts_s = to[i] as usize;
            self.push_kind(g, str_opt(kind, i));
            for (vi, ti) in (vs..ve).zip(ts_s..) {
                self.rows.push(Obs {
                    group: g,
                    ts: tss.is_valid(ti).then(|| tss.value(ti)),
                    chunk,
                    row: vi as u32,
                });
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut t = self.take(emit_to);
        let mut order = std::mem::take(&mut t.order);
        let mut series = Vec::with_capacity(t.kinds.len());
        let mut rest: &mut [usize] = &mut order;
        for g in 0..t.kinds.len() {
            let (mine, tail) = rest.split_at_mut(t.bounds[g + 1] - t.bounds[g]);
            rest = tail;
            sort_series(&t.chunks, &t.rows, mine);
            series.push(Series {
                kind: t.kind(g),
                chunks: &t.chunks,
                rows: &t.rows,
                order: mine,
            });
        }
        (self.evaluate)(&series, &self.thresholds)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let t = self.take(emit_to);
        let n = t.rows.len();
        let text: usize = t.chunks.iter().map(|c| c.values.value_data().len()).sum();
        let mut kind = StringBuilder::new();
        let mut values = ListBuilder::new(StringBuilder::with_capacity(n, text));
        let mut ts = ListBuilder::new(Float64Builder::with_capacity(n));
        let mut refs = ListBuilder::new(StringBuilder::with_capacity(n, n * 32));
        for g in 0..t.kinds.len() {
            kind.append_option(t.kind(g));
            for &i in &t.order[t.bounds[g]..t.bounds[g + 1]] {
                let o = &t.rows[i];
                let c = &t.chunks[o.chunk as usize];
                values
                    .values()
                    .append_option(str_opt(&c.values, o.row as usize));
                ts.values().append_option(o.ts);
                refs.values()
                    .append_option(str_opt(&c.refs, o.row as usize));
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
        self.kind_text.capacity()
            + self.chunk_bytes
            + self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.rows.capacity() * std::mem::size_of::<Obs>()
            + self.kinds.capacity() * std::mem::size_of::<Option<Span>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;

    fn no_rows(_: &[Series<'_>], _: &AttributionThresholds) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from(Vec::<f64>::new())))
    }

    /// Argument arrays of `n` rows: kind, value, ts, evidence_ref.
    fn batch(n: usize) -> Vec<ArrayRef> {
        let s = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        vec![
            s("categorical"),
            s("\"a\""),
            Arc::new(Float64Array::from(vec![1.0; n])),
            s("e"),
        ]
    }

    #[test]
    fn views_into_larger_buffers_are_copied_others_kept() {
        let big: StringArray = (0..100_000).map(|i| Some(format!("value {i}"))).collect();
        let view = big.slice(10, 3);
        let owned = own(&view, 64 << 10).unwrap();
        assert_eq!(owned, view);
        assert!(
            owned.get_array_memory_size() < 4096,
            "{}",
            owned.get_array_memory_size()
        );
        // A compact array (as `take` makes one) is kept as it is.
        let compact = own(&big, 0).unwrap();
        assert_eq!(compact, big);
        let kept = own(&compact, 64 << 10).unwrap();
        assert_eq!(kept.value_data().as_ptr(), compact.value_data().as_ptr());
    }

    #[test]
    fn groups_left_behind_keep_only_the_chunks_they_use() {
        let mut acc = SeriesGroups::new("t", AttributionThresholds::default(), no_rows);
        // Chunk 0 feeds groups 0 and 1, chunk 1 group 0 only, chunk 2 group 2.
        acc.update_batch(&batch(2), &[0, 1], None, 2).unwrap();
        acc.update_batch(&batch(1), &[0], None, 2).unwrap();
        acc.update_batch(&batch(1), &[2], None, 3).unwrap();
        assert_eq!(acc.chunks.len(), 3);
        let before = acc.size();
        let t = acc.take(EmitTo::First(1));
        assert_eq!((t.kinds.len(), t.rows.len(), t.chunks.len()), (1, 2, 3));
        // Groups 1 and 2, now 0 and 1, point into chunks 0 and 2 only.
        assert_eq!(acc.chunks.len(), 2);
        assert!(acc.size() < before);
        assert_eq!(
            acc.rows
                .iter()
                .map(|o| (o.group, o.chunk))
                .collect::<Vec<_>>(),
            vec![(0, 0), (1, 1)]
        );
        let t = acc.take(EmitTo::All);
        assert_eq!(t.bounds, vec![0, 1, 2]);
        assert_eq!(acc.chunks.len(), 0);
        assert_eq!(acc.chunk_bytes, 0);
    }
}
