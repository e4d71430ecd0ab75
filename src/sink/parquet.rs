//! Parquet encoding and content-addressed file names (lake.md §1–2).

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

/// The column left out of the content hash: the same rows written by
/// another run are the same partition.
const RUN_ID_COL: &str = "run_id";

/// How many row bytes [`content_hash`] gathers before it hashes them.
const HASH_BUF_BYTES: usize = 1 << 20;

/// BLAKE3 over a file's schema and rows (its batches in order), `run_id`
/// excluded: [`ContentHasher`] over `batches`.
///
/// # Errors
/// When the row format does not support a column type (a schema bug).
pub fn content_hash(batches: &[RecordBatch]) -> Result<[u8; 32], ArrowError> {
    let Some(first) = batches.first() else {
        return Ok(ContentHasher::empty());
    };
    let mut h = ContentHasher::new(&first.schema(), 0)?;
    for b in batches {
        h.update(b)?;
    }
    Ok(h.finish())
}

/// The content hash of a file fed batch by batch, so a partition can be
/// written as it is merged without holding its rows.
///
/// Each column is hashed as three streams of its own, each fed batch after
/// batch, so equal rows in equal order give an equal hash whatever the
/// batches' split or buffer layout: a validity byte per row; for strings
/// and binaries each value's length (u64, 0 when null), for fixed-width
/// types each value's bytes as stored (little-endian on x86-64 and
/// aarch64; zeros when null), for any other type each row in Arrow's row
/// format after its length; and the valid string and binary values' bytes.
/// The streams are hashed apart (BLAKE3 on long runs of bytes, no per-row
/// row-format encoding for the common types) and the hash covers the
/// column names and types, the file's ordinal in its partition (from the
/// second file on), every column's streams, and the row count (last).
pub struct ContentHasher {
    h: blake3::Hasher,
    cols: Vec<ColumnHasher>,
    rows: u64,
}

/// One column's streams.
struct ColumnHasher {
    /// The column's index in the schema.
    index: usize,
    /// Validity bytes.
    valid: Stream,
    /// Lengths, or fixed-width values, or row-format rows.
    meta: Stream,
    /// String and binary value bytes.
    bytes: Stream,
    /// How the column's values are encoded.
    encoding: Encoding,
}

/// How a column's values are encoded for its streams.
enum Encoding {
    /// Offsets and bytes (`Utf8`, `Binary`), with 64-bit offsets (`Large…`).
    Bytes { large: bool },
    /// Fixed-width values of this many bytes.
    Fixed(usize),
    /// Bits.
    Bool,
    /// Arrow's row format, for every other type.
    Rows(RowConverter),
}

impl Encoding {
    fn of(t: &DataType) -> Result<Self, ArrowError> {
        let fixed = matches!(
            t,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float32
                | DataType::Float64
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
        );
        Ok(match (t, t.primitive_width()) {
            (DataType::Utf8 | DataType::Binary, _) => Encoding::Bytes { large: false },
            (DataType::LargeUtf8 | DataType::LargeBinary, _) => Encoding::Bytes { large: true },
            (DataType::Boolean, _) => Encoding::Bool,
            (_, Some(w)) if fixed => Encoding::Fixed(w),
            _ => Encoding::Rows(RowConverter::new(vec![SortField::new(t.clone())])?),
        })
    }
}

/// A hashed stream fed in large pieces: BLAKE3 hashes long inputs many
/// chunks at a time; small updates cannot.
struct Stream {
    h: blake3::Hasher,
    buf: Vec<u8>,
}

impl Stream {
    fn new() -> Self {
        Stream {
            h: blake3::Hasher::new(),
            buf: Vec::new(),
        }
    }

    fn flush_if_full(&mut self) {
        if self.buf.len() >= HASH_BUF_BYTES {
            self.h.update(&self.buf);
            self.buf.clear();
        }
    }

    /// Long slices go straight to the hasher, after what is buffered.
    fn extend(&mut self, bytes: &[u8]) {
        if bytes.len() >= HASH_BUF_BYTES {
            self.h.update(&self.buf);
            self.buf.clear();
            self.h.update(bytes);
        } else {
            self.buf.extend_from_slice(bytes);
            self.flush_if_full();
        }
    }

