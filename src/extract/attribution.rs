//! The attribution engine: merge one `(identity, primitive)` series of stored
//! observations into one state row (spec/behave-shell.md §6; lake.md §3
//! `attribution_state`).
//!
//! Stage: extract (pure). No I/O, no clock, no randomness: the caller hands in
//! the series already ordered by `ts` (ties by `evidence_ref`, parity A22) and
//! gets back the state. `engine::udf::attribution_merge` is the SQL adapter.
//!
//! Three mergers ([`merge_categorical`] §6.4, [`merge_numeric`] §6.5,
//! [`merge_hash`] §6.6), a dispatcher on the value kind ([`MergerKind`], §6.3)
//! and [`replay`], which walks the series prefix by prefix the way the
//! reference worker sees it grow (§6.8) to find `last_change_ts`.
//!
//! Values are JSON. Where the reference compares or hashes them it uses
//! Python equality, so `1`, `1.0` and `true` are one value, and an array or
//! object in a window that gets counted raises (`TypeError`); numeric
//! coercion is Python `float()`. Both are reproduced here because the
//! differential test against the reference checks them.

use serde::Deserialize;
use serde_json::Value;

/// The attribution thresholds of spec §6.7, with the reference's values as
/// [`Default`]. A job file may override any of them (snake_case or the
/// reference's upper-case names); unknown keys are an error.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributionThresholds {
    /// CATEGORICAL_WINDOW_N: size of the recent and the older window (also
    /// the numeric windows).
    #[serde(alias = "CATEGORICAL_WINDOW_N")]
    pub categorical_window_n: usize,
    /// MIN_OBSERVATIONS_FOR_STATE: categorical and numeric floor for a state.
    #[serde(alias = "MIN_OBSERVATIONS_FOR_STATE")]
    pub min_observations_for_state: usize,
    /// CATEGORICAL_MAJORITY_THRESHOLD: the "clear window" count.
    #[serde(alias = "CATEGORICAL_MAJORITY_THRESHOLD")]
    pub categorical_majority_threshold: usize,
    /// NUMERIC_EWMA_ALPHA: weight of the newest value in the EWMA.
    #[serde(alias = "NUMERIC_EWMA_ALPHA")]
    pub numeric_ewma_alpha: f64,
    /// NUMERIC_STABLE_DISPERSION_PCT: defined by the reference, never used
    /// (spec §6.5 step 7, A19). Kept so a job file naming it stays valid.
    #[serde(alias = "NUMERIC_STABLE_DISPERSION_PCT")]
    pub numeric_stable_dispersion_pct: f64,
    /// NUMERIC_DRIFT_MEAN_SHIFT_PCT: relative EWMA shift that means drift.
    #[serde(alias = "NUMERIC_DRIFT_MEAN_SHIFT_PCT")]
    pub numeric_drift_mean_shift_pct: f64,
    /// NUMERIC_CONFLICT_DISPERSION_PCT: CV above which a numeric series is
    /// conflicted.
    #[serde(alias = "NUMERIC_CONFLICT_DISPERSION_PCT")]
    pub numeric_conflict_dispersion_pct: f64,
    /// HASH_DRIFT_MAX: most rotations in the window still called drifting.
    #[serde(alias = "HASH_DRIFT_MAX")]
    pub hash_drift_max: usize,
    /// HASH_DRIFT_WINDOW_SECS: the hash window before the newest observation.
    #[serde(alias = "HASH_DRIFT_WINDOW_SECS")]
    pub hash_drift_window_secs: f64,
    /// MULTI_ACTOR_MAX_CONFIDENCE: cap on a `multi_actor` confidence.
    #[serde(alias = "MULTI_ACTOR_MAX_CONFIDENCE")]
    pub multi_actor_max_confidence: f64,
    /// MULTI_ACTOR_MIN_PRIMITIVES: correlator floor (spec §6.9).
    #[serde(alias = "MULTI_ACTOR_MIN_PRIMITIVES")]
    pub multi_actor_min_primitives: usize,
    /// MULTI_ACTOR_TICK_SECS: correlator tick (spec §6.9); a batch job has no
    /// tick, kept for completeness of the table.
    #[serde(alias = "MULTI_ACTOR_TICK_SECS")]
    pub multi_actor_tick_secs: f64,
}

impl Default for AttributionThresholds {
    fn default() -> Self {
        AttributionThresholds {
            categorical_window_n: 5,
            min_observations_for_state: 3,
            categorical_majority_threshold: 4,
            numeric_ewma_alpha: 0.3,
            numeric_stable_dispersion_pct: 0.20,
            numeric_drift_mean_shift_pct: 0.30,
            numeric_conflict_dispersion_pct: 1.0,
            hash_drift_max: 2,
            hash_drift_window_secs: 86400.0,
            multi_actor_max_confidence: 0.6,
            multi_actor_min_primitives: 2,
            multi_actor_tick_secs: 60.0,
        }
    }
}

impl AttributionThresholds {
    /// Check that overrides make sense.
    ///
    /// # Errors
    /// [`AttributionError::InvalidThresholds`] naming the first bad field.
    pub fn validate(&self) -> Result<(), AttributionError> {
        let bad = |what: &'static str| Err(AttributionError::InvalidThresholds(what));
        if self.categorical_window_n == 0 {
            // Python's `xs[-0:]` is the whole list: a window of 0 is a typo.
            return bad("categorical_window_n must be at least 1");
        }
        let finite = [
            self.numeric_ewma_alpha,
            self.numeric_stable_dispersion_pct,
            self.numeric_drift_mean_shift_pct,
            self.numeric_conflict_dispersion_pct,
            self.hash_drift_window_secs,
            self.multi_actor_max_confidence,
            self.multi_actor_tick_secs,
        ];
        if finite.iter().any(|x| !x.is_finite()) {
            return bad("float thresholds must be finite");
        }
        Ok(())
    }
}

/// The five states of spec §6.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Too few observations to say anything.
    Unknown,
    /// The recent window agrees, and agrees with the older one (or none).
    Stable,
    /// The recent window agrees but moved away from the older window.
    Drifting,
    /// The recent window is split.
    Conflicted,
    /// The recent window is split as a clean two-value alternation.
    MultiActor,
}

impl State {
    /// The lake / reference spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Stable => "stable",
            State::Drifting => "drifting",
            State::Conflicted => "conflicted",
            State::MultiActor => "multi_actor",
        }
    }

    /// Parse the lake spelling.
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "unknown" => State::Unknown,
            "stable" => State::Stable,
            "drifting" => State::Drifting,
            "conflicted" => State::Conflicted,
            "multi_actor" => State::MultiActor,
            _ => return None,
        })
    }
}

/// Which merger runs a series (spec §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MergerKind {
    /// §6.4: recent vs older window, majority, alternation.
    Categorical,
    /// §6.5: EWMA and CV.
    Numeric,
    /// §6.6: distinct values in a time window.
    Hash,
}

impl MergerKind {
    /// The reference dispatcher's explicit `value_kind` argument:
    /// `categorical`, `numeric`, `hash`, or none (categorical).
    ///
    /// # Errors
    /// Any other string is [`AttributionError::UnknownValueKind`] (§6.3).
    pub fn from_explicit(kind: Option<&str>) -> Result<MergerKind, AttributionError> {
        match kind {
            None | Some("categorical") => Ok(MergerKind::Categorical),
            Some("numeric") => Ok(MergerKind::Numeric),
            Some("hash") => Ok(MergerKind::Hash),
            Some(other) => Err(AttributionError::UnknownValueKind(other.to_owned())),
        }
    }

    /// The worker's choice from a registry value kind (lake.md
    /// `observations.value_kind`): numeric and hash have their own mergers,
    /// every other registry kind (bool, free_string, array, categorical) and
    /// a missing kind use the categorical one.
    ///
    /// # Errors
    /// A string that is not a registry kind is
    /// [`AttributionError::UnknownValueKind`].
    pub fn for_value_kind(kind: Option<&str>) -> Result<MergerKind, AttributionError> {
        match kind {
            Some("numeric") => Ok(MergerKind::Numeric),
            Some("hash") => Ok(MergerKind::Hash),
            None | Some("categorical" | "bool" | "free_string" | "array") => {
                Ok(MergerKind::Categorical)
            }
            Some(other) => Err(AttributionError::UnknownValueKind(other.to_owned())),
        }
    }
}

