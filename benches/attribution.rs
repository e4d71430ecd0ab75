//! Attribution benchmark: `attribution_state` (sql/attribution_state.sql +
//! the merge UDFs) over a synthetic in-memory `observations` table.
//!
//! `cargo bench --locked --bench attribution [-- <identities> <obs per identity>]`
//! (default 10,000 identities × 100 observations = 1,000,000 rows);
//! `make bench` runs it. Prints observations/s in and attribution rows/s out.
//!
//! The data comes from tests/it/synthetic.rs (shared with the memory-limit
//! tests).

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use driftlake::engine::context::{
    compute_attribution_state, new_context, skip_partial_aggregation, TARGET_PARTITIONS,
};
use driftlake::model::schema::observations_schema;

#[path = "../tests/it/synthetic.rs"]
mod synthetic;
use synthetic::generate;

fn main() {
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let identities = nums.first().copied().unwrap_or(10_000);
    let per_identity = nums.get(1).copied().unwrap_or(100);

    let t0 = Instant::now();
    let batches = generate(identities, per_identity);
    let observations: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!(
        "generated {observations} observations over {identities} identities in {:.2}s",
        t0.elapsed().as_secs_f64()
    );

    // Round-robin the batches over the planning partitions, as a scan would.
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); TARGET_PARTITIONS];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % TARGET_PARTITIONS].push(b);
    }
    let ctx = new_context();
    if std::env::var_os("BENCH_PARTIAL_AGG").is_none() {
        skip_partial_aggregation(&ctx);
    }
    let table = MemTable::try_new(observations_schema(), parts).expect("observations table");
    ctx.register_table("observations", Arc::new(table))
        .expect("register observations");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let t1 = Instant::now();
    let out = rt
        .block_on(compute_attribution_state(&ctx))
        .expect("attribution_state");
    let secs = t1.elapsed().as_secs_f64();
    let rows: usize = out.iter().map(RecordBatch::num_rows).sum();
    println!(
        "attribution_state: {rows} rows from {observations} observations in {secs:.2}s  \
         {:.0} observations/s  {:.0} rows/s",
        observations as f64 / secs,
        rows as f64 / secs
    );
}
