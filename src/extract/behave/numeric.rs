//! CPython 3.11 numerics the primitives must match bit for bit (spec §2.11).
//!
//! Pure. Never use naive sums for values that reach a decision: the reference
//! uses `math.fsum` and exact-rational `statistics` arithmetic.

/// `math.fsum`: the exactly rounded sum (Shewchuk msum with CPython's final
/// half-way correction). Non-finite inputs follow CPython (inf/nan propagate).
pub fn fsum(xs: &[f64]) -> f64 {
    let _ = xs;
    todo!("numeric::fsum (issue 3)")
}

/// `statistics.fmean`: `fsum(xs) / n`. Caller guarantees `n > 0`.
pub fn fmean(xs: &[f64]) -> f64 {
    let _ = xs;
    todo!("numeric::fmean (issue 3)")
}

/// `statistics.median` as f64. Caller guarantees a non-empty slice.
pub fn median(xs: &[f64]) -> f64 {
    let _ = xs;
    todo!("numeric::median (issue 3)")
}

/// `statistics.pstdev` (population), correctly rounded from exact rationals.
pub fn pstdev(xs: &[f64]) -> f64 {
    let _ = xs;
    todo!("numeric::pstdev (issue 3)")
}

/// `statistics.stdev` (sample), correctly rounded from exact rationals.
pub fn stdev(xs: &[f64]) -> f64 {
    let _ = xs;
    todo!("numeric::stdev (issue 3)")
}

/// `statistics.correlation` of CPython 3.11; `None` where Python raises
/// (zero denominator).
pub fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let _ = (x, y);
    todo!("numeric::correlation (issue 3)")
}

/// `near(v, b)`: `abs(v - b) / b <= SHELL_MASTERY_BOUNDARY_BAND`.
pub fn near(v: f64, b: f64) -> bool {
    let _ = (v, b);
    todo!("numeric::near (issue 3)")
}

/// Python's `max(a, b)`: `b` only when `b > a` (so `max(0.0, nan)` is `0.0`).
#[inline]
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `b` only when `b < a`.
#[inline]
pub fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}
