//! The one integration-test binary (STYLE.md §5): one link of the
//! DataFusion-sized crate instead of one per test file.

mod cli;
mod dlq;
mod idempotency;
mod pii;
mod common;
mod differential;
mod engine_props;
mod golden;
mod attribution;
mod sql;
mod lake_read;
mod attribution_job;
