//! Recomputing a partition from new rows plus the committed rows of inputs
//! this run did not re-read (lake.md §2 "from *all* the inputs that belong
//! to it", §7 incremental runs).
//!
//! Both sides are sorted by a Utf8 key column (`evidence_ref`, or `source`
//! for the dlq) and a key's rows are contiguous, so the partition is cut
//! into **segments** (runs of one key), old segments the caller keeps are
//! merged with the new ones by key, and a new segment replaces an old one
//! with the same key. Rows inside a segment keep their order (an
//! observation segment stays in emission order). Pure: no I/O.

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, StringArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;

/// One run of rows with the same key.
struct Segment<'a> {
    key: &'a str,
    batch: &'a RecordBatch,
    offset: usize,
    len: usize,
    new: bool,
}

fn key_array<'a>(batch: &'a RecordBatch, key: &str) -> Result<&'a StringArray, ArrowError> {
    let idx = batch.schema().index_of(key)?;
    batch
        .column(idx)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::SchemaError(format!("merge key {key} is not Utf8")))
}

fn segments<'a>(
    batches: &'a [RecordBatch],
    key: &str,
    new: bool,
) -> Result<Vec<Segment<'a>>, ArrowError> {
    let mut out = Vec::new();
    for batch in batches {
        let keys = key_array(batch, key)?;
        let mut start = 0;
        while start < batch.num_rows() {
            let k = keys.value(start);
            let mut end = start + 1;
            while end < batch.num_rows() && keys.value(end) == k {
                end += 1;
            }
            out.push(Segment {
                key: k,
                batch,
                offset: start,
                len: end - start,
                new,
            });
            start = end;
        }
    }
    Ok(out)
}

/// Give an old batch the current schema: columns matched by name, a column
/// the old file lacks becomes nulls (a table may gain columns, lake.md).
///
/// # Errors
/// When a column changed type, or a new non-nullable column is missing.
pub fn adapt(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema().as_ref() == schema.as_ref() {
        return Ok(batch.clone());
    }
    let old = batch.schema();
    let cols = schema
        .fields()
        .iter()
        .map(|f| match old.index_of(f.name()) {
            Ok(i) if old.field(i).data_type() == f.data_type() => Ok(Arc::clone(batch.column(i))),
            Ok(_) => Err(ArrowError::SchemaError(format!(
                "column {} changed type",
                f.name()
            ))),
            Err(_) if f.is_nullable() => Ok(new_null_array(f.data_type(), batch.num_rows())),
            Err(_) => Err(ArrowError::SchemaError(format!(
                "old file lacks required column {}",
                f.name()
            ))),
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), cols)
}

/// What [`merge_partition`] produced.
#[derive(Debug)]
pub struct Merged {
    /// The partition's rows (empty when nothing is left): slices of the
    /// old and new batches, in order, no row copied.
    pub batches: Vec<RecordBatch>,
    /// Keys of old segments that were kept.
    pub kept_old: Vec<String>,
}

