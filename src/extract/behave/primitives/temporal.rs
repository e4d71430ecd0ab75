//! The `temporal` primitives (spec/behave-shell.md §4.4.22–4.4.25).
//!
//! Pure: each function reads the shared [`SessionCtx`] and emits at most one
//! observation. Command vocabulary is read through the precomputed
//! [`TokenSets`] flags (spec §4.3), never through token text.

use crate::extract::behave::ctx::{Command, SessionCtx, TokenSets};
use crate::extract::behave::numeric::{fmean, py_max, stdev};
use crate::extract::behave::thresholds::{
    ESCALATION_BURSTY_CV, ESCALATION_BURSTY_ZERO_FRAC, ESCALATION_MIN_COMMANDS,
    ESCALATION_MIN_WINDOWS, ESCALATION_SUSTAINED_CV, ESCALATION_WINDOW_MIN_S,
    ESCALATION_WINDOW_TARGET, EXIT_BEHAVIOR_LOOKBACK_K, LANDING_RITUAL_FIRST_N,
    LANDING_RITUAL_HIT_MIN, LANDING_RITUAL_MIN_COMMANDS, SESSION_DURATION_LONG_MAX,
    SESSION_DURATION_MEDIUM_MAX, SESSION_DURATION_SHORT_MAX,
};
use crate::model::observation::{Observation, Primitive};

/// spec §4.4.22: session length class from `duration_s`.
///
/// Emits even without commands (an output-only session still has a length),
/// but not when the session is both instantaneous and command-free.
pub fn session_duration(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let d = ctx.duration_s;
    if d <= 0.0 && ctx.commands.is_empty() {
        return None;
    }
    let label = if d < SESSION_DURATION_SHORT_MAX {
        "short"
    } else if d < SESSION_DURATION_MEDIUM_MAX {
        "medium"
    } else if d < SESSION_DURATION_LONG_MAX {
        "long"
    } else {
        "marathon"
    };
    Some(Observation::label(Primitive::SessionDuration, label, 0.85))
}

/// The window layout of spec §4.4.23 step 2: `(width, n)`.
///
/// `None` where CPython's `math.ceil` raises (a NaN ratio, from an infinite
/// duration). For finite durations `n` is small (`width >= d / 10`), so the
/// count vector below is tiny. `n` is not simply 10: sessions under 100 s use
/// fixed 10 s windows, and `ceil` of the exact f64 quotient decides the edge.
fn escalation_windows(duration_s: f64) -> Option<(f64, usize)> {
    let width = py_max(
        ESCALATION_WINDOW_MIN_S,
        duration_s / ESCALATION_WINDOW_TARGET as f64,
    );
    let ratio = (duration_s / width).ceil();
    if !ratio.is_finite() {
        return None;
    }
    // `max(1, ceil(..))`: the ratio is a small non-negative integer here.
    let n = if ratio < 1.0 { 1 } else { ratio as usize };
    Some((width, n))
}

/// The bucket of one command (spec §4.4.23 step 3):
/// `min(n-1, max(0, int((start_ts - t_start) / width)))`.
///
/// `None` where CPython's `int()` raises (NaN or infinite quotient).
fn escalation_bucket(start_ts: f64, t_start: f64, width: f64, n: usize) -> Option<usize> {
    let q = (start_ts - t_start) / width;
    if !q.is_finite() {
        return None;
    }
    let tr = q.trunc(); // int() truncates toward zero (spec §2.11)
    let last = n - 1;
    Some(if tr <= 0.0 {
        0
    } else if tr >= last as f64 {
        last
    } else {
        tr as usize
    })
}

/// Spec §4.4.23 counts per window, or `None` where the reference raises.
fn escalation_counts(ctx: &SessionCtx<'_>) -> Option<(Vec<f64>, usize)> {
    let (width, n) = escalation_windows(ctx.duration_s)?;
    let mut counts = vec![0.0f64; n];
    for c in &ctx.commands {
        let idx = escalation_bucket(c.start_ts, ctx.t_start, width, n)?;
        counts[idx] += 1.0;
    }
    Some((counts, n))
}

