//! Drift events (issue 6): what drifted, typed and fingerprinted, from the
//! lake's derived tables, and the tools that read them back (`drifts`,
//! `gate`, trends, the report).
//!
//! * `event` — the Drift Event: ids, fingerprints, levels, JSON, schema.
//! * `derive` — events from attribution transitions, the multi-actor
//!   correlator and agent tier changes (pure).
//! * `table` — the `drift_events` table: schema, batches, the stage that
//!   recomputes it from the lake.

pub mod derive;
pub mod event;
pub mod gate;
pub mod table;