/// Merge a partition's committed rows (`old`, adapted to `schema`) with
/// `new` rows; both sorted by `key`. `keep_old(batch, row)` decides for each
/// old segment (given its first row) whether it is carried over; an old
/// segment whose key also has new rows is always replaced.
///
/// # Errors
/// When the key column is missing or not Utf8, or an old file cannot be
/// adapted to the schema.
pub fn merge_partition(
    schema: &SchemaRef,
    old: &[RecordBatch],
    new: &[RecordBatch],
    key: &str,
    keep_old: &dyn Fn(&RecordBatch, usize) -> bool,
) -> Result<Merged, ArrowError> {
    let old: Vec<RecordBatch> = old
        .iter()
        .map(|b| adapt(b, schema))
        .collect::<Result<_, _>>()?;
    let new_segs = segments(new, key, true)?;
    let new_keys: std::collections::HashSet<&str> = new_segs.iter().map(|s| s.key).collect();
    let mut kept_old = Vec::new();
    let mut all = new_segs;
    for seg in segments(&old, key, false)? {
        if new_keys.contains(seg.key) || !keep_old(seg.batch, seg.offset) {
            continue;
        }
        if kept_old.last().is_none_or(|k: &String| k != seg.key) {
            kept_old.push(seg.key.to_string());
        }
        all.push(seg);
    }
    // Stable: equal keys keep new-then-old input order; old runs split over
    // two batches stay in file order.
    all.sort_by(|a, b| a.key.cmp(b.key).then(b.new.cmp(&a.new)));
    if all.is_empty() {
        return Ok(Merged {
            batches: Vec::new(),
            kept_old,
        });
    }
    // Zero-copy: slices of the inputs, a run of segments that follow each
    // other in one batch taken as one slice.
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut run: Option<(&RecordBatch, usize, usize)> = None;
    for seg in &all {
        match &mut run {
            Some((b, off, len)) if std::ptr::eq(*b, seg.batch) && *off + *len == seg.offset => {
                *len += seg.len;
            }
            _ => {
                if let Some((b, off, len)) = run.take() {
                    batches.push(b.slice(off, len));
                }
                run = Some((seg.batch, seg.offset, seg.len));
            }
        }
    }
    if let Some((b, off, len)) = run {
        batches.push(b.slice(off, len));
    }
    Ok(Merged { batches, kept_old })
}

/// The batches of a [`NewRun`], read one at a time.
pub type RunBatches<'a, E> = Box<dyn Iterator<Item = Result<RecordBatch, E>> + 'a>;

/// A sorted run of new rows whose key range is known before its rows are
/// loaded (a spooled piece: one input's rows of one day).
pub struct NewRun<'a, E> {
    /// The key of its first row.
    pub first: String,
    /// The key of its last row.
    pub last: String,
    /// Its rows, sorted by the key (a key's rows contiguous), a batch at a
    /// time.
    pub load: Box<dyn FnOnce() -> Result<RunBatches<'a, E>, E> + Send + 'a>,
}

/// Rows [`merge_stream`] gathers before handing a merge of several runs to
/// its `out` (the merge itself goes a key at a time).
const OUT_ROWS: usize = 8192;

/// The committed rows of a partition, read a batch at a time.
struct OldCursor<'s, I> {
    iter: I,
    schema: &'s SchemaRef,
    batch: Option<RecordBatch>,
    pos: usize,
}

impl<E, I: Iterator<Item = Result<RecordBatch, E>>> OldCursor<'_, I> {
    /// Read on until the current batch has rows left; false at the end.
    fn fill(&mut self, arrow: &dyn Fn(ArrowError) -> E) -> Result<bool, E> {
        while self.batch.as_ref().is_none_or(|b| self.pos >= b.num_rows()) {
            match self.iter.next() {
                None => {
                    self.batch = None;
                    return Ok(false);
                }
                Some(b) => {
                    self.batch = Some(adapt(&b?, self.schema).map_err(arrow)?);
                    self.pos = 0;
                }
            }
        }
        Ok(true)
    }

    /// The key at the cursor (`None` at the end), reading the next batch
    /// when the current one is done.
    fn head(&mut self, key: &str, arrow: &dyn Fn(ArrowError) -> E) -> Result<Option<String>, E> {
        match (self.fill(arrow)?, &self.batch) {
            (true, Some(b)) => {
                let keys = key_array(b, key).map_err(arrow)?;
                Ok(Some(keys.value(self.pos).to_string()))
            }
            _ => Ok(None),
        }
    }

    /// Slices of the rows from the cursor on whose key satisfies `pred`,
    /// up to the first that does not (keys are sorted, so `pred` is a
    /// bound).
    fn take_while(
        &mut self,
        key: &str,
        pred: impl Fn(&str) -> bool,
        arrow: &dyn Fn(ArrowError) -> E,
    ) -> Result<Vec<RecordBatch>, E> {
        let mut out = Vec::new();
        loop {
            let batch = match (self.fill(arrow)?, &self.batch) {
                (true, Some(b)) => b,
                _ => return Ok(out),
            };
            let keys = key_array(batch, key).map_err(arrow)?;
            let start = self.pos;
            let mut end = start;
            while end < batch.num_rows() && pred(keys.value(end)) {
                end += 1;
            }
            if end > start {
                out.push(batch.slice(start, end - start));
            }
            let stopped = end < batch.num_rows();
            self.pos = end;
            if stopped {
                return Ok(out);
            }
        }
    }
}

