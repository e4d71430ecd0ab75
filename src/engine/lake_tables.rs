//! Register a lake's tables with DataFusion (spec/lake.md §1, §2).
//!
//! Every table with a commit manifest (`<lake>/_manifest/<table>.json`) is
//! registered with exactly the files its manifest lists: lake.md §2 makes the
//! manifest put the commit switch, so files in the table directory that the
//! manifest does not list (a new file written before the switch, an old one
//! not yet deleted after it, or leftovers of a killed run until the next
//! run's repair) are not part of the table and must not be read. Tables
//! without a manifest (the ledgers `_runs`, `_inputs`, and hand-made test
//! lakes) are read by directory listing.
//!
//! Every table becomes a `ListingTable` named after its directory
//! (`sessions`, `observations`, `dlq`, `attribution_state`, `_runs`,
//! `_inputs`, `trends_*`, …). A table with `date=YYYY-MM-DD` partitions gets
//! the hive partition column `date` (Utf8), as model::schema writes it (the
//! column is not stored in the files).
//!
//! Why a filtered store rather than one `ListingTableUrl` per file: DataFusion
//! 55 parses hive partition values from the path *below* the table URL, so a
//! URL naming the file itself yields no `date` value. Registering the lake's
//! store wrapped in `ManifestView`, whose listings of a managed table
//! directory hold only the manifest's files, keeps the table URL at the table
//! directory (partition values and partition pruning work unchanged) while
//! the table reads exactly the committed files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext as DfContext;
use futures::stream::BoxStream;
use futures::{Future, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use super::{EngineError, Result};
use crate::sink::Lake;
use crate::source::{open_url, retried, StoreUrl};

/// The hive partition column (spec/lake.md §1).
const PARTITION_COL: &str = "date";

/// The manifest directory under the lake root (lake.md §1).
const MANIFEST_DIR: &str = "_manifest";

/// How one table directory is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TableDir {
    name: String,
    partitioned: bool,
}

/// Register every table of the lake at `lake_url` and return their names,
/// sorted. Tables with a manifest read exactly the manifest's files (see
/// the module docs); a managed table whose manifest lists no file is left
/// out, as an empty directory is.
///
/// # Errors
/// [`EngineError::Lake`] when the URL cannot be opened or listed or a
/// manifest cannot be read; DataFusion errors when a table's Parquet schema
/// cannot be read.
pub async fn register_lake(ctx: &DfContext, lake_url: &str) -> Result<Vec<String>> {
    let lake_err = |source: Box<dyn std::error::Error + Send + Sync>| EngineError::Lake {
        url: crate::source::redact(lake_url),
        source,
    };
    let store_url = open_url(lake_url).map_err(|e| lake_err(Box::new(e)))?;
    let managed = managed_tables(&store_url).await.map_err(&lake_err)?;
    let view = ManifestView {
        remote: store_url.is_remote(),
        inner: Arc::clone(&store_url.store),
        tables: Arc::new(
            managed
                .iter()
                .map(|(name, files)| (store_url.child(name), files.clone()))
                .collect(),
        ),
    };
    ctx.register_object_store(&store_url.base, Arc::new(view));
    let mut dirs = table_dirs(&store_url)
        .await
        .map_err(|e| lake_err(Box::new(e)))?;
    // In a lake runs write (it has a run ledger), a managed table is read
    // through its manifest only: its directory without a manifest holds a
    // first commit that never switched. (Lakes other tools wrote have no
    // ledger and are read by directory.)
    let run_lake = dirs.iter().any(|d| d.name == "_runs");
    let unswitched = |name: &str| run_lake && crate::model::schema::MANAGED_TABLES.contains(&name);
    dirs.retain(|d| !(managed.contains_key(&d.name) || unswitched(&d.name)));
    dirs.extend(
        managed
            .iter()
            .filter(|(_, files)| !files.is_empty())
            .map(|(name, files)| TableDir {
                name: name.clone(),
                // A managed table is partitioned when its files sit in `date=`
                // directories (manifest key non-empty; sink::Partition::key).
                partitioned: files
                    .iter()
                    .any(|f| f.parts_count() > store_url.child(name).parts_count() + 1),
            }),
    );
    let mut names = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let table_path = store_url.child(&dir.name);
        let url = ListingTableUrl::parse(format!("{}{}/", store_url.base, table_path))?;
        // The session's Parquet options (e.g. Utf8 rather than Utf8View strings).
        let format =
            ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
        let mut options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
        if dir.partitioned {
            options =
                options.with_table_partition_cols(vec![(PARTITION_COL.to_owned(), DataType::Utf8)]);
        }
        // Lists through the ManifestView: a stray file never shapes the schema.
        let schema = options.infer_schema(&ctx.state(), &url).await?;
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        ctx.register_table(dir.name.as_str(), Arc::new(ListingTable::try_new(config)?))?;
        names.push(dir.name);
    }
    names.sort();
    Ok(names)
}