/// Why a merge raised. The reference raises in the same places; each variant
/// names the Python exception it stands for ([`AttributionError::python_name`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AttributionError {
    /// An explicit value kind the dispatcher does not know.
    #[error("unknown value kind {0:?}")]
    UnknownValueKind(String),
    /// An array or object had to be counted or hashed (Python `TypeError`).
    #[error("value at series position {index} is an array or object and cannot be counted")]
    Unhashable {
        /// Position in the series.
        index: usize,
    },
    /// A numeric merge met an array or object (Python `float()` `TypeError`).
    #[error("value at series position {index} is not a number")]
    NotNumeric {
        /// Position in the series.
        index: usize,
    },
    /// A numeric merge met a string `float()` rejects (Python `ValueError`).
    #[error("value at series position {index} is a string that is not a number")]
    BadNumericString {
        /// Position in the series.
        index: usize,
    },
    /// A squared deviation overflowed (Python `float ** 2` `OverflowError`).
    #[error("squared deviation overflows a float")]
    Overflow,
    /// A threshold override is out of range.
    #[error("invalid attribution thresholds: {0}")]
    InvalidThresholds(&'static str),
}

impl AttributionError {
    /// The Python exception class the reference raises in the same case.
    pub fn python_name(&self) -> &'static str {
        match self {
            AttributionError::UnknownValueKind(_) => "ValueError",
            AttributionError::Unhashable { .. } => "TypeError",
            AttributionError::NotNumeric { .. } => "TypeError",
            AttributionError::BadNumericString { .. } => "ValueError",
            AttributionError::Overflow => "OverflowError",
            AttributionError::InvalidThresholds(_) => "ValueError",
        }
    }
}

/// One stored observation of the series (spec §6.2). `confidence` is never
/// read by the mergers, so it is not carried.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesObs {
    /// The observation's value (JSON).
    pub value: Value,
    /// Emission time, epoch seconds (lake.md: the session's end).
    pub ts: f64,
}

/// What a state's `current_value` is, without copying values out of the
/// series: the replay produces one per prefix and keeps only the last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CurrentValue {
    /// JSON null (empty series).
    Null,
    /// The value of the series element at this position.
    Element(usize),
    /// A computed number (the numeric merger's EWMA or coerced last value).
    Number(f64),
}

impl CurrentValue {
    /// The value as JSON. A non-finite number has no JSON form and becomes
    /// null.
    pub fn to_json(self, series: &[SeriesObs]) -> Value {
        match self {
            CurrentValue::Null => Value::Null,
            CurrentValue::Element(i) => series.get(i).map_or(Value::Null, |o| o.value.clone()),
            CurrentValue::Number(x) => {
                serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
            }
        }
    }
}

/// A merger's output for one series (the reference's `AttributionState`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Merged {
    /// The state.
    pub state: State,
    /// The current value.
    pub current: CurrentValue,
    /// Confidence in `[0, 1]` (NaN only for non-finite numeric input).
    pub confidence: f64,
    /// Length of the series.
    pub observation_count: usize,
    /// `ts` of the last element (0.0 for an empty series).
    pub last_observation_ts: f64,
}

/// A replayed series: the state after the full series and when it last
/// changed (spec §6.8, lake.md §3 `last_change_ts`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Replayed {
    /// The state row after the last successful recomputation.
    pub merged: Merged,
    /// `last_observation_ts` of the prefix at which `state` last changed.
    pub last_change_ts: f64,
}

/// The outcome of [`replay`].
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayOutcome {
    /// The state row, `None` when the series is empty or every prefix failed.
    pub row: Option<Replayed>,
    /// How many prefixes raised (the reference worker logs and skips those,
    /// leaving the prior row in place, spec §6.8 step 8).
    pub failed_prefixes: usize,
    /// The error of the last failed prefix, if any.
    pub last_error: Option<AttributionError>,
}

// ---------------------------------------------------------------------------
// Python value model

/// A value as Python's `==`/`hash` see it. `bool`, `int` and integral
/// `float` compare equal across types (`True == 1 == 1.0`), and `-0.0 == 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key<'a> {
    None,
    Int(i128),
    /// A float that is not integral (or is infinite): compared by bits, which
    /// is Python equality for every float JSON can carry (no NaN).
    Float(u64),
    Str(&'a str),
    /// A list or dict: Python raises `TypeError` when it must hash one.
    Unhashable,
}

fn key_of(v: &Value) -> Key<'_> {
    Scalar::of(v).key()
}

/// A JSON value as the mergers read it: the part of the tree Python's `==`,
/// `hash` and `float()` look at. Built from a parsed [`Value`]
/// ([`Scalar::of`]) or straight from the stored text ([`Scalar::of_text`]),
/// so both roads meet here and give the same keys and numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    /// A JSON integer that fits `i64` or `u64` (serde_json's integer forms).
    Int(i128),
    /// Any other JSON number (serde_json's float form).
    Float(f64),
    Str(&'a str),
    /// An array or object.
    Compound,
}

impl<'a> Scalar<'a> {
    fn of(v: &'a Value) -> Scalar<'a> {
        match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::of_number(n),
            Value::String(s) => Scalar::Str(s),
            Value::Array(_) | Value::Object(_) => Scalar::Compound,
        }
    }

    fn of_number(n: &serde_json::Number) -> Scalar<'static> {
        if let Some(i) = n.as_i64() {
            Scalar::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Scalar::Int(i128::from(u))
        } else {
            Scalar::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// The value of a JSON text without building a tree, for the forms
    /// stored values nearly always take: a string without escapes, a number,
    /// `true`, `false`, `null`, with nothing around them. `None` for any
    /// other text, which [`Scalar::of`] reads after a full parse (that parse
    /// also rejects what is not JSON).
    fn of_text(text: &'a str) -> Option<Scalar<'a>> {
        let b = text.as_bytes();
        match *b.first()? {
            b'"' => {
                let inner = b.get(1..b.len().checked_sub(1)?)?;
                let plain = b[b.len() - 1] == b'"'
                    && !inner.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20);
                plain.then(|| Scalar::Str(&text[1..text.len() - 1]))
            }
            b'-' | b'0'..=b'9' => serde_json::from_str::<serde_json::Number>(text)
                .ok()
                .map(|n| Scalar::of_number(&n)),
            _ => match text {
                "null" => Some(Scalar::Null),
                "true" => Some(Scalar::Bool(true)),
                "false" => Some(Scalar::Bool(false)),
                _ => None,
            },
        }
    }

    fn key(self) -> Key<'a> {
        match self {
            Scalar::Null => Key::None,
            Scalar::Bool(b) => Key::Int(i128::from(b)),
            Scalar::Int(i) => Key::Int(i),
            Scalar::Float(f) => float_key(f),
            Scalar::Str(s) => Key::Str(s),
            Scalar::Compound => Key::Unhashable,
        }
    }

    /// Python `float(value)`, as the numeric merger's `_safe_float` does:
    /// null is 0.0, booleans 1.0/0.0, strings go through `float()` parsing,
    /// arrays and objects raise.
    fn num(self) -> NumSlot {
        match self {
            Scalar::Null => NumSlot::Ok(0.0),
            Scalar::Bool(b) => NumSlot::Ok(if b { 1.0 } else { 0.0 }),
            // Rounds to nearest-even, as serde_json's i64/u64 → f64 and
            // Python's int.__float__ do.
            Scalar::Int(i) => NumSlot::Ok(i as f64),
            Scalar::Float(f) => NumSlot::Ok(f),
            Scalar::Str(s) => py_float_str(s).map_or(NumSlot::BadString, NumSlot::Ok),
            Scalar::Compound => NumSlot::NotNumeric,
        }
    }
}

fn float_key(f: f64) -> Key<'static> {
    // 2^127: every integral float below it converts to i128 exactly.
    const LIMIT: f64 = 1.7014118346046923e38;
    if f.is_finite() && f.fract() == 0.0 && f.abs() < LIMIT {
        Key::Int(f as i128)
    } else {
        Key::Float(f.to_bits())
    }
}

