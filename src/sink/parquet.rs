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

/// sha256 over a partition's schema and rows (its batches in order),
/// `run_id` excluded.
///
/// Rows are encoded with Arrow's row format, which is a deterministic,
/// self-delimiting byte encoding of each row's values, so equal rows in equal
/// order give an equal hash whatever the batch's buffer layout.
///
/// # Errors
/// When the row format does not support a column type (a schema bug).
pub fn content_hash(batches: &[RecordBatch]) -> Result<[u8; 32], ArrowError> {
    let mut h = blake3::Hasher::new();
    h.update(b"driftlake-content-v2\x1f");
    let Some(first) = batches.first() else {
        return Ok(*h.finalize().as_bytes());
    };
    let schema = first.schema();
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
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    h.update(&(total as u64).to_le_bytes());
    if keep.is_empty() {
        return Ok(*h.finalize().as_bytes());
    }
    let fields = keep
        .iter()
        .map(|&i| SortField::new(schema.field(i).data_type().clone()))
        .collect();
    let conv = RowConverter::new(fields)?;
    // The hasher sees one stream whatever the pieces it is fed in, so the
    // rows are gathered into a buffer and hashed in large pieces (blake3
    // hashes long inputs many chunks at a time; per-row calls cannot).
    let mut buf: Vec<u8> = Vec::with_capacity(HASH_BUF_BYTES + 4096);
    for batch in batches {
        let cols: Vec<_> = keep.iter().map(|&i| Arc::clone(batch.column(i))).collect();
        let rows = conv.convert_columns(&cols)?;
        for row in rows.iter() {
            let bytes: &[u8] = row.as_ref();
            buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            buf.extend_from_slice(bytes);
            if buf.len() >= HASH_BUF_BYTES {
                h.update(&buf);
                buf.clear();
            }
        }
    }
    h.update(&buf);
    Ok(*h.finalize().as_bytes())
}

/// `part-<first 16 hex of the content hash>.parquet`.
pub fn part_file_name(hash: &[u8; 32]) -> String {
    format!("part-{}.parquet", &hex::encode(hash)[..16])
}

/// Encode batches (one schema) as one zstd-compressed Parquet file in
/// memory.
///
/// # Errors
/// When the Parquet writer fails (e.g. the batches disagree on the schema).
pub fn encode_parquet(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props))?;
    for b in batches {
        w.write(b)?;
    }
    w.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn batch(vals: &[i64], run: &str) -> RecordBatch {
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
