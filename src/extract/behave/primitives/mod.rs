//! One module per primitive family (spec §4.2), each primitive one function.

pub mod cognitive;
pub mod emotional_valence;
pub mod environmental;
pub mod motor;
pub mod operational;
pub mod temporal;
