//! Row types and schemas the stages share.
//!
//! `event` and `observation` are pure data with no dependencies beyond std;
//! `schema` holds the Arrow schemas of the lake tables (spec/lake.md).

pub mod dead_letter;
pub mod event;
pub mod observation;
pub mod schema;
