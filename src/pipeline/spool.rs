//! A run's new `sessions` and `observations` rows between decoding and the
//! commit, per day.
//!
//! Each decoded input leaves its rows here as Arrow batches, one piece per
//! (input, day), and keeps only a few bytes per session for the run's
//! accounting. Pieces stay in memory up to a budget; past it they go to
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
pub const DEFAULT_BUDGET: usize = 256 << 20;

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

/// One input's rows of one day, each table sorted by `evidence_ref`.
#[derive(Debug)]
pub struct Piece {
    /// The input's URL.
    pub input: String,
    /// `sessions` rows.
    pub sessions: Vec<RecordBatch>,
    /// `observations` rows.
    pub observations: Vec<RecordBatch>,
}

/// Where a piece is.
#[derive(Debug)]
enum Held {
    Memory(Piece),
    /// Two IPC files: sessions, observations.
    Disk {
        input: String,
        sessions: PathBuf,
        observations: PathBuf,
    },
}

#[derive(Debug, Default)]
struct State {
    days: BTreeMap<NaiveDate, Vec<Held>>,
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

    /// Leave one piece of `day`.
    ///
    /// # Errors
    /// When the piece had to go to disk and writing it failed.
    pub fn push(&self, day: NaiveDate, piece: Piece) -> Result<(), SpoolError> {
        let size = batches_size(&piece.sessions) + batches_size(&piece.observations);
        let (n, to_disk) = {
            let mut st = self.lock();
            let to_disk = st.held + size > self.budget;
            if !to_disk {
                st.held += size;
                st.days.entry(day).or_default().push(Held::Memory(piece));
                return Ok(());
            }
            if !st.dir_made {
                std::fs::create_dir_all(&self.dir).map_err(|e| SpoolError {
                    path: self.dir.clone(),
                    source: ArrowError::IoError(e.to_string(), e),
                })?;
                st.dir_made = true;
            }
            st.files += 2;
            (st.files, to_disk)
        };
        debug_assert!(to_disk);
        let sessions = self.dir.join(format!("{n}-sessions.arrow"));
        let observations = self.dir.join(format!("{n}-observations.arrow"));
        let bytes =
            write_ipc(&sessions, &piece.sessions)? + write_ipc(&observations, &piece.observations)?;
        let mut st = self.lock();
        st.bytes += bytes;
        st.days.entry(day).or_default().push(Held::Disk {
            input: piece.input,
            sessions,
            observations,
        });
        Ok(())
    }

    /// The days that have pieces.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.lock().days.keys().copied().collect()
    }

    /// Take every piece of `day` (read back from disk and deleted there).
    ///
    /// # Errors
    /// When a spool file cannot be read.
    pub fn take(&self, day: NaiveDate) -> Result<Vec<Piece>, SpoolError> {
        let held = {
            let mut st = self.lock();
            let held = st.days.remove(&day).unwrap_or_default();
            for h in &held {
                if let Held::Memory(p) = h {
                    st.held -= batches_size(&p.sessions) + batches_size(&p.observations);
                }
            }
            held
        };
        held.into_iter()
            .map(|h| match h {
                Held::Memory(p) => Ok(p),
                Held::Disk {
                    input,
                    sessions,
                    observations,
                } => Ok(Piece {
                    input,
                    sessions: read_ipc(&sessions)?,
                    observations: read_ipc(&observations)?,
                }),
            })
            .collect()
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
    let schema: SchemaRef = match batches.first() {
        Some(b) => b.schema(),
        None => std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty()),
    };
    let file = File::create(path).map_err(io_err(path))?;
    let opts = IpcWriteOptions::default()
        .try_with_compression(Some(CompressionType::LZ4_FRAME))
        .map_err(err)?;
    let mut w =
        FileWriter::try_new_with_options(BufWriter::new(file), &schema, opts).map_err(err)?;
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.finish().map_err(err)?;
    drop(w);
    Ok(std::fs::metadata(path).map_err(io_err(path))?.len())
}

/// Read an IPC file written by [`write_ipc`] and delete it.
fn read_ipc(path: &Path) -> Result<Vec<RecordBatch>, SpoolError> {
    let err = |source| SpoolError {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err(path))?;
    let reader = FileReader::try_new(BufReader::new(file), None).map_err(err)?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(err)?;
    std::fs::remove_file(path).map_err(io_err(path))?;
    Ok(batches)
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

    fn piece(input: &str, keys: &[&str]) -> Piece {
        Piece {
            input: input.into(),
            sessions: vec![batch(keys)],
            observations: vec![batch(keys), batch(&keys[..1])],
        }
    }

    #[test]
    fn pieces_over_the_budget_go_to_disk_and_come_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
        let first = piece("a", &["x", "y"]);
        let budget = batches_size(&first.sessions) + batches_size(&first.observations);
        let spool = Spool::new(tmp.path(), "r1", budget);
        spool.push(day(2), first).unwrap();
        assert_eq!(spool.spilled(), (0, 0), "the first piece fits");
        spool.push(day(2), piece("b", &["z"])).unwrap();
        spool.push(day(3), piece("c", &["w", "v", "u"])).unwrap();
        let (files, bytes) = spool.spilled();
        assert_eq!(files, 4, "two pieces, two files each");
        assert!(bytes > 0);
        assert_eq!(spool.days(), vec![day(2), day(3)]);

        let two = spool.take(day(2)).unwrap();
        let inputs: Vec<&str> = two.iter().map(|p| p.input.as_str()).collect();
        assert_eq!(inputs, ["a", "b"]);
        assert_eq!(two[1].sessions, vec![batch(&["z"])]);
        assert_eq!(two[1].observations, vec![batch(&["z"]), batch(&["z"])]);
        let three = spool.take(day(3)).unwrap();
        assert_eq!(three[0].sessions, vec![batch(&["w", "v", "u"])]);
        assert!(spool.take(day(3)).unwrap().is_empty(), "taken once");
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
    fn an_unwritable_spool_directory_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let spool = Spool::new(&file, "r1", 0);
        let day = NaiveDate::from_ymd_opt(2026, 5, 2).unwrap();
        let err = spool.push(day, piece("a", &["x"])).unwrap_err();
        assert!(err.path.starts_with(&file), "{err}");
    }
}