/// True when the reference's `escalation_pattern` raises instead of
/// returning (CPython `ValueError`/`OverflowError` from `math.ceil` or `int()`
/// on a NaN or infinite value). That happens only with non-finite event
/// times: an infinite duration, or a command `start_ts` that is NaN or
/// infinite. The reference then emits nothing for the whole session (the
/// same outcome as spec A7), so the session driver should check this; the
/// primitive itself just skips.
pub fn escalation_pattern_raises(ctx: &SessionCtx<'_>) -> bool {
    !ctx.commands.is_empty() && ctx.duration_s > 0.0 && escalation_counts(ctx).is_none()
}

/// spec §4.4.23: how command activity is spread over ~10 equal windows.
pub fn escalation_pattern(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 || ctx.duration_s <= 0.0 {
        return None;
    }
    // Non-finite times: the reference raises here (see
    // `escalation_pattern_raises`); skipping keeps this function total.
    let (counts, n) = escalation_counts(ctx)?;
    let mean = fmean(&counts);
    // spec §2.11: sample stdev, exact-rational.
    let cv = if mean <= 0.0 || n < 2 {
        0.0
    } else {
        stdev(&counts) / mean
    };
    let zeros = counts.iter().filter(|&&c| c == 0.0).count();
    let z = zeros as f64 / n as f64;
    let label = if z >= ESCALATION_BURSTY_ZERO_FRAC && cv >= ESCALATION_BURSTY_CV {
        "bursty"
    } else if cv < ESCALATION_SUSTAINED_CV {
        "sustained"
    } else {
        "erratic"
    };
    let conf = if n < ESCALATION_MIN_WINDOWS || k < ESCALATION_MIN_COMMANDS {
        0.40
    } else {
        0.60
    };
    Some(Observation::label(
        Primitive::EscalationPattern,
        label,
        conf,
    ))
}

/// spec §4.4.24: recon-style commands among the first five.
pub fn landing_ritual(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    let hits = ctx
        .commands
        .iter()
        .take(LANDING_RITUAL_FIRST_N)
        .filter(|c| c.token_sets.has(TokenSets::LANDING_RITUAL))
        .count();
    let label = if hits >= LANDING_RITUAL_HIT_MIN {
        "present"
    } else {
        "absent"
    };
    let conf = if k < LANDING_RITUAL_MIN_COMMANDS {
        0.40
    } else {
        0.65
    };
    Some(Observation::label(Primitive::LandingRitual, label, conf))
}

/// spec §4.4.25: how the session ended, judged from the last commands.
///
/// Check order matters: a missing prompt after the last command wins over an
/// exit token (parity A10: an interactive `exit` usually yields `abrupt`).
pub fn exit_behavior(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let last = ctx.commands.last()?;
    let (label, conf) = if !last.followed_by_prompt {
        ("abrupt", 0.45)
    } else if last.token_sets.has(TokenSets::GRACEFUL_EXIT) {
        ("graceful", 0.65)
    } else if tail(ctx, EXIT_BEHAVIOR_LOOKBACK_K).any(|c| c.token_sets.has(TokenSets::CLEANUP)) {
        ("cleanup", 0.65)
    } else {
        ("graceful", 0.65)
    };
    Some(Observation::label(Primitive::ExitBehavior, label, conf))
}

