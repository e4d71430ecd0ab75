//! A run's new `sessions`, `observations` and `dlq` rows between decoding
//! and the commit, per day.
//!
//! Each decoded input leaves its rows here as Arrow batches, one piece per
//! (input, day, table), and keeps only a few bytes per session and a count
//! per dead-letter reason for the run's accounting. Pieces stay in memory up to a budget; past it they go to
//! LZ4-compressed Arrow IPC files in a directory of the run's own, read
//! back (and deleted) when their day is committed. So what decoding holds
//! is bounded by the budget, not by the size of the run's input.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::arrow::ipc::CompressionType;

/// What the spool holds in memory before pieces go to disk, when the job
/// sets no `[engine] memory_limit`.
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// Why the spool failed: the file and the I/O or Arrow error.
#[derive(Debug, thiserror::Error)]
#[error("spool file {}", path.display())]
pub struct SpoolError {
    /// The spool file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: ArrowError,
}

/// The table a piece is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// `sessions` rows, sorted by `evidence_ref`.
    Sessions,
    /// `observations` rows, sorted by `evidence_ref`.
    Observations,
    /// `dlq` rows.
    Dlq,
}

impl Part {
    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Part::Sessions => "sessions",
            Part::Observations => "observations",
            Part::Dlq => "dlq",
        }
    }

    /// The column a piece's rows are sorted by.
    pub fn key(self) -> &'static str {
        match self {
            Part::Sessions | Part::Observations => "evidence_ref",
            Part::Dlq => "source",
        }
    }
}

/// One input's rows of one day and table.
#[derive(Debug)]
pub struct Piece {
    /// The input's URL.
    pub input: String,
    /// The rows (one schema).
    pub batches: Vec<RecordBatch>,
}

/// Where a piece is.
#[derive(Debug)]
enum Where {
    Memory(Vec<RecordBatch>),
    /// An IPC file.
    Disk(PathBuf),
}

/// A piece left in the spool: its input, the first and last value of its
/// key column ([`Part::key`]; empty strings when the column is missing),
/// and its rows, in memory or on disk until [`Held::load`].
#[derive(Debug)]
pub struct Held {
    /// The input's URL.
    pub input: String,
    /// The key of the piece's first row.
    pub first: String,
    /// The key of the piece's last row.
    pub last: String,
    at: Where,
}

impl Held {
    /// The piece's rows (read back from disk, and the file deleted).
    ///
    /// # Errors
    /// When a spool file cannot be read.
    pub fn load(self) -> Result<Piece, SpoolError> {
        let input = self.input.clone();
        let batches = self.batches()?.collect::<Result<Vec<_>, _>>()?;
        Ok(Piece { input, batches })
    }

    /// The piece's rows a batch at a time (a file is read as they are
    /// asked for, and deleted after), so a merge of many pieces holds one
    /// batch of each.
    ///
    /// # Errors
    /// When a spool file cannot be opened.
    pub fn batches(
        self,
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch, SpoolError>> + Send>, SpoolError> {
        match self.at {
            Where::Memory(b) => Ok(Box::new(b.into_iter().map(Ok))),
            Where::Disk(path) => {
                let err = |source| SpoolError {
                    path: path.clone(),
                    source,
                };
                let file = File::open(&path).map_err(io_err(&path))?;
                let reader = FileReader::try_new(BufReader::new(file), None).map_err(err)?;
                Ok(Box::new(IpcBatches { path, reader }))
            }
        }
    }
}

/// The key of row `row` of `batch` (empty when the column is missing or
/// not Utf8).
fn key_at(batch: &RecordBatch, key: &str, row: usize) -> String {
    use datafusion::arrow::array::{Array, StringArray};
    batch
        .column_by_name(key)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .filter(|a| row < a.len() && a.is_valid(row))
        .map(|a| a.value(row).to_string())
        .unwrap_or_default()
}

/// The key range of non-empty batches sorted by `key`.
fn key_range(batches: &[RecordBatch], key: &str) -> (String, String) {
    let first = batches.iter().find(|b| b.num_rows() > 0);
    let last = batches.iter().rev().find(|b| b.num_rows() > 0);
    match (first, last) {
        (Some(f), Some(l)) => (key_at(f, key, 0), key_at(l, key, l.num_rows() - 1)),
        _ => (String::new(), String::new()),
    }
}

#[derive(Debug, Default)]
struct State {
    days: BTreeMap<(NaiveDate, Part), Vec<Held>>,
    /// Bytes of the pieces in memory.
    held: usize,
    files: u64,
    bytes: u64,
    dir_made: bool,
}

/// The run's spool (see the module docs). Shared by the decoding threads.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    budget: usize,
    state: Mutex<State>,
}

fn batches_size(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::get_array_memory_size).sum()
}

