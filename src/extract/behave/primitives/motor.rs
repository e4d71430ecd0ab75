//! The `motor` primitives (spec/behave-shell.md §4.4.1–§4.4.10): how the
//! attacker's hands move — typing versus pasting, keystroke rhythm, digraph
//! timing fingerprint, corrections and shell-editing habits.
//!
//! Pure: each function reads the shared [`SessionCtx`] and emits at most one
//! observation. Confidence literals are the reference's, hard-coded in each
//! feature (spec §2.12, bottom list).

use crate::extract::behave::ctx::{BurstStats, SessionCtx};
use crate::extract::behave::numeric::{
    fmean, median, median_below, median_bucket, median_mut, median_of_counts, near, py_min,
    InfiniteMean, Spread, SpreadSums, SumOfSums,
};
use crate::extract::behave::simhash::{ascii_digraph_index, hex16, simhash64, ASCII_DIGRAPHS};
use crate::extract::behave::thresholds::{
    BACKSPACE_IMMEDIATE_MAX_S, CMD_CHUNKING_FLUENT_CV_MAX, CV_BURSTY_MAX, CV_MACHINE_MAX,
    CV_STEADY_MAX, DIGRAPH_FLIGHT_BUCKETS_S, IKI_MACHINE_MAX_S, IKI_THINK_MAX_S,
    MIN_DIGRAPHS_FOR_SIMHASH, MIN_DIGRAPH_SAMPLES, MIN_INPUTS_FOR_CADENCE, MODALITY_PASTED_MIN,
    MODALITY_TYPED_MAX, PASTE_RATE_HABITUAL_MIN, PASTE_RATE_OCCASIONAL_MIN,
    PIPE_CHAINING_DEEP_MEDIAN, PIPE_CHAINING_MODERATE_MEDIAN, SHELL_MASTERY_MIN_COMMANDS,
    SHORTCUT_USAGE_HEAVY_MIN, SHORTCUT_USAGE_MODERATE_MIN, TAB_COMPLETION_HABITUAL_MIN,
    TAB_COMPLETION_OCCASIONAL_MAX, TREMOR_FAST_FLOOR_S, TREMOR_RATE_MIN,
};
use crate::model::event::Char;
use crate::model::observation::{Observation, Primitive};

/// spec §2.12 (hard-coded in motor_stability): fewest chained burst IATs.
const STABILITY_MIN_FLAT_IATS: usize = 5;
/// spec §2.12 (hard-coded in error_correction): fewest input events.
const ERROR_CORRECTION_MIN_INPUTS: usize = 3;
/// spec §2.12 (hard-coded in command_chunking): fewest IATs for a per-command CV.
const CHUNKING_MIN_IATS: usize = 3;
/// spec §4.4.4 step 6: digraph confidence `min(CAP, BASE + PER_DIGRAPH * k)`.
const DIGRAPH_CONF_BASE: f64 = 0.40;
/// spec §4.4.4 step 6.
const DIGRAPH_CONF_PER_DIGRAPH: f64 = 0.05;
/// spec §4.4.4 step 6.
const DIGRAPH_CONF_CAP: f64 = 0.95;

/// `n / d` as Python's true division of two ints (exact for counts < 2^53,
/// then one correctly rounded f64 division).
fn ratio(n: usize, d: usize) -> f64 {
    n as f64 / d as f64
}

/// The CVs of the typing bursts with a positive mean, in order (spec §4.4.3
/// step 2, §4.4.5 step 3), and the mean of every burst IAT (§4.4.3 step 3).
/// Burst IATs are at most IKI_THINK_MAX_S, so the `Raises` case cannot
/// occur here; it is mapped to "no CVs". Computed once per context: two
/// primitives read them. The one pass over each burst gives its CV and
/// its exact sum, and the bursts' sums give the mean of all their IATs.
fn burst_stats<'c>(ctx: &'c SessionCtx<'_>) -> &'c BurstStats {
    ctx.burst_stats.get_or_init(|| {
        let mut cvs = Vec::with_capacity(ctx.typing_bursts.len());
        let mut total = SumOfSums::default();
        for b in &ctx.typing_bursts {
            let sums = SpreadSums::of(b);
            total.add(&sums);
            // spec §2.11: population stdev for the burst CVs.
            match Spread::with(b, sums).cv(false) {
                Ok(cv) => cvs.extend(cv),
                Err(InfiniteMean) => return BurstStats::default(),
            }
        }
        let all = ctx.typing_bursts.values();
        let iat_mean = match total.fsum() {
            Some(sum) => sum / all.len() as f64,
            None => fmean(all),
        };
        BurstStats { cvs, iat_mean }
    })
}

/// `paste_event_count / |inputs|` (spec §4.4.1), `None` with no inputs.
fn paste_ratio(ctx: &SessionCtx<'_>) -> Option<f64> {
    if ctx.inputs.is_empty() {
        return None;
    }
    Some(ratio(ctx.paste_event_count, ctx.inputs.len()))
}

/// spec §4.4.1: typed, pasted or mixed, from the share of paste-class events.
pub fn input_modality(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let r = paste_ratio(ctx)?;
    let (label, conf) = if r >= MODALITY_PASTED_MIN {
        ("pasted", 0.75)
    } else if r <= MODALITY_TYPED_MAX {
        ("typed", 0.75)
    } else {
        ("mixed", 0.70)
    };
    Some(Observation::label(Primitive::InputModality, label, conf))
}

/// spec §4.4.2: how habitually the input arrives as pastes.
pub fn paste_burst_rate(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let r = paste_ratio(ctx)?;
    let (label, conf) = if r >= PASTE_RATE_HABITUAL_MIN {
        ("habitual", 0.80)
    } else if r >= PASTE_RATE_OCCASIONAL_MIN {
        ("occasional", 0.70)
    } else {
        ("none", 0.70)
    };
    Some(Observation::label(Primitive::PasteBurstRate, label, conf))
}

