//! Query results read back by column name with a cast to the wanted type,
//! for the commands and stages that turn a small SQL result into Rust rows
//! (the report, the gate, the drift events).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};

use super::{EngineError, Result};

/// Rows of a query as string / integer / float cells, by column name.
pub struct Rows {
    cols: BTreeMap<String, Vec<ArrayRef>>,
    len: usize,
}

impl Rows {
    /// Rows in all.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Collect `batches` (one schema) by column name.
    pub fn new(batches: &[RecordBatch]) -> Self {
        let mut cols: BTreeMap<String, Vec<ArrayRef>> = BTreeMap::new();
        for b in batches {
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                cols.entry(f.name().clone()).or_default().push(c.clone());
            }
        }
        Rows {
            cols,
            len: batches.iter().map(RecordBatch::num_rows).sum(),
        }
    }

    /// Column `name` cast to `to`, one array per batch. A query that
    /// returned no batch at all (no rows) has every column, empty.
    pub fn column(&self, name: &str, to: &DataType) -> Result<Vec<ArrayRef>> {
        if self.cols.is_empty() {
            return Ok(Vec::new());
        }
        let parts = self
            .cols
            .get(name)
            .ok_or_else(|| EngineError::Statement(format!("report query lacks column {name}")))?;
        parts
            .iter()
            .map(|a| cast(a, to).map_err(EngineError::from))
            .collect()
    }

    /// Column `name` as text (NULL as None).
    pub fn strings(&self, name: &str) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &DataType::Utf8)? {
            let s = a.as_string::<i32>();
            out.extend((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_string())));
        }
        Ok(out)
    }

    /// Column `name` as i64 (NULL as 0).
    pub fn ints(&self, name: &str) -> Result<Vec<i64>> {
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &DataType::Int64)? {
            let s = a.as_primitive::<Int64Type>();
            out.extend((0..s.len()).map(|i| if s.is_null(i) { 0 } else { s.value(i) }));
        }
        Ok(out)
    }

    /// Column `name` as f64 (NULL as 0.0).
    pub fn floats(&self, name: &str) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &DataType::Float64)? {
            let s = a.as_primitive::<Float64Type>();
            out.extend((0..s.len()).map(|i| if s.is_null(i) { 0.0 } else { s.value(i) }));
        }
        Ok(out)
    }

    /// True when the result has a column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.cols.contains_key(name)
    }

    /// Column `name` as i64, NULL kept.
    pub fn opt_ints(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &DataType::Int64)? {
            let s = a.as_primitive::<Int64Type>();
            out.extend((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i))));
        }
        Ok(out)
    }

    /// Column `name` as f64, NULL kept.
    pub fn opt_floats(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &DataType::Float64)? {
            let s = a.as_primitive::<Float64Type>();
            out.extend((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i))));
        }
        Ok(out)
    }

    /// Column `name` as µs since the epoch, UTC (NULL as 0).
    pub fn micros(&self, name: &str) -> Result<Vec<i64>> {
        let to = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &to)? {
            let s = a.as_primitive::<TimestampMicrosecondType>();
            out.extend((0..s.len()).map(|i| if s.is_null(i) { 0 } else { s.value(i) }));
        }
        Ok(out)
    }

    /// Column `name` as bool (NULL as false).
    pub fn bools(&self, name: &str) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &DataType::Boolean)? {
            let s = a.as_boolean();
            out.extend((0..s.len()).map(|i| !s.is_null(i) && s.value(i)));
        }
        Ok(out)
    }

    /// Column `name` as lists of text (NULL as empty).
    pub fn string_lists(&self, name: &str) -> Result<Vec<Vec<String>>> {
        let to = DataType::List(std::sync::Arc::new(
            datafusion::arrow::datatypes::Field::new_list_field(DataType::Utf8, true),
        ));
        let mut out = Vec::with_capacity(self.len);
        for a in self.column(name, &to)? {
            let l = a.as_list::<i32>();
            for i in 0..l.len() {
                if l.is_null(i) {
                    out.push(Vec::new());
                    continue;
                }
                let v = l.value(i);
                let s = v.as_string::<i32>();
                out.push(
                    (0..s.len())
                        .filter(|&j| !s.is_null(j))
                        .map(|j| s.value(j).to_string())
                        .collect(),
                );
            }
        }
        Ok(out)
    }
}