/// [`merge_partition`] as a stream: the merged rows go to `out` in key
/// order while only one old batch and one batch of each run of a cluster
/// (runs whose key ranges overlap) are held. Old segments between the
/// clusters pass through after `keep_old`. A cluster of one run (inputs
/// whose keys share a prefix of their own) is merged with the old rows in
/// its key range by [`merge_partition`]; the runs of a larger cluster (the
/// pieces of one large shard) and the old rows among them are merged a key
/// at a time, to the same rows in the same order. Returns the keys of the
/// old segments kept.
///
/// # Errors
/// What loading a run, reading an old batch or `out` returns, and
/// `arrow` of a missing or non-Utf8 key column or an old batch that
/// cannot be adapted to `schema`.
pub fn merge_stream<'a, E>(
    schema: &SchemaRef,
    old: impl Iterator<Item = Result<RecordBatch, E>>,
    mut new: Vec<NewRun<'a, E>>,
    key: &str,
    keep_old: &dyn Fn(&RecordBatch, usize) -> bool,
    arrow: &dyn Fn(ArrowError) -> E,
    out: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
) -> Result<Vec<String>, E> {
    new.sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.last.cmp(&b.last)));
    let mut clusters: Vec<(String, Vec<NewRun<'a, E>>)> = Vec::new();
    for run in new {
        match clusters.last_mut() {
            Some((last, runs)) if run.first <= *last => {
                if run.last > *last {
                    last.clone_from(&run.last);
                }
                runs.push(run);
            }
            _ => clusters.push((run.last.clone(), vec![run])),
        }
    }
    let mut cursor = OldCursor {
        iter: old,
        schema,
        batch: None,
        pos: 0,
    };
    let mut kept_old: Vec<String> = Vec::new();
    for (last, mut runs) in clusters {
        let first = runs[0].first.clone();
        let before = cursor.take_while(key, |k| k < first.as_str(), arrow)?;
        pass_old(&before, key, keep_old, arrow, &mut kept_old, out)?;
        if runs.len() > 1 {
            let mut merge = KeyMerge {
                key,
                keep_old,
                arrow,
                kept_old: &mut kept_old,
                pending: Vec::new(),
                pending_rows: 0,
            };
            merge.cluster(schema, &mut cursor, runs, &last, out)?;
            continue;
        }
        let within = cursor.take_while(key, |k| k <= last.as_str(), arrow)?;
        let rows: Vec<RecordBatch> = (runs.remove(0).load)()?.collect::<Result<_, E>>()?;
        let merged = merge_partition(schema, &within, &rows, key, keep_old).map_err(arrow)?;
        for k in merged.kept_old {
            if kept_old.last() != Some(&k) {
                kept_old.push(k);
            }
        }
        for b in merged.batches {
            out(b)?;
        }
    }
    let rest = cursor.take_while(key, |_| true, arrow)?;
    pass_old(&rest, key, keep_old, arrow, &mut kept_old, out)?;
    Ok(kept_old)
}

