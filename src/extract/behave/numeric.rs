//! CPython 3.11 numerics the primitives must match bit for bit (spec §2.11).
//!
//! Pure. Never use naive sums for values that reach a decision: the reference
//! uses `math.fsum` and exact-rational `statistics` arithmetic.
//!
//! Where CPython *raises* (intermediate overflow in `fsum`, `-inf + inf`,
//! non-finite data in `stdev`), these functions return a non-finite value
//! instead of panicking; see each item. The reference turns such a raise into
//! "no observations for the session" (its handler catches the exception), so
//! a caller that needs that distinction must check `is_finite` itself.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{ToPrimitive, Zero};
use std::cmp::Ordering;

use super::thresholds::SHELL_MASTERY_BOUNDARY_BAND;

/// Why CPython's `math.fsum` would raise.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FsumError {
    /// `OverflowError("intermediate overflow in fsum")`; carries the signed inf.
    Overflow(f64),
    /// `ValueError("-inf + inf in fsum")`.
    InfMinusInf,
}

/// CPython's `math_fsum` (Shewchuk msum with the final half-way correction),
/// reporting where CPython raises.
fn fsum_checked(xs: impl IntoIterator<Item = f64>) -> Result<f64, FsumError> {
    // Most sums keep only a handful of partials: they live on the stack
    // (CPython's NUM_PARTIALS is 32 too) and spill to the heap beyond.
    let mut partials: smallvec::SmallVec<[f64; 32]> = smallvec::SmallVec::new();
    let mut special_sum = 0.0f64;
    let mut inf_sum = 0.0f64;
    for xsave in xs {
        let mut x = xsave;
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        partials.truncate(i);
        if x != 0.0 {
            if !x.is_finite() {
                // A non-finite x comes from an inf/nan summand or from
                // overflow of finite partials; CPython tells them apart by
                // the summand itself.
                if xsave.is_finite() {
                    return Err(FsumError::Overflow(x));
                }
                if xsave.is_infinite() {
                    inf_sum += xsave;
                }
                special_sum += xsave;
                partials.clear();
            } else {
                partials.push(x);
            }
        }
    }
    if special_sum != 0.0 {
        // NaN != 0.0 is true, so a nan summand lands here too.
        if inf_sum.is_nan() {
            return Err(FsumError::InfMinusInf);
        }
        return Ok(special_sum);
    }
    let mut n = partials.len();
    let mut hi = 0.0f64;
    if n > 0 {
        n -= 1;
        hi = partials[n];
        let mut lo = 0.0f64;
        // Sum from the top, stopping at the first inexact addition.
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = partials[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half-way case: round-half-even picked the wrong neighbour when the
        // remaining partials push the exact sum past the midpoint.
        if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
    }
    Ok(hi)
}

fn fsum_lossy(xs: impl IntoIterator<Item = f64>) -> f64 {
    match fsum_checked(xs) {
        Ok(v) => v,
        Err(FsumError::Overflow(inf)) => inf,
        Err(FsumError::InfMinusInf) => f64::NAN,
    }
}

/// `math.fsum`: the exactly rounded sum (Shewchuk msum with CPython's final
/// half-way correction). Non-finite inputs follow CPython: any nan gives nan.
///
/// Where CPython raises, this returns instead: `+inf` together with `-inf`
/// gives nan (CPython: `ValueError`), and overflow of the finite partials gives
/// an inf with the overflow's sign (CPython: `OverflowError`).
pub fn fsum(xs: &[f64]) -> f64 {
    fsum_exact(xs).unwrap_or_else(|| fsum_lossy(xs.iter().copied()))
}

/// `math.fsum` for the usual case, by exact integer arithmetic: every value
/// finite and below 2^1000 in magnitude, at most 2^20 of them, their bits
/// spanning at most 105 binary orders. Then each `x = N * 2^E` is an exact
/// multiple of the smallest `2^E`, the sum of those multiples fits an i128,
/// and one correct rounding of it is the correctly rounded sum fsum returns.
/// No partial can overflow there, so CPython would not raise. `None` for the
/// rest, which takes the Shewchuk path.
///
/// One pass: as a smaller exponent turns up, the sum so far is rescaled to
/// it. That is exact, because the bounds, once they hold for the whole
/// series, hold for each prefix of it, and a prefix's sum rescaled is its
/// sum in the whole series' scale. (A pass for the exponent span and a
/// second for the sum would decompose every value twice.)
fn fsum_exact(xs: &[f64]) -> Option<f64> {
    if xs.len() > 1 << 20 {
        return None;
    }
    let (mut low, mut top) = (i32::MAX, i32::MIN);
    let mut sum: i128 = 0;
    for &x in xs {
        if !x.is_finite() {
            return None;
        }
        let (m, e) = decompose(x);
        if m == 0 {
            continue;
        }
        let t = e + (64 - m.unsigned_abs().leading_zeros()) as i32;
        if e < low || t > top {
            let was = low;
            (low, top) = (low.min(e), top.max(t));
            if top > EXACT_SUM_TOP_MAX || top - low > EXACT_SUM_SPAN_MAX {
                return None;
            }
            if low < was && was != i32::MAX {
                sum <<= was - low;
            }
        }
        sum += i128::from(m) << (e - low);
    }
    if low == i32::MAX {
        return Some(0.0); // empty, or zeros only: fsum gives +0.0
    }
    Some(round_scaled(sum, low))
}

/// `sum * 2^low` correctly rounded (round-half-even).
fn round_scaled(sum: i128, low: i32) -> f64 {
    let mag = sum.unsigned_abs();
    // Round to odd into 64 bits (a sticky last bit), then once to nearest
    // even: the sticky bit only breaks the ties it must.
    let (m, exp) = match (128 - mag.leading_zeros()).saturating_sub(64) {
        0 => (mag as u64, i64::from(low)),
        k => (
            (mag >> k) as u64 | u64::from(mag & ((1u128 << k) - 1) != 0),
            i64::from(low) + i64::from(k),
        ),
    };
    let v = ldexp_rne(m, exp);
    if sum < 0 {
        -v
    } else {
        v
    }
}

/// The widest span of binary orders [`fsum_exact`] takes (`top - low` of
/// [`exponent_span`]): each term is below 2^(top - low), so 2^20 of them
/// stay below 2^125.
const EXACT_SUM_SPAN_MAX: i32 = 105;

/// The largest [`exponent_span`] `top` the exact sums take: every value
/// below 2^1000 in magnitude, so no partial sum can overflow.
const EXACT_SUM_TOP_MAX: i32 = 1000;

/// True exactly where CPython's `math.fsum(xs)` raises: `ValueError` for
/// `+inf` together with `-inf`, `OverflowError` when finite partial sums
/// overflow, wherever that happens (also before or after an infinite summand,
/// which [`fsum`] alone cannot show: it returns the infinity then).
pub fn fsum_raises(xs: &[f64]) -> bool {
    // Where the exact path applies, no partial can overflow.
    fsum_exact(xs).is_none() && fsum_checked(xs.iter().copied()).is_err()
}

/// `math.fsum` of counts taken as floats: below 2^53 each is its own
/// float and their sum is exact in integers, so converting it once
/// (round-half-even, as `as f64` does) is the correctly rounded sum.
pub fn fsum_counts(xs: &[u64]) -> f64 {
    const EXACT: u64 = 1 << 53;
    if xs.iter().all(|&x| x <= EXACT) {
        xs.iter().map(|&x| u128::from(x)).sum::<u128>() as f64
    } else {
        let floats: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
        fsum(&floats)
    }
}

/// `statistics.fmean`: `fsum(xs) / n`. Caller guarantees `n > 0` (an empty
/// slice gives nan, where CPython raises).
pub fn fmean(xs: &[f64]) -> f64 {
    fsum(xs) / xs.len() as f64
}

/// Python's `<` on floats as a sort order: `-0.0 == 0.0` keeps input order
/// under a stable sort, as CPython's stable sort does. NaN has no place under
/// `<`; we put it last so the order stays total (the primitives never feed
/// NaN here: every series is floored through `max(0.0, ·)`).
fn py_sort_cmp(a: &f64, b: &f64) -> Ordering {
    match a.partial_cmp(b) {
        Some(o) => o,
        None => a.is_nan().cmp(&b.is_nan()),
    }
}

/// `statistics.median` as f64. Caller guarantees a non-empty slice (an empty
/// slice gives nan, where CPython raises).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: smallvec::SmallVec<[f64; 64]> = xs.into();
    median_mut(&mut v)
}

