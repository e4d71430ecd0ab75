//! Reading the ledgers back (lake.md §7): what earlier runs read of each
//! input object (`_inputs`) and which driftlake version read it (`_runs`).
//! Incremental runs and the agent monitor's resume offsets are decided
//! from these.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use futures::{StreamExt, TryStreamExt};

use super::{Lake, SinkError};
use crate::model::schema::Table;

/// Ledger files read at once (object stores answer GETs in parallel).
const READ_AHEAD: usize = 16;

/// One `_inputs` row as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerInput {
    /// The run that read the input.
    pub run_id: String,
    /// The object's URL.
    pub source: String,
    /// `sessrec`, `otlp`, … (lake.md §7).
    pub kind: String,
    /// Size as listed then.
    pub size: u64,
    /// The store's entity tag then.
    pub e_tag: Option<String>,
    /// Modification time then (µs).
    pub last_modified_us: Option<i64>,
    /// `ok` or `failed`.
    pub status: String,
    /// Offset after the last record consumed.
    pub byte_offset_done: u64,
    /// Complete lines consumed (agent JSON lines).
    pub lines_done: Option<u64>,
    /// Hash of the first bytes (agent JSON lines).
    pub head_hash: Option<String>,
}

fn strings(b: &RecordBatch, name: &str) -> Option<StringArray> {
    let i = b.schema().index_of(name).ok()?;
    b.column(i).as_any().downcast_ref::<StringArray>().cloned()
}

fn ints(b: &RecordBatch, name: &str) -> Option<Int64Array> {
    let i = b.schema().index_of(name).ok()?;
    b.column(i).as_any().downcast_ref::<Int64Array>().cloned()
}

fn opt<T, A: Array>(a: Option<&A>, row: usize, get: impl Fn(&A) -> T) -> Option<T> {
    a.filter(|a| !a.is_null(row)).map(get)
}

/// The rows of one `_inputs` batch; a batch without the required columns
/// (not a ledger file of ours) gives none.
fn decode_inputs(b: &RecordBatch) -> Vec<LedgerInput> {
    let (Some(run), Some(source), Some(kind), Some(size), Some(status), Some(done)) = (
        strings(b, "run_id"),
        strings(b, "source"),
        strings(b, "kind"),
        ints(b, "size"),
        strings(b, "status"),
        ints(b, "byte_offset_done"),
    ) else {
        return Vec::new();
    };
    let e_tag = strings(b, "e_tag");
    let lines = ints(b, "lines_done");
    let head = strings(b, "head_hash");
    let modified = b.schema().index_of("last_modified").ok().and_then(|i| {
        let a: &ArrayRef = b.column(i);
        a.as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .cloned()
    });
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    (0..b.num_rows())
        .map(|r| LedgerInput {
            run_id: run.value(r).to_string(),
            source: source.value(r).to_string(),
            kind: kind.value(r).to_string(),
            size: u(size.value(r)),
            e_tag: opt(e_tag.as_ref(), r, |a| a.value(r).to_string()),
            last_modified_us: opt(modified.as_ref(), r, |a| a.value(r)),
            status: status.value(r).to_string(),
            byte_offset_done: u(done.value(r)),
            lines_done: opt(lines.as_ref(), r, |a| u(a.value(r))),
            head_hash: opt(head.as_ref(), r, |a| a.value(r).to_string()),
        })
        .collect()
}

impl Lake {
    /// Every `_inputs` row, newest run first (a run's rows in file order),
    /// so the first row of a source is its newest.
    ///
    /// # Errors
    /// [`SinkError`] when the ledger cannot be listed or a file read.
    pub async fn input_ledger(&self) -> Result<Vec<LedgerInput>, SinkError> {
        let files = self.ledger_files(Table::Inputs).await?;
        let per_file: Vec<Vec<RecordBatch>> = futures::stream::iter(files)
            .map(|path| async move { self.read_file(Table::Inputs.as_str(), &path).await })
            .buffered(READ_AHEAD)
            .try_collect()
            .await?;
        Ok(per_file.iter().flatten().flat_map(decode_inputs).collect())
    }

