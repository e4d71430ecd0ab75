//! Pure feature engines: events in, observations out. No I/O, no clock, no
//! randomness; callers pass everything in.

pub mod attribution;
pub mod behave;