/// spec §4.4.3: keystroke rhythm class from the median burst CV.
pub fn keystroke_cadence(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.inputs.len() < MIN_INPUTS_FOR_CADENCE || ctx.typing_bursts.is_empty() {
        return None;
    }
    let BurstStats { cvs, iat_mean } = burst_stats(ctx);
    if cvs.is_empty() {
        return None;
    }
    // The median CV's class, found without taking it: below the machine,
    // steady or bursty bound, or none.
    let cv_class = median_bucket(cvs, &[CV_MACHINE_MAX, CV_STEADY_MAX, CV_BURSTY_MAX], false);
    // The mean IAT chains every burst, zero-mean ones included (step 3).
    let m = *iat_mean;
    let (label, conf) = match cv_class {
        0 if m < IKI_MACHINE_MAX_S => ("machine", 0.85),
        0 | 1 => ("steady", 0.70),
        2 => ("bursty", 0.65),
        _ => ("hunt_and_peck", 0.60),
    };
    Some(Observation::label(Primitive::KeystrokeCadence, label, conf))
}

/// Digraph flight times of spec §4.4.4 step 1: for each pair of consecutive
/// single-char input events, the gap `dt` when `0 < dt <= IKI_THINK_MAX_S`,
/// grouped by digraph (tests read the grouping through this).
#[cfg(test)]
fn digraph_flights(ctx: &SessionCtx<'_>) -> std::collections::BTreeMap<[Char; 2], Vec<f64>> {
    use std::collections::BTreeMap;
    let mut flights: BTreeMap<[Char; 2], Vec<f64>> = BTreeMap::new();
    for (g, dt) in digraph_pairs(ctx) {
        flights.entry(g).or_default().push(dt);
    }
    flights
}

/// Every kept (digraph, flight time) pair of §4.4.4 steps 1-2, in input order.
fn digraph_pairs(ctx: &SessionCtx<'_>) -> Vec<([Char; 2], f64)> {
    let mut pairs = Vec::with_capacity(ctx.inputs.len());
    let mut prev: Option<(f64, Char)> = None;
    for ev in &ctx.inputs {
        let &[c] = ev.data else {
            // Pastes, multi-char keys and empty data break the chain.
            prev = None;
            continue;
        };
        if let Some((pt, pc)) = prev {
            let dt = ev.t - pt;
            // A think-pause or a non-positive (or NaN) gap drops this pair
            // but keeps the chain going.
            if dt > 0.0 && dt <= IKI_THINK_MAX_S {
                pairs.push(([pc, c], dt));
            }
        }
        prev = Some((ev.t, c));
    }
    pairs
}

/// The flight bucket of a median (spec §4.4.4 step 3): the first edge it is
/// strictly below, or one past the last edge.
fn flight_bucket(m: f64) -> usize {
    DIGRAPH_FLIGHT_BUCKETS_S
        .iter()
        .position(|&edge| m < edge)
        .unwrap_or(DIGRAPH_FLIGHT_BUCKETS_S.len())
}

/// spec §4.4.4 step 6: `min(0.95, 0.40 + 0.05 * k)`, multiply first.
fn digraph_confidence(k: usize) -> f64 {
    py_min(
        DIGRAPH_CONF_CAP,
        DIGRAPH_CONF_BASE + DIGRAPH_CONF_PER_DIGRAPH * k as f64,
    )
}

/// spec §4.4.4: a 64-bit SimHash of per-digraph flight-time buckets, a
/// typist fingerprint.
pub fn digraph_simhash(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let pairs = digraph_pairs(ctx);
    let n = pairs.len();
    if n < MIN_DIGRAPH_SAMPLES {
        return None;
    }
    let mut flights = FlightGroups::of(&pairs);
    let k = flights.digraphs.len();
    if k < MIN_DIGRAPHS_FOR_SIMHASH {
        return None;
    }
    // Groups in first-seen order: a median does not depend on the order of
    // its samples, and the SimHash not on the token order (step 7).
    let tokens = (0..k).map(|g| {
        let (digraph, samples) = flights.group_mut(g);
        let w = samples.len();
        let bucket = flight_bucket(median_mut(samples));
        // "<g>:<bucket>"; the bucket is 0..=6, one decimal digit.
        let digit = Char::from(b'0') + bucket as Char;
        let token = [digraph[0], digraph[1], Char::from(b':'), digit];
        (token, i64::try_from(w).unwrap_or(i64::MAX))
    });
    let h = simhash64(tokens);
    Some(Observation::text(
        Primitive::DigraphSimhash,
        hex16(h),
        digraph_confidence(k),
    ))
}

/// Flight times grouped by digraph (§4.4.4 step 2), in linear time:
/// group `g` is `digraphs[g]` with the samples
/// `samples[starts[g]..starts[g + 1]]`, groups in first-seen order.
#[derive(Debug)]
struct FlightGroups {
    digraphs: Vec<[Char; 2]>,
    starts: Vec<usize>,
    samples: Vec<f64>,
}

