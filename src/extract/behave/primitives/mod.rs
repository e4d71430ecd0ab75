//! One module per primitive family (spec §4.2), each primitive one function.

pub mod motor;
pub mod cognitive;
pub mod temporal;
pub mod environmental;
pub mod operational;
pub mod emotional_valence;
