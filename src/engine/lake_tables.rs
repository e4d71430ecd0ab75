//! Register a lake's tables with DataFusion (spec/lake.md §1).
//!
//! Every directory directly under the lake that holds Parquet becomes a
//! `ListingTable` named after the directory (`sessions`, `observations`,
//! `dlq`, `attribution_state`, `_runs`, `_inputs`, `trends_*`, …). A table
//! whose directory holds `date=YYYY-MM-DD/` subdirectories gets the hive
//! partition column `date` (Utf8), as model::schema writes it (the column is
//! not stored in the files). `_manifest/` (JSON) and empty directories are
//! skipped.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext as DfContext;
use object_store::path::Path;
use object_store::ObjectStore;

use super::{EngineError, Result};
use crate::source::open_url;

/// The hive partition column (spec/lake.md §1).
const PARTITION_COL: &str = "date";

/// How one table directory is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TableDir {
    name: String,
    partitioned: bool,
}

/// Register every table of the lake at `lake_url` and return their names,
/// sorted.
///
/// # Errors
/// [`EngineError::Lake`] when the URL cannot be opened or listed;
/// DataFusion errors when a table's Parquet schema cannot be read.
pub async fn register_lake(ctx: &DfContext, lake_url: &str) -> Result<Vec<String>> {
    let lake_err = |source: Box<dyn std::error::Error + Send + Sync>| EngineError::Lake {
        url: crate::source::redact(lake_url),
        source,
    };
    let store_url = open_url(lake_url).map_err(|e| lake_err(Box::new(e)))?;
    ctx.register_object_store(&store_url.base, Arc::clone(&store_url.store));
    let dirs = table_dirs(store_url.store.as_ref(), &store_url.prefix)
        .await
        .map_err(|e| lake_err(Box::new(e)))?;
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

/// The table directories under `prefix`: those holding `.parquet` files
/// directly or in `date=…/` subdirectories.
async fn table_dirs(store: &dyn ObjectStore, prefix: &Path) -> object_store::Result<Vec<TableDir>> {
    let top = store.list_with_delimiter(Some(prefix)).await?;
    let mut out = Vec::new();
    for dir in top.common_prefixes {
        let Some(name) = dir.filename().map(str::to_owned) else {
            continue;
        };
        if name == "_manifest" || name.starts_with('.') {
            continue;
        }
        let inner = store.list_with_delimiter(Some(&dir)).await?;
        let has_parquet = |objs: &[object_store::ObjectMeta]| {
            objs.iter().any(|o| {
                o.location
                    .filename()
                    .is_some_and(|f| f.ends_with(".parquet"))
            })
        };
        let partitions: Vec<&Path> = inner
            .common_prefixes
            .iter()
            .filter(|p| p.filename().is_some_and(|f| f.starts_with("date=")))
            .collect();
        if !partitions.is_empty() {
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
