//! The lake: partitioned Parquet, partition replace, ledgers
//! (spec/lake.md §1, §2, §7).
//!
//! # Commit protocol (lake.md §2, "Partition replace")
//!
//! Each managed table has a manifest, `<lake>/_manifest/<table>.json`,
//! listing the current files of every partition. A commit of a table:
//!
//! 1. computes each file's **content hash** (BLAKE3 over the Arrow row
//!    encoding of every column except `run_id`, the file's place in its
//!    partition and its row count) and its name `part-<16 hex>.parquet`;
//! 2. writes the files whose content changed (a partition whose files all
//!    keep their names is left untouched, run_id and all, so a rerun over
//!    the same input changes no byte of any table);
//! 3. switches with **one** put of the manifest (skipped when unchanged);
//! 4. deletes the replaced files.
//!
//! A run killed before step 3 leaves new files the manifest does not list;
//! one killed after it leaves old files it no longer lists. Both are
//! deleted by [`Lake::repair`] at the start of the next run, so the lake
//! stays readable (through the manifest) at every instant and converges.
//! Readers that list directories instead of reading the manifest may see
//! both the old and the new file of a partition between steps 2 and 4;
//! `engine` reads through [`Lake::manifest`].
//!
//! A partition is one file ([`Lake::commit`], [`PendingCommit::prepare`]:
//! rows in memory, hashed before they are encoded), or is streamed through
//! a [`PartWriter`] into files of at most [`FILE_ROWS`] rows (or the job's
//! `[lake] max_rows_per_file`), each put as soon as it is full.
//!
//! What goes *into* a partition is the caller's choice; the pipeline
//! rebuilds the rows of the inputs it read and carries over the committed
//! rows of all other inputs with [`merge_partition`] or [`merge_stream`]
//! (read back through [`Lake::read_partition`] or
//! [`Lake::partition_batches`]), so a partition always reflects every input
//! that ever fed it. A partition left with no rows is removed.
//!
//! One writer per lake at a time: two concurrent runs would each repair the
//! other's uncommitted files away. The ledgers `_runs/<run_id>.parquet` and
//! `_inputs/<run_id>.parquet` are one file per run and need no manifest.

pub mod crash;
pub mod ledger;
pub mod lock;
mod manifest;
mod merge;
mod parquet;

pub use manifest::{Manifest, PartitionEntry};
pub use merge::{adapt, merge_partition, merge_rows, merge_stream, Merged, NewRun, RunBatches};
pub use parquet::{content_hash, encode_parquet, part_file_name, ContentHasher};

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::model::schema::{Table, PARTITION_COL};
use crate::source::{open_lake, SourceError, StoreUrl};