/// Every table with a manifest under `_manifest/`, with the object paths
/// of the files the manifest lists (through [`Lake::current_files`], the
/// sink's own reading of its manifests).
async fn managed_tables(
    root: &StoreUrl,
) -> Result<BTreeMap<String, BTreeSet<Path>>, Box<dyn std::error::Error + Send + Sync>> {
    let dir = root.child(MANIFEST_DIR);
    let listed = retried(root.is_remote(), "list", || {
        root.store.list_with_delimiter(Some(&dir))
    })
    .await?;
    let lake = Lake::from_store(root.clone());
    let mut out = BTreeMap::new();
    for meta in listed.objects {
        let Some(table) = meta
            .location
            .filename()
            .and_then(|f| f.strip_suffix(".json"))
        else {
            continue;
        };
        let files = lake.current_files(table).await?;
        out.insert(table.to_owned(), files.into_iter().collect());
    }
    Ok(out)
}

/// The table directories under `prefix`: those holding `.parquet` files
/// directly or in `date=…/` subdirectories.
async fn table_dirs(root: &StoreUrl) -> object_store::Result<Vec<TableDir>> {
    let (store, remote) = (root.store.as_ref(), root.is_remote());
    let top = retried(remote, "list", || {
        store.list_with_delimiter(Some(&root.prefix))
    })
    .await?;
    let mut out = Vec::new();
    for dir in top.common_prefixes {
        let Some(name) = dir.filename().map(str::to_owned) else {
            continue;
        };
        if name == MANIFEST_DIR || name.starts_with('.') {
            continue;
        }
        let inner = retried(remote, "list", || store.list_with_delimiter(Some(&dir))).await?;
        let has_parquet = |objs: &[ObjectMeta]| {
            objs.iter().any(|o| {
                o.location
                    .filename()
                    .is_some_and(|f| f.ends_with(".parquet"))
            })
        };
        let partitioned = inner
            .common_prefixes
            .iter()
            .any(|p| p.filename().is_some_and(|f| f.starts_with("date=")));
        // Partition directories left empty (a local lake after a killed
        // run's files were repaired away) do not make a table.
        let below = retried(remote, "list", || has_parquet_below(store, &dir));
        if partitioned && below.await? {
            out.push(TableDir {
                name,
                partitioned: true,
            });
        } else if has_parquet(&inner.objects) {
            out.push(TableDir {
                name,
                partitioned: false,
            });
        }
    }
    Ok(out)
}

/// True when some `.parquet` object lies under `dir` (stops at the first).
async fn has_parquet_below(store: &dyn ObjectStore, dir: &Path) -> object_store::Result<bool> {
    let mut objects = store.list(Some(dir));
    while let Some(meta) = objects.try_next().await? {
        if meta
            .location
            .filename()
            .is_some_and(|f| f.ends_with(".parquet"))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Table directory → the files its manifest lists.
type ManagedFiles = BTreeMap<Path, BTreeSet<Path>>;

/// A read view of the lake's store in which the listing of a managed table
/// directory holds only the files its manifest lists (lake.md §2). Every
/// other call, and every path outside managed tables, goes to the store
/// unchanged.
#[derive(Debug)]
struct ManifestView {
    inner: Arc<dyn ObjectStore>,
    tables: Arc<ManagedFiles>,
    /// A cloud store: whole reads and listings are retried on transient
    /// errors (`source::retried`).
    remote: bool,
}

/// Whether `location` is a committed object: outside every managed table,
/// or listed by its table's manifest.
fn visible_object(tables: &ManagedFiles, location: &Path) -> bool {
    tables
        .iter()
        .find(|(dir, _)| location.prefix_matches(dir))
        .is_none_or(|(_, files)| files.contains(location))
}

/// Whether the directory `location` is outside every managed table or
/// holds a file its table's manifest lists.
fn visible_dir(tables: &ManagedFiles, location: &Path) -> bool {
    tables
        .iter()
        .find(|(dir, _)| location.prefix_matches(dir))
        .is_none_or(|(_, files)| files.iter().any(|f| f.prefix_matches(location)))
}

impl ManifestView {
    fn filtered(
        &self,
        stream: BoxStream<'static, object_store::Result<ObjectMeta>>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let tables = Arc::clone(&self.tables);
        stream
            .try_filter(move |m| futures::future::ready(visible_object(&tables, &m.location)))
            .boxed()
    }
}

impl fmt::Display for ManifestView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManifestView({})", self.inner)
    }
}