/// Python `float(str)`: surrounding Python whitespace, an optional sign,
/// `inf`/`infinity`/`nan` in any case, or a decimal literal whose digit groups
/// may be joined by single underscores (PEP 515).
///
/// Known gap: Python also accepts non-ASCII decimal digits (`float("١")`);
/// those are rejected here. No registry primitive stores numbers as strings.
fn py_float_str(s: &str) -> Option<f64> {
    use crate::extract::behave::pychar::is_py_space;
    let t = s.trim_matches(|c: char| is_py_space(c as u32));
    let (neg, body) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    if body.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let b = body.as_bytes();
    let mut i = 0;
    let mut clean = String::with_capacity(b.len() + 1);
    if neg {
        clean.push('-');
    }
    // digitpart: digit (["_"] digit)*; returns whether any digit was read.
    let digitpart = |i: &mut usize, clean: &mut String| -> Option<bool> {
        if *i >= b.len() || !b[*i].is_ascii_digit() {
            return Some(false);
        }
        while *i < b.len() {
            match b[*i] {
                c @ b'0'..=b'9' => {
                    clean.push(c as char);
                    *i += 1;
                }
                b'_' if *i + 1 < b.len() && b[*i + 1].is_ascii_digit() => *i += 1,
                b'_' => return None,
                _ => break,
            }
        }
        Some(true)
    };
    let int_digits = digitpart(&mut i, &mut clean)?;
    let mut frac_digits = false;
    if i < b.len() && b[i] == b'.' {
        clean.push('.');
        i += 1;
        frac_digits = digitpart(&mut i, &mut clean)?;
    }
    if !int_digits && !frac_digits {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        clean.push('e');
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            clean.push(b[i] as char);
            i += 1;
        }
        if !digitpart(&mut i, &mut clean)? {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    // Rust's parser is correctly rounded, like CPython's dtoa.
    clean.parse::<f64>().ok()
}

/// Python `min(a, b)`: `b` only when `b < a` (so a NaN `a` wins).
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Python `max(a, b)`: `b` only when `b > a` (so a NaN `b` loses).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python `x ** y` for floats through the C library `pow`, as CPython's
/// `float_pow` does. The exponent goes through `black_box` so LLVM cannot
/// rewrite `pow(x, 2.0)` into `x * x` or `pow(x, 0.5)` into `sqrt(x)`: glibc's
/// `pow` is not guaranteed correctly rounded, and parity needs its exact bits.
/// A finite base whose power overflows raises `OverflowError` in Python.
fn py_pow(x: f64, y: f64) -> Result<f64, AttributionError> {
    let r = x.powf(std::hint::black_box(y));
    if r.is_infinite() && x.is_finite() {
        return Err(AttributionError::Overflow);
    }
    Ok(r)
}

// ---------------------------------------------------------------------------
// Mergers over prepared series

/// Python slice bounds `xs[-w:]` and `xs[-2w:-w]` for a series of length `n`.
fn windows(n: usize, w: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let recent = n.saturating_sub(w)..n;
    let older = n.saturating_sub(2 * w)..n.saturating_sub(w);
    (recent, older)
}

/// `Counter(values).most_common(1)[0]` over `keys[range]`: the most frequent
/// key, ties to the first seen, the representative being its first
/// occurrence. Also returns the number of distinct keys.
///
/// Errors when a key is unhashable, like `Counter()` does.
fn most_common(
    keys: &[Key<'_>],
    range: std::ops::Range<usize>,
) -> Result<(usize, usize, usize), AttributionError> {
    // (first index, count) per distinct key, in first-seen order. Windows
    // are small (CATEGORICAL_WINDOW_N), so a linear scan beats hashing, and
    // a window of the default size needs no allocation (the replay counts
    // two windows per observation).
    let mut on_stack = [(0usize, 0usize); 16];
    let mut on_heap = Vec::new();
    let slots: &mut [(usize, usize)] = if range.len() <= on_stack.len() {
        &mut on_stack[..range.len()]
    } else {
        on_heap.resize(range.len(), (0, 0));
        &mut on_heap
    };
    let mut distinct = 0usize;
    for i in range {
        let k = keys[i];
        if k == Key::Unhashable {
            return Err(AttributionError::Unhashable { index: i });
        }
        match slots[..distinct].iter_mut().find(|(j, _)| keys[*j] == k) {
            Some((_, c)) => *c += 1,
            None => {
                slots[distinct] = (i, 1);
                distinct += 1;
            }
        }
    }
    let seen = &slots[..distinct];
    let mut best = (usize::MAX, 0usize);
    for &(i, c) in seen {
        if c > best.1 {
            best = (i, c);
        }
    }
    Ok((best.0, best.1, seen.len()))
}

/// §6.4.1 over the recent window.
fn is_alternation(keys: &[Key<'_>], recent: std::ops::Range<usize>, distinct: usize) -> bool {
    let rs = recent.len();
    if rs < 4 || distinct != 2 {
        return false;
    }
    let w = &keys[recent];
    let flips = w.windows(2).filter(|p| p[0] != p[1]).count();
    let repeats = (rs - 1) - flips;
    flips >= 2 * repeats.max(1)
}

fn last_ts_of(ts: &[f64]) -> f64 {
    ts.last().copied().unwrap_or(0.0)
}

fn categorical(
    keys: &[Key<'_>],
    ts: &[f64],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    let n = keys.len();
    let last_ts = last_ts_of(ts);
    let unknown = |current| Merged {
        state: State::Unknown,
        current,
        confidence: 0.0,
        observation_count: n,
        last_observation_ts: last_ts,
    };
    if n == 0 {
        return Ok(unknown(CurrentValue::Null));
    }
    let last = CurrentValue::Element(n - 1);
    if n < th.min_observations_for_state {
        return Ok(unknown(last));
    }
    let (recent, older) = windows(n, th.categorical_window_n);
    let rs = recent.len();
    let (top, tc, distinct) = most_common(keys, recent.clone())?;
    let conf = tc as f64 / rs as f64;
    let done = |state, current, confidence| Merged {
        state,
        current,
        confidence,
        observation_count: n,
        last_observation_ts: last_ts,
    };
    let clear = tc >= th.categorical_majority_threshold.min(rs);
    if !clear {
        return Ok(if is_alternation(keys, recent, distinct) {
            done(
                State::MultiActor,
                last,
                py_min(conf, th.multi_actor_max_confidence),
            )
        } else {
            done(State::Conflicted, last, conf)
        });
    }
    let top_value = CurrentValue::Element(top);
    if older.is_empty() {
        return Ok(done(State::Stable, top_value, conf));
    }
    let os = older.len();
    let (otop, otc, _) = most_common(keys, older)?;
    let state = if otc < th.categorical_majority_threshold.min(os) || keys[otop] != keys[top] {
        State::Drifting
    } else {
        State::Stable
    };
    Ok(done(state, top_value, conf))
}

/// `_ewma`: `s = alpha*v + (1.0 - alpha)*s`, literally (spec §6.5 step 3).
fn ewma(xs: &[f64], alpha: f64) -> f64 {
    let mut it = xs.iter();
    let mut s = it.next().copied().unwrap_or(0.0);
    for &v in it {
        s = alpha * v + (1.0 - alpha) * s;
    }
    s
}

/// The CV about the EWMA `m` (spec §6.5 step 4): plain left-to-right sum of
/// squared deviations, population variance, `var ** 0.5`, and the 1e9 rule
/// for a zero EWMA.
fn cv_about(xs: &[f64], m: f64) -> Result<f64, AttributionError> {
    if xs.is_empty() {
        return Ok(0.0);
    }
    let mut sum = 0.0f64;
    for &v in xs {
        sum += py_pow(v - m, 2.0)?;
    }
    let var = sum / xs.len() as f64;
    let sd = py_pow(var, 0.5)?;
    if m == 0.0 {
        return Ok(if sd == 0.0 { 0.0 } else { 1e9 });
    }
    Ok(sd / m.abs())
}

fn numeric(
    nums: &[NumSlot],
    ts: &[f64],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    let n = nums.len();
    let last_ts = last_ts_of(ts);
    let done = |state, current, confidence| Merged {
        state,
        current,
        confidence,
        observation_count: n,
        last_observation_ts: last_ts,
    };
    if n == 0 {
        return Ok(done(State::Unknown, CurrentValue::Null, 0.0));
    }
    if n < th.min_observations_for_state {
        let last = nums[n - 1].get(n - 1)?;
        return Ok(done(State::Unknown, CurrentValue::Number(last), 0.0));
    }
    let (recent, older) = windows(n, th.categorical_window_n);
    // The reference converts the recent window, then the older one; the
    // first failure in that order is the one raised.
    let mut rv = [0.0f64; 16];
    let mut rv_heap = Vec::new();
    let rv: &mut [f64] = if recent.len() <= rv.len() {
        &mut rv[..recent.len()]
    } else {
        rv_heap.resize(recent.len(), 0.0);
        &mut rv_heap
    };
    for (slot, i) in rv.iter_mut().zip(recent.clone()) {
        *slot = nums[i].get(i)?;
    }
    let mut ov = [0.0f64; 16];
    let mut ov_heap = Vec::new();
    let ov: &mut [f64] = if older.len() <= ov.len() {
        &mut ov[..older.len()]
    } else {
        ov_heap.resize(older.len(), 0.0);
        &mut ov_heap
    };
    for (slot, i) in ov.iter_mut().zip(older.clone()) {
        *slot = nums[i].get(i)?;
    }
    let alpha = th.numeric_ewma_alpha;
    let m = ewma(rv, alpha);
    let cv = cv_about(rv, m)?;
    if cv > th.numeric_conflict_dispersion_pct {
        return Ok(done(State::Conflicted, CurrentValue::Number(m), 0.5));
    }
    let confidence = py_max(0.0, 1.0 - py_min(cv, 1.0));
    if !ov.is_empty() {
        let om = ewma(ov, alpha);
        let denom = if om != 0.0 { om.abs() } else { 1.0 };
        let shift = (m - om).abs() / denom;
        if shift >= th.numeric_drift_mean_shift_pct {
            return Ok(done(State::Drifting, CurrentValue::Number(m), confidence));
        }
    }
    Ok(done(State::Stable, CurrentValue::Number(m), confidence))
}

/// A value coerced by Python `float()`, or the error coercing it raises (kept
/// until the merger actually reads the value, as the reference only raises
/// then).
#[derive(Clone, Copy, Debug)]
enum NumSlot {
    Ok(f64),
    NotNumeric,
    BadString,
}

impl NumSlot {
    fn of(v: &Value) -> NumSlot {
        Scalar::of(v).num()
    }

    fn get(self, index: usize) -> Result<f64, AttributionError> {
        match self {
            NumSlot::Ok(x) => Ok(x),
            NumSlot::NotNumeric => Err(AttributionError::NotNumeric { index }),
            NumSlot::BadString => Err(AttributionError::BadNumericString { index }),
        }
    }
}

fn rotations_state(distinct: usize, th: &AttributionThresholds) -> (State, f64) {
    let rot = distinct.saturating_sub(1);
    let state = if rot == 0 {
        State::Stable
    } else if rot <= th.hash_drift_max {
        State::Drifting
    } else {
        State::Conflicted
    };
    (state, 1.0 / (1.0 + rot as f64))
}

fn hash(
    keys: &[Key<'_>],
    ts: &[f64],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    let n = keys.len();
    if n == 0 {
        return Ok(Merged {
            state: State::Unknown,
            current: CurrentValue::Null,
            confidence: 0.0,
            observation_count: 0,
            last_observation_ts: 0.0,
        });
    }
    let last_ts = ts[n - 1];
    let window_start = last_ts - th.hash_drift_window_secs;
    let mut distinct: Vec<Key<'_>> = Vec::new();
    let mut set: Option<std::collections::HashSet<Key<'_>>> = None;
    for i in 0..n {
        // NaN `ts` compares false, as in Python's `ts >= window_start`.
        let in_window = ts[i] >= window_start;
        if !in_window || keys[i] == Key::None {
            continue;
        }
        let k = keys[i];
        if k == Key::Unhashable {
            return Err(AttributionError::Unhashable { index: i });
        }
        // Linear scan while small, a set once the window is busy.
        match &mut set {
            Some(s) => {
                s.insert(k);
            }
            None if distinct.len() < 16 => {
                if !distinct.contains(&k) {
                    distinct.push(k);
                }
            }
            None => {
                let mut s: std::collections::HashSet<Key<'_>> = distinct.drain(..).collect();
                s.insert(k);
                set = Some(s);
            }
        }
    }
    let d = set.as_ref().map_or(distinct.len(), |s| s.len());
    let (state, confidence) = rotations_state(d, th);
    Ok(Merged {
        state,
        current: CurrentValue::Element(n - 1),
        confidence,
        observation_count: n,
        last_observation_ts: last_ts,
    })
}

// ---------------------------------------------------------------------------
// Public entry points

fn keys_of(series: &[SeriesObs]) -> Vec<Key<'_>> {
    series.iter().map(|o| key_of(&o.value)).collect()
}

fn ts_of(series: &[SeriesObs]) -> Vec<f64> {
    series.iter().map(|o| o.ts).collect()
}

/// The categorical merger (spec §6.4).
///
/// # Errors
/// [`AttributionError::Unhashable`] when a counted window holds an array or
/// object.
pub fn merge_categorical(
    series: &[SeriesObs],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    categorical(&keys_of(series), &ts_of(series), th)
}

/// The numeric merger (spec §6.5).
///
/// # Errors
/// A value in the windows that Python `float()` rejects, or a squared
/// deviation that overflows.
pub fn merge_numeric(
    series: &[SeriesObs],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    let nums: Vec<NumSlot> = series.iter().map(|o| NumSlot::of(&o.value)).collect();
    numeric(&nums, &ts_of(series), th)
}

/// The hash merger (spec §6.6).
///
/// # Errors
/// [`AttributionError::Unhashable`] when the window holds an array or object.
pub fn merge_hash(
    series: &[SeriesObs],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    hash(&keys_of(series), &ts_of(series), th)
}

/// Run the merger for `kind` over the whole series (the reference's
/// `aggregate_observations`).
///
/// # Errors
/// Whatever the chosen merger raises.
pub fn merge(
    kind: MergerKind,
    series: &[SeriesObs],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    match kind {
        MergerKind::Categorical => merge_categorical(series, th),
        MergerKind::Numeric => merge_numeric(series, th),
        MergerKind::Hash => merge_hash(series, th),
    }
}

/// The reference dispatcher (`aggregate_observations`, spec §6.3): an empty
/// series is `unknown` whatever the kind; otherwise the explicit kind picks
/// the merger.
///
/// # Errors
/// An unknown explicit kind (for a non-empty series), or whatever the merger
/// raises.
pub fn aggregate(
    value_kind: Option<&str>,
    series: &[SeriesObs],
    th: &AttributionThresholds,
) -> Result<Merged, AttributionError> {
    if series.is_empty() {
        return Ok(Merged {
            state: State::Unknown,
            current: CurrentValue::Null,
            confidence: 0.0,
            observation_count: 0,
            last_observation_ts: 0.0,
        });
    }
    merge(MergerKind::from_explicit(value_kind)?, series, th)
}

/// Fold one prefix result into the running row, the way the worker upserts
/// (spec §6.8 steps 5-6): `last_change_ts` moves only when the state changes.
fn fold(
    out: &mut ReplayOutcome,
    r: Result<Merged, AttributionError>,
    on_change: &mut dyn FnMut(StateChange),
) {
    match r {
        Ok(m) => {
            let last_change_ts = match out.row {
                Some(prior) if prior.merged.state == m.state => prior.last_change_ts,
                _ => {
                    on_change(StateChange {
                        ts: m.last_observation_ts,
                        state: m.state,
                        index: m.observation_count.saturating_sub(1),
                        confidence: m.confidence,
                    });
                    m.last_observation_ts
                }
            };
            out.row = Some(Replayed {
                merged: m,
                last_change_ts,
            });
        }
        Err(e) => {
            out.failed_prefixes += 1;
            out.last_error = Some(e);
        }
    }
}

/// One state change seen by [`replay_changes`]: the worker would publish
/// `attribution.profile.state_changed` here (spec §6.8 step 7).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateChange {
    /// `last_observation_ts` of the prefix that changed the state.
    pub ts: f64,
    /// The new state.
    pub state: State,
    /// Position in the series (0-based) of the observation that changed it.
    pub index: usize,
    /// The state's confidence right after the change.
    pub confidence: f64,
}

/// Replay the series prefix by prefix, as the reference worker recomputes it
/// once per arriving observation (spec §6.8), and return the final row with
/// `last_change_ts` = the `ts` of the prefix at which the state last changed.
/// A value change within one state is not a change. A prefix whose merge
/// raises is skipped, leaving the prior row (the worker logs and moves on).
pub fn replay(kind: MergerKind, series: &[SeriesObs], th: &AttributionThresholds) -> ReplayOutcome {
    replay_inner(kind, series, th, &mut |_| {})
}

/// [`replay`], also returning every state change in order (the first entry
/// is the first successful prefix's state). Feeds state-over-time trends.
pub fn replay_changes(
    kind: MergerKind,
    series: &[SeriesObs],
    th: &AttributionThresholds,
) -> (ReplayOutcome, Vec<StateChange>) {
    let mut changes = Vec::new();
    let out = replay_inner(kind, series, th, &mut |c| changes.push(c));
    (out, changes)
}

fn replay_inner(
    kind: MergerKind,
    series: &[SeriesObs],
    th: &AttributionThresholds,
    on_change: &mut dyn FnMut(StateChange),
) -> ReplayOutcome {
    let values = Prepared::new(kind, series.iter().map(|o| Scalar::of(&o.value)));
    replay_prepared(&values, &ts_of(series), th, on_change)
}

/// A series' values as its merger reads them.
enum Prepared<'a> {
    Categorical(Vec<Key<'a>>),
    Numeric(Vec<NumSlot>),
    Hash(Vec<Key<'a>>),
}

impl<'a> Prepared<'a> {
    fn new(kind: MergerKind, scalars: impl Iterator<Item = Scalar<'a>>) -> Self {
        match kind {
            MergerKind::Categorical => Prepared::Categorical(scalars.map(Scalar::key).collect()),
            MergerKind::Numeric => Prepared::Numeric(scalars.map(Scalar::num).collect()),
            MergerKind::Hash => Prepared::Hash(scalars.map(Scalar::key).collect()),
        }
    }
}

fn replay_prepared(
    values: &Prepared<'_>,
    ts: &[f64],
    th: &AttributionThresholds,
    on_change: &mut dyn FnMut(StateChange),
) -> ReplayOutcome {
    let mut out = ReplayOutcome {
        row: None,
        failed_prefixes: 0,
        last_error: None,
    };
    match values {
        Prepared::Categorical(keys) => {
            for k in 1..=keys.len() {
                fold(&mut out, categorical(&keys[..k], &ts[..k], th), on_change);
            }
        }
        Prepared::Numeric(nums) => {
            for k in 1..=nums.len() {
                fold(&mut out, numeric(&nums[..k], &ts[..k], th), on_change);
            }
        }
        Prepared::Hash(keys) => replay_hash(keys, ts, th, &mut out, on_change),
    }
    out
}

/// [`replay`] over a series given as its stored JSON texts (lake.md
/// `observations.value`; `None`, SQL NULL, reads as JSON null) and their
/// `ts` (NaN for a NULL), in series order. `None` when a text is not JSON,
/// the NULL rule of the SQL adapters.
///
/// The result is that of parsing every text with serde_json into
/// [`SeriesObs`] and calling [`replay`]; the usual scalar texts are read
/// without building a JSON tree.
pub fn replay_json(
    kind: MergerKind,
    values: &[Option<&str>],
    ts: &[f64],
    th: &AttributionThresholds,
) -> Option<ReplayOutcome> {
    replay_json_inner(kind, values, ts, th, &mut |_| {})
}

/// [`replay_changes`] over stored JSON texts, as [`replay_json`].
pub fn replay_changes_json(
    kind: MergerKind,
    values: &[Option<&str>],
    ts: &[f64],
    th: &AttributionThresholds,
) -> Option<(ReplayOutcome, Vec<StateChange>)> {
    let mut changes = Vec::new();
    let out = replay_json_inner(kind, values, ts, th, &mut |c| changes.push(c))?;
    Some((out, changes))
}

fn replay_json_inner(
    kind: MergerKind,
    values: &[Option<&str>],
    ts: &[f64],
    th: &AttributionThresholds,
    on_change: &mut dyn FnMut(StateChange),
) -> Option<ReplayOutcome> {
    debug_assert_eq!(values.len(), ts.len());
    fn read<'a>(v: &Option<&'a str>) -> Option<Scalar<'a>> {
        v.map_or(Some(Scalar::Null), Scalar::of_text)
    }
    // Texts the direct reading does not cover are parsed whole, into a
    // vector the scalars may borrow from.
    let parsed: Vec<Value>;
    let scalars: Vec<Scalar<'_>> = match values.iter().map(read).collect::<Option<Vec<_>>>() {
        Some(all) => all,
        None => {
            parsed = values
                .iter()
                .filter(|v| read(v).is_none())
                .map(|v| serde_json::from_str(v.unwrap_or("null")).ok())
                .collect::<Option<_>>()?;
            let mut parsed = parsed.iter();
            values
                .iter()
                .map(|v| read(v).or_else(|| parsed.next().map(Scalar::of)))
                .collect::<Option<_>>()?
        }
    };
    let prepared = Prepared::new(kind, scalars.into_iter());
    Some(replay_prepared(&prepared, ts, th, on_change))
}

/// The hash replay. With `ts` ascending and free of NaN the window is a
/// suffix that only moves forward, so counts are kept incrementally: O(n)
/// instead of O(n²) for a long same-day series. Otherwise every prefix is
/// merged from scratch.
fn replay_hash(
    keys: &[Key<'_>],
    ts: &[f64],
    th: &AttributionThresholds,
    out: &mut ReplayOutcome,
    on_change: &mut dyn FnMut(StateChange),
) {
    let sorted = ts.iter().all(|t| !t.is_nan()) && ts.windows(2).all(|p| p[0] <= p[1]);
    if !sorted {
        for k in 1..=keys.len() {
            fold(out, hash(&keys[..k], &ts[..k], th), on_change);
        }
        return;
    }
    let mut counts: std::collections::HashMap<Key<'_>, usize> = std::collections::HashMap::new();
    // Positions of unhashable values inside the window, oldest first.
    let mut unhashable: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut lo = 0;
    for k in 1..=keys.len() {
        let i = k - 1;
        match keys[i] {
            Key::None => {}
            Key::Unhashable => unhashable.push_back(i),
            key => *counts.entry(key).or_insert(0) += 1,
        }
        let window_start = ts[i] - th.hash_drift_window_secs;
        while lo < k && ts[lo] < window_start {
            match keys[lo] {
                Key::None => {}
                Key::Unhashable => {
                    unhashable.pop_front();
                }
                key => {
                    if let Some(c) = counts.get_mut(&key) {
                        *c -= 1;
                        if *c == 0 {
                            counts.remove(&key);
                        }
                    }
                }
            }
            lo += 1;
        }
        let r = match unhashable.front() {
            Some(&index) => Err(AttributionError::Unhashable { index }),
            None => {
                let (state, confidence) = rotations_state(counts.len(), th);
                Ok(Merged {
                    state,
                    current: CurrentValue::Element(i),
                    confidence,
                    observation_count: k,
                    last_observation_ts: ts[i],
                })
            }
        };
        fold(out, r, on_change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::xorshift;
    use serde_json::json;

    fn th() -> AttributionThresholds {
        AttributionThresholds::default()
    }

    fn cat(vals: &str) -> Vec<SeriesObs> {
        vals.split_whitespace()
            .enumerate()
            .map(|(i, v)| SeriesObs {
                value: json!(v),
                ts: i as f64,
            })
            .collect()
    }

    fn nums(vals: &[f64]) -> Vec<SeriesObs> {
        vals.iter()
            .enumerate()
            .map(|(i, v)| SeriesObs {
                value: json!(v),
                ts: i as f64,
            })
            .collect()
    }

    fn hashes(vals: &[(&str, f64)]) -> Vec<SeriesObs> {
        vals.iter()
            .map(|(v, t)| SeriesObs {
                value: json!(v),
                ts: *t,
            })
            .collect()
    }

    /// (state, current value, confidence) of a merge.
    fn run(kind: MergerKind, s: &[SeriesObs]) -> (&'static str, Value, f64) {
        let m = merge(kind, s, &th()).expect("merge");
        (m.state.as_str(), m.current.to_json(s), m.confidence)
    }

    fn assert_cat(vals: &str, state: &str, value: &str, conf: f64) {
        let (s, v, c) = run(MergerKind::Categorical, &cat(vals));
        assert_eq!(
            (s, v, c.to_bits()),
            (state, json!(value), conf.to_bits()),
            "series {vals}: conf {c}"
        );
    }

    #[test]
    fn worked_examples_categorical_6_10() {
        assert_cat("A A", "unknown", "A", 0.0);
        assert_cat("A A A", "stable", "A", 1.0);
        assert_cat("A A B", "conflicted", "B", 2.0 / 3.0);
        assert_cat("A A A B", "conflicted", "B", 0.75);
        assert_cat("A B A B", "multi_actor", "B", 0.5);
        assert_cat("A A A A B", "stable", "A", 0.8);
        assert_cat("B A A A A", "stable", "A", 0.8);
        assert_cat("A B A B A", "multi_actor", "A", 0.6);
        assert_cat("A B A B B", "multi_actor", "B", 0.6);
        assert_cat("A A B B A", "conflicted", "A", 0.6);
        assert_cat("A B C A B", "conflicted", "B", 0.4);
        assert_cat("A A A A B A", "stable", "A", 0.8);
        assert_cat("A A A A A B B B B B", "drifting", "B", 1.0);
        assert_cat("A B C A B A A A A A", "drifting", "A", 1.0);
        assert_cat("A A A A A B A B A B", "multi_actor", "B", 0.6);
    }

    #[test]
    fn worked_examples_numeric_and_hash_6_10() {
        let s = nums(&[5000.0, 5050.0, 4980.0, 5020.0, 5010.0]);
        let (st, v, c) = run(MergerKind::Numeric, &s);
        assert_eq!(st, "stable");
        let v = v.as_f64().expect("number");
        assert!((v - 5009.405).abs() < 1e-9, "{v}");
        assert!((c - 0.9953).abs() < 1e-4, "{c}");

        let mut xs = vec![5000.0; 5];
        xs.extend([8000.0; 5]);
        assert_eq!(
            run(MergerKind::Numeric, &nums(&xs)),
            ("drifting", json!(8000.0), 1.0)
        );

        let (st, v, c) = run(
            MergerKind::Numeric,
            &nums(&[100.0, 20000.0, 50.0, 15000.0, 200.0]),
        );
        assert_eq!((st, c), ("conflicted", 0.5));
        assert!((v.as_f64().expect("number") - 5299.36).abs() < 0.01);

        assert_eq!(
            run(MergerKind::Numeric, &nums(&[0.0, 0.0, 0.0])),
            ("stable", json!(0.0), 1.0)
        );

        let h = hashes(&[("a", 0.0), ("a", 10.0), ("b", 20.0)]);
        assert_eq!(run(MergerKind::Hash, &h), ("drifting", json!("b"), 0.5));
        let h = hashes(&[("a", 0.0), ("b", 10.0), ("c", 20.0), ("d", 30.0)]);
        assert_eq!(run(MergerKind::Hash, &h), ("conflicted", json!("d"), 0.25));
        let h = hashes(&[("a", 0.0), ("b", 25.0 * 3600.0)]);
        assert_eq!(run(MergerKind::Hash, &h), ("stable", json!("b"), 1.0));
    }

    #[test]
    fn categorical_majority_edges() {
        // 4 of 5 is clear, 3 of 5 is not.
        assert_cat("A B A A A", "stable", "A", 0.8);
        assert_cat("A A A B B", "conflicted", "B", 0.6);
        // Three observations must all agree.
        assert_cat("A B B", "conflicted", "B", 2.0 / 3.0);
        // A tie goes to the value first seen inside the window.
        assert_cat("X X A B A B C", "conflicted", "C", 0.4);
    }

    #[test]
    fn categorical_alternation_edges() {
        // rs = 4: 2 flips, 1 repeat is exactly 2:1 -> multi_actor (capped).
        assert_cat("A A B A", "multi_actor", "A", 0.6);
        // 1 flip, 2 repeats -> conflicted.
        assert_cat("A A A B B", "conflicted", "B", 0.6);
        // 3 flips, 0 repeats: max(repeats, 1) = 1.
        assert_cat("A B A B", "multi_actor", "B", 0.5);
        // Below 4 in the window the test is off.
        assert_cat("A B A", "conflicted", "A", 2.0 / 3.0);
    }

    #[test]
    fn categorical_unknown_under_min_count() {
        assert_cat("A", "unknown", "A", 0.0);
        assert_cat("A B", "unknown", "B", 0.0);
        let m = merge_categorical(&[], &th()).expect("empty");
        assert_eq!(
            (
                m.state,
                m.current,
                m.observation_count,
                m.last_observation_ts
            ),
            (State::Unknown, CurrentValue::Null, 0, 0.0)
        );
    }

    #[test]
    fn categorical_older_window() {
        // Older clear and equal -> stable; older clear and different -> drifting.
        assert_cat("B B B B B B B B B B", "stable", "B", 1.0);
        assert_cat("A A A A C B B B B B", "drifting", "B", 1.0);
        // Older = [A A] (n = 7): clear at min(4, 2) = 2.
        assert_cat("A A B B B B B", "drifting", "B", 1.0);
        assert_cat("B B B B B B B", "stable", "B", 1.0);
    }

    #[test]
    fn python_equality_of_values() {
        let s: Vec<SeriesObs> = [json!(1.0), json!(1), json!(true)]
            .into_iter()
            .map(|value| SeriesObs { value, ts: 1.0 })
            .collect();
        let m = merge_categorical(&s, &th()).expect("merge");
        assert_eq!(
            (m.state, m.current.to_json(&s)),
            (State::Stable, json!(1.0))
        );
        let s: Vec<SeriesObs> = [json!([1]), json!([1]), json!([1])]
            .into_iter()
            .map(|value| SeriesObs { value, ts: 1.0 })
            .collect();
        assert_eq!(
            merge_categorical(&s, &th()).map_err(|e| e.python_name()),
            Err("TypeError")
        );
        // Under the floor nothing is counted, so an array is fine.
        assert!(merge_categorical(&s[..2], &th()).is_ok());
    }

    fn numeric_state(xs: &[f64]) -> (State, f64, f64) {
        let m = merge_numeric(&nums(xs), &th()).expect("merge");
        let CurrentValue::Number(v) = m.current else {
            panic!("numeric current")
        };
        (m.state, v, m.confidence)
    }

    #[test]
    fn numeric_cv_exactly_20_percent_is_plain_stable() {
        // NUMERIC_STABLE_DISPERSION_PCT (0.20) is unused (§6.5 step 7): a CV
        // of exactly 0.2 is stable with confidence 1 - cv, like any CV <= 1.
        // With alpha 0.3 no small series hits 0.2 exactly, so pin alpha to
        // 0.5 where the arithmetic is exact: [12, 12, 8] has EWMA 10 and
        // deviations (2, 2, -2), var 4, sd 2, cv = 2/10.
        let t = AttributionThresholds {
            numeric_ewma_alpha: 0.5,
            ..th()
        };
        let r = merge_numeric(&nums(&[12.0, 12.0, 8.0]), &t).expect("merge");
        assert_eq!(
            (r.state, r.current, r.confidence),
            (State::Stable, CurrentValue::Number(10.0), 1.0 - 0.2)
        );
        // Just under and just over 20% with the default alpha: both stable.
        let (st, _, c) = numeric_state(&[8.0, 12.0, 8.0, 12.0, 10.0]);
        assert!(st == State::Stable && c > 0.8, "{st:?} {c}");
        let (st, _, c) = numeric_state(&[5.0, 10.0, 5.0, 10.0, 5.0]);
        assert!(st == State::Stable && c < 0.8, "{st:?} {c}");
    }

    #[test]
    fn numeric_cv_exactly_100_percent_is_stable_above_is_conflicted() {
        // [-2, 8, 1, 6, 7]: EWMA 3.85 and CV == 1.0 exactly (found by search,
        // confirmed with the reference): `cv > 1.0` is false -> stable, conf 0.
        assert_eq!(
            numeric_state(&[-2.0, 8.0, 1.0, 6.0, 7.0]),
            (State::Stable, 3.85, 0.0)
        );
        // Above 100% -> conflicted with confidence 0.5 (§6.10).
        let (st, _, c) = numeric_state(&[100.0, 20000.0, 50.0, 15000.0, 200.0]);
        assert_eq!((st, c), (State::Conflicted, 0.5));
        // EWMA exactly 0 with spread: cv = 1e9 -> conflicted at 0.0.
        assert_eq!(
            numeric_state(&[-42.0, 28.0, 49.0]),
            (State::Conflicted, 0.0, 0.5)
        );
        // EWMA 0 and no spread: cv 0 -> stable (§6.10 "0, 0, 0").
        assert_eq!(numeric_state(&[0.0, 0.0, 0.0]), (State::Stable, 0.0, 1.0));
    }

    #[test]
    fn numeric_cv_threshold_is_strict() {
        let xs = [0.0, 0.0, 1.0];
        let m = ewma(&xs, 0.3);
        let cv = cv_about(&xs, m).expect("cv");
        let mut t = th();
        t.numeric_conflict_dispersion_pct = cv;
        let r = merge_numeric(&nums(&xs), &t).expect("merge");
        assert_eq!(r.state, State::Stable);
        t.numeric_conflict_dispersion_pct = f64::from_bits(cv.to_bits() - 1);
        let r = merge_numeric(&nums(&xs), &t).expect("merge");
        assert_eq!((r.state, r.confidence), (State::Conflicted, 0.5));
    }

    #[test]
    fn numeric_shift_edges() {
        // older EWMA 10, recent EWMA 13: shift = 3/10 = 0.3 exactly -> drifting.
        let mut xs = vec![10.0; 5];
        xs.extend([13.0; 5]);
        let om = ewma(&xs[..5], 0.3);
        let m = ewma(&xs[5..], 0.3);
        assert_eq!((om, m), (10.0, 13.0));
        assert_eq!((m - om).abs() / om.abs(), 0.3);
        assert_eq!(numeric_state(&xs), (State::Drifting, 13.0, 1.0));
        // Just under 30% -> stable.
        let mut xs = vec![10.0; 5];
        xs.extend([12.9; 5]);
        assert_eq!(numeric_state(&xs).0, State::Stable);
        // A zero older EWMA divides by 1.0.
        let mut xs = vec![0.0; 5];
        xs.extend([0.25; 5]);
        assert_eq!(numeric_state(&xs).0, State::Stable);
        let mut xs = vec![0.0; 5];
        xs.extend([0.5; 5]);
        assert_eq!(numeric_state(&xs).0, State::Drifting);
    }

    #[test]
    fn numeric_unknown_and_coercion() {
        let s: Vec<SeriesObs> = [json!(null), json!("2.5")]
            .into_iter()
            .map(|value| SeriesObs { value, ts: 3.0 })
            .collect();
        let m = merge_numeric(&s, &th()).expect("merge");
        assert_eq!(
            (m.state, m.current, m.confidence, m.last_observation_ts),
            (State::Unknown, CurrentValue::Number(2.5), 0.0, 3.0)
        );
        let s: Vec<SeriesObs> = [json!(true), json!(null), json!(1)]
            .into_iter()
            .map(|value| SeriesObs { value, ts: 3.0 })
            .collect();
        assert_eq!(
            merge_numeric(&s, &th()).expect("merge").current,
            CurrentValue::Number(0.7899999999999999)
        );
        let bad = [SeriesObs {
            value: json!("abc"),
            ts: 0.0,
        }];
        assert_eq!(
            merge_numeric(&bad, &th()).map_err(|e| e.python_name()),
            Err("ValueError")
        );
        let bad = [SeriesObs {
            value: json!([1]),
            ts: 0.0,
        }];
        assert_eq!(
            merge_numeric(&bad, &th()).map_err(|e| e.python_name()),
            Err("TypeError")
        );
        let big: Vec<SeriesObs> = [1e200, -1e200, 1e200]
            .iter()
            .map(|v| SeriesObs {
                value: json!(v),
                ts: 0.0,
            })
            .collect();
        assert_eq!(
            merge_numeric(&big, &th()).map_err(|e| e.python_name()),
            Err("OverflowError")
        );
    }

    #[test]
    fn py_float_strings() {
        for (s, want) in [
            ("3.5", Some(3.5)),
            (" 1_0 ", Some(10.0)),
            ("-.5e1", Some(-5.0)),
            ("1.", Some(1.0)),
            ("+Infinity", Some(f64::INFINITY)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("1e", None),
            (".", None),
            ("", None),
            ("0x10", None),
            ("1_.5", None),
            ("1e1_0", Some(1e10)),
        ] {
            assert_eq!(py_float_str(s), want, "{s:?}");
        }
        assert!(py_float_str("nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn hash_rotation_edges() {
        let h = |v: &[(&str, f64)]| merge_hash(&hashes(v), &th()).expect("merge");
        // 0 rotations, even for one observation.
        let r = h(&[("a", 0.0)]);
        assert_eq!((r.state, r.confidence), (State::Stable, 1.0));
        assert_eq!(
            h(&[("a", 0.0), ("a", 5.0), ("a", 9.0)]).state,
            State::Stable
        );
        // 1 and 2 (= HASH_DRIFT_MAX) rotations drift; 3 conflict.
        assert_eq!(h(&[("a", 0.0), ("b", 1.0)]).confidence, 0.5);
        let r = h(&[("a", 0.0), ("b", 1.0), ("c", 2.0)]);
        assert_eq!((r.state, r.confidence), (State::Drifting, 1.0 / 3.0));
        let r = h(&[("a", 0.0), ("b", 1.0), ("c", 2.0), ("d", 3.0)]);
        assert_eq!((r.state, r.confidence), (State::Conflicted, 0.25));
        // The window edge is inclusive: exactly 86400 s before counts.
        assert_eq!(h(&[("a", 0.0), ("b", 86400.0)]).state, State::Drifting);
        assert_eq!(h(&[("a", 0.0), ("b", 86400.5)]).state, State::Stable);
        // Rotations outside the window do not count.
        let r = h(&[
            ("a", 0.0),
            ("b", 1.0),
            ("c", 2.0),
            ("d", 3.0),
            ("d", 90000.0),
        ]);
        assert_eq!((r.state, r.confidence), (State::Stable, 1.0));
        // Nulls are not values.
        let s = vec![
            SeriesObs {
                value: json!(null),
                ts: 0.0,
            },
            SeriesObs {
                value: json!("a"),
                ts: 1.0,
            },
        ];
        assert_eq!(merge_hash(&s, &th()).expect("merge").state, State::Stable);
    }

    #[test]
    fn dispatcher() {
        assert_eq!(MergerKind::from_explicit(None), Ok(MergerKind::Categorical));
        assert_eq!(
            MergerKind::from_explicit(Some("hash")),
            Ok(MergerKind::Hash)
        );
        assert_eq!(
            MergerKind::from_explicit(Some("bool")).map_err(|e| e.python_name()),
            Err("ValueError")
        );
        assert_eq!(
            MergerKind::for_value_kind(Some("free_string")),
            Ok(MergerKind::Categorical)
        );
        assert_eq!(
            MergerKind::for_value_kind(Some("numeric")),
            Ok(MergerKind::Numeric)
        );
        assert!(MergerKind::for_value_kind(Some("bogus")).is_err());
        // The reference checks for an empty series before the kind.
        assert_eq!(
            aggregate(Some("bogus"), &[], &th()).map(|m| m.state),
            Ok(State::Unknown)
        );
        assert!(aggregate(Some("bogus"), &cat("A"), &th()).is_err());
    }

    #[test]
    fn replay_last_change_ts() {
        // unknown(0,1) -> stable(2) -> conflicted(3: A A A B) -> stable(4: A A A B A? no).
        let s = cat("A A A B A A");
        let r = replay(MergerKind::Categorical, &s, &th()).row.expect("row");
        // Prefixes: unknown@0, unknown@1, stable@2, conflicted@3, stable@4 (A A A B A: 4 of 5), stable@5.
        assert_eq!(
            (
                r.merged.state,
                r.last_change_ts,
                r.merged.last_observation_ts
            ),
            (State::Stable, 4.0, 5.0)
        );
        // First state's change ts is its own last_observation_ts.
        let r = replay(MergerKind::Categorical, &cat("A"), &th())
            .row
            .expect("row");
        assert_eq!(r.last_change_ts, 0.0);
        // A value change within one state is not a change: drifting A->B
        // through stable keeps the stable change point... here numeric
        // stable with a moving EWMA keeps last_change_ts at 2.
        let r = replay(
            MergerKind::Numeric,
            &nums(&[5.0, 5.1, 5.2, 5.1, 5.0]),
            &th(),
        )
        .row
        .expect("row");
        assert_eq!((r.merged.state, r.last_change_ts), (State::Stable, 2.0));
        // Hash: stable@0, drifting@1 (b), drifting@2 (c; value changed, state same).
        let r = replay(
            MergerKind::Hash,
            &hashes(&[("a", 0.0), ("b", 1.0), ("c", 2.0)]),
            &th(),
        )
        .row
        .expect("row");
        assert_eq!((r.merged.state, r.last_change_ts), (State::Drifting, 1.0));
        assert!(replay(MergerKind::Hash, &[], &th()).row.is_none());
        let (_, changes) = replay_changes(MergerKind::Categorical, &cat("A A A B A A"), &th());
        let got: Vec<(f64, State, usize, f64)> = changes
            .iter()
            .map(|c| (c.ts, c.state, c.index, c.confidence))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.0, State::Unknown, 0, 0.0),
                (2.0, State::Stable, 2, 1.0),
                (3.0, State::Conflicted, 3, 0.75),
                (4.0, State::Stable, 4, 0.8)
            ]
        );
    }

    #[test]
    fn replay_skips_failing_prefixes() {
        let s: Vec<SeriesObs> = [json!("A"), json!("A"), json!("A"), json!([1])]
            .into_iter()
            .enumerate()
            .map(|(i, value)| SeriesObs {
                value,
                ts: i as f64,
            })
            .collect();
        let out = replay(MergerKind::Categorical, &s, &th());
        assert_eq!(out.failed_prefixes, 1);
        let r = out.row.expect("row");
        assert_eq!(
            (r.merged.state, r.merged.observation_count, r.last_change_ts),
            (State::Stable, 3, 2.0)
        );
    }

    /// The incremental hash replay must equal prefix-by-prefix merging.
    #[test]
    fn hash_replay_fast_path_matches_naive() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let alphabet = ["a", "b", "c", "d", "e"];
        for _ in 0..300 {
            let n = (next() % 30) as usize;
            let mut t = 0.0;
            let s: Vec<SeriesObs> = (0..n)
                .map(|_| {
                    t += [0.0, 1.0, 3600.0, 40000.0, 86400.0][(next() % 5) as usize];
                    let value = if next().is_multiple_of(10) {
                        Value::Null
                    } else {
                        json!(alphabet[(next() % 5) as usize])
                    };
                    SeriesObs { value, ts: t }
                })
                .collect();
            let fast = replay(MergerKind::Hash, &s, &th());
            let keys = keys_of(&s);
            let ts = ts_of(&s);
            let mut naive = ReplayOutcome {
                row: None,
                failed_prefixes: 0,
                last_error: None,
            };
            for k in 1..=n {
                fold(&mut naive, hash(&keys[..k], &ts[..k], &th()), &mut |_| {});
            }
            assert_eq!(fast, naive);
        }
    }

    /// Texts of every JSON form, and some that are not JSON.
    const TEXTS: &[&str] = &[
        "\"bash\"",
        "\"\"",
        "\"a b\"",
        "\"é✓\"",
        "\"a\\\"b\"",
        "\"\\u0041\"",
        "\"\\ud800\"",
        "\"tab\there\"",
        "\"\"\"",
        "\"",
        "\"a\"b\"",
        "0",
        "-0",
        "1",
        "-1",
        "1.0",
        "-0.0",
        "2.5",
        "1e2",
        "1E-2",
        "1e400",
        "-1e400",
        "01",
        "1.",
        ".5",
        "+1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "170141183460469231731687303715884105728",
        "1.7976931348623157e308",
        "5e-324",
        "null",
        "true",
        "false",
        "nul",
        "True",
        " 1",
        "1 ",
        "\"x\" ",
        "[1]",
        "[]",
        "{}",
        "{\"a\": 1}",
        "",
        "-",
        "NaN",
        "inf",
    ];

    #[test]
    fn scalars_read_from_text_equal_those_of_the_parsed_value() {
        for text in TEXTS {
            let parsed: Option<Value> = serde_json::from_str(text).ok();
            match (Scalar::of_text(text), &parsed) {
                (Some(direct), Some(v)) => assert_eq!(direct, Scalar::of(v), "{text}"),
                (Some(direct), None) => panic!("{text} is not JSON but read as {direct:?}"),
                (None, _) => {}
            }
        }
        // The usual forms take the direct road.
        for text in [
            "\"bash\"", "\"\"", "1", "-2.5", "1e2", "null", "true", "false",
        ] {
            assert!(Scalar::of_text(text).is_some(), "{text}");
        }
    }

    /// `replay_json` over texts equals `replay` over the parsed series, for
    /// random series of every kind (values drawn from `TEXTS`, so some series
    /// hold text that is not JSON, which gives `None`).
    #[test]
    fn replay_over_texts_equals_replay_over_parsed_values() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        let common = ["\"a\"", "\"b\"", "1", "1.0", "true", "2.5", "\"3\"", "null"];
        let mut compared = [0usize; 3];
        for round in 0..3000 {
            let n = (next() % 14) as usize;
            let mut t = 0.0;
            let mut texts: Vec<Option<&str>> = Vec::new();
            let mut ts = Vec::new();
            for _ in 0..n {
                t += [0.0, 1.0, 3600.0, 90000.0][(next() % 4) as usize];
                let text = match next() % 20 {
                    0 => None,
                    1 => Some(TEXTS[(next() % TEXTS.len() as u64) as usize]),
                    _ => Some(common[(next() % common.len() as u64) as usize]),
                };
                texts.push(text);
                ts.push(if next().is_multiple_of(50) {
                    f64::NAN
                } else {
                    t
                });
            }
            let parsed: Option<Vec<SeriesObs>> = texts
                .iter()
                .zip(&ts)
                .map(|(text, &ts)| {
                    let value = match text {
                        None => Value::Null,
                        Some(t) => serde_json::from_str(t).ok()?,
                    };
                    Some(SeriesObs { value, ts })
                })
                .collect();
            let kind = [
                MergerKind::Categorical,
                MergerKind::Numeric,
                MergerKind::Hash,
            ][round % 3];
            let direct = replay_changes_json(kind, &texts, &ts, &th());
            let via_values = parsed.map(|s| replay_changes(kind, &s, &th()));
            // Debug forms: a NaN ts is equal to itself there (floats print
            // exactly).
            assert_eq!(
                format!("{direct:?}"),
                format!("{via_values:?}"),
                "{kind:?} {texts:?} {ts:?}"
            );
            if direct.is_some() {
                compared[round % 3] += 1;
            }
            assert_eq!(
                format!("{:?}", replay_json(kind, &texts, &ts, &th())),
                format!("{:?}", direct.map(|(out, _)| out))
            );
        }
        assert!(compared.iter().all(|&c| c > 500), "{compared:?}");
    }

    #[test]
    fn thresholds_deserialize_and_validate() {
        let t: AttributionThresholds =
            serde_json::from_value(json!({"hash_drift_max": 3, "CATEGORICAL_WINDOW_N": 7}))
                .expect("thresholds");
        assert_eq!(
            (
                t.hash_drift_max,
                t.categorical_window_n,
                t.min_observations_for_state
            ),
            (3, 7, 3)
        );
        assert!(
            serde_json::from_value::<AttributionThresholds>(json!({"hash_drift_maxx": 3})).is_err()
        );
        let t = AttributionThresholds {
            categorical_window_n: 0,
            ..th()
        };
        assert!(t.validate().is_err());
        assert!(th().validate().is_ok());
    }
}
