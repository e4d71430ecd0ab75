//! Pure feature engines: events in, observations out. No I/O, no clock, no
//! randomness; callers pass everything in.

pub mod attribution;
pub mod behave;

/// A small deterministic generator (xorshift64) for the property tests'
/// random series.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