/// The boxed future `object_store`'s `#[async_trait]` methods return
/// (written out: async-trait is not a dependency of ours).
type BoxFut<'a, T> = Pin<Box<dyn Future<Output = object_store::Result<T>> + Send + 'a>>;

impl ObjectStore for ManifestView {
    fn put_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> BoxFut<'async_trait, PutResult>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.put_opts(location, payload, opts)
    }

    fn put_multipart_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        opts: PutMultipartOptions,
    ) -> BoxFut<'async_trait, Box<dyn MultipartUpload>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.put_multipart_opts(location, opts)
    }

    fn get_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        options: GetOptions,
    ) -> BoxFut<'async_trait, GetResult>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            retried(self.remote, "get", || {
                self.inner.get_opts(location, options.clone())
            })
            .await
        })
    }

    fn get_ranges<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        ranges: &'life2 [Range<u64>],
    ) -> BoxFut<'async_trait, Vec<Bytes>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            retried(self.remote, "get", || {
                self.inner.get_ranges(location, ranges)
            })
            .await
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if !self.remote {
            return self.filtered(self.inner.list(prefix));
        }
        // Listed whole, so a page that breaks off is listed again.
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned();
        let all = async move {
            retried(true, "list", || {
                inner.list(prefix.as_ref()).try_collect::<Vec<ObjectMeta>>()
            })
            .await
        };
        self.filtered(
            futures::stream::once(all)
                .map_ok(|v| futures::stream::iter(v.into_iter().map(Ok)))
                .try_flatten()
                .boxed(),
        )
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.filtered(self.inner.list_with_offset(prefix, offset))
    }

    fn list_with_delimiter<'life0, 'life1, 'async_trait>(
        &'life0 self,
        prefix: Option<&'life1 Path>,
    ) -> BoxFut<'async_trait, ListResult>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let mut got = retried(self.remote, "list", || {
                self.inner.list_with_delimiter(prefix)
            })
            .await?;
            got.objects
                .retain(|m| visible_object(&self.tables, &m.location));
            got.common_prefixes.retain(|p| visible_dir(&self.tables, p));
            Ok(got)
        })
    }

    fn copy_opts<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        from: &'life1 Path,
        to: &'life2 Path,
        options: CopyOptions,
    ) -> BoxFut<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.copy_opts(from, to, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed() -> ManagedFiles {
        let mut files = BTreeSet::new();
        files.insert(Path::from(
            "lake/observations/date=2026-01-01/part-a.parquet",
        ));
        let mut m = BTreeMap::new();
        m.insert(Path::from("lake/observations"), files);
        m
    }

    #[test]
    fn visible_object_hides_unlisted_files_of_managed_tables_only() {
        let m = managed();
        assert!(visible_object(
            &m,
            &Path::from("lake/observations/date=2026-01-01/part-a.parquet")
        ));
        assert!(!visible_object(
            &m,
            &Path::from("lake/observations/date=2026-01-01/part-b.parquet")
        ));
        assert!(!visible_object(
            &m,
            &Path::from("lake/observations/date=2026-01-02/part-a.parquet")
        ));
        assert!(visible_object(&m, &Path::from("lake/_runs/r1.parquet")));
        // A sibling whose name merely starts with the table's name is not inside it.
        assert!(visible_object(
            &m,
            &Path::from("lake/observations_x/part-b.parquet")
        ));
    }

    #[test]
    fn visible_dir_keeps_only_partitions_with_listed_files() {
        let m = managed();
        assert!(visible_dir(&m, &Path::from("lake/observations")));
        assert!(visible_dir(
            &m,
            &Path::from("lake/observations/date=2026-01-01")
        ));
        assert!(!visible_dir(
            &m,
            &Path::from("lake/observations/date=2026-01-02")
        ));
        assert!(visible_dir(&m, &Path::from("lake/dlq")));
    }
}
