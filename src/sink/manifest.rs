//! The commit manifest `<lake>/_manifest/<table>.json` (lake.md §2): the
//! single small object whose put switches a table to its new partitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A table's current files, per partition. Serialised with sorted keys so
/// an unchanged table gives a byte-identical manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version (1).
    pub version: u32,
    /// The table name.
    pub table: String,
    /// Partition key (`date=YYYY-MM-DD`, or `""` for the table root) → entry.
    pub partitions: BTreeMap<String, PartitionEntry>,
}

/// One partition's current state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionEntry {
    /// File names inside the partition directory, in row order (one, or
    /// several for a partition of more than `FILE_ROWS` rows).
    pub files: Vec<String>,
    /// Rows in the partition.
    pub rows: u64,
    /// The run that wrote the files.
    pub run_id: String,
}

impl Manifest {
    /// The manifest of a table that was never committed.
    pub fn empty(table: &str) -> Self {
        Manifest {
            version: 1,
            table: table.to_string(),
            partitions: BTreeMap::new(),
        }
    }
}