/// The key-at-a-time merge of a cluster of several runs (see
/// [`merge_stream`]); its output gathered into batches of about
/// [`OUT_ROWS`].
struct KeyMerge<'m, E> {
    key: &'m str,
    keep_old: &'m dyn Fn(&RecordBatch, usize) -> bool,
    arrow: &'m dyn Fn(ArrowError) -> E,
    kept_old: &'m mut Vec<String>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl<E> KeyMerge<'_, E> {
    fn emit(
        &mut self,
        schema: &SchemaRef,
        slices: Vec<RecordBatch>,
        out: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        for b in slices {
            self.pending_rows += b.num_rows();
            self.pending.push(b);
        }
        if self.pending_rows >= OUT_ROWS {
            self.flush(schema, out)?;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        schema: &SchemaRef,
        out: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let all = concat_batches(schema, &self.pending).map_err(self.arrow)?;
        self.pending.clear();
        self.pending_rows = 0;
        out(all)
    }

    /// Old rows the merge passes on as they are (after `keep_old`).
    fn old(
        &mut self,
        schema: &SchemaRef,
        slices: &[RecordBatch],
        out: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut kept = Vec::new();
        pass_old(
            slices,
            self.key,
            self.keep_old,
            self.arrow,
            self.kept_old,
            &mut |b| {
                kept.push(b);
                Ok(())
            },
        )?;
        self.emit(schema, kept, out)
    }

    /// Merge `runs` (sorted by first key) with the old rows up to `last`:
    /// for each key in order, the old rows before it pass through, old rows
    /// of the key itself are replaced, and the runs holding the key give
    /// their rows in run order (as [`merge_partition`]'s stable sort does).
    fn cluster<'a, I: Iterator<Item = Result<RecordBatch, E>>>(
        &mut self,
        schema: &SchemaRef,
        old: &mut OldCursor<'_, I>,
        runs: Vec<NewRun<'a, E>>,
        last: &str,
        out: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        let (key, arrow) = (self.key, self.arrow);
        let mut cursors = Vec::with_capacity(runs.len());
        for run in runs {
            cursors.push(OldCursor {
                iter: (run.load)()?,
                schema,
                batch: None,
                pos: 0,
            });
        }
        let mut heads = cursors
            .iter_mut()
            .map(|c| c.head(key, arrow))
            .collect::<Result<Vec<_>, E>>()?;
        while let Some(k) = heads.iter().flatten().min().cloned() {
            let before = old.take_while(key, |x| x < k.as_str(), arrow)?;
            self.old(schema, &before, out)?;
            old.take_while(key, |x| x == k.as_str(), arrow)?;
            for (c, head) in cursors.iter_mut().zip(heads.iter_mut()) {
                if head.as_deref() == Some(k.as_str()) {
                    let rows = c.take_while(key, |x| x == k.as_str(), arrow)?;
                    self.emit(schema, rows, out)?;
                    *head = c.head(key, arrow)?;
                }
            }
        }
        let rest = old.take_while(key, |x| x <= last, arrow)?;
        self.old(schema, &rest, out)?;
        self.flush(schema, out)
    }
}