    fn finish(mut self) -> [u8; 32] {
        self.h.update(&self.buf);
        *self.h.finalize().as_bytes()
    }
}

impl ContentHasher {
    fn start() -> blake3::Hasher {
        let mut h = blake3::Hasher::new();
        h.update(b"driftlake-content-v4\x1f");
        h
    }

    /// The hash of no batches at all.
    pub fn empty() -> [u8; 32] {
        *Self::start().finalize().as_bytes()
    }

    /// A hasher for rows of `schema`; `ordinal` is the file's place in its
    /// partition (0 for the first).
    ///
    /// # Errors
    /// When the row format does not support a column type (a schema bug).
    pub fn new(schema: &SchemaRef, ordinal: usize) -> Result<Self, ArrowError> {
        let mut h = Self::start();
        let mut cols = Vec::new();
        for (index, f) in schema.fields().iter().enumerate() {
            if f.name() == RUN_ID_COL {
                continue;
            }
            h.update(f.name().as_bytes());
            h.update(b"\x1f");
            h.update(f.data_type().to_string().as_bytes());
            h.update(b"\x1e");
            cols.push(ColumnHasher {
                index,
                valid: Stream::new(),
                meta: Stream::new(),
                bytes: Stream::new(),
                encoding: Encoding::of(f.data_type())?,
            });
        }
        if ordinal > 0 {
            h.update(b"file\x1f");
            h.update(&(ordinal as u64).to_le_bytes());
        }
        Ok(ContentHasher { h, cols, rows: 0 })
    }

    /// Hash the rows of `batch` (of the hasher's schema).
    ///
    /// # Errors
    /// When the batch's columns do not fit the row format.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.rows += batch.num_rows() as u64;
        for c in &mut self.cols {
            c.update(batch.column(c.index))?;
        }
        Ok(())
    }

    /// The hash.
    pub fn finish(mut self) -> [u8; 32] {
        for c in self.cols {
            self.h.update(&c.valid.finish());
            self.h.update(&c.meta.finish());
            self.h.update(&c.bytes.finish());
        }
        self.h.update(b"\x1e");
        self.h.update(&self.rows.to_le_bytes());
        *self.h.finalize().as_bytes()
    }
}

impl ColumnHasher {
    fn update(&mut self, col: &ArrayRef) -> Result<(), ArrowError> {
        let n = col.len();
        let ColumnHasher {
            valid,
            meta,
            bytes,
            encoding,
            ..
        } = self;
        // Validity, one byte a row (row-format rows carry their own).
        if !matches!(encoding, Encoding::Rows(_)) {
            let at = valid.buf.len();
            match col.logical_nulls() {
                None => valid.buf.resize(at + n, 1),
                Some(nulls) => valid.buf.extend(nulls.iter().map(u8::from)),
            }
            valid.flush_if_full();
        }
        let data = col.to_data();
        match encoding {
            Encoding::Rows(conv) => {
                let rows = conv.convert_columns(std::slice::from_ref(col))?;
                for row in rows.iter() {
                    let row: &[u8] = row.as_ref();
                    meta.buf
                        .extend_from_slice(&(row.len() as u64).to_le_bytes());
                    meta.buf.extend_from_slice(row);
                    meta.flush_if_full();
                }
            }
            Encoding::Bytes { large: false } => byte_values::<i32>(meta, bytes, col, &data),
            Encoding::Bytes { large: true } => byte_values::<i64>(meta, bytes, col, &data),
            Encoding::Fixed(w) => {
                let w = *w;
                let values =
                    &data.buffers()[0].as_slice()[data.offset() * w..(data.offset() + n) * w];
                if col.null_count() == 0 {
                    meta.extend(values);
                } else {
                    for (i, v) in values.chunks_exact(w).enumerate() {
                        if col.is_valid(i) {
                            meta.buf.extend_from_slice(v);
                        } else {
                            meta.buf.resize(meta.buf.len() + w, 0);
                        }
                    }
                }
            }
            Encoding::Bool => {
                let bits = datafusion::arrow::buffer::BooleanBuffer::new(
                    data.buffers()[0].clone(),
                    data.offset(),
                    n,
                );
                meta.buf.extend(
                    bits.iter()
                        .enumerate()
                        .map(|(i, b)| u8::from(b && col.is_valid(i))),
                );
            }
        }
        meta.flush_if_full();
        Ok(())
    }
}

