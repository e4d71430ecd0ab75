//! Parquet encoding and content-addressed file names (lake.md §1–2).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
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
/// Rows are encoded with Arrow's row format, which is a deterministic,
/// self-delimiting byte encoding of each row's values, so equal rows in equal
/// order give an equal hash whatever the batches' buffer layout. The hash
/// covers the column names and types, the file's ordinal in its partition
/// (from the second file on), every row, and the row count (last).
pub struct ContentHasher {
    h: blake3::Hasher,
    keep: Vec<usize>,
    conv: Option<RowConverter>,
    buf: Vec<u8>,
    rows: u64,
}

impl ContentHasher {
    fn start() -> blake3::Hasher {
        let mut h = blake3::Hasher::new();
        h.update(b"driftlake-content-v3\x1f");
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
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| schema.field(i).name() != RUN_ID_COL)
            .collect();
        for &i in &keep {
            let f = schema.field(i);
            h.update(f.name().as_bytes());
            h.update(b"\x1f");
            h.update(f.data_type().to_string().as_bytes());
            h.update(b"\x1e");
        }
        if ordinal > 0 {
            h.update(b"file\x1f");
            h.update(&(ordinal as u64).to_le_bytes());
        }
        let conv = if keep.is_empty() {
            None
        } else {
            let fields = keep
                .iter()
                .map(|&i| SortField::new(schema.field(i).data_type().clone()))
                .collect();
            Some(RowConverter::new(fields)?)
        };
        Ok(ContentHasher {
            h,
            keep,
            conv,
            buf: Vec::new(),
            rows: 0,
        })
    }

    /// Hash the rows of `batch` (of the hasher's schema).
    ///
    /// # Errors
    /// When the batch's columns do not fit the row format.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.rows += batch.num_rows() as u64;
        let Some(conv) = &self.conv else {
            return Ok(());
        };
        let cols: Vec<_> = self
            .keep
            .iter()
            .map(|&i| Arc::clone(batch.column(i)))
            .collect();
        let rows = conv.convert_columns(&cols)?;
        // The hasher sees one stream whatever the pieces it is fed in, so
        // the rows are gathered into a buffer and hashed in large pieces
        // (blake3 hashes long inputs many chunks at a time; per-row calls
        // cannot).
        if self.buf.capacity() == 0 {
            self.buf.reserve(HASH_BUF_BYTES + 4096);
        }
        for row in rows.iter() {
            let bytes: &[u8] = row.as_ref();
            self.buf
                .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            self.buf.extend_from_slice(bytes);
            if self.buf.len() >= HASH_BUF_BYTES {
                self.h.update(&self.buf);
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// The hash.
    pub fn finish(mut self) -> [u8; 32] {
        self.h.update(&self.buf);
        self.h.update(b"\x1e");
        self.h.update(&self.rows.to_le_bytes());
        *self.h.finalize().as_bytes()
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