/// Errors from writing or reading the lake.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Opening the lake URL failed.
    #[error("cannot open the lake")]
    Open(#[from] SourceError),
    /// An object-store call failed.
    #[error("cannot {op} {path}")]
    Store {
        /// What we were doing (`write`, `delete`, `list`, `read`).
        op: &'static str,
        /// The object's redacted URL.
        path: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// Encoding Parquet failed.
    #[error("cannot encode {table} as parquet")]
    Parquet {
        /// The table.
        table: String,
        /// Why.
        #[source]
        source: datafusion::parquet::errors::ParquetError,
    },
    /// Building or hashing Arrow data failed (an internal schema bug).
    #[error("cannot build the {table} batch")]
    Arrow {
        /// The table.
        table: String,
        /// Why.
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
    /// Another run holds the lake (`_lock.json`).
    #[error("lake {lake} is in use by {holder}; if that run is no longer running, rerun with --break-lock")]
    Locked {
        /// The lake's redacted URL.
        lake: String,
        /// Who holds it.
        holder: String,
    },
    /// A manifest exists but cannot be parsed.
    #[error("the manifest {path} is corrupt")]
    Manifest {
        /// The manifest's redacted URL.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl SinkError {
    /// [`SinkError::Arrow`] of `table`, as a `map_err` function.
    fn arrow(table: &str) -> impl Fn(datafusion::arrow::error::ArrowError) -> Self + Clone + Send {
        let table = table.to_string();
        move |source| SinkError::Arrow {
            table: table.clone(),
            source,
        }
    }

    /// [`SinkError::Parquet`] of `table`, as a `map_err` function.
    fn parquet(
        table: &str,
    ) -> impl Fn(datafusion::parquet::errors::ParquetError) -> Self + Clone + Send {
        let table = table.to_string();
        move |source| SinkError::Parquet {
            table: table.clone(),
            source,
        }
    }
}

/// The manifest key of a partition: `date=YYYY-MM-DD`, or `""` (`date`
/// None) for the table root.
fn partition_key(date: Option<&str>) -> String {
    date.map(|d| format!("{PARTITION_COL}={d}"))
        .unwrap_or_default()
}

/// One Parquet file of `table`, decoded a batch at a time.
fn decode_parquet(
    table: &str,
    bytes: Bytes,
) -> Result<impl Iterator<Item = Result<RecordBatch, SinkError>> + Send + use<>, SinkError> {
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .map_err(SinkError::parquet(table))?;
    let arrow = SinkError::arrow(table);
    Ok(reader.map(move |b| b.map_err(&arrow)))
}

/// One partition to commit: its key (`None` for an unpartitioned table,
/// else the `date` value) and its rows, already sorted and deduplicated.
#[derive(Clone, Debug)]
pub struct Partition {
    /// `Some("YYYY-MM-DD")` for a `date=` partition, `None` for the table root.
    pub date: Option<String>,
    /// The rows, without the partition column, in order (one schema).
    /// With no rows at all, the partition is removed (if it exists).
    pub batches: Vec<RecordBatch>,
}

impl Partition {
    /// The manifest key: `date=YYYY-MM-DD`, or `""` for the table root.
    pub fn key(&self) -> String {
        partition_key(self.date.as_deref())
    }
}

/// What one table commit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableCommit {
    /// Partitions whose file was (re)written.
    pub written: Vec<String>,
    /// Partitions left untouched because their content did not change.
    pub unchanged: Vec<String>,
    /// Partitions removed because no rows are left in them.
    pub removed: Vec<String>,
    /// Files deleted because a new file replaced them.
    pub deleted: usize,
    /// Rows in the committed partitions (written or unchanged).
    pub rows: u64,
}

/// A table commit in progress (see [`Lake::begin_commit`]).
#[derive(Debug)]
pub struct PendingCommit {
    table: String,
    run_id: String,
    old: Manifest,
    new: Manifest,
    out: TableCommit,
    /// Files to delete after the manifest switch.
    replaced: Vec<Path>,
}

/// A partition hashed and, when its content changed, encoded: ready for
/// [`Lake::write_prepared`].
#[derive(Debug)]
pub struct Prepared {
    key: String,
    rows: u64,
    action: Action,
}

#[derive(Debug)]
enum Action {
    /// No rows left: the partition goes.
    Remove,
    /// Same content as its current file.
    Unchanged,
    /// A new file.
    Write { file: String, body: Vec<u8> },
    /// Files a [`PartWriter`] already put (or found in place).
    Written { files: Vec<String> },
}

/// Rows per file of a partition written by a [`PartWriter`]: a larger
/// partition is several files, so neither its rows nor its encoded bytes
/// are ever held whole.
pub const FILE_ROWS: usize = 1 << 20;

/// A partition written as its rows arrive, in key order, cut into files of
/// [`FILE_ROWS`] rows (see [`Lake::part_writer`]). Each file is
/// content-addressed like a whole partition ([`ContentHasher`],
/// its ordinal in the partition included), so a partition that did not
/// change gives the same file names and none is written again.
pub struct PartWriter<'a> {
    lake: &'a Lake,
    table: String,
    key: String,
    schema: datafusion::arrow::datatypes::SchemaRef,
    old_files: Vec<String>,
    file_rows: usize,
    current: Option<(
        datafusion::parquet::arrow::ArrowWriter<Vec<u8>>,
        parquet::ContentHasher,
        usize,
    )>,
    files: Vec<String>,
    rows: u64,
}

impl PartWriter<'_> {
    /// Cut files at `rows` rows (at least 1) instead of [`FILE_ROWS`].
    #[must_use]
    pub fn with_file_rows(mut self, rows: usize) -> Self {
        self.file_rows = rows.max(1);
        self
    }

    /// Add rows (of the writer's schema) after those already written.
    ///
    /// # Errors
    /// [`SinkError`] when encoding, hashing or a put fails.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let mut at = 0;
        while at < batch.num_rows() {
            if self.current.is_none() {
                let w = parquet::parquet_writer(std::sync::Arc::clone(&self.schema))
                    .map_err(SinkError::parquet(&self.table))?;
                let h = parquet::ContentHasher::new(&self.schema, self.files.len())
                    .map_err(SinkError::arrow(&self.table))?;
                self.current = Some((w, h, 0));
            }
            let Some((w, h, n)) = &mut self.current else {
                unreachable!("a file was just started")
            };
            let take = (batch.num_rows() - at).min(self.file_rows - *n);
            let piece = batch.slice(at, take);
            let (wrote, hashed) = (w.write(&piece), h.update(&piece));
            *n += take;
            at += take;
            self.rows += take as u64;
            let full = *n == self.file_rows;
            wrote.map_err(SinkError::parquet(&self.table))?;
            hashed.map_err(SinkError::arrow(&self.table))?;
            if full {
                self.close_file().await?;
            }
        }
        Ok(())
    }

    /// Finish the file in progress and put it, unless a file of that name
    /// (so of that content) is already the partition's.
    async fn close_file(&mut self) -> Result<(), SinkError> {
        let Some((w, h, _)) = self.current.take() else {
            return Ok(());
        };
        let body = w.into_inner().map_err(SinkError::parquet(&self.table))?;
        let file = part_file_name(&h.finish());
        if !self.old_files.contains(&file) {
            let path = self.lake.file_path(&self.table, &self.key, &file);
            self.lake.put(&path, Bytes::from(body)).await?;
        }
        self.files.push(file);
        Ok(())
    }

    /// Finish the partition: what [`Lake::write_prepared`] records.
    ///
    /// # Errors
    /// [`SinkError`] when the last file cannot be encoded or put.
    pub async fn finish(mut self) -> Result<Prepared, SinkError> {
        self.close_file().await?;
        let action = if self.rows == 0 {
            Action::Remove
        } else if self.files == self.old_files {
            Action::Unchanged
        } else {
            Action::Written {
                files: std::mem::take(&mut self.files),
            }
        };
        Ok(Prepared {
            key: std::mem::take(&mut self.key),
            rows: self.rows,
            action,
        })
    }
}