impl Spool {
    /// A spool holding up to `budget` bytes in memory; its files go to a
    /// directory of its own under `parent` (made when first needed,
    /// removed with the spool).
    pub fn new(parent: &Path, run_id: &str, budget: usize) -> Self {
        Spool {
            dir: parent.join(format!("driftlake-spool-{run_id}")),
            budget,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the map half-updated in a way that
        // matters more than the panic itself.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Leave one piece of `day`'s `part` (nothing for a piece without
    /// batches).
    ///
    /// # Errors
    /// When the piece had to go to disk and writing it failed.
    pub fn push(&self, day: NaiveDate, part: Part, piece: Piece) -> Result<(), SpoolError> {
        if piece.batches.is_empty() {
            return Ok(());
        }
        let size = batches_size(&piece.batches);
        let (first, last) = key_range(&piece.batches, part.key());
        let n = {
            let mut st = self.lock();
            if st.held + size <= self.budget {
                st.held += size;
                st.days.entry((day, part)).or_default().push(Held {
                    input: piece.input,
                    first,
                    last,
                    at: Where::Memory(piece.batches),
                });
                return Ok(());
            }
            if !st.dir_made {
                std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
                st.dir_made = true;
            }
            st.files += 1;
            st.files
        };
        let path = self.dir.join(format!("{n}-{}.arrow", part.name()));
        let bytes = write_ipc(&path, &piece.batches)?;
        let mut st = self.lock();
        st.bytes += bytes;
        st.days.entry((day, part)).or_default().push(Held {
            input: piece.input,
            first,
            last,
            at: Where::Disk(path),
        });
        Ok(())
    }

    /// Take every piece of `day`'s `part`, in the order they were left
    /// (read back from disk and deleted there).
    ///
    /// # Errors
    /// When a spool file cannot be read.
    pub fn take(&self, day: NaiveDate, part: Part) -> Result<Vec<Piece>, SpoolError> {
        self.take_held(day, part)
            .into_iter()
            .map(Held::load)
            .collect()
    }

    /// Take every piece of `day`'s `part` without loading them: the caller
    /// reads each when it needs its rows ([`Held::load`], [`Held::batches`]), so a day's
    /// pieces need not be in memory at once. What is not loaded is
    /// deleted with the spool.
    pub fn take_held(&self, day: NaiveDate, part: Part) -> Vec<Held> {
        let mut st = self.lock();
        let held = st.days.remove(&(day, part)).unwrap_or_default();
        for h in &held {
            if let Where::Memory(b) = &h.at {
                st.held -= batches_size(b);
            }
        }
        held
    }

    /// Drop every piece `input` left (an input that failed after some of
    /// its rows were spooled: its partitions keep their committed rows).
    pub fn discard(&self, input: &str) {
        let mut st = self.lock();
        let mut freed = 0;
        let mut files = Vec::new();
        for pieces in st.days.values_mut() {
            pieces.retain_mut(|h| {
                if h.input != input {
                    return true;
                }
                match &mut h.at {
                    Where::Memory(b) => freed += batches_size(b),
                    Where::Disk(path) => files.push(std::mem::take(path)),
                }
                false
            });
        }
        st.days.retain(|_, pieces| !pieces.is_empty());
        st.held -= freed;
        drop(st);
        for f in files {
            if let Err(e) = std::fs::remove_file(&f) {
                tracing::warn!(file = %f.display(), error = %e, "Cannot remove a spool file.");
            }
        }
    }

    /// Spool files written and their bytes on disk.
    pub fn spilled(&self) -> (u64, u64) {
        let st = self.lock();
        (st.files, st.bytes)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if self.lock().dir_made {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "Cannot remove the spool directory.");
            }
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SpoolError + '_ {
    move |e| SpoolError {
        path: path.to_path_buf(),
        source: ArrowError::IoError(e.to_string(), e),
    }
}

/// Write batches (one schema; at least one batch) to an IPC file; its size.
fn write_ipc(path: &Path, batches: &[RecordBatch]) -> Result<u64, SpoolError> {
    let err = |source| SpoolError {
        path: path.to_path_buf(),
        source,
    };
    let schema: SchemaRef = batches[0].schema();
    let file = File::create(path).map_err(io_err(path))?;
    let opts = IpcWriteOptions::default()
        .try_with_compression(Some(CompressionType::LZ4_FRAME))
        .map_err(err)?;
    let mut w =
        FileWriter::try_new_with_options(BufWriter::new(file), &schema, opts).map_err(err)?;
    // In batches of at most IPC_BATCH_ROWS rows, so a piece can be read
    // back a batch at a time (Held::batches).
    for b in batches {
        let mut at = 0;
        while at < b.num_rows() {
            let n = IPC_BATCH_ROWS.min(b.num_rows() - at);
            w.write(&b.slice(at, n)).map_err(err)?;
            at += n;
        }
    }
    w.finish().map_err(err)?;
    drop(w);
    Ok(std::fs::metadata(path).map_err(io_err(path))?.len())
}

/// Rows per batch of a spool file.
const IPC_BATCH_ROWS: usize = 8192;

/// The batches of a spool file, read one at a time; the file is deleted
/// when they have all been read or the reader is dropped.
struct IpcBatches {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
}

impl Iterator for IpcBatches {
    type Item = Result<RecordBatch, SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next().map(|r| {
            r.map_err(|source| SpoolError {
                path: self.path.clone(),
                source,
            })
        })
    }
}

impl Drop for IpcBatches {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(file = %self.path.display(), error = %e, "Cannot remove a spool file.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(keys: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("evidence_ref", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(keys.to_vec())),
                Arc::new(Int64Array::from_iter(
                    (0..keys.len()).map(|i| Some(i as i64)),
                )),
            ],
        )
        .unwrap()
    }

    fn piece(input: &str, batches: Vec<RecordBatch>) -> Piece {
        Piece {
            input: input.into(),
            batches,
        }
    }

    #[test]
    fn pieces_over_the_budget_go_to_disk_and_come_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
        let first = vec![batch(&["x", "y"])];
        let spool = Spool::new(tmp.path(), "r1", batches_size(&first));
        spool
            .push(day(2), Part::Sessions, piece("a", first))
            .unwrap();
        assert_eq!(spool.spilled(), (0, 0), "the first piece fits");
        let two_batches = vec![batch(&["z"]), batch(&["z", "q"])];
        let b = piece("b", two_batches.clone());
        spool.push(day(2), Part::Sessions, b).unwrap();
        let c = piece("c", vec![batch(&["w", "v", "u"])]);
        spool.push(day(2), Part::Observations, c).unwrap();
        spool
            .push(day(3), Part::Dlq, piece("d", Vec::new()))
            .unwrap();
        let (files, bytes) = spool.spilled();
        assert_eq!(
            files, 2,
            "one file a piece past the budget; none for no rows"
        );
        assert!(bytes > 0);

        let held = spool.take_held(day(2), Part::Sessions);
        let ranges: Vec<(&str, &str)> = held
            .iter()
            .map(|h| (h.first.as_str(), h.last.as_str()))
            .collect();
        assert_eq!(ranges, [("x", "y"), ("z", "q")], "first and last key");
        let two = held
            .into_iter()
            .map(Held::load)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let inputs: Vec<&str> = two.iter().map(|p| p.input.as_str()).collect();
        assert_eq!(inputs, ["a", "b"]);
        assert_eq!(two[0].batches, vec![batch(&["x", "y"])]);
        assert_eq!(two[1].batches, two_batches);
        let obs = spool.take(day(2), Part::Observations).unwrap();
        assert_eq!(obs[0].batches, vec![batch(&["w", "v", "u"])]);
        let again = spool.take(day(2), Part::Sessions).unwrap();
        assert!(again.is_empty(), "taken once");
        assert!(spool.take(day(3), Part::Dlq).unwrap().is_empty());
        let dir = tmp.path().join("driftlake-spool-r1");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "files deleted when read"
        );
        drop(spool);
        assert!(!dir.exists(), "the spool directory goes with the spool");
    }

    #[test]
    fn a_discarded_input_leaves_no_piece_in_memory_or_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
        let one = vec![batch(&["x"])];
        let spool = Spool::new(tmp.path(), "r1", batches_size(&one));
        spool.push(day(2), Part::Sessions, piece("a", one)).unwrap();
        spool
            .push(day(2), Part::Sessions, piece("b", vec![batch(&["y"])]))
            .unwrap();
        spool
            .push(day(3), Part::Observations, piece("a", vec![batch(&["z"])]))
            .unwrap();
        assert_eq!(spool.spilled().0, 2, "past the budget");
        spool.discard("a");
        assert_eq!(spool.lock().held, 0, "a's piece in memory is freed");
        let dir = tmp.path().join("driftlake-spool-r1");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "a's file is gone"
        );
        let left = spool.take(day(2), Part::Sessions).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].input, "b");
        assert!(spool.take(day(3), Part::Observations).unwrap().is_empty());
    }

    #[test]
    fn an_unwritable_spool_directory_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let spool = Spool::new(&file, "r1", 0);
        let day = NaiveDate::from_ymd_opt(2026, 5, 2).unwrap();
        let err = spool
            .push(day, Part::Dlq, piece("a", vec![batch(&["x"])]))
            .unwrap_err();
        assert!(err.path.starts_with(&file), "{err}");
    }
}