/// A string or binary column's lengths (into `meta`) and valid value bytes
/// (into `bytes`), its offsets of type `O`.
fn byte_values<O: datafusion::arrow::datatypes::ArrowNativeType + TryInto<usize>>(
    meta: &mut Stream,
    bytes: &mut Stream,
    col: &ArrayRef,
    data: &datafusion::arrow::array::ArrayData,
) {
    let n = col.len();
    let offsets = &data.buffers()[0].typed_data::<O>()[data.offset()..=data.offset() + n];
    let at = |i: usize| -> usize { offsets[i].try_into().unwrap_or_default() };
    let values = data.buffers()[1].as_slice();
    if col.null_count() == 0 {
        for i in 0..n {
            let len = (at(i + 1) - at(i)) as u64;
            meta.buf.extend_from_slice(&len.to_le_bytes());
        }
        bytes.extend(&values[at(0)..at(n)]);
        return;
    }
    for i in 0..n {
        let (s, e) = (at(i), at(i + 1));
        let len = if col.is_valid(i) { e - s } else { 0 };
        meta.buf.extend_from_slice(&(len as u64).to_le_bytes());
        if col.is_valid(i) {
            bytes.buf.extend_from_slice(&values[s..e]);
            bytes.flush_if_full();
        }
    }
}

/// `part-<first 16 hex of the content hash>.parquet`.
pub fn part_file_name(hash: &[u8; 32]) -> String {
    format!("part-{}.parquet", &hex::encode(hash)[..16])
}

/// A Parquet writer into memory with the lake's properties (zstd level 1: as small as level 3 on our tables, and faster).
///
/// # Errors
/// When the schema cannot be written as Parquet.
pub fn parquet_writer(schema: SchemaRef) -> Result<ArrowWriter<Vec<u8>>, ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .build();
    ArrowWriter::try_new(Vec::new(), schema, Some(props))
}

