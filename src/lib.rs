//! # driftlake
//!
//! Batch analytics over honeypot shell sessions and telemetry, written to a
//! Parquet lake. Data moves one way:
//!
//! ```text
//!  source ──► decode ──► extract ──► engine ──► sink
//!  (object    (bytes →    (pure       (DataFusion  (the lake:
//!   store,     events,     BEHAVE      SQL, UDFs)   partitioned
//!   listing)   dead        engine)                  Parquet,
//!              letters)                             ledgers)
//! ```
//!
//! `job` turns a job file into a validated plan and `cli` wires the stages
//! together. Start with [`extract::behave::extract_session`] for the
//! extraction engine and `pipeline` for how a run moves data.
#![warn(missing_docs)]

pub mod agents;
pub mod cli;
pub mod decode;
pub mod drift;
pub mod engine;
pub mod error;
pub mod extract;
pub mod job;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod sink;
pub mod source;
pub mod telemetry;