thread_local! {
    /// Group number + 1 of each ASCII digraph ([`ascii_digraph_index`]) in
    /// the pairs being grouped,
    /// 0 elsewhere: entries set by [`FlightGroups::of`] are reset before it
    /// returns, so each call starts from an all-zero table.
    static ASCII_DIGRAPH_GROUP: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl FlightGroups {
    /// Number the digraphs as they first appear (a table lookup for ASCII
    /// ones, a map for the rest), count each group, then place every
    /// sample in its group's range: a counting sort instead of a sort of
    /// the pairs.
    fn of(pairs: &[([Char; 2], f64)]) -> Self {
        // At most one group a pair, and rarely more than a few hundred.
        let groups = pairs.len().min(1024);
        let mut digraphs: Vec<[Char; 2]> = Vec::with_capacity(groups);
        let mut counts: Vec<usize> = Vec::with_capacity(groups);
        let mut ids: Vec<usize> = Vec::with_capacity(pairs.len());
        let mut other: rustc_hash::FxHashMap<[Char; 2], usize> = Default::default();
        // Group numbers are below `pairs.len()`, and the table holds them
        // + 1 as u32: with 2^32 - 1 pairs or more (never, in practice) every
        // digraph is numbered in the map.
        let table_fits = u32::try_from(pairs.len()).is_ok_and(|n| n < u32::MAX);
        ASCII_DIGRAPH_GROUP.with_borrow_mut(|table| {
            if table.is_empty() {
                *table = vec![0; ASCII_DIGRAPHS];
            }
            for &(g, _) in pairs {
                let mut new_group = || {
                    digraphs.push(g);
                    counts.push(0);
                    digraphs.len() - 1
                };
                let id = match ascii_digraph_index(g).filter(|_| table_fits) {
                    Some(slot) => match table[slot] {
                        0 => {
                            let id = new_group();
                            // Lossless: id + 1 <= pairs.len() < u32::MAX.
                            table[slot] = (id + 1) as u32;
                            id
                        }
                        entry => entry as usize - 1,
                    },
                    None => *other.entry(g).or_insert_with(new_group),
                };
                counts[id] += 1;
                ids.push(id);
            }
            for &g in &digraphs {
                if let Some(slot) = ascii_digraph_index(g) {
                    table[slot] = 0;
                }
            }
        });
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut end = 0;
        for c in &mut counts {
            starts.push(end);
            end += *c;
            // From here on, where the group's next sample goes.
            *c = end - *c;
        }
        starts.push(end);
        let mut samples = vec![0.0; pairs.len()];
        for (&id, &(_, dt)) in ids.iter().zip(pairs) {
            samples[counts[id]] = dt;
            counts[id] += 1;
        }
        FlightGroups {
            digraphs,
            starts,
            samples,
        }
    }

    /// Group `g`: its digraph and its samples.
    fn group_mut(&mut self, g: usize) -> ([Char; 2], &mut [f64]) {
        (
            self.digraphs[g],
            &mut self.samples[self.starts[g]..self.starts[g + 1]],
        )
    }
}

/// spec §4.4.5: tremor (many very fast keystrokes), steady or variable.
pub fn motor_stability(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let flat = ctx.typing_bursts.values();
    if flat.len() < STABILITY_MIN_FLAT_IATS {
        return None;
    }
    let fast = ratio(
        flat.iter().filter(|&&x| x < TREMOR_FAST_FLOOR_S).count(),
        flat.len(),
    );
    if fast >= TREMOR_RATE_MIN {
        return Some(Observation::label(
            Primitive::MotorStability,
            "tremor",
            0.65,
        ));
    }
    // No CV counts as a median CV of 0.0.
    let cvs = &burst_stats(ctx).cvs;
    let (label, conf) = if cvs.is_empty() || median_below(cvs, CV_STEADY_MAX) {
        ("steady", 0.70)
    } else {
        ("variable", 0.60)
    };
    Some(Observation::label(Primitive::MotorStability, label, conf))
}

/// spec §4.4.6: whether typos are fixed at once, later, by killing the line,
/// or not at all.
pub fn error_correction(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.inputs.len() < ERROR_CORRECTION_MIN_INPUTS {
        return None;
    }
    let (label, conf) = if ctx.backspace_count == 0 {
        if ctx.kill_line_count > 0 {
            ("route_around", 0.55)
        } else {
            ("absent", 0.65)
        }
    } else {
        // Backspaces before any other char leave no IAT: median is +inf,
        // hence `deferred` (Appendix B).
        let m = if ctx.backspace_iats.is_empty() {
            f64::INFINITY
        } else {
            median(&ctx.backspace_iats)
        };
        if m <= BACKSPACE_IMMEDIATE_MAX_S {
            ("immediate", 0.65)
        } else {
            ("deferred", 0.55)
        }
    };
    Some(Observation::label(Primitive::ErrorCorrection, label, conf))
}

/// The per-command CVs of spec §4.4.7 step 2: commands with at least
/// CHUNKING_MIN_IATS intra-command IATs and a positive mean, in order.
fn chunking_cvs(ctx: &SessionCtx<'_>) -> Result<Vec<f64>, InfiniteMean> {
    // At most one a command: room for that, in a kept buffer.
    let mut cvs = ctx.take_f64s(ctx.commands.len());
    for spread in ctx.intra_spreads().flatten() {
        if spread.len() >= CHUNKING_MIN_IATS {
            // spec §2.11: population stdev for the per-command CVs.
            cvs.extend(spread.cv(false)?);
        }
    }
    Ok(cvs)
}

/// True when the reference's `command_chunking` raises instead of returning
/// (an infinite mean intra-command IAT, possible only with non-finite or
/// absurd, around 1e308, event times). The reference then emits nothing for
/// the whole session, so the session driver should check this; the
/// primitive itself just skips.
pub fn command_chunking_raises(ctx: &SessionCtx<'_>) -> bool {
    ctx.commands.len() >= 2 && chunking_cvs(ctx).is_err()
}

/// spec §4.4.7: whether each command is typed in one fluent run.
pub fn command_chunking(ctx: &SessionCtx<'_>) -> Option<Observation> {
    match ctx.commands.len() {
        0 => None,
        1 => Some(Observation::label(
            Primitive::CommandChunking,
            "single_command",
            0.80,
        )),
        _ => {
            // Where the reference raises, skip (see `command_chunking_raises`).
            let cvs = chunking_cvs(ctx).ok()?;
            let fluent = (!cvs.is_empty()).then(|| median_below(&cvs, CMD_CHUNKING_FLUENT_CV_MAX));
            ctx.put_f64s(cvs);
            let (label, conf) = if fluent? {
                ("fluent", 0.65)
            } else {
                ("fragmented", 0.60)
            };
            Some(Observation::label(Primitive::CommandChunking, label, conf))
        }
    }
}

/// The shell-mastery confidence step (spec §4.4.8–§4.4.10 step 3): low with
/// few commands, middling near a class boundary, else `full`.
fn mastery_confidence(k: usize, v: f64, edges: [f64; 2], full: f64) -> f64 {
    if k < SHELL_MASTERY_MIN_COMMANDS {
        0.40
    } else if near(v, edges[0]) || near(v, edges[1]) {
        0.55
    } else {
        full
    }
}

/// spec §4.4.8: the share of commands that used Tab.
pub fn tab_completion(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    let r = ratio(ctx.commands.iter().filter(|c| c.tab_count > 0).count(), k);
    // No `r < TAB_COMPLETION_OCCASIONAL_MAX` test: the gap 0.30 <= r < 0.50
    // is `occasional` too (spec §4.4.8 step 2).
    let label = if r == 0.0 {
        "none"
    } else if r < TAB_COMPLETION_HABITUAL_MIN {
        "occasional"
    } else {
        "habitual"
    };
    let conf = mastery_confidence(
        k,
        r,
        [TAB_COMPLETION_OCCASIONAL_MAX, TAB_COMPLETION_HABITUAL_MIN],
        0.75,
    );
    Some(Observation::label(Primitive::TabCompletion, label, conf))
}

/// spec §4.4.9: readline shortcut bytes per command.
pub fn shortcut_usage(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    let s: u64 = ctx
        .commands
        .iter()
        .map(|c| u64::from(c.shortcut_count))
        .sum();
    let rate = s as f64 / k as f64;
    let label = if s == 0 || rate < SHORTCUT_USAGE_MODERATE_MIN {
        "none"
    } else if rate < SHORTCUT_USAGE_HEAVY_MIN {
        "moderate"
    } else {
        "heavy"
    };
    let conf = mastery_confidence(
        k,
        rate,
        [SHORTCUT_USAGE_MODERATE_MIN, SHORTCUT_USAGE_HEAVY_MIN],
        0.65,
    );
    Some(Observation::label(Primitive::ShortcutUsage, label, conf))
}

/// spec §4.4.10: the median number of `|` per command.
pub fn pipe_chaining_depth(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    // A half-integer median is possible (even K).
    let m = median_of_counts(ctx.commands.iter().map(|c| c.pipe_count));
    let deep = PIPE_CHAINING_DEEP_MEDIAN as f64;
    let moderate = PIPE_CHAINING_MODERATE_MEDIAN as f64;
    let label = if m >= deep {
        "deep"
    } else if m >= moderate {
        "moderate"
    } else {
        "shallow"
    };
    let conf = mastery_confidence(k, m, [moderate, deep], 0.70);
    Some(Observation::label(
        Primitive::PipeChainingDepth,
        label,
        conf,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::behave::ctx::{Command, TokenSets};
    use crate::model::event::{chars_of, Channel, Event};

    /// (value, confidence) of an observation, after checking its primitive.
    fn got(o: Option<Observation>, p: Primitive) -> Option<(String, f64)> {
        o.map(|o| {
            assert_eq!(o.primitive, p);
            (o.value.as_str().to_owned(), o.confidence)
        })
    }

    fn want(label: &str, conf: f64) -> Option<(String, f64)> {
        Some((label.to_owned(), conf))
    }

    /// `n` input events with empty data (only the count matters).
    fn blank_inputs(n: usize) -> Vec<Event<'static>> {
        (0..n)
            .map(|i| Event::new(i as f64, Channel::Input, &[]))
            .collect()
    }

    fn cmd() -> Command {
        Command {
            start_ts: 0.0,
            end_ts: 0.0,
            first_token_hash: [0; 32],
            token_sets: TokenSets::default(),
            tab_count: 0,
            shortcut_count: 0,
            pipe_count: 0,
            errored: false,
            output_chars: 0,
            followed_by_prompt: false,
        }
    }

    fn cmds(n: usize) -> Vec<Command> {
        (0..n).map(|_| cmd()).collect()
    }

    // ---- §4.4.1 input_modality -------------------------------------------

    fn modality(n: usize, pastes: usize) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            inputs: blank_inputs(n),
            paste_event_count: pastes,
            ..Default::default()
        };
        got(input_modality(&ctx), Primitive::InputModality)
    }

    #[test]
    fn input_modality_skips_without_inputs() {
        assert_eq!(modality(0, 0), None);
    }

    #[test]
    fn input_modality_pasted_edge_is_inclusive() {
        assert_eq!(modality(5, 2), want("pasted", 0.75)); // r = 0.40 exactly
        assert_eq!(modality(3, 1), want("mixed", 0.70)); // r = 0.333
        assert_eq!(modality(5, 3), want("pasted", 0.75)); // r = 0.60
        assert_eq!(modality(1, 1), want("pasted", 0.75));
    }

    #[test]
    fn input_modality_typed_edge_is_inclusive() {
        assert_eq!(modality(20, 1), want("typed", 0.75)); // r = 0.05 exactly
        assert_eq!(modality(19, 1), want("mixed", 0.70)); // r = 0.0526
        assert_eq!(modality(21, 1), want("typed", 0.75)); // r = 0.0476
        assert_eq!(modality(7, 0), want("typed", 0.75));
    }

    // ---- §4.4.2 paste_burst_rate -----------------------------------------

    fn burst_rate(n: usize, pastes: usize) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            inputs: blank_inputs(n),
            paste_event_count: pastes,
            ..Default::default()
        };
        got(paste_burst_rate(&ctx), Primitive::PasteBurstRate)
    }

    #[test]
    fn paste_burst_rate_skips_without_inputs() {
        assert_eq!(burst_rate(0, 0), None);
    }

    #[test]
    fn paste_burst_rate_edges() {
        assert_eq!(burst_rate(2, 1), want("habitual", 0.80)); // 0.50
        assert_eq!(burst_rate(100, 49), want("occasional", 0.70));
        assert_eq!(burst_rate(100, 51), want("habitual", 0.80));
        assert_eq!(burst_rate(10, 1), want("occasional", 0.70)); // 0.10
        assert_eq!(burst_rate(100, 9), want("none", 0.70));
        assert_eq!(burst_rate(100, 11), want("occasional", 0.70));
        assert_eq!(burst_rate(4, 0), want("none", 0.70));
    }

    // ---- §4.4.3 keystroke_cadence ----------------------------------------

    fn cadence(n_inputs: usize, bursts: &[&[f64]]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            inputs: blank_inputs(n_inputs),
            typing_bursts: bursts.iter().map(|b| b.to_vec()).collect(),
            ..Default::default()
        };
        got(keystroke_cadence(&ctx), Primitive::KeystrokeCadence)
    }

    /// `k` copies of `c` then `z` zeros: population CV = sqrt(z / k).
    fn zeros_and(c: f64, k: usize, z: usize) -> Vec<f64> {
        let mut v = vec![c; k];
        v.extend(std::iter::repeat_n(0.0, z));
        v
    }

    #[test]
    fn keystroke_cadence_needs_five_inputs() {
        let b: &[f64] = &[0.2, 0.2, 0.2];
        assert_eq!(cadence(4, &[b]), None);
        assert_eq!(cadence(5, &[b]), want("steady", 0.70));
    }

    #[test]
    fn keystroke_cadence_skips_without_bursts_or_positive_means() {
        assert_eq!(cadence(10, &[]), None);
        assert_eq!(cadence(10, &[&[0.0, 0.0, 0.0], &[0.0; 5]]), None);
    }

    #[test]
    fn keystroke_cadence_machine_needs_fast_mean_and_low_cv() {
        assert_eq!(cadence(10, &[&[0.001; 4]]), want("machine", 0.85));
        // m = 0.005 exactly is not < IKI_MACHINE_MAX_S.
        assert_eq!(cadence(10, &[&[0.005; 4]]), want("steady", 0.70));
        assert_eq!(cadence(10, &[&[0.0049; 4]]), want("machine", 0.85));
    }

    #[test]
    fn keystroke_cadence_machine_cv_edge_is_strict() {
        let u = 1.0 / 8192.0;
        // CV = 1/20 = 0.05 exactly: not machine.
        assert_eq!(
            cadence(10, &[&[19.0 * u, 19.0 * u, 21.0 * u, 21.0 * u]]),
            want("steady", 0.70)
        );
        // CV = 1/40.
        let h = u / 2.0;
        assert_eq!(
            cadence(10, &[&[39.0 * h, 39.0 * h, 41.0 * h, 41.0 * h]]),
            want("machine", 0.85)
        );
    }

    #[test]
    fn keystroke_cadence_mean_chains_zero_mean_bursts() {
        // The zero burst adds no CV but pulls the chained mean under 0.005.
        assert_eq!(cadence(10, &[&[0.0; 4], &[0.01; 3]]), want("machine", 0.85));
        assert_eq!(cadence(10, &[&[0.01; 3]]), want("steady", 0.70));
    }

    #[test]
    fn keystroke_cadence_steady_bursty_edge() {
        assert_eq!(cadence(10, &[&[1.0, 1.0, 3.0, 3.0]]), want("bursty", 0.65)); // CV 0.5
        assert_eq!(
            cadence(10, &[&[1.0, 1.0, 2.99, 2.99]]),
            want("steady", 0.70)
        );
        assert_eq!(
            cadence(10, &[&[1.0, 1.0, 3.01, 3.01]]),
            want("bursty", 0.65)
        );
    }

    #[test]
    fn keystroke_cadence_bursty_hunt_edge() {
        assert_eq!(
            cadence(10, &[&zeros_and(13.0, 4, 9)]),
            want("hunt_and_peck", 0.60)
        ); // CV 1.5
        assert_eq!(cadence(10, &[&zeros_and(13.0, 4, 8)]), want("bursty", 0.65)); // sqrt 2
        assert_eq!(
            cadence(10, &[&zeros_and(13.0, 4, 10)]),
            want("hunt_and_peck", 0.60)
        );
    }

    #[test]
    fn keystroke_cadence_takes_median_of_burst_cvs() {
        let steady: &[f64] = &[0.2, 0.2, 0.2];
        let wild = zeros_and(1.0, 1, 9); // CV 3
        assert_eq!(cadence(10, &[steady, steady, &wild]), want("steady", 0.70));
        assert_eq!(
            cadence(10, &[steady, &wild, &wild]),
            want("hunt_and_peck", 0.60)
        );
    }

    // ---- §4.4.4 digraph_simhash ------------------------------------------

    /// Owned single-char (or longer) event data, with times.
    struct Typed {
        evs: Vec<(f64, Vec<Char>)>,
    }

    impl Typed {
        fn new() -> Self {
            Typed { evs: Vec::new() }
        }
        /// Type `s` one char per event, `dt` apart, after `gap` from the last event.
        fn keys(mut self, s: &str, gap: f64, dt: f64) -> Self {
            let mut t = self.evs.last().map_or(0.0, |e| e.0) + gap;
            for c in s.chars() {
                self.evs.push((t, vec![c as Char]));
                t += dt;
            }
            self
        }
        fn at(mut self, t: f64, d: &str) -> Self {
            self.evs.push((t, chars_of(d)));
            self
        }
        fn ctx(&self) -> SessionCtx<'_> {
            let inputs = self
                .evs
                .iter()
                .map(|(t, d)| Event::new(*t, Channel::Input, d))
                .collect();
            SessionCtx {
                inputs,
                ..Default::default()
            }
        }
    }

    fn tok(s: &str) -> Vec<Char> {
        chars_of(s)
    }

    fn flight_keys(f: &std::collections::BTreeMap<[Char; 2], Vec<f64>>) -> Vec<String> {
        f.keys()
            .map(|k| {
                k.iter()
                    .map(|&c| char::from_u32(c).unwrap_or('?'))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn digraph_flights_chain_rules() {
        let t = Typed::new()
            .at(0.0, "a")
            .at(2.0, "b") // think pause: "ab" dropped, chain kept
            .at(2.125, "c") // "bc"
            .at(3.625, "d") // dt = 1.5 exactly: kept (<=)
            .at(3.625, "e") // dt = 0: dropped
            .at(3.5, "f") // negative: dropped
            .at(3.75, "gh") // multi-char: resets
            .at(3.875, "i") // no pair with "gh"
            .at(4.0, "") // empty: resets
            .at(4.125, "j"); // no pair with ""
        let f = digraph_flights(&t.ctx());
        assert_eq!(flight_keys(&f), ["bc", "cd"]);
        assert_eq!(f[&[Char::from(b'b'), Char::from(b'c')]], vec![0.125]);
        assert_eq!(f[&[Char::from(b'c'), Char::from(b'd')]], vec![1.5]);
        // Just over the think limit: dropped.
        let t = Typed::new()
            .at(0.0, "a")
            .at(1.5f64.next_up(), "b")
            .at(2.0, "c");
        assert_eq!(flight_keys(&digraph_flights(&t.ctx())), ["bc"]);
    }

    #[test]
    fn digraph_flights_control_chars_count() {
        let t = Typed::new().at(0.0, "s").at(0.1, "\r").at(0.2, "\u{7f}");
        let f = digraph_flights(&t.ctx());
        assert_eq!(f.len(), 2);
        assert!(f.contains_key(&[Char::from(b's'), 0x0D]));
        assert!(f.contains_key(&[0x0D, 0x7F]));
    }

    #[test]
    fn flight_bucket_edges_are_exclusive_upper() {
        let edges = DIGRAPH_FLIGHT_BUCKETS_S;
        assert_eq!(flight_bucket(0.0), 0);
        for (i, &e) in edges.iter().enumerate() {
            assert_eq!(flight_bucket(e.next_down()), i, "just below edge {e}");
            assert_eq!(flight_bucket(e), i + 1, "at edge {e}");
            assert_eq!(flight_bucket(e.next_up()), i + 1, "just above edge {e}");
        }
        assert_eq!(flight_bucket(1.5), 6);
    }

    #[test]
    fn digraph_confidence_matches_appendix_b() {
        let want: [f64; 5] = [0.8, 0.8500000000000001, 0.9, 0.95, 0.95];
        for (k, w) in (8..=12).zip(want) {
            assert_eq!(digraph_confidence(k).to_bits(), w.to_bits(), "k = {k}");
        }
        assert_eq!(digraph_confidence(50), 0.95);
    }

    /// "abcdefghi" typed `reps` times (8 digraphs per rep), each rep after a
    /// paste that breaks the chain.
    fn alphabet_reps(reps: usize, dt: f64) -> Typed {
        let mut t = Typed::new();
        for r in 0..reps {
            t = t.at(10.0 * r as f64, "PASTE").keys("abcdefghi", 0.5, dt);
        }
        t
    }

    #[test]
    fn digraph_simhash_needs_twenty_samples() {
        // 8 digraphs x 2 = 16, plus "abcd" (3) = 19 samples.
        let t = alphabet_reps(2, 0.1)
            .at(100.0, "PASTE")
            .keys("abcd", 0.5, 0.1);
        assert_eq!(digraph_simhash(&t.ctx()), None);
        // plus "abcde" (4) = 20 samples.
        let t = alphabet_reps(2, 0.1)
            .at(100.0, "PASTE")
            .keys("abcde", 0.5, 0.1);
        assert!(digraph_simhash(&t.ctx()).is_some());
    }

    #[test]
    fn digraph_simhash_needs_eight_digraphs() {
        // 7 distinct digraphs, 21 samples.
        let mut t = Typed::new();
        for r in 0..3 {
            t = t.at(10.0 * r as f64, "PASTE").keys("abcdefgh", 0.5, 0.1);
        }
        assert_eq!(digraph_simhash(&t.ctx()), None);
        // 8 distinct digraphs, 24 samples: k = 8 → 0.8.
        let o = digraph_simhash(&alphabet_reps(3, 0.1).ctx()).expect("emits");
        assert_eq!(o.confidence.to_bits(), 0.8f64.to_bits());
    }

    #[test]
    fn digraph_simhash_value_is_simhash_of_bucketed_tokens() {
        // dt 0.1 → median 0.1 → bucket 2 for every digraph, weight 3 each.
        let o = digraph_simhash(&alphabet_reps(3, 0.1).ctx()).expect("emits");
        let want: Vec<(Vec<Char>, i64)> = [
            "ab:2", "bc:2", "cd:2", "de:2", "ef:2", "fg:2", "gh:2", "hi:2",
        ]
        .iter()
        .map(|s| (tok(s), 3))
        .collect();
        assert_eq!(o.primitive, Primitive::DigraphSimhash);
        assert_eq!(o.value.as_str(), hex16(simhash64(want)));
        assert_eq!(o.value.as_str().len(), 16);
    }

    #[test]
    fn flight_groups_hold_each_digraphs_samples() {
        // Random pairs over ASCII and non-ASCII chars (the map path), two
        // calls in a row: the second must not see the first's table entries.
        let alphabet: [Char; 6] = ['a' as Char, 'b' as Char, 0x7F, 0x80, 0xDC80, 0x1F600];
        let mut next = crate::extract::xorshift(0x0DD1_5EA5_E5CA_FE01);
        for round in 0..300 {
            let n = (next() % 60) as usize;
            let pairs: Vec<([Char; 2], f64)> = (0..n)
                .map(|_| {
                    let g = [
                        alphabet[(next() % 6) as usize],
                        alphabet[(next() % 6) as usize],
                    ];
                    (g, (next() % 1000) as f64 / 1000.0)
                })
                .collect();
            let mut want: std::collections::BTreeMap<[Char; 2], Vec<u64>> = Default::default();
            for &(g, dt) in &pairs {
                want.entry(g).or_default().push(dt.to_bits());
            }
            let mut flights = FlightGroups::of(&pairs);
            let mut got: std::collections::BTreeMap<[Char; 2], Vec<u64>> = Default::default();
            for g in 0..flights.digraphs.len() {
                let (digraph, samples) = flights.group_mut(g);
                let prior = got.insert(digraph, samples.iter().map(|x| x.to_bits()).collect());
                assert!(prior.is_none(), "round {round}: {digraph:?} is one group");
            }
            for v in want.values_mut().chain(got.values_mut()) {
                v.sort_unstable();
            }
            assert_eq!(got, want, "round {round}");
        }
    }

    #[test]
    fn digraph_simhash_buckets_per_digraph_median() {
        // "ab" flights: 0.2 x3 and 0.02 x4 → median 0.02 → bucket 0 (the
        // mean, 0.097, would give bucket 2). The rest: 0.2 → bucket 3.
        let mut t = alphabet_reps(3, 0.2);
        for r in 0..4 {
            let t0 = 100.0 + 10.0 * r as f64;
            t = t.at(t0, "PASTE").at(t0 + 1.0, "a").at(t0 + 1.0 + 0.02, "b");
        }
        let o = digraph_simhash(&t.ctx()).expect("emits");
        let mut want: Vec<(Vec<Char>, i64)> =
            ["bc:3", "cd:3", "de:3", "ef:3", "fg:3", "gh:3", "hi:3"]
                .iter()
                .map(|s| (tok(s), 3))
                .collect();
        want.push((tok("ab:0"), 7));
        assert_eq!(o.value.as_str(), hex16(simhash64(want)));
        assert_eq!(o.confidence.to_bits(), 0.8f64.to_bits());
    }

    // ---- §4.4.5 motor_stability ------------------------------------------

    fn stability(bursts: &[&[f64]]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            typing_bursts: bursts.iter().map(|b| b.to_vec()).collect(),
            ..Default::default()
        };
        got(motor_stability(&ctx), Primitive::MotorStability)
    }

    #[test]
    fn motor_stability_needs_five_chained_iats() {
        assert_eq!(stability(&[]), None);
        assert_eq!(stability(&[&[0.2; 4]]), None);
        assert_eq!(stability(&[&[0.2; 3], &[0.2; 3]]), want("steady", 0.70));
        assert_eq!(stability(&[&[0.2; 5]]), want("steady", 0.70));
    }

    #[test]
    fn motor_stability_tremor_rate_edge() {
        let mut b = vec![0.2; 9];
        b.push(0.01); // 1/10 fast = 0.10 exactly
        assert_eq!(stability(&[&b]), want("tremor", 0.65));
        b.push(0.2); // 1/11
        assert_eq!(stability(&[&b]), want("steady", 0.70));
    }

    #[test]
    fn motor_stability_fast_floor_is_strict() {
        let mut b = vec![0.2; 9];
        b.push(0.03); // not < 0.030
        assert_eq!(stability(&[&b]), want("steady", 0.70));
        *b.last_mut().expect("non-empty") = 0.03f64.next_down();
        assert_eq!(stability(&[&b]), want("tremor", 0.65));
    }

    #[test]
    fn motor_stability_cv_edge() {
        assert_eq!(
            stability(&[&[1.0, 1.0, 1.0, 3.0, 3.0, 3.0]]),
            want("variable", 0.60)
        ); // 0.5
        assert_eq!(
            stability(&[&[1.0, 1.0, 1.0, 2.99, 2.99, 2.99]]),
            want("steady", 0.70)
        );
        assert_eq!(
            stability(&[&[1.0, 1.0, 1.0, 3.01, 3.01, 3.01]]),
            want("variable", 0.60)
        );
    }

    // ---- §4.4.6 error_correction -----------------------------------------

    fn correction(n: usize, bs: usize, kill: usize, bs_iats: &[f64]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            inputs: blank_inputs(n),
            backspace_count: bs,
            kill_line_count: kill,
            backspace_iats: bs_iats.to_vec(),
            ..Default::default()
        };
        got(error_correction(&ctx), Primitive::ErrorCorrection)
    }

    #[test]
    fn error_correction_needs_three_inputs() {
        assert_eq!(correction(2, 0, 0, &[]), None);
        assert_eq!(correction(3, 0, 0, &[]), want("absent", 0.65));
    }

    #[test]
    fn error_correction_without_backspace() {
        assert_eq!(correction(5, 0, 0, &[]), want("absent", 0.65));
        assert_eq!(correction(5, 0, 1, &[]), want("route_around", 0.55));
    }

    #[test]
    fn error_correction_backspace_before_any_char_is_deferred() {
        assert_eq!(correction(3, 1, 0, &[]), want("deferred", 0.55));
    }

    #[test]
    fn error_correction_immediate_edge_is_inclusive() {
        assert_eq!(
            correction(5, 3, 0, &[0.1, 0.5, 0.9]),
            want("immediate", 0.65)
        ); // median 0.5
        assert_eq!(
            correction(5, 1, 0, &[0.5f64.next_up()]),
            want("deferred", 0.55)
        );
        assert_eq!(correction(5, 1, 0, &[0.49]), want("immediate", 0.65));
        // Backspaces win over kill-line chars once present.
        assert_eq!(correction(5, 1, 4, &[2.0]), want("deferred", 0.55));
    }

    // ---- §4.4.7 command_chunking -----------------------------------------

    fn chunking(k: usize, intra: &[&[f64]]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands: cmds(k),
            intra_command_iats: intra.iter().map(|x| x.to_vec()).collect(),
            ..Default::default()
        };
        got(command_chunking(&ctx), Primitive::CommandChunking)
    }

    #[test]
    fn command_chunking_by_command_count() {
        assert_eq!(chunking(0, &[]), None);
        assert_eq!(
            chunking(1, &[&[1.0, 1.0, 9.0]]),
            want("single_command", 0.80)
        );
        assert_eq!(chunking(1, &[&[]]), want("single_command", 0.80));
    }

    #[test]
    fn command_chunking_skips_without_usable_commands() {
        // All pasted (empty), too short (2 IATs), or zero mean.
        assert_eq!(chunking(3, &[&[], &[0.1, 0.1], &[0.0, 0.0, 0.0]]), None);
        assert_eq!(
            chunking(2, &[&[0.1, 0.1], &[0.1, 0.1, 0.1]]),
            want("fluent", 0.65)
        );
    }

    #[test]
    fn command_chunking_fluent_edge_is_strict() {
        assert_eq!(
            chunking(2, &[&[1.0, 1.0, 3.0, 3.0], &[]]),
            want("fragmented", 0.60)
        ); // 0.5
        assert_eq!(
            chunking(2, &[&[1.0, 1.0, 2.99, 2.99], &[]]),
            want("fluent", 0.65)
        );
        assert_eq!(
            chunking(2, &[&[1.0, 1.0, 3.01, 3.01], &[]]),
            want("fragmented", 0.60)
        );
    }

    #[test]
    fn command_chunking_takes_median() {
        let flat: &[f64] = &[0.2, 0.2, 0.2];
        let rough: &[f64] = &[1.0, 1.0, 5.0, 5.0];
        assert_eq!(chunking(3, &[flat, flat, rough]), want("fluent", 0.65));
        assert_eq!(chunking(3, &[flat, rough, rough]), want("fragmented", 0.60));
    }

    #[test]
    fn command_chunking_raises_on_infinite_iat() {
        let inf = f64::INFINITY;
        let ctx = |k: usize, intra: &[&[f64]]| SessionCtx {
            commands: cmds(k),
            intra_command_iats: intra.iter().map(|x| x.to_vec()).collect(),
            ..Default::default()
        };
        // Used (>= 3 IATs): the reference's pstdev raises; we skip.
        let c = ctx(2, &[&[inf, 0.1, 0.1], &[0.1, 0.1, 0.1]]);
        assert!(command_chunking_raises(&c));
        assert_eq!(command_chunking(&c), None);
        // Too short to be used, or K = 1: no raise.
        let c = ctx(2, &[&[inf, 0.1], &[0.1, 0.1, 0.1]]);
        assert!(!command_chunking_raises(&c));
        assert_eq!(
            got(command_chunking(&c), Primitive::CommandChunking),
            want("fluent", 0.65)
        );
        assert!(!command_chunking_raises(&ctx(1, &[&[inf, 0.1, 0.1]])));
        assert!(!command_chunking_raises(&ctx(2, &[&[0.1; 3], &[0.2; 3]])));
    }

    // ---- §4.4.8 tab_completion -------------------------------------------

    fn tabs(k: usize, with_tab: usize) -> Option<(String, f64)> {
        let mut c = cmds(k);
        for x in c.iter_mut().take(with_tab) {
            x.tab_count = 2;
        }
        got(
            tab_completion(&SessionCtx {
                commands: c,
                ..Default::default()
            }),
            Primitive::TabCompletion,
        )
    }

    #[test]
    fn tab_completion_values() {
        assert_eq!(tabs(0, 0), None);
        assert_eq!(tabs(10, 0), want("none", 0.75));
        assert_eq!(tabs(10, 1), want("occasional", 0.75)); // 0.1
        assert_eq!(tabs(10, 3), want("occasional", 0.55)); // 0.30: near
        assert_eq!(tabs(10, 4), want("occasional", 0.75)); // gap 0.30..0.50
        assert_eq!(tabs(100, 49), want("occasional", 0.55)); // near 0.50
        assert_eq!(tabs(10, 5), want("habitual", 0.55)); // 0.50 exactly, near
        assert_eq!(tabs(10, 8), want("habitual", 0.75));
    }

    #[test]
    fn tab_completion_confidence_needs_five_commands() {
        assert_eq!(tabs(4, 0), want("none", 0.40));
        assert_eq!(tabs(4, 2), want("habitual", 0.40));
        assert_eq!(tabs(5, 4), want("habitual", 0.75));
    }

    // ---- §4.4.9 shortcut_usage -------------------------------------------

    fn shortcuts(k: usize, counts: &[u32]) -> Option<(String, f64)> {
        let mut c = cmds(k);
        for (x, &n) in c.iter_mut().zip(counts) {
            x.shortcut_count = n;
        }
        got(
            shortcut_usage(&SessionCtx {
                commands: c,
                ..Default::default()
            }),
            Primitive::ShortcutUsage,
        )
    }

    #[test]
    fn shortcut_usage_values() {
        assert_eq!(shortcuts(0, &[]), None);
        assert_eq!(shortcuts(10, &[]), want("none", 0.65));
        assert_eq!(shortcuts(21, &[1]), want("none", 0.55)); // 0.0476 < 0.05, near
        assert_eq!(shortcuts(20, &[1]), want("moderate", 0.55)); // 0.05 exactly
        assert_eq!(shortcuts(10, &[2]), want("moderate", 0.65)); // 0.2
        assert_eq!(shortcuts(10, &[1, 2]), want("heavy", 0.55)); // 0.30 exactly
        assert_eq!(shortcuts(100, &[29]), want("moderate", 0.55));
        assert_eq!(shortcuts(5, &[5]), want("heavy", 0.65));
        assert_eq!(shortcuts(100, &[1]), want("none", 0.65)); // 0.01
    }

    #[test]
    fn shortcut_usage_confidence_needs_five_commands() {
        assert_eq!(shortcuts(4, &[]), want("none", 0.40));
        assert_eq!(shortcuts(4, &[1]), want("moderate", 0.40)); // 0.25
        assert_eq!(shortcuts(5, &[1]), want("moderate", 0.65)); // 0.2
    }

    // ---- §4.4.10 pipe_chaining_depth -------------------------------------

    fn pipes(counts: &[u32]) -> Option<(String, f64)> {
        let mut c = cmds(counts.len());
        for (x, &n) in c.iter_mut().zip(counts) {
            x.pipe_count = n;
        }
        got(
            pipe_chaining_depth(&SessionCtx {
                commands: c,
                ..Default::default()
            }),
            Primitive::PipeChainingDepth,
        )
    }

    #[test]
    fn pipe_chaining_depth_values() {
        assert_eq!(pipes(&[]), None);
        assert_eq!(pipes(&[0; 5]), want("shallow", 0.70));
        assert_eq!(pipes(&[2; 5]), want("moderate", 0.55)); // Appendix B
        assert_eq!(pipes(&[3; 5]), want("deep", 0.55));
        assert_eq!(pipes(&[5; 5]), want("deep", 0.70));
        assert_eq!(pipes(&[2, 3, 2, 3, 3, 2]), want("moderate", 0.70)); // median 2.5
        assert_eq!(pipes(&[1, 2, 1, 2, 1, 2]), want("shallow", 0.70)); // median 1.5
        assert_eq!(pipes(&[1, 1, 9, 9, 9]), want("deep", 0.70)); // median, not max or mean
    }

    #[test]
    fn pipe_chaining_depth_confidence_needs_five_commands() {
        assert_eq!(pipes(&[2; 4]), want("moderate", 0.40));
        assert_eq!(pipes(&[1, 2]), want("shallow", 0.40));
    }
}