    /// The newest `_inputs` row of every source the ledger knows.
    ///
    /// # Errors
    /// As [`Lake::input_ledger`].
    pub async fn latest_inputs(&self) -> Result<HashMap<String, LedgerInput>, SinkError> {
        let mut out: HashMap<String, LedgerInput> = HashMap::new();
        for row in self.input_ledger().await? {
            out.entry(row.source.clone()).or_insert(row);
        }
        Ok(out)
    }

    /// The `_runs.version` of each of `run_ids` that has a run ledger file.
    ///
    /// # Errors
    /// [`SinkError`] when a run ledger file exists but cannot be read.
    pub async fn run_versions(
        &self,
        run_ids: &BTreeSet<String>,
    ) -> Result<HashMap<String, String>, SinkError> {
        let table = Table::Runs.as_str();
        let found: Vec<Option<(String, String)>> = futures::stream::iter(run_ids.iter())
            .map(|id| async move {
                let path = self.ledger_path(Table::Runs, id);
                let batches = match self.read_file(table, &path).await {
                    Ok(b) => b,
                    Err(SinkError::Store {
                        source: object_store::Error::NotFound { .. },
                        ..
                    }) => return Ok(None),
                    Err(e) => return Err(e),
                };
                Ok(batches.iter().find_map(|b| {
                    let v = strings(b, "version")?;
                    (v.len() > 0 && !v.is_null(0)).then(|| (id.clone(), v.value(0).to_string()))
                }))
            })
            .buffered(READ_AHEAD)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::{self, InputRow, RunRow};

    fn input(run: &str, source: &str, size: i64, status: &'static str) -> InputRow {
        InputRow {
            run_id: run.into(),
            source: source.into(),
            size,
            e_tag: Some(format!("e{size}")),
            last_modified_us: Some(7),
            kind: "sessrec",
            records_read: 1,
            records_ok: 1,
            records_skipped: 0,
            records_dead: 0,
            rows_out: 1,
            status,
            error: None,
            byte_offset_done: size,
            lines_done: None,
            head_hash: None,
        }
    }

    fn run(id: &str, version: &str) -> RunRow {
        RunRow {
            status: "committed",
            ..RunRow::running(id, "j", 0, version.into())
        }
    }

    #[tokio::test]
    async fn newest_row_per_source_and_run_versions() {
        let lake = Lake::open("memory://ledger-read/lake").unwrap();
        let r1 = [input("r1", "a", 10, "ok"), input("r1", "b", 5, "ok")];
        let r2 = [input("r2", "a", 12, "failed")];
        for (id, rows) in [("r1", &r1[..]), ("r2", &r2[..])] {
            let refs: Vec<&InputRow> = rows.iter().collect();
            let b = schema::inputs_batch(&refs).unwrap();
            lake.write_ledger(Table::Inputs, id, &b).await.unwrap();
        }
        let b = schema::runs_batch(&[&run("r1", "0.1.0")]).unwrap();
        lake.write_ledger(Table::Runs, "r1", &b).await.unwrap();

        let all = lake.input_ledger().await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].run_id, "r2", "newest run first");
        let latest = lake.latest_inputs().await.unwrap();
        assert_eq!(
            (latest["a"].size, latest["a"].status.as_str()),
            (12, "failed")
        );
        assert_eq!(
            (latest["b"].size, latest["b"].e_tag.as_deref()),
            (5, Some("e5"))
        );
        assert_eq!(latest["b"].last_modified_us, Some(7));

        let ids: BTreeSet<String> = ["r1".to_string(), "r2".to_string()].into();
        let v = lake.run_versions(&ids).await.unwrap();
        assert_eq!(v.get("r1").map(String::as_str), Some("0.1.0"));
        assert!(
            !v.contains_key("r2"),
            "a run without a ledger file has no version"
        );
    }
}
