//! Which listed inputs a run reads (lake.md §7: "An incremental run
//! compares listing metadata with `_inputs` and processes only what is new
//! or changed, then recomputes the partitions they feed").
//!
//! * **Unchanged** means the newest `_inputs` row of the object's URL says
//!   it was read whole (`ok`), as the same kind, by this driftlake version
//!   (`_runs.version` of that run), and listing still gives the same size,
//!   e_tag and modification time. An unchanged input is not fetched; its
//!   committed rows are carried over by the partition merge, as for an
//!   input that is not listed at all. A new driftlake version therefore
//!   re-reads everything once, so its extractor's results replace the old.
//! * **Identities.** Session rows take `src_ip` from the recorder's logs
//!   (spec §1.10). The logs are read whenever any session input is read or
//!   any log changed (the sid → ip map is built from all of them, first
//!   seen wins); when a log changed, every committed session whose `src_ip`
//!   the new map would change has its shard read again.
//! * [`Scope::Full`] reads every listed input. [`Scope::Days`] (`driftlake
//!   backfill`) also reads every input that feeds a day of the range: whose
//!   basename carries a date in it, or with committed rows (sessions,
//!   evidence, dead letters, agent events) in one of its partitions.
//!   Reading an input replaces all of its rows, on every day; the derived
//!   tables are recomputed from the whole lake after every run, so a
//!   backfilled day ends exactly as if it had been processed on its night.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, StringArray};

use crate::engine::context::run_statement;
use crate::error::Result;
use crate::sink::ledger::LedgerInput;
use crate::sink::Lake;
use crate::source::InputRef;

/// What a run reads of its listed inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// New or changed inputs only (the nightly run).
    #[default]
    Incremental,
    /// Every listed input (`driftlake run --full`).
    Full,
    /// New or changed inputs, and every input feeding a day in
    /// `from..=to` (`driftlake backfill`).
    Days {
        /// First day (UTC).
        from: NaiveDate,
        /// Last day (UTC), inclusive.
        to: NaiveDate,
    },
}

/// The ledger's view of the listed inputs, and the run's scope.
#[derive(Debug, Default)]
pub struct Decider {
    latest: HashMap<String, LedgerInput>,
    versions: HashMap<String, String>,
    forced: HashSet<String>,
    full: bool,
    version: String,
}

/// The tables whose rows name the input they came from, and that column.
const SOURCE_COLUMNS: [(&str, &str); 4] = [
    ("sessions", "shard"),
    ("evidence", "source"),
    ("dlq", "source"),
    ("agent_events", "source"),
];

impl Decider {
    /// Read the ledgers (and, for [`Scope::Days`], the sources of the
    /// range's partitions).
    ///
    /// # Errors
    /// When the ledgers or the lake's tables cannot be read.
    pub async fn load(
        lake: &Lake,
        lake_url: &str,
        scope: Scope,
        inputs: &[&InputRef],
        version: String,
    ) -> Result<Self> {
        if scope == Scope::Full {
            return Ok(Decider {
                full: true,
                version,
                ..Decider::default()
            });
        }
        let latest = lake.latest_inputs().await?;
        let run_ids: BTreeSet<String> = inputs
            .iter()
            .filter_map(|i| latest.get(&i.url))
            .map(|r| r.run_id.clone())
            .collect();
        let versions = lake.run_versions(&run_ids).await?;
        let forced = match scope {
            Scope::Days { from, to } => {
                let mut f = sources_on_days(lake_url, from, to).await?;
                f.extend(
                    inputs
                        .iter()
                        .filter(|i| {
                            super::date_in_name(&i.rel_path).is_some_and(|d| from <= d && d <= to)
                        })
                        .map(|i| i.url.clone()),
                );
                f
            }
            _ => HashSet::new(),
        };
        Ok(Decider {
            latest,
            versions,
            forced,
            full: false,
            version,
        })
    }

    /// True when the run must read `input` (it is new, changed, read by
    /// another version, failed last time, or in the run's scope).
    pub fn must_read(&self, input: &InputRef) -> bool {
        self.forced(input) || !self.unchanged(input)
    }

    /// True when the scope makes the run read `input` whatever the ledger
    /// says (agent inputs are then read from byte 0).
    pub fn forced(&self, input: &InputRef) -> bool {
        self.full || self.forced.contains(&input.url)
    }

    fn unchanged(&self, input: &InputRef) -> bool {
        let Some(seen) = self.latest.get(&input.url) else {
            return false;
        };
        seen.status == "ok"
            && seen.kind == input.kind.as_str()
            && seen.size == input.size
            && seen.e_tag == input.e_tag
            && seen.last_modified_us == Some(input.last_modified.timestamp_micros())
            && self.versions.get(&seen.run_id) == Some(&self.version)
    }
}

/// Every input URL with committed rows in a `date` partition within
/// `from..=to`.
async fn sources_on_days(
    lake_url: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashSet<String>> {
    let ctx = crate::engine::context::new_context();
    let tables = crate::engine::lake_tables::register_lake(&ctx, lake_url).await?;
    let mut out = HashSet::new();
    for (table, column) in SOURCE_COLUMNS {
        if !tables.iter().any(|t| t == table) {
            continue;
        }
        let sql = format!(
            "SELECT DISTINCT {column} FROM {table} WHERE {col} >= '{from}' AND {col} <= '{to}'",
            col = crate::model::schema::PARTITION_COL,
        );
        collect_strings(&ctx, &sql, &mut out).await?;
    }
    Ok(out)
}

async fn collect_strings(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
    out: &mut HashSet<String>,
) -> Result<()> {
    for b in &run_statement(ctx, sql, &BTreeMap::new()).await? {
        if let Some(a) = b.column(0).as_any().downcast_ref::<StringArray>() {
            out.extend(
                (0..a.len())
                    .filter(|&r| a.is_valid(r))
                    .map(|r| a.value(r).to_string()),
            );
        }
    }
    Ok(())
}

/// The shards among `candidates` holding a committed session whose
/// `src_ip` differs from what `identities` gives its sid now.
///
/// # Errors
/// When the sessions table cannot be read.
pub async fn identity_changes(
    lake_url: &str,
    identities: &HashMap<String, String>,
    candidates: &HashSet<String>,
) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    if candidates.is_empty() {
        return Ok(out);
    }
    let ctx = crate::engine::context::new_context();
    let tables = crate::engine::lake_tables::register_lake(&ctx, lake_url).await?;
    if !tables.iter().any(|t| t == "sessions") {
        return Ok(out);
    }
    let sql = "SELECT shard, sid, src_ip FROM sessions";
    for b in &run_statement(&ctx, sql, &BTreeMap::new()).await? {
        let col = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>();
        let (Some(shard), Some(sid), Some(ip)) = (col(0), col(1), col(2)) else {
            continue;
        };
        for r in 0..b.num_rows() {
            let s = shard.value(r);
            if out.contains(s) || !candidates.contains(s) {
                continue;
            }
            let now = identities.get(sid.value(r)).map(String::as_str);
            let then = ip.is_valid(r).then(|| ip.value(r));
            if now != then {
                out.insert(s.to_string());
            }
        }
    }
    Ok(out)
}
