//! The one integration-test binary (STYLE.md §5): one link of the
//! DataFusion-sized crate instead of one per test file.

mod agents;
mod attribution;
mod attribution_job;
mod cli;
mod common;
mod crash;
mod differential;
mod dlq;
mod drift;
mod engine_props;
mod golden;
mod idempotency;
mod incremental;
mod jobs;
mod lake_read;
mod memory;
mod pii;
mod s3;
mod sql;
mod synthetic;
mod telemetry;