impl PendingCommit {
    /// Hash a partition and encode it when its content differs from the
    /// committed file: pure CPU work, safe on any thread and in parallel.
    ///
    /// # Errors
    /// [`SinkError::Arrow`]/[`SinkError::Parquet`] when hashing or encoding
    /// fails.
    pub fn prepare(&self, part: Partition) -> Result<Prepared, SinkError> {
        let key = part.key();
        let rows: u64 = part.batches.iter().map(|b| b.num_rows() as u64).sum();
        if part.batches.is_empty() || (rows == 0 && !key.is_empty()) {
            return Ok(Prepared {
                key,
                rows,
                action: Action::Remove,
            });
        }
        let hash = content_hash(&part.batches).map_err(SinkError::arrow(&self.table))?;
        let file = part_file_name(&hash);
        if self
            .old
            .partitions
            .get(&key)
            .is_some_and(|e| e.files == [file.clone()])
        {
            return Ok(Prepared {
                key,
                rows,
                action: Action::Unchanged,
            });
        }
        let body = encode_parquet(part.batches[0].schema(), &part.batches)
            .map_err(SinkError::parquet(&self.table))?;
        Ok(Prepared {
            key,
            rows,
            action: Action::Write { file, body },
        })
    }
}

/// What [`Lake::repair`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Stale files deleted, per table.
    pub deleted: BTreeMap<String, usize>,
}

/// An opened lake.
#[derive(Clone, Debug)]
pub struct Lake {
    /// The lake's store and root.
    pub root: StoreUrl,
}

impl Lake {
    /// Open (and for local paths create) a lake.
    ///
    /// # Errors
    /// [`SinkError::Open`] when the URL cannot be opened.
    pub fn open(url: &str) -> Result<Self, SinkError> {
        Ok(Lake {
            root: open_lake(url)?,
        })
    }

    /// A lake on an already opened store.
    pub fn from_store(root: StoreUrl) -> Self {
        Lake { root }
    }

    /// The redacted URL of the lake root.
    pub fn url(&self) -> String {
        self.root.redacted()
    }