/// The last `min(K, n)` commands.
fn tail<'c>(ctx: &'c SessionCtx<'_>, n: usize) -> impl Iterator<Item = &'c Command> {
    ctx.commands[ctx.commands.len().saturating_sub(n)..].iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(start_ts: f64, sets: u16, prompt: bool) -> Command {
        Command {
            start_ts,
            end_ts: start_ts,
            first_token_hash: [0; 32],
            token_sets: TokenSets(sets),
            tab_count: 0,
            shortcut_count: 0,
            pipe_count: 0,
            errored: false,
            output_chars: 0,
            followed_by_prompt: prompt,
        }
    }

    fn ctx_with(cmds: Vec<Command>, t_start: f64, duration_s: f64) -> SessionCtx<'static> {
        SessionCtx {
            commands: cmds,
            t_start,
            t_end: t_start + duration_s,
            duration_s,
            ..Default::default()
        }
    }

    fn val(o: Option<Observation>) -> Option<(String, f64)> {
        o.map(|o| (o.value.as_str().to_string(), o.confidence))
    }

    fn some(label: &str, conf: f64) -> Option<(String, f64)> {
        Some((label.to_string(), conf))
    }

    // ---- session_duration -------------------------------------------------

    #[test]
    fn session_duration_skips_when_no_time_and_no_commands() {
        assert_eq!(val(session_duration(&ctx_with(vec![], 0.0, 0.0))), None);
    }

    #[test]
    fn session_duration_emits_with_commands_and_zero_duration() {
        let ctx = ctx_with(vec![cmd(0.0, 0, true)], 0.0, 0.0);
        assert_eq!(val(session_duration(&ctx)), some("short", 0.85));
    }

    #[test]
    fn session_duration_emits_without_commands_when_time_passes() {
        assert_eq!(
            val(session_duration(&ctx_with(vec![], 0.0, 5.0))),
            some("short", 0.85)
        );
    }

    #[test]
    fn session_duration_class_edges() {
        let cases = [
            (59.999, "short"),
            (60.0, "medium"),
            (60.001, "medium"),
            (599.999, "medium"),
            (600.0, "long"),
            (600.001, "long"),
            (3599.999, "long"),
            (3600.0, "marathon"),
            (3600.001, "marathon"),
            (f64::INFINITY, "marathon"),
        ];
        for (d, want) in cases {
            assert_eq!(
                val(session_duration(&ctx_with(vec![], 0.0, d))),
                some(want, 0.85),
                "d={d}"
            );
        }
    }

    // ---- escalation_pattern -----------------------------------------------

    #[test]
    fn escalation_skips_without_commands_or_duration() {
        assert_eq!(val(escalation_pattern(&ctx_with(vec![], 0.0, 50.0))), None);
        assert_eq!(
            val(escalation_pattern(&ctx_with(
                vec![cmd(0.0, 0, true)],
                0.0,
                0.0
            ))),
            None
        );
    }

    #[test]
    fn escalation_window_count_is_not_simplified_to_ten() {
        // Short sessions: width 10, n = ceil(d / 10).
        assert_eq!(escalation_windows(5.0), Some((10.0, 1)));
        assert_eq!(escalation_windows(10.0), Some((10.0, 1)));
        assert_eq!(escalation_windows(10.5), Some((10.0, 2)));
        assert_eq!(escalation_windows(100.0), Some((10.0, 10)));
        // Just past a window edge in f64 opens one more window.
        assert_eq!(escalation_windows(20.000000000000004), Some((10.0, 3)));
        assert_eq!(escalation_windows(1e-300), Some((10.0, 1)));
        // Long sessions: width d / 10, and n = ceil(d / width) stays 10.
        assert_eq!(escalation_windows(1000.0), Some((100.0, 10)));
        assert_eq!(escalation_windows(123456.789), Some((12345.6789, 10)));
        assert_eq!(escalation_windows(f64::INFINITY), None);
    }

    #[test]
    fn escalation_bucket_truncates_and_clamps() {
        assert_eq!(escalation_bucket(9.99, 0.0, 10.0, 5), Some(0));
        assert_eq!(escalation_bucket(10.0, 0.0, 10.0, 5), Some(1));
        assert_eq!(escalation_bucket(-5.0, 0.0, 10.0, 5), Some(0)); // int(-0.5) == 0
        assert_eq!(escalation_bucket(-15.0, 0.0, 10.0, 5), Some(0)); // max(0, -1)
        assert_eq!(escalation_bucket(1e9, 0.0, 10.0, 5), Some(4)); // min(n-1, ..)
        assert_eq!(escalation_bucket(f64::NAN, 0.0, 10.0, 5), None);
        assert_eq!(escalation_bucket(f64::NEG_INFINITY, 0.0, 10.0, 5), None);
    }

    #[test]
    fn escalation_single_window_is_sustained() {
        // n = 1: cv forced to 0, no zero windows.
        let ctx = ctx_with(vec![cmd(1.0, 0, true), cmd(2.0, 0, true)], 0.0, 5.0);
        assert_eq!(val(escalation_pattern(&ctx)), some("sustained", 0.40));
    }

    #[test]
    fn escalation_even_spread_is_sustained_with_full_confidence() {
        // d = 100: 10 windows of 10 s, one command in each.
        let cmds = (0..10)
            .map(|i| cmd(i as f64 * 10.0 + 1.0, 0, true))
            .collect();
        let ctx = ctx_with(cmds, 0.0, 100.0);
        assert_eq!(val(escalation_pattern(&ctx)), some("sustained", 0.60));
    }

    #[test]
    fn escalation_all_in_one_window_is_bursty() {
        // 10 windows, 5 commands in the first: z = 0.9, cv = sqrt(2.5)/0.5 ≈ 3.16.
        let cmds = (0..5).map(|i| cmd(i as f64, 0, true)).collect();
        let ctx = ctx_with(cmds, 0.0, 100.0);
        assert_eq!(val(escalation_pattern(&ctx)), some("bursty", 0.60));
    }

    #[test]
    fn escalation_low_confidence_edges() {
        // n = 4 < 5 windows, K = 5: 0.40.
        let cmds = (0..5).map(|i| cmd(i as f64 * 8.0, 0, true)).collect();
        let ctx = ctx_with(cmds, 0.0, 40.0);
        assert_eq!(val(escalation_pattern(&ctx)).map(|v| v.1), Some(0.40));
        // n = 5, K = 5: 0.60.
        let cmds = (0..5).map(|i| cmd(i as f64 * 10.0, 0, true)).collect();
        let ctx = ctx_with(cmds, 0.0, 50.0);
        assert_eq!(val(escalation_pattern(&ctx)), some("sustained", 0.60));
        // n = 5, K = 4: 0.40.
        let cmds = (0..4).map(|i| cmd(i as f64 * 10.0, 0, true)).collect();
        let ctx = ctx_with(cmds, 0.0, 50.0);
        assert_eq!(val(escalation_pattern(&ctx)).map(|v| v.1), Some(0.40));
    }

    /// Counts per window laid out as given, one window = 10 s, n = |counts|.
    fn ctx_counts(counts: &[usize]) -> SessionCtx<'static> {
        let mut cmds = Vec::new();
        for (w, &c) in counts.iter().enumerate() {
            for j in 0..c {
                cmds.push(cmd(w as f64 * 10.0 + j as f64 * 0.01, 0, true));
            }
        }
        ctx_with(cmds, 0.0, counts.len() as f64 * 10.0)
    }

    #[test]
    fn escalation_zero_fraction_edge_for_bursty() {
        // 10 windows. z = 0.3 exactly (3 zeros), cv ≈ 2.1 >= 1: bursty.
        let c = [0, 0, 0, 1, 1, 1, 1, 1, 1, 13];
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&c))),
            some("bursty", 0.60)
        );
        // z = 0.2 (2 zeros), same high cv: not bursty, so erratic.
        let c = [0, 0, 1, 1, 1, 1, 1, 1, 1, 12];
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&c))),
            some("erratic", 0.60)
        );
        // z = 0.3 but cv ≈ 0.82 < 1: erratic.
        let c = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2];
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&c))),
            some("erratic", 0.60)
        );
    }

    #[test]
    fn escalation_cv_edges() {
        // n = 2, counts [0, 2]: mean 1, stdev sqrt(2), cv 1.414, z 0.5: bursty.
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&[0, 2]))),
            some("bursty", 0.40)
        );
        // n = 5, counts [0,1,1,1,2]: mean 1, stdev = sqrt(2/4) = 0.7071: z = 0.2, erratic.
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&[0, 1, 1, 1, 2]))),
            some("erratic", 0.60)
        );
        // [1,2,3]: mean 2, stdev 1, cv 0.5 exactly: not sustained, so erratic.
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&[1, 2, 3]))),
            some("erratic", 0.40)
        );
        // cv just below 0.5: [2,3,4] -> mean 3, stdev 1, cv 0.333: sustained.
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&[2, 3, 4]))),
            some("sustained", 0.40)
        );
        // [0,1,2]: mean 1, stdev 1, cv 1.0 exactly, z = 1/3: bursty.
        assert_eq!(
            val(escalation_pattern(&ctx_counts(&[0, 1, 2]))),
            some("bursty", 0.40)
        );
    }

    #[test]
    fn escalation_non_finite_times_are_flagged_as_raising() {
        let ctx = ctx_with(vec![cmd(0.0, 0, true)], 0.0, f64::INFINITY);
        assert!(escalation_pattern_raises(&ctx));
        assert_eq!(val(escalation_pattern(&ctx)), None);
        let ctx = ctx_with(vec![cmd(0.0, 0, true), cmd(f64::NAN, 0, true)], 0.0, 5.0);
        assert!(escalation_pattern_raises(&ctx));
        // OverflowError in the reference: int(-inf).
        let ctx = ctx_with(vec![cmd(f64::NEG_INFINITY, 0, true)], 0.0, 5.0);
        assert!(escalation_pattern_raises(&ctx));
        assert_eq!(val(escalation_pattern(&ctx)), None);
        let ctx = ctx_with(vec![cmd(1.0, 0, true)], 0.0, 5.0);
        assert!(!escalation_pattern_raises(&ctx));
        // Skipped sessions never reach the raising code.
        let ctx = ctx_with(vec![cmd(f64::NAN, 0, true)], 0.0, 0.0);
        assert!(!escalation_pattern_raises(&ctx));
    }

    // ---- landing_ritual ---------------------------------------------------

    const LR: u16 = TokenSets::LANDING_RITUAL;

    #[test]
    fn landing_ritual_skips_without_commands() {
        assert_eq!(val(landing_ritual(&SessionCtx::default())), None);
    }

    #[test]
    fn landing_ritual_hit_edges() {
        let ctx = ctx_with(
            vec![cmd(0.0, LR, true), cmd(1.0, 0, true), cmd(2.0, 0, true)],
            0.0,
            3.0,
        );
        assert_eq!(val(landing_ritual(&ctx)), some("absent", 0.65));
        let ctx = ctx_with(
            vec![cmd(0.0, LR, true), cmd(1.0, LR, true), cmd(2.0, 0, true)],
            0.0,
            3.0,
        );
        assert_eq!(val(landing_ritual(&ctx)), some("present", 0.65));
    }

    #[test]
    fn landing_ritual_only_first_five_count() {
        let mut cmds: Vec<Command> = (0..5).map(|i| cmd(i as f64, 0, true)).collect();
        cmds[4].token_sets = TokenSets(LR);
        cmds.push(cmd(5.0, LR, true));
        cmds.push(cmd(6.0, LR, true));
        assert_eq!(
            val(landing_ritual(&ctx_with(cmds, 0.0, 7.0))),
            some("absent", 0.65)
        );
    }

    #[test]
    fn landing_ritual_confidence_edges() {
        let two = vec![cmd(0.0, LR, true), cmd(1.0, LR, true)];
        assert_eq!(
            val(landing_ritual(&ctx_with(two, 0.0, 2.0))),
            some("present", 0.40)
        );
        let one = vec![cmd(0.0, LR, true)];
        assert_eq!(
            val(landing_ritual(&ctx_with(one, 0.0, 2.0))),
            some("absent", 0.40)
        );
    }

    // ---- exit_behavior ----------------------------------------------------

    const GE: u16 = TokenSets::GRACEFUL_EXIT;
    const CL: u16 = TokenSets::CLEANUP;

    #[test]
    fn exit_behavior_skips_without_commands() {
        assert_eq!(val(exit_behavior(&SessionCtx::default())), None);
    }

    #[test]
    fn exit_behavior_no_prompt_is_abrupt_even_for_exit_and_cleanup() {
        let ctx = ctx_with(vec![cmd(0.0, CL, true), cmd(1.0, GE | CL, false)], 0.0, 2.0);
        assert_eq!(val(exit_behavior(&ctx)), some("abrupt", 0.45));
    }

    #[test]
    fn exit_behavior_exit_token_beats_cleanup() {
        let ctx = ctx_with(vec![cmd(0.0, CL, true), cmd(1.0, GE, true)], 0.0, 2.0);
        assert_eq!(val(exit_behavior(&ctx)), some("graceful", 0.65));
    }

    #[test]
    fn exit_behavior_cleanup_lookback_edges() {
        // CLEANUP third from last: inside the lookback of 3.
        let cmds = vec![cmd(0.0, CL, true), cmd(1.0, 0, true), cmd(2.0, 0, true)];
        assert_eq!(
            val(exit_behavior(&ctx_with(cmds, 0.0, 3.0))),
            some("cleanup", 0.65)
        );
        // Fourth from last: outside, so plain graceful.
        let cmds = vec![
            cmd(0.0, CL, true),
            cmd(1.0, 0, true),
            cmd(2.0, 0, true),
            cmd(3.0, 0, true),
        ];
        assert_eq!(
            val(exit_behavior(&ctx_with(cmds, 0.0, 4.0))),
            some("graceful", 0.65)
        );
        // The last command itself counts.
        let cmds = vec![cmd(0.0, CL, true)];
        assert_eq!(
            val(exit_behavior(&ctx_with(cmds, 0.0, 1.0))),
            some("cleanup", 0.65)
        );
    }
}