/// [`median`] of a buffer the caller no longer needs in order: it is
/// reordered in place instead of copied.
pub fn median_mut(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    // Without NaN or -0.0, values equal under `<` have equal bits, so the
    // sorted sequence is the same under `total_cmp`, and its middle can be
    // selected in linear time instead of sorted.
    // Every value checked without an early exit (the usual series has
    // neither), so the loop is vectorised.
    let clean = v.iter().fold(true, |clean, x| {
        clean & !x.is_nan() & (x.to_bits() != (-0.0f64).to_bits())
    });
    if clean {
        // Most samples are short (a digraph's flight times): the middle of
        // one, two or three values directly.
        match *v {
            [a] => return a,
            [a, b] => return (a + b) / 2.0,
            [a, b, c] => return a.min(b).max(a.max(b).min(c)),
            _ => {}
        }
        let (below, &mut mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
        if n % 2 == 1 {
            return mid;
        }
        let lower = below.iter().copied().max_by(f64::total_cmp);
        return (lower.expect("n is even and positive") + mid) / 2.0;
    }
    v.sort_by(py_sort_cmp);
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `median(xs) < x`, in one pass without copying or selecting: whether the
/// median lies in the first of the two buckets `x` cuts the line into
/// ([`median_bucket`], `x` itself in the upper one). A NaN median lands
/// past the edge, as `NaN < x` is false.
pub fn median_below(xs: &[f64], x: f64) -> bool {
    median_bucket(xs, &[x], false) == 0
}

/// `median(xs) > x`, the mirror of [`median_below`] (`x` itself in the
/// lower bucket). A NaN median, and an empty series' nan, would land past
/// the edge too, where `>` says no, so those are compared directly.
pub fn median_above(xs: &[f64], x: f64) -> bool {
    if x.is_nan() || xs.is_empty() || xs.iter().any(|v| v.is_nan()) {
        return median(xs) > x;
    }
    median_bucket(xs, &[x], true) == 1
}

/// The bucket of `median(xs)` among `edges` (ascending): the first edge
/// the median is at or below when `upper_closed` (buckets `(e_i, e_i+1]`),
/// strictly below otherwise (`[e_i, e_i+1)`), or `edges.len()` past the
/// last; without copying or selecting. An empty series has a nan median,
/// past every edge.
///
/// The values at or below each edge (strictly below, when not
/// `upper_closed`) are counted, which places each sorted position in its
/// bucket. When the middle pair (one value for an odd count) lies in one
/// bucket, the median lies in it too (a bucket is an interval, and so
/// holds the mean of two of its values, rounding included). Across an
/// edge, the pair is the greatest value on the edge's lower side and the
/// least on its upper side, found in one more pass, and their mean is
/// placed. Each pass is a plain count or min/max over the values, with no
/// state carried through memory from value to value. A NaN, or an edge
/// that is not finite or is beyond `f64::MAX / 4` in magnitude (where the
/// mean of two values may overflow), take [`median`] itself.
pub fn median_bucket(xs: &[f64], edges: &[f64], upper_closed: bool) -> usize {
    // `v` lies on the lower side of edge `e` (`v` is not NaN).
    let below = |v: f64, e: f64| if upper_closed { v <= e } else { v < e };
    let bucket_of = |m: f64| {
        edges
            .iter()
            .position(|&e| below(m, e))
            .unwrap_or(edges.len())
    };
    debug_assert!(edges.is_sorted(), "edges {edges:?}");
    let n = xs.len();
    let tame = edges.iter().all(|e| e.abs() <= f64::MAX / 4.0);
    if n == 0 || !tame || xs.iter().any(|v| v.is_nan()) {
        return bucket_of(median(xs));
    }
    // Sorted position i lies past edge j when i is not below the count
    // of values below it; the pair is positions (n - 1) / 2 and n / 2.
    let (i_lo, i_hi) = ((n - 1) / 2, n / 2);
    let (mut lo, mut hi) = (0, 0);
    let mut split = f64::NAN;
    for &e in edges {
        let count = xs.iter().filter(|&&v| below(v, e)).count();
        lo += usize::from(count <= i_lo);
        hi += usize::from(count <= i_hi);
        if count == i_hi && split.is_nan() {
            split = e; // the first edge between the pair (n is even)
        }
    }
    if lo == hi {
        return lo;
    }
    let (mut greatest, mut least) = (f64::NEG_INFINITY, f64::INFINITY);
    for &v in xs {
        let lower = below(v, split);
        greatest = if lower && v > greatest { v } else { greatest };
        least = if !lower && v < least { v } else { least };
    }
    bucket_of((greatest + least) / 2.0)
}

/// `statistics.median` of counts, as f64: for counts below 64, a count of
/// each value picks the middle instead of a copy and a selection. Caller
/// guarantees at least one count.
pub fn median_of_counts(xs: impl Iterator<Item = u32> + Clone) -> f64 {
    let mut seen = [0u32; 64];
    let mut n = 0usize;
    for v in xs.clone() {
        let Some(slot) = seen.get_mut(v as usize) else {
            let values: Vec<f64> = xs.map(f64::from).collect();
            return median(&values);
        };
        *slot += 1;
        n += 1;
    }
    // The values at sorted positions (n - 1) / 2 and n / 2.
    let nth = |i: usize| {
        let mut below = 0usize;
        for (v, &c) in seen.iter().enumerate() {
            below += c as usize;
            if below > i {
                return v as f64;
            }
        }
        f64::NAN // i >= n: no counts at all
    };
    if n % 2 == 1 {
        nth(n / 2)
    } else {
        (nth(n / 2 - 1) + nth(n / 2)) / 2.0
    }
}

/// `x` as `m * 2^e` with `m` odd (or `x == 0`, then `(0, 0)`). Finite only.
fn decompose(x: f64) -> (i64, i32) {
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let exp_field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if exp_field == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    if m == 0 {
        return (0, 0);
    }
    let tz = m.trailing_zeros();
    m >>= tz;
    e += tz as i32;
    let m = m as i64;
    (if neg { -m } else { m }, e)
}

/// `ldexp(m, exp)` correctly rounded (round-half-even), with gradual
/// underflow and overflow to `+inf`. This is what CPython's int/int true
/// division yields for `m * 2^exp`.
fn ldexp_rne(m: u64, exp: i64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let lead = 63 - m.leading_zeros() as i64 + exp; // exponent of the top bit
                                                    // Exponent of the result's last kept bit: 53 bits, or fewer when subnormal.
    let unit = (lead - 52).max(-1074);
    let drop = unit - exp;
    let (kept, unit) = if drop <= 0 {
        (m, exp)
    } else {
        let m = m as u128;
        let drop = drop.min(100) as u32;
        let kept = m >> drop;
        let rem = m - (kept << drop);
        let half = 1u128 << (drop - 1);
        let up = rem > half || (rem == half && kept & 1 == 1);
        ((kept + up as u128) as u64, unit)
    };
    // kept < 2^54 is exact in f64; scaling by powers of two is exact unless the
    // true result overflows, which then correctly becomes inf.
    scale2(kept as f64, unit)
}

/// `x * 2^e` by exact power-of-two steps (x exactly representable after scaling).
fn scale2(mut x: f64, mut e: i64) -> f64 {
    let p = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    while e > 1023 {
        x *= p(1023);
        e -= 1023;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1022 {
        // Going down first keeps every intermediate at least as precise as the
        // (exact) final value.
        let step = (-1022 - e).min(1022);
        x *= p(-step);
        e += step;
    }
    x * p(e)
}

/// Correctly rounded `sqrt(a / d) * 2^shift`, the arithmetic of CPython
/// 3.11's `statistics._float_sqrt_of_frac`: an integer square root rounded to
/// odd with >= 55 significant bits, then one round-half-even conversion.
fn sqrt_frac(a: &BigUint, d: &BigUint, shift: i64) -> f64 {
    if a.is_zero() {
        return 0.0;
    }
    let q = (a.bits() as i64 - d.bits() as i64 - 109).div_euclid(2);
    let (s, exact) = if q >= 0 {
        let dd = d << (2 * q as u64);
        let s = (a / &dd).sqrt();
        let exact = &s * &s * &dd == *a;
        (s, exact)
    } else {
        let aa = a << (-2 * q) as u64;
        let s = (&aa / d).sqrt();
        let exact = &s * &s * d == aa;
        (s, exact)
    };
    // s has 54..=56 significant bits by the choice of q.
    let s = s
        .to_u64()
        .expect("rto root has about 55 bits by the choice of q");
    ldexp_rne(s | u64::from(!exact), q + shift)
}

/// `(low, top)` of the nonzero values' `m * 2^e` ([`decompose`]): the
/// smallest `e`, and the largest `e + bits(m)` (each value is below
/// `2^top`); `(i32::MAX, i32::MIN)` when every value is zero, `None` when
/// one is not finite.
fn exponent_span(xs: &[f64]) -> Option<(i32, i32)> {
    let (mut low, mut top) = (i32::MAX, i32::MIN);
    for &x in xs {
        if !x.is_finite() {
            return None;
        }
        let (m, e) = decompose(x);
        if m != 0 {
            low = low.min(e);
            top = top.max(e + (64 - m.unsigned_abs().leading_zeros()) as i32);
        }
    }
    Some((low, top))
}

/// `n * sum(N^2) - sum(N)^2` from [`scaled_sums`]' `(sum(N), sum(N^2))`:
/// `n` times the scaled sum of squared deviations, never negative
/// (Cauchy-Schwarz); `None` when it does not fit 256 bits.
fn deviation_ss(s: i128, q: U256, n: u64) -> Option<U256> {
    q.checked_mul_u64(n)?
        .checked_sub(U256::square(s.unsigned_abs()))
}

/// `(sum(N_i), sum(N_i^2))` where `x_i = N_i * 2^low`, for finite values
/// whose every `|N_i|` is below 2^62 and fewer than 2^20 of them (the
/// caller checks, with [`exponent_span`]): each square is below 2^124, so
/// the squares' sum stays below 2^144 and the sum of the `N_i` below 2^82.
fn scaled_sums(xs: &[f64], low: i32) -> (i128, U256) {
    let mut s: i128 = 0;
    // sum(N^2) as q_hi * 2^128 + q_lo.
    let (mut q_lo, mut q_hi) = (0u128, 0u64);
    for &x in xs {
        let (m, e) = decompose(x);
        if m == 0 {
            continue;
        }
        let ni = m << (e - low);
        s += i128::from(ni);
        let mag = u128::from(ni.unsigned_abs());
        let (sum, carry) = q_lo.overflowing_add(mag * mag);
        q_lo = sum;
        q_hi += u64::from(carry);
    }
    (s, U256([q_lo as u64, (q_lo >> 64) as u64, q_hi, 0]))
}

/// Exact `(n * sum(N^2) - sum(N)^2, E)` where `x_i = N_i * 2^E`: `n` times
/// the exact sum of squared deviations, scaled by `2^-2E`. `None` for
/// non-finite data.
fn exact_ss_scaled(xs: &[f64]) -> Option<(BigUint, i64)> {
    let (min_e, _) = exponent_span(xs)?;
    if min_e == i32::MAX {
        return Some((BigUint::zero(), 0)); // all zeros
    }
    let n = xs.len() as u64;
    // Fast path: every N_i fits in 62 bits (the usual case: timestamps with
    // similar exponents). S fits in i128; the square sum spills into a BigUint.
    let fits = xs.iter().all(|&x| {
        let (m, e) = decompose(x);
        m == 0 || (64 - m.unsigned_abs().leading_zeros()) as i64 + (e - min_e) as i64 <= 62
    });
    let (s, q): (BigInt, BigUint) = if fits {
        let mut s: i128 = 0;
        let mut q_acc: u128 = 0;
        let mut q_big = BigUint::zero();
        for &x in xs {
            let (m, e) = decompose(x);
            if m == 0 {
                continue;
            }
            let ni = m << (e - min_e);
            s += ni as i128;
            let sq = (ni.unsigned_abs() as u128) * (ni.unsigned_abs() as u128);
            match q_acc.checked_add(sq) {
                Some(v) => q_acc = v,
                None => {
                    q_big += q_acc;
                    q_acc = sq;
                }
            }
        }
        q_big += q_acc;
        (BigInt::from(s), q_big)
    } else {
        let mut s = BigInt::zero();
        let mut q = BigUint::zero();
        for &x in xs {
            let (m, e) = decompose(x);
            if m == 0 {
                continue;
            }
            let ni = BigInt::from(m) << (e - min_e) as u64;
            q += ni.magnitude() * ni.magnitude();
            s += ni;
        }
        (s, q)
    };
    let a = BigInt::from_biguint(Sign::Plus, q * n) - &s * &s;
    // Cauchy-Schwarz: n * sum(N^2) >= sum(N)^2.
    let a = a
        .to_biguint()
        .expect("n*sum(N^2) - sum(N)^2 is never negative");
    Some((a, min_e as i64))
}

/// An unsigned 256-bit integer, four 64-bit limbs, least significant
/// first: just what [`exact_stdev_u256`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct U256([u64; 4]);

impl Ord for U256 {
    fn cmp(&self, o: &Self) -> Ordering {
        let [a0, a1, a2, a3] = self.0;
        let [b0, b1, b2, b3] = o.0;
        (a3, a2, a1, a0).cmp(&(b3, b2, b1, b0))
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl U256 {
    const ZERO: U256 = U256([0; 4]);
    const MAX: U256 = U256([u64::MAX; 4]);

    /// `x * x`, which always fits.
    fn square(x: u128) -> Self {
        let (lo, hi) = (x as u64 as u128, x >> 64);
        let (ll, cross, hh) = (lo * lo, lo * hi, hi * hi);
        // x^2 = hh << 128 + (2 * cross) << 64 + ll; 2 * cross may carry out.
        let (cross2, carry) = cross.overflowing_add(cross);
        let mid = (ll >> 64) + (cross2 & u128::from(u64::MAX));
        let top = hh + (cross2 >> 64) + (u128::from(carry) << 64) + (mid >> 64);
        U256([ll as u64, mid as u64, top as u64, (top >> 64) as u64])
    }

    fn checked_sub(self, o: U256) -> Option<Self> {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (k, limb) in out.iter_mut().enumerate() {
            let (v, b1) = self.0[k].overflowing_sub(o.0[k]);
            let (v, b2) = v.overflowing_sub(u64::from(borrow));
            *limb = v;
            borrow = b1 || b2;
        }
        (!borrow).then_some(U256(out))
    }

    fn checked_mul_u64(self, m: u64) -> Option<Self> {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for (k, limb) in out.iter_mut().enumerate() {
            let v = u128::from(self.0[k]) * u128::from(m) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        (carry == 0).then_some(U256(out))
    }

    fn bits(self) -> u32 {
        let [a0, a1, a2, a3] = self.0;
        let top = |k: u32, l: u64| 64 * k + 64 - l.leading_zeros();
        if a3 != 0 {
            top(3, a3)
        } else if a2 != 0 {
            top(2, a2)
        } else if a1 != 0 {
            top(1, a1)
        } else {
            top(0, a0)
        }
    }

    /// `self >> k` for `k < 256`: each limb out is the word at limb
    /// `i + k / 64` of the number padded with zeros above, shifted down.
    fn shr(self, k: u32) -> Self {
        let [a0, a1, a2, a3] = self.0;
        let padded = [a0, a1, a2, a3, 0, 0, 0, 0];
        let (limbs, bits) = ((k / 64 % 4) as usize, k % 64);
        let word = |i: usize| {
            let pair = (u128::from(padded[i + limbs + 1]) << 64) | u128::from(padded[i + limbs]);
            (pair >> bits) as u64
        };
        U256([word(0), word(1), word(2), word(3)])
    }

    /// `self << k`, or `None` when bits would be lost: each limb out is
    /// the word at limb `i - k / 64` of the number padded with zeros
    /// below, shifted up.
    fn checked_shl(self, k: u32) -> Option<Self> {
        if self.bits().saturating_add(k) > 256 {
            return None;
        }
        let [a0, a1, a2, a3] = self.0;
        let padded = [0, 0, 0, 0, a0, a1, a2, a3];
        let (limbs, bits) = ((k / 64 % 4) as usize, k % 64);
        let word = |i: usize| {
            let pair =
                (u128::from(padded[4 + i - limbs]) << 64) | u128::from(padded[3 + i - limbs]);
            ((pair << bits) >> 64) as u64
        };
        Some(U256([word(0), word(1), word(2), word(3)]))
    }

    /// True when the low `k` bits (`k < 256`) are all zero.
    fn low_bits_zero(self, k: u32) -> bool {
        let (limbs, bits) = ((k / 64) as usize, k % 64);
        self.0[..limbs].iter().all(|&l| l == 0)
            && (bits == 0 || self.0[limbs] & ((1u64 << bits) - 1) == 0)
    }

    /// `(self / d, self % d)` for `d > 0`: a limb at a time from the
    /// highest one that is not zero, each step a 128-by-64-bit division
    /// ([`div_2by1`]).
    fn div_rem_u64(self, d: u64) -> (Self, u64) {
        let mut out = [0u64; 4];
        let mut rem = 0u64;
        let top = self.0.iter().rposition(|&l| l != 0).map_or(0, |k| k + 1);
        for k in (0..top).rev() {
            (out[k], rem) = div_2by1(rem, self.0[k], d);
        }
        (U256(out), rem)
    }

    fn to_u128(self) -> Option<u128> {
        (self.0[2] == 0 && self.0[3] == 0)
            .then(|| u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }
}

/// `(hi * 2^64 + lo) / d` and its remainder, for `hi < d` (so the
/// quotient fits in 64 bits): one `div` instruction on x86_64, where the
/// general 128-bit division is a library call.
#[inline]
fn div_2by1(hi: u64, lo: u64, d: u64) -> (u64, u64) {
    debug_assert!(hi < d, "quotient past 64 bits");
    #[cfg(target_arch = "x86_64")]
    {
        let (quot, rem): (u64, u64);
        // SAFETY: `div` divides rdx:rax by the operand; it faults only on
        // a zero divisor or a quotient past 64 bits, which `hi < d` rules
        // out (d > hi >= 0).
        unsafe {
            std::arch::asm!(
                "div {d}",
                d = in(reg) d,
                inout("rax") lo => quot,
                inout("rdx") hi => rem,
                options(pure, nomem, nostack),
            );
        }
        (quot, rem)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let cur = (u128::from(hi) << 64) | u128::from(lo);
        ((cur / u128::from(d)) as u64, (cur % u128::from(d)) as u64)
    }
}

/// `floor(sqrt(x))`.
fn isqrt_u128(x: u128) -> u128 {
    // The f64 root is within a few units; step to the exact floor. The
    // root fits in 64 bits, so its square is a 64-by-64-bit product, and
    // the conversion to f64 is of the 64-bit halves, which the CPU does
    // itself (a u128 conversion is a library call).
    let approx = (x >> 64) as u64 as f64 * 2f64.powi(64) + x as u64 as f64;
    // Saturates at u64::MAX, the root of the largest x.
    let mut r = approx.sqrt() as u64;
    let sq = |r: u64| u128::from(r) * u128::from(r);
    while sq(r) > x {
        r -= 1;
    }
    while r < u64::MAX && sq(r + 1) <= x {
        r += 1;
    }
    u128::from(r)
}

/// [`exact_stdev`] in fixed 256-bit integers, for the usual series: at most
/// 2^20 finite values whose scaled integers `N_i` fit in 62 bits. `None`
/// sends the caller to the arbitrary-precision path, which computes the same
/// value (a test compares them).
fn exact_stdev_u256(xs: &[f64], sample: bool) -> Option<f64> {
    let n = xs.len() as u64;
    if n >= 1 << 20 {
        return None;
    }
    let (low, top) = exponent_span(xs)?;
    if low == i32::MAX {
        return Some(0.0); // all zeros
    }
    // The widest N_i has top - low bits.
    if top - low > 62 {
        return None;
    }
    let (s, q) = scaled_sums(xs, low);
    let a = deviation_ss(s, q, n)?;
    let d = n * if sample { n - 1 } else { n };
    sqrt_frac_u256(a, d, i64::from(low))
}

/// [`sqrt_frac`] for `a` in 256 bits and `d < 2^64`; `None` when an
/// intermediate would not fit.
fn sqrt_frac_u256(a: U256, d: u64, shift: i64) -> Option<f64> {
    if a == U256::ZERO {
        return Some(0.0);
    }
    sqrt_frac_checked(a, d, shift).or_else(|| sqrt_frac_divided(a, d, shift))
}

/// [`sqrt_frac_u256`] from the float root of the quotient's leading bits,
/// proven by products: the candidate `c` is the correctly rounded root
/// when the true root lies strictly between the midpoints to `c`'s
/// neighbours, which squared and times `d` compare with `a` exactly. A
/// failed side steps `c` one unit that way. `None` (the caller divides)
/// for a root exactly at a midpoint, where ties go to even, for a result
/// that is not a normal float, and after a few steps without proof.
fn sqrt_frac_checked(a: U256, d: u64, shift: i64) -> Option<f64> {
    // a = A * 2^t + (lower bits) with A < 2^64 and t even, so the root of
    // a / d is about sqrt(A / d) * 2^(t/2).
    let t = (a.bits().saturating_sub(64) + 1) & !1;
    let lead = a.shr(t).0[0];
    settle_root((lead as f64 / d as f64).sqrt(), a, d, t, shift)
}

/// The proof and steps of [`sqrt_frac_checked`] from the candidate `c`
/// for the root of `a / (d * 2^t)`, `t` even.
fn settle_root(mut c: f64, a: U256, d: u64, t: u32, shift: i64) -> Option<f64> {
    for _ in 0..4 {
        let bits = c.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let m = (bits & ((1 << 52) - 1)) | (1 << 52);
        // c = m * 2^e; the midpoints are (4m - 2 or, at a binade's
        // bottom, 4m - 1) and 4m + 2 times 2^(e - 2).
        let e = biased - 1075;
        let below = 4 * u128::from(m) - if m == 1 << 52 { 1 } else { 2 };
        let above = 4 * u128::from(m) + 2;
        // midpoint^2 * 2^(2e - 4) against a / (d * 2^t).
        let k = 2 * e - 4 + i64::from(t);
        // p * 2^k against a is p against a / 2^k: for k >= 0 its floor,
        // where a tie is a tie only when a's low k bits are zero; for k < 0
        // the exact a * 2^-k, or past 2^256 above every p.
        let (scaled, tie) = match u32::try_from(k) {
            Ok(k) if k < 256 => (a.shr(k), a.low_bits_zero(k)),
            Ok(_) => (U256::ZERO, false),
            Err(_) => u32::try_from(-k)
                .ok()
                .and_then(|k| a.checked_shl(k))
                .map_or((U256::MAX, false), |x| (x, true)),
        };
        let tie = if tie { Ordering::Equal } else { Ordering::Less };
        let side = |mid: u128| {
            let p = U256::square(mid).checked_mul_u64(d)?;
            Some(p.cmp(&scaled).then(tie))
        };
        match (side(below)?, side(above)?) {
            (Ordering::Less, Ordering::Greater) => {
                let exp = biased + i64::from(t / 2) + shift;
                return (1..=2046)
                    .contains(&exp)
                    .then(|| f64::from_bits((bits & !(0x7ff << 52)) | ((exp as u64) << 52)));
            }
            (Ordering::Greater, _) => c = c.next_down(),
            (_, Ordering::Less) => c = c.next_up(),
            _ => return None,
        }
    }
    None
}

/// [`sqrt_frac_u256`] by the integer root of a quotient of 109 to 112
/// bits, rounded once with a sticky bit.
fn sqrt_frac_divided(a: U256, d: u64, shift: i64) -> Option<f64> {
    let q = (i64::from(a.bits()) - i64::from(64 - d.leading_zeros()) - 109).div_euclid(2);
    // floor(a / (d * 2^2q)) is floor(floor(a / 2^2q) / d), and the division
    // is exact when both steps are.
    let (quot, exact) = if q >= 0 {
        let k = u32::try_from(2 * q).ok().filter(|&k| k < 256)?;
        let (quot, rem) = a.shr(k).div_rem_u64(d);
        (quot, rem == 0 && a.low_bits_zero(k))
    } else {
        let k = u32::try_from(-2 * q).ok()?;
        let (quot, rem) = a.checked_shl(k)?.div_rem_u64(d);
        (quot, rem == 0)
    };
    let quot = quot.to_u128()?;
    let root = isqrt_u128(quot);
    let exact = exact && root * root == quot;
    // root has 54..=56 significant bits by the choice of q.
    Some(ldexp_rne(root as u64 | u64::from(!exact), q + shift))
}

/// Shared body of `pstdev`/`stdev`: `sqrt(SS / (n * ddof_div))` exactly.
fn exact_stdev(xs: &[f64], sample: bool) -> f64 {
    let n = xs.len() as u64;
    if n < 1 + u64::from(sample) {
        return f64::NAN;
    }
    if let Some(v) = exact_stdev_u256(xs, sample) {
        return v;
    }
    let Some((a, e)) = exact_ss_scaled(xs) else {
        return f64::NAN;
    };
    // variance = a * 2^(2E) / (n * (n or n-1)); sqrt brings out 2^E.
    let d = BigUint::from(n) * BigUint::from(if sample { n - 1 } else { n });
    sqrt_frac(&a, &d, e)
}

/// The mean and the spread of one series: `fmean`, `pstdev` and `stdev` of
/// it, bit for bit, from one exact pass in the usual case.
///
/// Where `exact_stdev_u256` applies, each value is `N_i * 2^E` with `N_i`
/// below 2^62, and the one pass that sums `N_i` and `N_i^2` gives both the
/// exact sum (which rounded once is `fsum`) and the exact sum of squared
/// deviations; a series past that takes [`fmean`], [`pstdev`] and [`stdev`].
#[derive(Clone, Copy, Debug)]
pub struct Spread<'a> {
    xs: &'a [f64],
    /// `statistics.fmean(xs)` (nan for an empty series, where CPython raises).
    pub mean: f64,
    /// `(n * sum(N^2) - sum(N)^2, E)`, when the one pass applied.
    ss: Option<(U256, i32)>,
}

/// A series' mean is `+inf`: it holds an infinite value (non-finite event
/// times), where `statistics.stdev` and `pstdev` raise, or `math.fsum`
/// overflowed, where `fmean` raises. CPython raises, so the reference
/// emits nothing for the whole session (the same outcome as spec A7).
#[derive(Debug, PartialEq)]
pub struct InfiniteMean;

/// What the pass of [`Spread`] finds, without the series: kept by a
/// session context for a series that several primitives read, so the pass
/// runs once ([`Spread::with`]).
#[derive(Clone, Copy, Debug)]
pub struct SpreadSums {
    mean: f64,
    ss: Option<(U256, i32)>,
    /// The exact sum `S * 2^E` as `(S, E)` and the count, when the one
    /// pass applied (see [`SumOfSums`]).
    sum: Option<(i128, i32, usize)>,
}

impl SpreadSums {
    /// The pass of [`Spread::of`] over `xs`.
    pub fn of(xs: &[f64]) -> Self {
        match spread_pass(xs) {
            Some(sums) => sums,
            None => SpreadSums {
                mean: fmean(xs),
                ss: None,
                sum: None,
            },
        }
    }

    /// Equal, the mean compared by its bits (it may be nan).
    fn same(&self, other: &SpreadSums) -> bool {
        self.mean.to_bits() == other.mean.to_bits() && self.ss == other.ss && self.sum == other.sum
    }
}

/// `math.fsum` of several series end to end from their [`SpreadSums`]:
/// each holds its series' exact sum, so adding those exactly and rounding
/// once gives the correctly rounded sum of every value, without a pass
/// over the values. `None` from [`SumOfSums::fsum`] when a series' pass did
/// not apply or the sums do not fit; the caller then takes [`fsum`].
#[derive(Clone, Copy, Debug)]
pub struct SumOfSums {
    /// `sum * 2^low` so far (`low` is `i32::MAX` while every sum is 0).
    sum: i128,
    low: i32,
    /// Values so far.
    count: usize,
    exact: bool,
}

impl Default for SumOfSums {
    fn default() -> Self {
        SumOfSums {
            sum: 0,
            low: i32::MAX,
            count: 0,
            exact: true,
        }
    }
}

impl SumOfSums {
    /// Adds one series' exact sum.
    pub fn add(&mut self, part: &SpreadSums) {
        let Some((s, e, n)) = part.sum.filter(|_| self.exact) else {
            self.exact = false;
            return;
        };
        self.count += n;
        if s == 0 {
            return;
        }
        let low = self.low.min(e);
        // Both sums at the smaller scale, exactly, or give up.
        let scaled = |v: i128, from: i32| {
            let k = u32::try_from(i64::from(from) - i64::from(low)).ok()?;
            if v == 0 {
                Some(0)
            } else if k < 126 {
                v.checked_mul(1i128 << k)
            } else {
                None
            }
        };
        match (scaled(self.sum, self.low), scaled(s, e)) {
            (Some(a), Some(b)) if a.checked_add(b).is_some() => {
                self.sum = a + b;
                self.low = low;
            }
            _ => self.exact = false,
        }
    }

    /// The correctly rounded sum, as `math.fsum` of all the values gives
    /// it; `None` when it could not be kept exactly. Below 2^20 values,
    /// each below 2^1000 (what each series' pass checked), no partial sum
    /// overflows, so CPython would not raise.
    pub fn fsum(&self) -> Option<f64> {
        if !self.exact || self.count >= 1 << 20 {
            return None;
        }
        Some(if self.low == i32::MAX {
            0.0
        } else {
            round_scaled(self.sum, self.low)
        })
    }
}

impl<'a> Spread<'a> {
    /// The mean of `xs`, and what its standard deviations need.
    pub fn of(xs: &'a [f64]) -> Self {
        Spread::with(xs, SpreadSums::of(xs))
    }

    /// The spread of `xs` from its pass taken earlier: `sums` must be
    /// [`SpreadSums::of`]`(xs)`.
    pub fn with(xs: &'a [f64], sums: SpreadSums) -> Self {
        debug_assert!(sums.same(&SpreadSums::of(xs)), "sums of another series");
        Spread {
            xs,
            mean: sums.mean,
            ss: sums.ss,
        }
    }

    /// How many values the series holds.
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// True for an empty series.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// The coefficient of variation `stdev / fmean` of spec §4.4: `cv_s`
    /// with the sample stdev when `sample`, `cv_pop` with the population
    /// one. `Ok(None)` with too few values for that stdev (two, or one) or
    /// a mean that is not positive, which every caller drops.
    ///
    /// # Errors
    /// [`InfiniteMean`] when the mean is `+inf`, where CPython raises.
    pub fn cv(&self, sample: bool) -> Result<Option<f64>, InfiniteMean> {
        if self.len() < 1 + usize::from(sample) {
            return Ok(None);
        }
        let m = self.mean;
        if m == f64::INFINITY {
            return Err(InfiniteMean);
        }
        Ok((m > 0.0).then(|| self.stdev_of(sample) / m))
    }

    /// [`pstdev`] of the series.
    pub fn pstdev(&self) -> f64 {
        self.stdev_of(false)
    }

    /// [`stdev`] of the series.
    pub fn stdev(&self) -> f64 {
        self.stdev_of(true)
    }

    fn stdev_of(&self, sample: bool) -> f64 {
        let n = self.xs.len() as u64;
        if n < 1 + u64::from(sample) {
            return f64::NAN;
        }
        self.ss
            .and_then(|(a, e)| {
                let d = n * if sample { n - 1 } else { n };
                sqrt_frac_u256(a, d, i64::from(e))
            })
            .unwrap_or_else(|| exact_stdev(self.xs, sample))
    }
}

/// The one pass of [`Spread`]: `fmean`, `(n * sum(N^2) - sum(N)^2, E)` and
/// the exact sum `(sum(N), E)`, or `None` when a value is not finite or huge, there are 2^20 values or more,
/// or the values' bits span more than 62 binary orders.
fn spread_pass(xs: &[f64]) -> Option<SpreadSums> {
    let n = xs.len() as u64;
    if n == 0 || n >= 1 << 20 {
        return None;
    }
    let (low, top) = exponent_span(xs)?;
    if low == i32::MAX {
        // Zeros only: fsum gives +0.0 and every deviation is 0.
        return Some(SpreadSums {
            mean: 0.0 / n as f64,
            ss: Some((U256::ZERO, 0)),
            sum: Some((0, 0, xs.len())),
        });
    }
    // A value of 2^1000 or more (fsum's exact path stops there), or an
    // N_i wider than 62 bits.
    if top > EXACT_SUM_TOP_MAX || top - low > 62 {
        return None;
    }
    let (s, q) = scaled_sums(xs, low);
    Some(SpreadSums {
        mean: round_scaled(s, low) / n as f64,
        ss: deviation_ss(s, q, n).map(|a| (a, low)),
        sum: Some((s, low, xs.len())),
    })
}

/// `statistics.pstdev` (population), correctly rounded from exact rationals.
///
/// Returns nan for an empty slice or non-finite data (CPython raises), and
/// `inf` when the result overflows (CPython raises `OverflowError`).
pub fn pstdev(xs: &[f64]) -> f64 {
    exact_stdev(xs, false)
}

/// `statistics.stdev` (sample), correctly rounded from exact rationals.
///
/// Returns nan for fewer than two values or non-finite data (CPython raises),
/// and `inf` when the result overflows (CPython raises `OverflowError`).
pub fn stdev(xs: &[f64]) -> f64 {
    exact_stdev(xs, true)
}

/// `statistics.correlation` of CPython 3.11; `None` where Python raises
/// (zero denominator, fewer than two points, length mismatch).
///
/// An `fsum` that CPython would abort (overflow, `inf - inf`) propagates
/// through as inf/nan here.
pub fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    correlation_with_means(x, y, fsum(x) / n, fsum(y) / n)
}

/// [`correlation`] given its two means, `fsum(x) / n` and `fsum(y) / n`,
/// when the caller has them already (a series' [`Spread::mean`] is one).
pub fn correlation_with_means(x: &[f64], y: &[f64], xbar: f64, ybar: f64) -> Option<f64> {
    let n = x.len();
    if y.len() != n || n < 2 {
        return None;
    }
    // spec A15: the 3.11 formula (fsum of f64 products), not 3.12's sumprod.
    // Each sum over a buffer, so `fsum` can take its exact integer path.
    let mut terms: smallvec::SmallVec<[f64; 64]> = smallvec::SmallVec::new();
    let mut sum_of = |it: &mut dyn Iterator<Item = f64>| {
        terms.clear();
        terms.extend(it);
        fsum(&terms)
    };
    let sxy = sum_of(&mut x.iter().zip(y).map(|(xi, yi)| (xi - xbar) * (yi - ybar)));
    let sxx = sum_of(&mut x.iter().map(|xi| (xi - xbar) * (xi - xbar)));
    let syy = sum_of(&mut y.iter().map(|yi| (yi - ybar) * (yi - ybar)));
    let den = (sxx * syy).sqrt();
    if den == 0.0 {
        return None;
    }
    Some(sxy / den)
}

/// `near(v, b)`: `abs(v - b) / b <= SHELL_MASTERY_BOUNDARY_BAND`, in that
/// order in f64 (spec §2.11); `abs(v) <= band` when `b == 0`.
pub fn near(v: f64, b: f64) -> bool {
    if b == 0.0 {
        return v.abs() <= SHELL_MASTERY_BOUNDARY_BAND;
    }
    (v - b).abs() / b <= SHELL_MASTERY_BOUNDARY_BAND
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

#[cfg(test)]
mod tests {
    //! Expected values come from CPython 3.11.7 (`python3 -c 'import math,
    //! statistics as st; ...'`), pasted as bit patterns with the expression.
    use super::*;

    fn bits(x: f64) -> u64 {
        x.to_bits()
    }

    /// Appendix A.2's inter-command gaps.
    const ICI: [f64; 8] = [2.5, 3.5, 3.6875, 5.78125, 6.5, 4.625, 7.96875, 2.75];

    #[test]
    fn fsum_raises_exactly_where_cpython_does() {
        let inf = f64::INFINITY;
        // math.fsum([1.0, inf, -inf]) -> ValueError: -inf + inf in fsum
        assert!(fsum_raises(&[1.0, inf, -inf]));
        // math.fsum([1.0, inf, inf]) == inf
        assert!(!fsum_raises(&[1.0, inf, inf]));
        // math.fsum([1.7e308, 1.7e308]) -> OverflowError: intermediate overflow
        assert!(fsum_raises(&[1.7e308, 1.7e308]));
        // math.fsum([inf, 1.7e308, 1.7e308]) -> OverflowError (after the inf)
        assert!(fsum_raises(&[inf, 1.7e308, 1.7e308]));
        // math.fsum([1.7e308, 1.7e308, inf]) -> OverflowError (before the inf)
        assert!(fsum_raises(&[1.7e308, 1.7e308, inf]));
        // math.fsum([1.7e308, -1.7e308, 1.0]) == 1.0; math.fsum([nan, 1.0]) is nan
        assert!(!fsum_raises(&[1.7e308, -1.7e308, 1.0]));
        assert!(!fsum_raises(&[f64::NAN, 1.0]));
        assert!(!fsum_raises(&[]));
    }

    #[test]
    fn fsum_exact_path_equals_shewchuk_bit_for_bit() {
        // Random series mixing magnitudes (gaps of ms to hours, char counts,
        // tiny and subnormal values, exact cancellations, ties at the last
        // bit): where the integer path answers, it equals the msum path.
        let mut next = crate::extract::xorshift(0xD1B5_4A32_D192_ED03u64);
        let mut answered = 0;
        for round in 0..20_000 {
            let n = (next() % 30) as usize;
            let mut xs: Vec<f64> = (0..n)
                .map(|_| {
                    let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
                    let v = match next() % 7 {
                        0 => unit * 1e-3,
                        1 => unit * 3600.0,
                        2 => (next() % 100_000) as f64,
                        3 => f64::from_bits(next() % (1 << 52)), // subnormal
                        4 => 2f64.powi((next() % 120) as i32 - 60),
                        5 => 1e16 + (next() % 7) as f64,
                        _ => unit,
                    };
                    if next().is_multiple_of(3) {
                        -v
                    } else {
                        v
                    }
                })
                .collect();
            if n > 1 && next().is_multiple_of(4) {
                xs[n - 1] = -xs[0]; // an exact cancellation
            }
            let msum = fsum_lossy(xs.iter().copied());
            if let Some(v) = fsum_exact(&xs) {
                answered += 1;
                assert_eq!(v.to_bits(), msum.to_bits(), "round {round}: {xs:?}");
            }
        }
        // Subnormals beside large values leave the integer path often here;
        // a series of gaps and char counts takes it.
        assert!(answered > 2_000, "{answered}");
        assert!(fsum_exact(&[0.001, 0.125, 3.25, 7.09375, 86_400.5, 123_456.0]).is_some());
        assert_eq!(fsum_exact(&[f64::NAN]), None);
        assert_eq!(fsum_exact(&[1.1e301]), None); // past 2^1000
        assert_eq!(fsum_exact(&[1.0, 1e-300]), None);
    }

    #[test]
    fn fsum_is_exactly_rounded() {
        // math.fsum([1e16, 1.0, -1e16]) == 1.0
        assert_eq!(bits(fsum(&[1e16, 1.0, -1e16])), 0x3ff0000000000000);
        // math.fsum([0.1]*10) == 1.0   (sum() gives 0.9999999999999999)
        assert_eq!(bits(fsum(&[0.1; 10])), 0x3ff0000000000000);
        // math.fsum([1.0, 1e100, 1.0, -1e100]) == 2.0
        assert_eq!(bits(fsum(&[1.0, 1e100, 1.0, -1e100])), 0x4000000000000000);
        // math.fsum([0.09375, 0.1875, 0.28125]) == 0.5625
        assert_eq!(bits(fsum(&[0.09375, 0.1875, 0.28125])), 0x3fe2000000000000);
        assert_eq!(bits(fsum(&[])), 0);
    }

    #[test]
    fn fsum_half_way_correction() {
        // math.fsum([2.0**53, 1.0, 2.0**-60]) == 9007199254740994.0
        assert_eq!(
            bits(fsum(&[2f64.powi(53), 1.0, 2f64.powi(-60)])),
            0x4340000000000001
        );
        // math.fsum([2.0**53, -1.0, -2.0**-60]) == 9007199254740991.0
        assert_eq!(
            bits(fsum(&[2f64.powi(53), -1.0, -2f64.powi(-60)])),
            0x433fffffffffffff
        );
        // math.fsum([1.0, 2.0**-53, 2.0**-106]) == 1.0000000000000002
        assert_eq!(
            bits(fsum(&[1.0, 2f64.powi(-53), 2f64.powi(-106)])),
            0x3ff0000000000001
        );
    }

    #[test]
    fn fsum_non_finite() {
        assert!(fsum(&[1.0, f64::NAN]).is_nan());
        assert_eq!(fsum(&[1.0, f64::INFINITY, 5.0]), f64::INFINITY);
        assert_eq!(fsum(&[f64::NEG_INFINITY, 1e308, 1.0]), f64::NEG_INFINITY);
        // math.fsum([-inf, 1e308, 1e308]) raises OverflowError: the finite
        // partials still overflow after an inf; we return the overflow's inf.
        assert_eq!(fsum(&[f64::NEG_INFINITY, 1e308, 1e308]), f64::INFINITY);
        // CPython raises ValueError("-inf + inf in fsum").
        assert!(fsum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        // CPython raises OverflowError("intermediate overflow in fsum").
        assert_eq!(fsum(&[1e308, 1e308, -1e308]), f64::INFINITY);
        assert_eq!(fsum(&[-1e308, -1e308, 1e308]), f64::NEG_INFINITY);
    }

    #[test]
    fn fmean_divides_the_exact_sum() {
        // statistics.fmean([0.1]*10) == 0.1
        assert_eq!(bits(fmean(&[0.1; 10])), 0x3fb999999999999a);
        // statistics.fmean(ICI) == 4.6640625
        assert_eq!(bits(fmean(&ICI)), 0x4012a80000000000);
        assert!(fmean(&[]).is_nan());
    }

    #[test]
    fn median_odd_even() {
        // statistics.median([3.0, 1.0, 2.0]) == 2.0
        assert_eq!(bits(median(&[3.0, 1.0, 2.0])), 0x4000000000000000);
        // statistics.median([0.1, 0.2]) == 0.15000000000000002
        assert_eq!(bits(median(&[0.2, 0.1])), 0x3fc3333333333334);
        // statistics.median([1.7976931348623157e308]*2) == inf ((a+b)/2 in f64)
        assert_eq!(median(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(median(&[f64::INFINITY, 1.0, 2.0]), 2.0);
        // CPython's stable sort keeps 0.0 and -0.0 in input order.
        assert_eq!(bits(median(&[0.0, -0.0, 0.0])), bits(-0.0));
        assert_eq!(bits(median(&[-0.0, 0.0, -0.0])), bits(0.0));
    }

    /// [`exact_stdev`]'s arbitrary-precision path alone.
    fn stdev_big(xs: &[f64], sample: bool) -> f64 {
        let Some((a, e)) = exact_ss_scaled(xs) else {
            return f64::NAN;
        };
        let n = xs.len() as u64;
        let d = BigUint::from(n) * BigUint::from(if sample { n - 1 } else { n });
        sqrt_frac(&a, &d, e)
    }

    #[test]
    fn median_by_selection_equals_median_by_sort() {
        let mut next = crate::extract::xorshift(0x1F83_D9AB_FB41_BD6B);
        for _ in 0..5000 {
            let len = (next() % 90) as usize + 1;
            let xs: Vec<f64> = (0..len)
                .map(|_| match next() % 40 {
                    0..=7 => 0.0,
                    8..=15 => (next() % 7) as f64 * 0.25,
                    16..=23 => f64::from_bits(next() >> 2),
                    24..=31 => -((next() % 1000) as f64),
                    32..=35 => 1e300,
                    36 => f64::INFINITY,
                    37 => f64::NEG_INFINITY,
                    38 => -f64::from_bits(next() >> 2),
                    _ => -0.0,
                })
                .collect();
            let mut sorted = xs.clone();
            sorted.sort_by(py_sort_cmp);
            let n = sorted.len();
            let want = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            };
            assert_eq!(median(&xs).to_bits(), want.to_bits(), "{xs:?}");
        }
    }

    #[test]
    fn u256_arithmetic_equals_bigint() {
        let mut next = crate::extract::xorshift(0x6A09_E667_F3BC_C908);
        let big = |u: U256| {
            u.0.iter()
                .rev()
                .fold(BigUint::zero(), |acc, &l| (acc << 64u32) + BigUint::from(l))
        };
        for _ in 0..5000 {
            let shift = next() % 128;
            let x = (u128::from(next()) << 64 | u128::from(next())) >> shift;
            let sq = U256::square(x);
            assert_eq!(big(sq), BigUint::from(x) * BigUint::from(x), "{x}");
            let k = (next() % 200) as u32;
            assert_eq!(big(sq.shr(k)), big(sq) >> k);
            assert_eq!(
                sq.low_bits_zero(k),
                (big(sq) >> k << k) == big(sq),
                "{x} {k}"
            );
            if let Some(l) = sq.shr(k).checked_shl(k / 2) {
                assert_eq!(big(l), big(sq) >> k << (k / 2));
            }
            let d = (next() >> (next() % 63)).max(1);
            let (quot, rem) = sq.div_rem_u64(d);
            assert_eq!(big(quot), big(sq) / BigUint::from(d));
            assert_eq!(BigUint::from(rem), big(sq) % BigUint::from(d));
            assert_eq!(big(sq).bits(), u64::from(sq.bits()));
            let r = isqrt_u128(x);
            assert!(
                r * r <= x && (r + 1).checked_mul(r + 1).is_none_or(|s| s > x),
                "{x}"
            );
        }
    }

    #[test]
    fn isqrt_is_the_floor_at_squares_and_at_the_extremes() {
        let floor_ok = |x: u128, r: u128| {
            r.checked_mul(r).is_some_and(|s| s <= x)
                && (r + 1).checked_mul(r + 1).is_none_or(|s| s > x)
        };
        let roots = [
            1u128,
            2,
            3,
            (1 << 52) + 1,
            (1 << 56) - 1,
            1 << 56,
            (1 << 56) + 1,
            u128::from(u64::MAX),
        ];
        for r in roots {
            let (sq, next_sq) = (r * r, (r + 1).checked_mul(r + 1).unwrap_or(0));
            for x in [sq - 1, sq, sq + 1, next_sq.wrapping_sub(1)] {
                assert!(floor_ok(x, isqrt_u128(x)), "{x}");
            }
        }
        for x in [0, (1u128 << 112) - 1, 1 << 112, (1 << 112) + 1, u128::MAX] {
            assert!(floor_ok(x, isqrt_u128(x)), "{x}");
        }
    }

    #[test]
    fn checked_root_equals_the_divided_root() {
        let mut next = crate::extract::xorshift(0xBB67_AE85_84CA_A73B);
        let (mut proven, mut cases) = (0, 0);
        let mut check = |a: U256, d: u64, shift: i64| {
            let want = sqrt_frac_divided(a, d, shift);
            if let Some(got) = sqrt_frac_checked(a, d, shift) {
                assert_eq!(
                    Some(got.to_bits()),
                    want.map(f64::to_bits),
                    "{a:?} {d} {shift}"
                );
                proven += 1;
            }
            cases += 1;
        };
        for _ in 0..20_000 {
            // Sums of squares like the engine's: up to 180 bits over d up to 2^40.
            let x = (u128::from(next()) << 64 | u128::from(next())) >> (next() % 128);
            let a = U256::square(x).shr((next() % 80) as u32);
            if a == U256::ZERO {
                continue;
            }
            let n = (next() % (1 << 20)).max(2);
            let d = if next() & 1 == 0 { n * n } else { n * (n - 1) };
            check(a, d, (next() % 200) as i64 - 100);
            check(a, (next() >> (next() % 64)).max(1), 0);
        }
        // Exact roots, and roots exactly at a midpoint (ties to even): the
        // square of a 54-bit odd m over 4, as (m^2, 4), and at the bottom
        // and top of a binade.
        for m in [
            (1u128 << 53) + 1,
            (1 << 53) + 3,
            (1 << 54) - 1,
            (1 << 53) | u128::from(next() >> 12) | 1,
            1 << 52,
            (1 << 53) - 1,
        ] {
            for (r, d) in [(1, 1), (2, 4), (3, 9), (4, 16)] {
                let a = U256::square(m * r);
                check(a, d, 0);
                check(a, d, -1074 + 60);
                let up = a.checked_mul_u64(2).unwrap();
                check(up, d * 2, 0);
            }
        }
        // Just either side of a midpoint, from candidates up to two units
        // off: the midpoints 2^54 - 1 (at the bottom of the binade of 2^54,
        // a quarter of its unit below it) and odd 54-bit ones.
        let mids = [
            (1u128 << 54) - 1,
            (1 << 54) - 3,
            (1 << 53) + 1,
            (1 << 53) | u128::from(next() >> 11) | 1,
        ];
        for mid in mids {
            for delta in [1u128, 2, 1 << 20, 1 << 52] {
                for x in [mid * mid - delta, mid * mid + delta] {
                    let a = U256([x as u64, (x >> 64) as u64, 0, 0]);
                    let want = sqrt_frac_divided(a, 1, 0).unwrap();
                    let off = [
                        want.next_down().next_down(),
                        want.next_down(),
                        want,
                        want.next_up(),
                        want.next_up().next_up(),
                    ];
                    for c in off {
                        let got = settle_root(c, a, 1, 0, 0);
                        assert_eq!(got.map(f64::to_bits), Some(want.to_bits()), "{x} from {c}");
                    }
                }
            }
        }
        // Results near the subnormal and overflow edges go to the division.
        assert_eq!(sqrt_frac_checked(U256::square(3), 1, -1074), None);
        assert_eq!(sqrt_frac_checked(U256::square(3), 1, 1100), None);
        assert!(proven * 10 > cases * 9, "{proven} of {cases} proven");
    }

    #[test]
    fn div_2by1_equals_the_wide_division() {
        let mut next = crate::extract::xorshift(0x3C6E_F372_FE94_F82B);
        for _ in 0..20_000 {
            let d = (next() >> (next() % 64)).max(1);
            let hi = next() % d;
            let lo = next();
            let cur = (u128::from(hi) << 64) | u128::from(lo);
            let want = ((cur / u128::from(d)) as u64, (cur % u128::from(d)) as u64);
            assert_eq!(div_2by1(hi, lo, d), want, "{hi} {lo} {d}");
        }
        assert_eq!(
            div_2by1(u64::MAX - 1, u64::MAX, u64::MAX),
            (u64::MAX, u64::MAX - 1)
        );
        assert_eq!(div_2by1(0, 7, 1), (7, 0));
    }

    /// A series for the numeric tests: mostly values of one kind (`round`
    /// modulo the first `kinds` kinds), one in `mix_every` of another.
    /// Kinds: values like the engine's (gaps, char counts), odd ones (wide
    /// exponent spreads, subnormals, exact ties), then the ones the fast
    /// paths hand back (signed zeros, huge values, infinities and nan).
    fn test_series(
        next: &mut impl FnMut() -> u64,
        round: u64,
        len: usize,
        kinds: u64,
        mix_every: u64,
    ) -> Vec<f64> {
        (0..len)
            .map(|_| {
                let kind = if next().is_multiple_of(mix_every) {
                    next()
                } else {
                    round
                };
                match kind % kinds {
                    0 => (next() % 10_000) as f64 / 1000.0,
                    1 => (next() % 50) as f64,
                    2 => f64::from_bits(next() >> 12 | 0x3F00_0000_0000_0000) - 0.75,
                    3 => ((next() % 2000) as f64 - 1000.0) * 2f64.powi((next() % 80) as i32 - 40),
                    4 => f64::from_bits(next() % (1 << 52)),
                    5 => 1.5,
                    6 => [0.0, -0.0][(next() % 2) as usize],
                    7 => 1.5e300 * ((next() % 7) as f64 - 3.0),
                    8 => [f64::INFINITY, f64::NEG_INFINITY, f64::NAN][(next() % 3) as usize],
                    9 => 2f64.powi(1000) * (1.0 + (next() % 4) as f64),
                    _ => (next() % 1_000_000) as f64 * 1e-6 + 0.02,
                }
            })
            .collect()
    }

    #[test]
    fn stdev_fixed_width_path_equals_the_bigint_path() {
        // Series like the engine's (gaps, char counts) and odd ones: wide
        // exponent spreads, subnormals, exact ties, huge and tiny values.
        let mut next = crate::extract::xorshift(0xBB67_AE85_84CA_A73B);
        let mut fast = 0;
        for round in 0..4000 {
            let len = (next() % 40) as usize + 2;
            let round = round as u64;
            let xs = test_series(&mut next, round, len, 6, 8);
            for sample in [false, true] {
                let want = stdev_big(&xs, sample);
                let got = exact_stdev(&xs, sample);
                assert_eq!(got.to_bits(), want.to_bits(), "{xs:?} sample {sample}");
                fast += usize::from(exact_stdev_u256(&xs, sample).is_some());
            }
        }
        assert!(fast > 3000, "fixed-width path taken {fast} times");
    }

    #[test]
    fn spread_equals_fmean_pstdev_and_stdev() {
        // The one pass against the three functions, on series like the
        // engine's and on the ones it must hand back: empty, one value,
        // zeros, -0.0, subnormals, wide spreads, huge, inf and nan.
        let mut next = crate::extract::xorshift(0x3C6E_F372_FE94_F82B);
        let mut fast = 0;
        for round in 0..6000u64 {
            let len = (next() % 30) as usize;
            let xs = test_series(&mut next, round, len, 11, 6);
            let sp = Spread::of(&xs);
            fast += usize::from(sp.ss.is_some());
            assert_eq!(sp.mean.to_bits(), fmean(&xs).to_bits(), "fmean {xs:?}");
            assert_eq!(
                sp.pstdev().to_bits(),
                pstdev(&xs).to_bits(),
                "pstdev {xs:?}"
            );
            assert_eq!(sp.stdev().to_bits(), stdev(&xs).to_bits(), "stdev {xs:?}");
        }
        assert!(fast > 1000, "one pass taken {fast} times");
    }

    #[test]
    fn median_mut_equals_the_middle_of_the_sort() {
        let mut next = crate::extract::xorshift(0xA54F_F53A_5F1D_36F1);
        for _ in 0..3000 {
            // Short lists half the time: they take their own path.
            let len = 1 + (next() % if next().is_multiple_of(2) { 4 } else { 90 }) as usize;
            let xs: Vec<f64> = (0..len)
                .map(|_| match next() % 10 {
                    0 => -0.0,
                    1 => 0.0,
                    2 if next().is_multiple_of(4) => f64::NAN,
                    _ => (next() % 20) as f64 / 4.0,
                })
                .collect();
            // The definition: the middle of the stable sort under Python's `<`.
            let mut sorted = xs.clone();
            sorted.sort_by(py_sort_cmp);
            let want = if len % 2 == 1 {
                sorted[len / 2]
            } else {
                (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0
            };
            let mut v = xs.clone();
            assert_eq!(median_mut(&mut v).to_bits(), want.to_bits(), "{xs:?}");
        }
    }

    /// A random series for the median shortcuts: short or long, with
    /// zeros of both signs, NaN, the largest floats, and neighbours of 1.25
    /// (a threshold and an edge of the tests), so a middle pair's mean
    /// lands on either side of it.
    fn median_test_series(next: &mut impl FnMut() -> u64) -> Vec<f64> {
        let len = 1 + (next() % if next().is_multiple_of(2) { 6 } else { 40 }) as usize;
        (0..len)
            .map(|_| match next() % 12 {
                0 => -0.0,
                1 => 0.0,
                2 if next().is_multiple_of(4) => f64::NAN,
                3 if next().is_multiple_of(4) => f64::MAX,
                4 if next().is_multiple_of(4) => -f64::MAX,
                5 => 1.25 + f64::EPSILON * (next() % 3) as f64 - f64::EPSILON,
                _ => (next() % 20) as f64 / 4.0 - 1.0,
            })
            .collect()
    }

    #[test]
    fn median_sides_equal_comparing_the_median() {
        let mut next = crate::extract::xorshift(0x5D2B_90C7_1E3A_84F5);
        // Thresholds at, between and beyond the values, and past the
        // shortcut's bound.
        let xs_of = [
            0.0,
            -0.0,
            1.25,
            1.3,
            2.5,
            -1.0,
            6.0,
            f64::MAX,
            f64::INFINITY,
        ];
        for _ in 0..4000 {
            let xs = median_test_series(&mut next);
            let m = median(&xs);
            for &x in &xs_of {
                for x in [x, -x] {
                    assert_eq!(median_below(&xs, x), m < x, "{xs:?} below {x}");
                    assert_eq!(median_above(&xs, x), m > x, "{xs:?} above {x}");
                }
            }
        }
        // Exactly half on each side: the middle pair's mean decides.
        // statistics.median([0.0, 0.1, 0.2, 0.3]) == 0.15000000000000002
        let xs = [0.3, 0.0, 0.2, 0.1];
        assert!(median_above(&xs, 0.15) && !median_below(&xs, 0.15));
        let m = 0.15000000000000002;
        assert!(!median_above(&xs, m) && !median_below(&xs, m));
        assert!(median_below(&xs, 0.15000000000000005));
        assert!(!median_below(&[], 1.0) && !median_above(&[], 1.0));
    }

    #[test]
    fn median_bucket_equals_the_bucket_of_the_median() {
        let mut next = crate::extract::xorshift(0x7A41_C2D9_3E85_0B6D);
        let edges = [0.25, 1.0, 1.25, 2.5];
        for _ in 0..4000 {
            let xs = median_test_series(&mut next);
            let m = median(&xs);
            for upper_closed in [true, false] {
                let want = edges
                    .iter()
                    .position(|&e| if upper_closed { m <= e } else { m < e })
                    .unwrap_or(edges.len());
                assert_eq!(
                    median_bucket(&xs, &edges, upper_closed),
                    want,
                    "{xs:?} {upper_closed}"
                );
            }
        }
        // A middle pair across an edge: statistics.median([0.1, 0.2]) ==
        // 0.15000000000000002, above an edge at 0.15, below one just past.
        assert_eq!(median_bucket(&[0.2, 0.1], &[0.15], true), 1);
        assert_eq!(median_bucket(&[0.2, 0.1], &[0.15000000000000002], true), 0);
        assert_eq!(median_bucket(&[0.2, 0.1], &[0.15000000000000002], false), 1);
    }

    #[test]
    fn sum_of_sums_equals_fsum_of_all_values() {
        let mut next = crate::extract::xorshift(0x41C9_7D05_E2B8_163A);
        let (mut exact, mut gave_up) = (0, 0);
        for _ in 0..3000 {
            // Series of IAT-like values, zeros, and now and then values far
            // apart in scale (the sums may then not fit: the fallback).
            let parts: Vec<Vec<f64>> = (0..1 + next() % 6)
                .map(|_| {
                    (0..next() % 12)
                        .map(|_| match next() % 10 {
                            0 => 0.0,
                            1 if next().is_multiple_of(25) => 1e30 * (next() % 7) as f64,
                            2 if next().is_multiple_of(25) => 1e-30 * (next() % 7) as f64,
                            _ => (next() % 100_000) as f64 * 1e-5 + 0.1,
                        })
                        .collect()
                })
                .collect();
            let mut total = SumOfSums::default();
            for p in &parts {
                total.add(&SpreadSums::of(p));
            }
            let all: Vec<f64> = parts.concat();
            match total.fsum() {
                Some(s) => {
                    exact += 1;
                    assert_eq!(s.to_bits(), fsum(&all).to_bits(), "{parts:?}");
                }
                None => gave_up += 1,
            }
        }
        // Both ways were taken.
        assert!(exact > 1000 && gave_up > 10, "{exact} exact, {gave_up} not");
        // A series the one pass does not take (non-finite) gives up.
        let mut total = SumOfSums::default();
        total.add(&SpreadSums::of(&[1.0, f64::INFINITY]));
        assert_eq!(total.fsum(), None);
        assert_eq!(SumOfSums::default().fsum(), Some(0.0));
    }

    #[test]
    fn fsum_counts_equals_fsum() {
        let mut next = crate::extract::xorshift(0x2E6B_11F4_A953_C087);
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            // Small counts, counts near 2^53 (sums past it round), and now
            // and then counts past it (the fallback).
            let xs: Vec<u64> = (0..len)
                .map(|_| match next() % 8 {
                    0 => (1 << 53) - next() % 3,
                    1 if next().is_multiple_of(4) => (1 << 60) + next() % 4096,
                    _ => next() % 5000,
                })
                .collect();
            let floats: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
            assert_eq!(
                fsum_counts(&xs).to_bits(),
                fsum(&floats).to_bits(),
                "{xs:?}"
            );
        }
    }

    #[test]
    fn median_of_counts_equals_the_median() {
        let mut next = crate::extract::xorshift(0x0C3A_57E1_9B24_D86F);
        for _ in 0..3000 {
            let len = 1 + (next() % 50) as usize;
            // Mostly small counts; now and then one past the count table.
            let cap = if next().is_multiple_of(8) { 200 } else { 6 };
            let xs: Vec<u32> = (0..len).map(|_| (next() % cap) as u32).collect();
            let floats: Vec<f64> = xs.iter().map(|&v| f64::from(v)).collect();
            assert_eq!(
                median_of_counts(xs.iter().copied()).to_bits(),
                median(&floats).to_bits(),
                "{xs:?}"
            );
        }
        // A half-integer median (even count).
        assert_eq!(median_of_counts([1u32, 2].into_iter()), 1.5);
        assert_eq!(median_of_counts([u32::MAX, 63].into_iter()), 2147483679.0);
    }

    #[test]
    fn pstdev_exact() {
        // statistics.pstdev([0.09375, 0.1875, 0.28125]) == 0.07654655446197431
        assert_eq!(
            bits(pstdev(&[0.09375, 0.1875, 0.28125])),
            0x3fb3988e1409212e
        );
        // statistics.pstdev([0.1, 0.3]) == 0.09999999999999999
        assert_eq!(bits(pstdev(&[0.1, 0.3])), 0x3fb9999999999999);
        // statistics.pstdev([0.1, 0.2, 0.3, 0.4]) == 0.11180339887498948
        assert_eq!(bits(pstdev(&[0.1, 0.2, 0.3, 0.4])), 0x3fbc9f25c5bfedd9);
        // statistics.pstdev([1e16, 1e16+2, 1e16+4]) == 1.632993161855452 (cancellation)
        assert_eq!(
            bits(pstdev(&[1e16, 1e16 + 2.0, 1e16 + 4.0])),
            0x3ffa20bd700c2c3e
        );
        // statistics.pstdev([0.123456, 0.2, 0.017, 0.05, 0.3333]) == 0.11345018680354828
        assert_eq!(
            bits(pstdev(&[0.123456, 0.2, 0.017, 0.05, 0.3333])),
            0x3fbd0b124a0bdc53
        );
        assert_eq!(bits(pstdev(&[7.25])), 0);
        assert_eq!(bits(pstdev(&[0.0, 0.0])), 0);
    }

    #[test]
    fn pstdev_sqrt_is_correctly_rounded() {
        // statistics.pstdev([0.383, 1.434, 1.082]) == 0.4367946377367235, while
        // math.sqrt(statistics.pvariance(...)) == 0.43679463773672356 (double rounding).
        let xs = [0.383, 1.434, 1.082];
        assert_eq!(bits(pstdev(&xs)), 0x3fdbf4717f096eeb);
        // statistics.stdev([0.383, 1.434, 1.082]) == 0.5349619924193992
        assert_eq!(bits(stdev(&xs)), 0x3fe11e689cc16b11);
    }

    #[test]
    fn pstdev_extremes() {
        // statistics.pstdev([5e-324, 0.0]) == 0.0 (sqrt(2^-2150) rounds to 0)
        assert_eq!(bits(pstdev(&[5e-324, 0.0])), 0);
        // statistics.pstdev([1e-310, 3e-310, 2e-311]) == 1.17756811551036e-310 (subnormal)
        assert_eq!(bits(pstdev(&[1e-310, 3e-310, 2e-311])), 0x000015ad57a5a9d6);
        // statistics.pstdev([1e308, -1e308]) == 1e+308
        assert_eq!(bits(pstdev(&[1e308, -1e308])), 0x7fe1ccf385ebc8a0);
        // CPython raises OverflowError: 2e308/sqrt(2) > f64::MAX.
        assert_eq!(stdev(&[1.7e308, -1.7e308]), f64::INFINITY);
        // CPython raises (AttributeError on a float `ss`): we give nan.
        assert!(pstdev(&[1.0, f64::INFINITY]).is_nan());
        assert!(stdev(&[f64::NAN, 1.0]).is_nan());
        assert!(pstdev(&[]).is_nan());
    }

    #[test]
    fn stdev_exact() {
        // statistics.stdev(ICI) == 1.9345275297583275; the A.2 CV 0.4147730717069781
        assert_eq!(bits(stdev(&ICI)), 0x3ffef3d323986102);
        assert_eq!(bits(stdev(&ICI) / fmean(&ICI)), 0x3fda8ba45a8f8c3a);
        // statistics.stdev([0.09375, 0.1875, 0.28125]) == 0.09375
        assert_eq!(bits(stdev(&[0.09375, 0.1875, 0.28125])), 0x3fb8000000000000);
        // statistics.stdev([0.1, 0.3]) == 0.1414213562373095 (two elements)
        assert_eq!(bits(stdev(&[0.1, 0.3])), 0x3fc21a1851ff630a);
        // statistics.stdev([1.0, 2.0**-60]) == 0.7071067811865476 (wide exponent spread)
        assert_eq!(bits(stdev(&[1.0, 2f64.powi(-60)])), 0x3fe6a09e667f3bcd);
        assert!(stdev(&[1.0]).is_nan());
    }

    #[test]
    fn correlation_3_11() {
        // statistics.correlation([1,2,3,4,5.5],[2,1,4,3,7.25]) == 0.8587111694366169
        let r = correlation(&[1.0, 2.0, 3.0, 4.0, 5.5], &[2.0, 1.0, 4.0, 3.0, 7.25]);
        assert_eq!(r.map(bits), Some(0x3feb7a8fd8ae15fd));
        // statistics.correlation([0.1,0.2,0.3],[0.3,0.2,0.1]) == -1.0
        assert_eq!(
            correlation(&[0.1, 0.2, 0.3], &[0.3, 0.2, 0.1]).map(bits),
            Some(0xbff0000000000000)
        );
        // statistics.correlation([40,74,71,79,48,81,43,34], ICI) == 0.03133848754783561
        let out = [40.0, 74.0, 71.0, 79.0, 48.0, 81.0, 43.0, 34.0];
        assert_eq!(correlation(&out, &ICI).map(bits), Some(0x3fa00b99263f846c));
        // StatisticsError cases.
        assert_eq!(correlation(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(correlation(&[1.0], &[2.0]), None);
        assert_eq!(correlation(&[1.0, 2.0], &[2.0]), None);
    }

    #[test]
    fn near_band_edges() {
        assert!(near(2.0, 2.0));
        // abs(2.2-2.0)/2.0 == 0.10000000000000009 > 0.10 in Python: not near.
        assert!(!near(2.2, 2.0));
        // abs(3.3-3.0)/3.0 == 0.09999999999999994: near.
        assert!(near(3.3, 3.0));
        // abs(5.5-5.0)/5.0 == 0.1: the edge is inclusive.
        assert!(near(5.5, 5.0));
        assert!(!near(2.3, 2.0));
        assert!(near(1.8, 2.0));
        assert!(near(0.1, 0.0));
        assert!(!near(0.11, 0.0));
    }

    #[test]
    fn py_max_min_keep_the_first_on_nan() {
        assert_eq!(py_max(0.0, f64::NAN), 0.0);
        assert_eq!(bits(py_max(0.0, -0.0)), 0);
        assert_eq!(py_min(1.0, f64::NAN), 1.0);
        assert!(py_max(f64::NAN, 1.0).is_nan());
    }
}