/// Encode batches (one schema) as one zstd-compressed Parquet file in
/// memory.
///
/// # Errors
/// When the Parquet writer fails (e.g. the batches disagree on the schema).
pub fn encode_parquet(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ParquetError> {
    let mut w = parquet_writer(schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.into_inner()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    /// Rows of `x` with `run` as their run_id (the sink's tests too).
    pub(in crate::sink) fn batch(vals: &[i64], run: &str) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, false),
            Field::new("run_id", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vals.to_vec())),
                Arc::new(StringArray::from(vec![run; vals.len()])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn hash_ignores_run_id_but_not_values_or_order() {
        let a = content_hash(&[batch(&[1, 2], "r1")]).unwrap();
        assert_eq!(a, content_hash(&[batch(&[1, 2], "r2")]).unwrap());
        assert_ne!(a, content_hash(&[batch(&[2, 1], "r1")]).unwrap());
        assert_ne!(a, content_hash(&[batch(&[1, 2, 3], "r1")]).unwrap());
        // Sliced or split batches hash like one fresh batch with the same rows.
        assert_eq!(
            content_hash(&[batch(&[0, 1, 2], "r").slice(1, 2)]).unwrap(),
            a
        );
        assert_eq!(
            content_hash(&[batch(&[1], "r"), batch(&[2], "q")]).unwrap(),
            a
        );
        assert_eq!(part_file_name(&a).len(), "part-.parquet".len() + 16);
    }

    /// A batch of every kind of column the hasher streams (nullable
    /// strings, ints, floats, bools, timestamps) and one it hands to the
    /// row format (a list), from a seed.
    fn mixed(n: usize, seed: u64) -> RecordBatch {
        use datafusion::arrow::array::{
            BooleanArray, Float64Array, ListBuilder, StringBuilder, TimestampMicrosecondArray,
        };
        use datafusion::arrow::datatypes::TimeUnit;
        let mut rng = crate::extract::xorshift(seed);
        let mut r = move || rng() % 7;
        let strs: Vec<Option<String>> = (0..n)
            .map(|i| (r() != 0).then(|| "ab".repeat(r() as usize) + &i.to_string()))
            .collect();
        let ints: Vec<Option<i64>> = (0..n).map(|i| (r() != 0).then_some(i as i64 * 3)).collect();
        let floats: Vec<f64> = (0..n).map(|i| i as f64 / 3.0).collect();
        let bools: Vec<Option<bool>> = (0..n).map(|_| (r() != 0).then(|| r() % 2 == 0)).collect();
        let ts: Vec<i64> = (0..n).map(|i| 1_700_000_000_000_000 + i as i64).collect();
        let mut list = ListBuilder::new(StringBuilder::new());
        for _ in 0..n {
            for _ in 0..r() % 3 {
                list.values().append_value("x");
            }
            list.append(r() != 0);
        }
        let list = list.finish();
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, false),
            Field::new("b", DataType::Boolean, true),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("l", list.data_type().clone(), true),
            Field::new("run_id", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(strs)),
                Arc::new(Int64Array::from(ints)),
                Arc::new(Float64Array::from(floats)),
                Arc::new(BooleanArray::from(bools)),
                Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
                Arc::new(list),
                Arc::new(StringArray::from(vec!["run"; n])),
            ],
        )
        .unwrap()
    }

    /// Any split of the rows into batches (sliced views, or fresh copies
    /// of them) hashes like the whole; any one changed value does not.
    #[test]
    fn hash_is_the_rows_whatever_the_split_and_sees_every_value() {
        use datafusion::arrow::compute::concat_batches;
        let mut rng = crate::extract::xorshift(5);
        for seed in 1..=40 {
            let whole = mixed(60, seed);
            let want = content_hash(std::slice::from_ref(&whole)).unwrap();
            let mut cuts: Vec<usize> = (0..rng() % 6).map(|_| (rng() % 61) as usize).collect();
            cuts.extend([0, 60]);
            cuts.sort_unstable();
            let pieces: Vec<RecordBatch> = cuts
                .windows(2)
                .map(|w| whole.slice(w[0], w[1] - w[0]))
                .collect();
            assert_eq!(content_hash(&pieces).unwrap(), want, "seed {seed}");
            let fresh: Vec<RecordBatch> = pieces
                .iter()
                .map(|p| concat_batches(&p.schema(), [p]).unwrap())
                .collect();
            assert_eq!(content_hash(&fresh).unwrap(), want, "seed {seed}");
            // Another seed's rows differ somewhere: a different hash.
            assert_ne!(content_hash(&[mixed(60, seed + 100)]).unwrap(), want);
        }
        // Bytes moved between neighbours, null against empty, a flipped
        // bool, a float's sign: all seen.
        let one = |s: Vec<Option<&str>>| {
            let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
            let b = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(s))]).unwrap();
            content_hash(&[b]).unwrap()
        };
        assert_ne!(
            one(vec![Some("ab"), Some("c")]),
            one(vec![Some("a"), Some("bc")])
        );
        assert_ne!(one(vec![None, Some("c")]), one(vec![Some(""), Some("c")]));
        let b = mixed(5, 1);
        let flip = |col: usize, arr: ArrayRef| {
            let mut cols = b.columns().to_vec();
            cols[col] = arr;
            content_hash(&[RecordBatch::try_new(b.schema(), cols).unwrap()]).unwrap()
        };
        let base = content_hash(std::slice::from_ref(&b)).unwrap();
        let f = datafusion::arrow::array::Float64Array::from(vec![
            -0.0,
            1.0 / 3.0,
            2.0 / 3.0,
            1.0,
            4.0 / 3.0,
        ]);
        assert_ne!(flip(2, Arc::new(f)), base);
        assert_eq!(flip(6, Arc::new(StringArray::from(vec!["other"; 5]))), base);
    }

    #[test]
    fn parquet_round_trips_and_is_deterministic() {
        let b = batch(&[5, 6, 7], "r");
        let bytes = encode_parquet(b.schema(), std::slice::from_ref(&b)).unwrap();
        assert_eq!(
            bytes,
            encode_parquet(b.schema(), std::slice::from_ref(&b)).unwrap()
        );
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap();
        let got: Vec<RecordBatch> = reader.map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![b]);
    }
}