    /// The object path of `<lake>/<rel>`.
    pub fn path(&self, rel: &str) -> Path {
        self.root.child(rel)
    }

    fn manifest_path(&self, table: &str) -> Path {
        self.path(&format!("_manifest/{table}.json"))
    }

    fn store_err(
        &self,
        op: &'static str,
        path: &Path,
    ) -> impl FnOnce(object_store::Error) -> SinkError {
        let path = self.root.object_url(path);
        move |source| SinkError::Store { op, path, source }
    }

    /// The current manifest of `table` (empty when the table was never
    /// committed).
    ///
    /// # Errors
    /// [`SinkError::Store`] on a read failure other than "not found";
    /// [`SinkError::Manifest`] when the manifest does not parse.
    pub async fn manifest(&self, table: &str) -> Result<Manifest, SinkError> {
        let path = self.manifest_path(table);
        let bytes = match self.get_bytes(&path).await {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Ok(Manifest::empty(table)),
            Err(e) => return Err(self.store_err("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| SinkError::Manifest {
            path: self.root.object_url(&path),
            source,
        })
    }

    /// The object paths of a table's current files, from its manifest
    /// (what a manifest-aware reader registers).
    ///
    /// # Errors
    /// As [`Lake::manifest`].
    pub async fn current_files(&self, table: &str) -> Result<Vec<Path>, SinkError> {
        let m = self.manifest(table).await?;
        Ok(m.partitions
            .iter()
            .flat_map(|(key, e)| e.files.iter().map(move |f| self.file_path(table, key, f)))
            .collect())
    }

    /// The path of a data file: `<lake>/<table>/[<key>/]<file>`.
    fn file_path(&self, table: &str, key: &str, file: &str) -> Path {
        if key.is_empty() {
            self.path(&format!("{table}/{file}"))
        } else {
            self.path(&format!("{table}/{key}/{file}"))
        }
    }

    /// Delete every file under the given tables that their manifest does
    /// not list: leftovers of a run killed mid-commit (lake.md §2, "the
    /// next run repairs it").
    ///
    /// # Errors
    /// [`SinkError`] when listing, reading a manifest or deleting fails.
    pub async fn repair(&self, tables: &[&str]) -> Result<RepairReport, SinkError> {
        let mut report = RepairReport::default();
        for &table in tables {
            let keep: BTreeSet<Path> = self.current_files(table).await?.into_iter().collect();
            let dir = self.path(table);
            let listed = self
                .list_all(&dir)
                .await
                .map_err(self.store_err("list", &dir))?;
            let mut n = 0;
            for meta in listed {
                if keep.contains(&meta.location) {
                    continue;
                }
                self.delete(&meta.location).await?;
                n += 1;
            }
            if n > 0 {
                tracing::warn!(
                    table,
                    files = n,
                    "Removed stale files of an interrupted run."
                );
                report.deleted.insert(table.to_string(), n);
            }
        }
        Ok(report)
    }

    /// One whole object, retried on a cloud store's transient errors.
    pub(crate) async fn get_bytes(&self, path: &Path) -> object_store::Result<Bytes> {
        crate::source::retried(self.root.is_remote(), "get", || async {
            self.root.store.get(path).await?.bytes().await
        })
        .await
    }

    /// Every object under `dir`, the listing retried as a whole on a cloud
    /// store's transient errors.
    async fn list_all(&self, dir: &Path) -> object_store::Result<Vec<object_store::ObjectMeta>> {
        crate::source::retried(self.root.is_remote(), "list", || {
            self.root.store.list(Some(dir)).try_collect()
        })
        .await
    }

    async fn delete(&self, path: &Path) -> Result<(), SinkError> {
        crash::before_write("delete", path);
        match self.root.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_err("delete", path)(e)),
        }
    }

    async fn put(&self, path: &Path, bytes: Bytes) -> Result<(), SinkError> {
        crash::before_write("put", path);
        self.root
            .store
            .put(path, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(self.store_err("write", path))
    }

    /// Replace the given partitions of `table` (the commit protocol in the
    /// module docs). Partitions not listed are left as they are.
    ///
    /// # Errors
    /// [`SinkError`] when encoding or any store call fails. Files written
    /// before the failure are not listed by the manifest and are removed
    /// by the next [`Lake::repair`].
    pub async fn commit(
        &self,
        table: &str,
        run_id: &str,
        parts: Vec<Partition>,
    ) -> Result<TableCommit, SinkError> {
        use rayon::prelude::*;
        let mut pending = self.begin_commit(table, run_id).await?;
        // Hashing and encoding are pure CPU work per partition, so they run
        // on the run's rayon pool, all partitions at once; the store calls
        // and the manifest stay in partition order.
        let prepared: Vec<Result<Prepared, SinkError>> =
            parts.into_par_iter().map(|p| pending.prepare(p)).collect();
        for p in prepared {
            self.write_prepared(&mut pending, p?).await?;
        }
        self.finish_commit(pending).await
    }

    /// Start a commit of `table` that takes its partitions a few at a time
    /// ([`PendingCommit::prepare`], [`Lake::write_prepared`]) and switches
    /// the manifest once, in [`Lake::finish_commit`]: the caller never
    /// holds the whole table.
    ///
    /// # Errors
    /// As [`Lake::manifest`].
    pub async fn begin_commit(
        &self,
        table: &str,
        run_id: &str,
    ) -> Result<PendingCommit, SinkError> {
        let old = self.manifest(table).await?;
        Ok(PendingCommit {
            table: table.to_string(),
            run_id: run_id.to_string(),
            new: old.clone(),
            old,
            out: TableCommit::default(),
            replaced: Vec::new(),
        })
    }

    /// A writer of one partition of the table `pending` commits (`date`
    /// None: the table root), whose files are put as they fill; hand what
    /// [`PartWriter::finish`] returns to [`Lake::write_prepared`]. Writers
    /// of different partitions may run at once, on any thread.
    pub fn part_writer<'a>(
        &'a self,
        pending: &PendingCommit,
        date: Option<&str>,
        schema: datafusion::arrow::datatypes::SchemaRef,
    ) -> PartWriter<'a> {
        let key = partition_key(date);
        PartWriter {
            lake: self,
            table: pending.table.clone(),
            old_files: pending
                .old
                .partitions
                .get(&key)
                .map(|e| e.files.clone())
                .unwrap_or_default(),
            key,
            schema,
            file_rows: FILE_ROWS,
            current: None,
            files: Vec::new(),
            rows: 0,
        }
    }

    /// Write one prepared partition's file (step 2 of the protocol); the
    /// manifest is not touched until [`Lake::finish_commit`].
    ///
    /// # Errors
    /// [`SinkError::Store`] when the put fails.
    pub async fn write_prepared(
        &self,
        pending: &mut PendingCommit,
        p: Prepared,
    ) -> Result<(), SinkError> {
        let table = pending.table.clone();
        let Prepared { key, rows, action } = p;
        match action {
            Action::Remove => {
                // Nothing left in it: drop the partition (its files go
                // after the manifest switch).
                if let Some(prev) = pending.new.partitions.remove(&key) {
                    pending
                        .replaced
                        .extend(prev.files.iter().map(|f| self.file_path(&table, &key, f)));
                    pending.out.removed.push(key);
                }
            }
            Action::Unchanged => {
                pending.out.rows += rows;
                pending.out.unchanged.push(key);
            }
            Action::Write { file, body } => {
                self.put(&self.file_path(&table, &key, &file), Bytes::from(body))
                    .await?;
                self.record_files(pending, key, rows, vec![file]);
            }
            Action::Written { files } => self.record_files(pending, key, rows, files),
        }
        Ok(())
    }

    /// A partition's new files, in place: listed in the new manifest, and
    /// the old files they do not keep marked for deletion after the switch.
    fn record_files(
        &self,
        pending: &mut PendingCommit,
        key: String,
        rows: u64,
        files: Vec<String>,
    ) {
        pending.out.rows += rows;
        if let Some(prev) = pending.old.partitions.get(&key) {
            pending.replaced.extend(
                prev.files
                    .iter()
                    .filter(|f| !files.contains(f))
                    .map(|f| self.file_path(&pending.table, &key, f)),
            );
        }
        pending.new.partitions.insert(
            key.clone(),
            PartitionEntry {
                files,
                rows,
                run_id: pending.run_id.clone(),
            },
        );
        pending.out.written.push(key);
    }

    /// Switch the manifest (one put, skipped when nothing changed) and
    /// delete the files it no longer lists (steps 3 and 4).
    ///
    /// # Errors
    /// [`SinkError::Store`] when the put or a delete fails.
    pub async fn finish_commit(&self, pending: PendingCommit) -> Result<TableCommit, SinkError> {
        let PendingCommit {
            table,
            old,
            new,
            mut out,
            replaced,
            ..
        } = pending;
        if new != old {
            let body = serde_json::to_vec_pretty(&new).expect("a manifest always serialises");
            self.put(&self.manifest_path(&table), Bytes::from(body))
                .await?;
        }
        for path in &replaced {
            self.delete(path).await?;
        }
        out.deleted = replaced.len();
        Ok(out)
    }

    /// The committed rows of one partition (`date` None: the table root),
    /// read through the manifest; empty when it does not exist.
    ///
    /// # Errors
    /// [`SinkError`] when the manifest or a file cannot be read or decoded.
    pub async fn read_partition(
        &self,
        table: &str,
        date: Option<&str>,
    ) -> Result<Vec<RecordBatch>, SinkError> {
        self.partition_batches(table, date).await?.collect()
    }

    /// The committed rows of one partition like [`Lake::read_partition`],
    /// but decoded a batch at a time as the iterator is read: only the
    /// files' compressed bytes are held.
    ///
    /// # Errors
    /// [`SinkError`] when the manifest or a file cannot be read; the
    /// iterator yields decoding errors.
    pub async fn partition_batches(
        &self,
        table: &str,
        date: Option<&str>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, SinkError>> + Send + use<>, SinkError>
    {
        let key = partition_key(date);
        let m = self.manifest(table).await?;
        let mut bodies = Vec::new();
        for f in m
            .partitions
            .get(&key)
            .map(|e| e.files.as_slice())
            .unwrap_or_default()
        {
            let path = self.file_path(table, &key, f);
            bodies.push(
                self.get_bytes(&path)
                    .await
                    .map_err(self.store_err("read", &path))?,
            );
        }
        let table = table.to_string();
        Ok(bodies.into_iter().flat_map(move |bytes| {
            let batches: Box<dyn Iterator<Item = Result<RecordBatch, SinkError>> + Send> =
                match decode_parquet(&table, bytes) {
                    Ok(r) => Box::new(r),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                };
            batches
        }))
    }

    /// Every record batch of one Parquet file of `table`.
    ///
    /// # Errors
    /// [`SinkError`] when the file cannot be read or decoded.
    pub async fn read_file(&self, table: &str, path: &Path) -> Result<Vec<RecordBatch>, SinkError> {
        let bytes = self
            .get_bytes(path)
            .await
            .map_err(self.store_err("read", path))?;
        decode_parquet(table, bytes)?.collect()
    }

    /// The files of a ledger table (`_runs`, `_inputs`), newest run first
    /// (run ids sort by start time).
    ///
    /// # Errors
    /// [`SinkError::Store`] when listing fails.
    pub async fn ledger_files(&self, table: Table) -> Result<Vec<Path>, SinkError> {
        let dir = self.path(table.as_str());
        let mut files: Vec<Path> = self
            .list_all(&dir)
            .await
            .map_err(self.store_err("list", &dir))?
            .into_iter()
            .map(|m| m.location)
            .collect();
        files.retain(|p| p.filename().is_some_and(|f| f.ends_with(".parquet")));
        files.sort();
        files.reverse();
        Ok(files)
    }

    /// The ledger file of one run: `<lake>/<table>/<run_id>.parquet`.
    pub fn ledger_path(&self, table: Table, run_id: &str) -> Path {
        self.path(&format!("{}/{run_id}.parquet", table.as_str()))
    }

    /// Write a ledger file `<lake>/<table>/<run_id>.parquet` (`_runs`,
    /// `_inputs`): one file per run, overwritten in place (one put) when the
    /// run's status changes.
    ///
    /// # Errors
    /// [`SinkError`] when encoding or the put fails.
    pub async fn write_ledger(
        &self,
        table: Table,
        run_id: &str,
        batch: &RecordBatch,
    ) -> Result<(), SinkError> {
        let body = encode_parquet(batch.schema(), std::slice::from_ref(batch))
            .map_err(SinkError::parquet(table.as_str()))?;
        self.put(&self.ledger_path(table, run_id), Bytes::from(body))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::parquet::tests::batch;
    use super::*;

    use datafusion::arrow::array::Int64Array;

    async fn files(lake: &Lake, table: &str) -> Vec<String> {
        let dir = lake.path(table);
        let mut v: Vec<String> = lake
            .root
            .store
            .list(Some(&dir))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        v.sort();
        v
    }

    fn part(date: &str, vals: &[i64], run: &str) -> Partition {
        Partition {
            date: Some(date.into()),
            batches: vec![batch(vals, run)],
        }
    }

    /// Write `vals` (one batch each) as partition 2026-05-01 of `t` with
    /// files of `per` rows; the files the manifest lists afterwards.
    async fn stream(
        lake: &Lake,
        run: &str,
        per: usize,
        vals: &[&[i64]],
    ) -> (TableCommit, Vec<String>) {
        let mut pending = lake.begin_commit("t", run).await.unwrap();
        let mut w = lake.part_writer(&pending, Some("2026-05-01"), batch(&[], run).schema());
        w.file_rows = per;
        for v in vals {
            w.write(&batch(v, run)).await.unwrap();
        }
        let p = w.finish().await.unwrap();
        lake.write_prepared(&mut pending, p).await.unwrap();
        let c = lake.finish_commit(pending).await.unwrap();
        let listed = lake
            .manifest("t")
            .await
            .unwrap()
            .partitions
            .get("date=2026-05-01")
            .map(|e| e.files.clone())
            .unwrap_or_default();
        (c, listed)
    }

    async fn values(lake: &Lake) -> Vec<i64> {
        let mut out = Vec::new();
        for b in lake.read_partition("t", Some("2026-05-01")).await.unwrap() {
            let c = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            out.extend(c.values().iter());
        }
        out
    }

    #[tokio::test]
    async fn a_streamed_partition_is_cut_into_files_and_only_changed_files_are_written() {
        let lake = Lake::open("memory://sink-stream/lake").unwrap();
        // 7 rows in batches of 2, 4 and 1, files of 3 rows: 3 files.
        let (c, first) = stream(&lake, "run1", 3, &[&[1, 2], &[3, 4, 5, 6], &[7]]).await;
        assert_eq!((c.written.len(), c.rows), (1, 7));
        assert_eq!(first.len(), 3);
        assert_eq!(files(&lake, "t").await.len(), 3);
        assert_eq!(values(&lake).await, [1, 2, 3, 4, 5, 6, 7]);
        let batches = lake.read_partition("t", Some("2026-05-01")).await.unwrap();
        assert_eq!(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
            [3, 3, 1]
        );
        // A partition of at most one file's rows gets the name a whole
        // partition commit gives it.
        let (_, one) = stream(&lake, "run0", 10, &[&[1, 2], &[3]]).await;
        assert_eq!(
            one,
            [part_file_name(
                &content_hash(&[batch(&[1, 2, 3], "r")]).unwrap()
            )]
        );
        let (_, back) = stream(&lake, "run1", 3, &[&[1, 2], &[3, 4, 5, 6], &[7]]).await;
        assert_eq!(back, first);

        // The same rows cut differently into batches, under another run:
        // unchanged, nothing written, nothing deleted.
        let before = files(&lake, "t").await;
        let (c, again) = stream(&lake, "run2", 3, &[&[1], &[2, 3, 4, 5, 6, 7]]).await;
        assert_eq!((c.unchanged.len(), c.written.len(), c.deleted), (1, 0, 0));
        assert_eq!(again, first);
        assert_eq!(files(&lake, "t").await, before);

        // The last file changes: the first two stay, one file replaced.
        let (c, changed) = stream(&lake, "run3", 3, &[&[1, 2, 3, 4, 5, 6], &[8]]).await;
        assert_eq!((c.written.len(), c.deleted), (1, 1));
        assert_eq!(changed[..2], first[..2]);
        assert_ne!(changed[2], first[2]);
        assert_eq!(files(&lake, "t").await.len(), 3);
        assert_eq!(values(&lake).await, [1, 2, 3, 4, 5, 6, 8]);

        // Equal rows in two files still get two names (the ordinal).
        let (_, twins) = stream(&lake, "run4", 2, &[&[5, 5, 5, 5]]).await;
        assert_eq!(twins.len(), 2);
        assert_ne!(twins[0], twins[1]);

        // No rows: the partition goes.
        let (c, gone) = stream(&lake, "run5", 3, &[]).await;
        assert_eq!(c.removed, ["date=2026-05-01"]);
        assert!(gone.is_empty());
        assert!(files(&lake, "t").await.is_empty());
    }

    #[tokio::test]
    async fn commit_replaces_changed_partitions_and_keeps_unchanged() {
        let lake = Lake::open("memory://sink-commit/lake").unwrap();
        let c1 = lake
            .commit(
                "t",
                "run1",
                vec![
                    part("2026-05-01", &[1, 2], "run1"),
                    part("2026-05-02", &[3], "run1"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(c1.written.len(), 2);
        let before = files(&lake, "t").await;
        assert_eq!(before.len(), 2);

        // Same content under another run id: nothing is written.
        let c2 = lake
            .commit(
                "t",
                "run2",
                vec![
                    part("2026-05-01", &[1, 2], "run2"),
                    part("2026-05-02", &[3], "run2"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(c2.unchanged.len(), 2);
        assert!(c2.written.is_empty());
        assert_eq!(files(&lake, "t").await, before);
        let m = lake.manifest("t").await.unwrap();
        assert!(m.partitions.values().all(|e| e.run_id == "run1"));

        // One partition changes: its old file goes, the other stays.
        let c3 = lake
            .commit("t", "run3", vec![part("2026-05-02", &[3, 4], "run3")])
            .await
            .unwrap();
        assert_eq!((c3.written.len(), c3.deleted), (1, 1));
        let after = files(&lake, "t").await;
        assert_eq!(after.len(), 2);
        assert!(after.contains(&before[0]));
        assert!(!after.contains(&before[1]));
        assert_eq!(lake.current_files("t").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn empty_partition_is_removed_and_partitions_read_back() {
        let lake = Lake::open("memory://sink-remove/lake").unwrap();
        lake.commit(
            "t",
            "r1",
            vec![
                part("2026-05-01", &[1, 2], "r1"),
                part("2026-05-02", &[3], "r1"),
            ],
        )
        .await
        .unwrap();
        let back = lake.read_partition("t", Some("2026-05-01")).await.unwrap();
        assert_eq!(back, vec![batch(&[1, 2], "r1")]);
        assert!(lake
            .read_partition("t", Some("2030-01-01"))
            .await
            .unwrap()
            .is_empty());
        let c = lake
            .commit("t", "r2", vec![part("2026-05-01", &[], "r2")])
            .await
            .unwrap();
        assert_eq!((c.removed.len(), c.deleted), (1, 1));
        assert_eq!(files(&lake, "t").await.len(), 1);
        assert!(!lake
            .manifest("t")
            .await
            .unwrap()
            .partitions
            .contains_key("date=2026-05-01"));
    }

    #[tokio::test]
    async fn repair_removes_unlisted_files() {
        let lake = Lake::open("memory://sink-repair/lake").unwrap();
        lake.commit("t", "r1", vec![part("2026-05-01", &[1], "r1")])
            .await
            .unwrap();
        // A killed run's leftover: written, never listed.
        lake.put(
            &lake.path("t/date=2026-05-01/part-0000000000000000.parquet"),
            Bytes::from_static(b"x"),
        )
        .await
        .unwrap();
        assert_eq!(files(&lake, "t").await.len(), 2);
        let rep = lake.repair(&["t", "never_written"]).await.unwrap();
        assert_eq!(rep.deleted.get("t"), Some(&1));
        assert_eq!(files(&lake, "t").await.len(), 1);
        assert_eq!(lake.current_files("t").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unpartitioned_table_lives_at_the_root() {
        let lake = Lake::open("memory://sink-root/lake").unwrap();
        lake.commit(
            "u",
            "r1",
            vec![Partition {
                date: None,
                batches: vec![batch(&[7], "r1")],
            }],
        )
        .await
        .unwrap();
        let f = files(&lake, "u").await;
        assert_eq!(f.len(), 1);
        assert!(
            f[0].starts_with("lake/u/part-") && f[0].ends_with(".parquet"),
            "{f:?}"
        );
    }
}