/// Old segments outside every new run's range: those `keep_old` keeps go
/// to `out`, consecutive ones as one slice.
fn pass_old<E>(
    slices: &[RecordBatch],
    key: &str,
    keep_old: &dyn Fn(&RecordBatch, usize) -> bool,
    arrow: &dyn Fn(ArrowError) -> E,
    kept_old: &mut Vec<String>,
    out: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(), E> {
    for slice in slices {
        let mut run: Option<(usize, usize)> = None;
        for seg in segments(std::slice::from_ref(slice), key, false).map_err(arrow)? {
            if !keep_old(seg.batch, seg.offset) {
                if let Some((off, len)) = run.take() {
                    out(slice.slice(off, len))?;
                }
                continue;
            }
            if kept_old.last().is_none_or(|k| k != seg.key) {
                kept_old.push(seg.key.to_string());
            }
            run = match run {
                Some((off, len)) => Some((off, len + seg.len)),
                None => Some((seg.offset, seg.len)),
            };
        }
        if let Some((off, len)) = run {
            out(slice.slice(off, len))?;
        }
    }
    Ok(())
}

/// Merge a partition row by row: the old rows the mask `keep_old(batch)`
/// marks true (one value per row), plus every new row, sorted by `sort_by` (ascending, nulls
/// first; give a key that is unique per row, as the sort is not stable).
/// For tables whose rows are replaced by range rather than by whole key (an
/// append-only input read from a byte offset replaces its rows at and after
/// that offset).
///
/// # Errors
/// When an old file cannot be adapted to the schema or a sort column is
/// missing.
pub fn merge_rows(
    schema: &SchemaRef,
    old: &[RecordBatch],
    new: &[RecordBatch],
    keep_old: &dyn Fn(&RecordBatch) -> Result<BooleanArray, ArrowError>,
    sort_by: &[&str],
) -> Result<Vec<RecordBatch>, ArrowError> {
    use datafusion::arrow::compute::{
        filter_record_batch, lexsort_to_indices, take_record_batch, SortColumn, SortOptions,
    };
    let mut parts = Vec::with_capacity(old.len() + new.len());
    for b in old {
        let b = adapt(b, schema)?;
        parts.push(filter_record_batch(&b, &keep_old(&b)?)?);
    }
    for b in new {
        parts.push(adapt(b, schema)?);
    }
    let all = concat_batches(schema, &parts)?;
    if all.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let cols = sort_by
        .iter()
        .map(|c| {
            Ok(SortColumn {
                values: Arc::clone(all.column(schema.index_of(c)?)),
                options: Some(SortOptions {
                    descending: false,
                    nulls_first: true,
                }),
            })
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    let idx = lexsort_to_indices(&cols, None)?;
    Ok(vec![take_record_batch(&all, &idx)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("owner", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]))
    }

    fn batch(rows: &[(&str, &str, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    fn rows(m: &Merged) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for b in &m.batches {
            let k = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let n = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
            out.extend((0..b.num_rows()).map(|i| (k.value(i).to_string(), n.value(i))));
        }
        out
    }

    fn flat(batches: &[RecordBatch]) -> Vec<(String, i64)> {
        rows(&Merged {
            batches: batches.to_vec(),
            kept_old: Vec::new(),
        })
    }

    /// A sorted batch of `keys`, each key `per` rows, numbered from `n0`.
    fn keyed(keys: &[String], owner: &str, per: usize, n0: i64) -> Vec<(String, String, i64)> {
        let mut out = Vec::new();
        for k in keys {
            for _ in 0..per {
                out.push((k.clone(), owner.to_string(), n0 + out.len() as i64));
            }
        }
        out
    }

    fn to_batch(rows: &[(String, String, i64)]) -> RecordBatch {
        let r: Vec<(&str, &str, i64)> = rows
            .iter()
            .map(|(k, o, n)| (k.as_str(), o.as_str(), *n))
            .collect();
        batch(&r)
    }

    /// [`merge_stream`] of `old` and `runs` on key `k`: the batches out and
    /// the old keys kept.
    fn streamed(
        old: &[RecordBatch],
        runs: Vec<NewRun<'_, ArrowError>>,
        keep: &dyn Fn(&RecordBatch, usize) -> bool,
    ) -> (Vec<RecordBatch>, Vec<String>) {
        let mut got = Vec::new();
        let kept = merge_stream(
            &schema(),
            old.iter().cloned().map(Ok),
            runs,
            "k",
            keep,
            &|e| e,
            &mut |b| {
                got.push(b);
                Ok(())
            },
        )
        .unwrap();
        (got, kept)
    }

    #[test]
    fn merge_stream_gives_merge_partition_rows_in_clusters_and_batches_of_any_cut() {
        // Shards 0..8 with keys "s<shard>#<sid>"; the old partition holds
        // shards 0..6 cut into batches of `cut` rows (segments split across
        // batches); new runs re-read shards 1, 3, 5 (some sids new, some
        // gone) and two overlapping runs of shard 7 and one of shard 8.
        let sids = |shard: usize, from: usize, to: usize| -> Vec<String> {
            (from..to).map(|i| format!("s{shard}#{i:03}")).collect()
        };
        let mut old_rows = Vec::new();
        for shard in 0..6 {
            let owner = if shard % 2 == 0 { "y" } else { "x" };
            old_rows.extend(keyed(&sids(shard, 0, 6), owner, 2, 100 * shard as i64));
        }
        let some = |shard: usize, ids: &[usize]| -> Vec<String> {
            ids.iter().map(|i| format!("s{shard}#{i:03}")).collect()
        };
        let runs_rows: Vec<Vec<(String, String, i64)>> = vec![
            keyed(&sids(1, 2, 9), "z", 3, 1000),
            // Shard 3 re-read as two interleaved runs (the pieces of one
            // streamed shard) over old rows of the same keys.
            keyed(&some(3, &[0, 2, 4, 7]), "z", 2, 2000),
            keyed(&some(3, &[1, 3, 8]), "z", 3, 2500),
            keyed(&sids(5, 4, 5), "z", 2, 3000),
            keyed(&[sids(7, 0, 4), sids(7, 8, 9)].concat(), "z", 1, 4000),
            keyed(&sids(7, 4, 8), "z", 1, 5000),
            keyed(&sids(8, 0, 2), "z", 2, 6000),
        ];
        let keep_y = |b: &RecordBatch, row: usize| {
            let o = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            o.value(row) != "x"
                || b.column(0)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap()
                    .value(row)
                    .ends_with('1')
        };
        let new_all: Vec<RecordBatch> = runs_rows.iter().map(|r| to_batch(r)).collect();
        for cut in [1, 3, 7, 100] {
            let old: Vec<RecordBatch> = old_rows.chunks(cut).map(to_batch).collect();
            let want = merge_partition(&schema(), &old, &new_all, "k", &keep_y).unwrap();
            // Runs cut into batches too (a key's rows across two batches).
            let runs: Vec<NewRun<'_, ArrowError>> = runs_rows
                .iter()
                .rev()
                .map(|r| {
                    let b: Vec<RecordBatch> = r.chunks(cut).map(to_batch).collect();
                    NewRun {
                        first: r[0].0.clone(),
                        last: r[r.len() - 1].0.clone(),
                        load: Box::new(move || {
                            Ok(Box::new(b.into_iter().map(Ok)) as RunBatches<'_, _>)
                        }),
                    }
                })
                .collect();
            let (got, kept) = streamed(&old, runs, &keep_y);
            assert_eq!(flat(&got), rows(&want), "old batches of {cut} rows");
            assert_eq!(kept, want.kept_old, "old batches of {cut} rows");
        }
        // No old rows, or no new ones.
        let old: Vec<RecordBatch> = old_rows.chunks(5).map(to_batch).collect();
        let (got, kept) = streamed(&old, Vec::new(), &keep_y);
        let want = merge_partition(&schema(), &old, &[], "k", &keep_y).unwrap();
        assert_eq!(flat(&got), rows(&want));
        assert_eq!(kept, want.kept_old);
        assert!(
            !kept.is_empty() && kept.len() < 36,
            "some old sessions kept, some not"
        );
    }

    #[test]
    fn merge_stream_passes_errors_from_a_run_or_an_old_batch_on() {
        let run = |fail: bool| NewRun {
            first: "b".into(),
            last: "b".into(),
            load: Box::new(move || {
                if fail {
                    Err("run".to_string())
                } else {
                    let rows = vec![Ok(batch(&[("b", "z", 1)]))];
                    Ok(Box::new(rows.into_iter()) as RunBatches<'_, String>)
                }
            }),
        };
        let keep = |_: &RecordBatch, _: usize| true;
        let arrow = |e: ArrowError| e.to_string();
        // The error of merging `old` with one run (failing to load or
        // not) on `key`.
        let err_of = |old: Vec<Result<RecordBatch, String>>, fail: bool, key: &str| {
            let mut sink = |_b: RecordBatch| Ok(());
            merge_stream(
                &schema(),
                old.into_iter(),
                vec![run(fail)],
                key,
                &keep,
                &arrow,
                &mut sink,
            )
            .unwrap_err()
        };
        let old_ok = || vec![Ok(batch(&[("a", "x", 0), ("c", "x", 2)]))];
        assert_eq!(err_of(old_ok(), true, "k"), "run");
        let old_bad = vec![Ok(batch(&[("a", "x", 0)])), Err("old".to_string())];
        assert_eq!(err_of(old_bad, false, "k"), "old");
        let err = err_of(old_ok(), false, "nope");
        assert!(err.contains("nope"), "a missing key column is named");
    }

    #[test]
    fn merge_keeps_unowned_old_replaces_same_key_and_keeps_segment_order() {
        // Old file split over two batches mid-segment "b".
        let old = [
            batch(&[("a", "x", 1), ("b", "y", 2)]),
            batch(&[("b", "y", 3), ("d", "x", 4)]),
        ];
        let new = [batch(&[("b", "z", 20), ("c", "z", 30), ("c", "z", 31)])];
        let owner_is_y = |b: &RecordBatch, row: usize| {
            b.column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(row)
                == "y"
        };
        // Keep old rows owned by y only: "a" and "d" (owner x) drop, "b" is replaced.
        let m = merge_partition(&schema(), &old, &new, "k", &owner_is_y).unwrap();
        assert_eq!(
            rows(&m),
            [("b".into(), 20), ("c".into(), 30), ("c".into(), 31)]
        );
        assert!(m.kept_old.is_empty());
        // Keep everything old: "a", "d" carried, "b" still replaced by new.
        let m = merge_partition(&schema(), &old, &new, "k", &|_, _| true).unwrap();
        assert_eq!(
            rows(&m),
            [
                ("a".into(), 1),
                ("b".into(), 20),
                ("c".into(), 30),
                ("c".into(), 31),
                ("d".into(), 4)
            ]
        );
        assert_eq!(m.kept_old, ["a", "d"]);
        // Old segment split across batches stays whole and ordered.
        let m = merge_partition(&schema(), &old, &[], "k", &|_, _| true).unwrap();
        assert_eq!(
            rows(&m),
            [
                ("a".into(), 1),
                ("b".into(), 2),
                ("b".into(), 3),
                ("d".into(), 4)
            ]
        );
        assert_eq!(m.kept_old, ["a", "b", "d"]);
        // Nothing left: no batches.
        assert!(merge_partition(&schema(), &old, &[], "k", &|_, _| false)
            .unwrap()
            .batches
            .is_empty());
    }

    #[test]
    fn merge_rows_filters_old_rows_and_sorts() {
        let old = batch(&[("a", "r1", 3), ("a", "r1", 1), ("b", "r1", 1)]);
        let new = batch(&[("a", "r2", 2), ("c", "r2", 0)]);
        // Drop old rows of `a` from value 2 on (a re-read from an offset).
        let keep = |b: &RecordBatch| {
            let k = key_array(b, "k")?;
            let v = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
            Ok((0..b.num_rows())
                .map(|r| Some(!(k.value(r) == "a" && v.value(r) >= 2)))
                .collect())
        };
        let out = merge_rows(&schema(), &[old], &[new], &keep, &["k", "n"]).unwrap();
        let m = Merged {
            batches: out,
            kept_old: Vec::new(),
        };
        assert_eq!(
            rows(&m),
            vec![
                ("a".into(), 1),
                ("a".into(), 2),
                ("b".into(), 1),
                ("c".into(), 0)
            ]
        );
        let none = merge_rows(&schema(), &[], &[], &keep, &["k"]).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn adapt_fills_new_nullable_columns() {
        let narrow = Arc::new(Schema::new(vec![Field::new("k", DataType::Utf8, false)]));
        let b = RecordBatch::try_new(narrow, vec![Arc::new(StringArray::from(vec!["a"]))]).unwrap();
        let wide = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("extra", DataType::Int64, true),
        ]));
        let a = adapt(&b, &wide).unwrap();
        assert_eq!(a.num_columns(), 2);
        assert_eq!(a.column(1).null_count(), 1);
        let strict = Arc::new(Schema::new(vec![Field::new(
            "extra",
            DataType::Int64,
            false,
        )]));
        assert!(adapt(&b, &strict).is_err());
    }
}
