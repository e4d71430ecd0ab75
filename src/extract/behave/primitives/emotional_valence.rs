//! The `emotional_valence` primitives (spec/behave-shell.md §4.4.35–4.4.38).
//!
//! Pure: each function reads the shared [`SessionCtx`] and emits at most one
//! observation. The lexical counters come from typed (non-paste) input only
//! (spec §2.10). Every confidence here passes through the family cap
//! EMOTIONAL_VALENCE_CONFIDENCE_CAP; it never binds, but keeping it means a
//! change of the cap or of a literal stays a one-line edit.

use crate::extract::behave::ctx::SessionCtx;
use crate::extract::behave::numeric::{median_above, median_below, median_mut, py_min};
use crate::extract::behave::thresholds::{
    AROUSAL_BANG_RUN_MIN, AROUSAL_CALM_IAT_S, AROUSAL_CAPS_RUN_MIN, AROUSAL_FAST_IAT_S,
    AROUSAL_MIN_IATS, EMOTIONAL_VALENCE_CONFIDENCE_CAP, FRUST_VENT_FULL_CONFIDENCE_MIN,
    FRUST_VENT_MIN_TYPED_CHARS, STRESS_DISTRESS_RATIO_MIN, STRESS_EUSTRESS_RATIO_MIN,
    STRESS_MIN_ERRORED_WITH_IATS, VALENCE_FULL_CONFIDENCE_MIN, VALENCE_MIN_HITS,
    VALENCE_MIN_TYPED_CHARS,
};
use crate::model::observation::{Observation, Primitive};

/// An observation of this family, confidence capped (spec §4.4.35–38).
fn capped(primitive: Primitive, label: &'static str, conf: f64) -> Observation {
    Observation::label(
        primitive,
        label,
        py_min(EMOTIONAL_VALENCE_CONFIDENCE_CAP, conf),
    )
}

/// spec §4.4.35: positive vs negative lexemes in typed text.
pub fn valence(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let letters = ctx.typed_letter_count as usize;
    if letters < VALENCE_MIN_TYPED_CHARS {
        return None;
    }
    let p = ctx.positive_hits as usize;
    let n = ctx.negative_hits as usize + ctx.obscenity_hits as usize;
    let label = if p > n && p >= VALENCE_MIN_HITS {
        "positive"
    } else if n > p && n >= VALENCE_MIN_HITS {
        "negative"
    } else {
        "neutral"
    };
    let conf = if letters >= VALENCE_FULL_CONFIDENCE_MIN {
        0.50
    } else {
        0.30
    };
    Some(capped(Primitive::Valence, label, conf))
}

/// spec §4.4.36: typing tempo and shouting (caps, `!`) as arousal.
pub fn arousal(ctx: &SessionCtx<'_>) -> Option<Observation> {
    // No burst, no observation (the reference takes min() of no medians).
    if ctx.typing_bursts.is_empty() {
        return None;
    }
    let total = ctx.typing_bursts.values().len();
    let enough = total >= AROUSAL_MIN_IATS;
    // The burst medians decide the label only when neither run does and
    // there are enough IATs. Python's min()/max() over them then compare
    // with a threshold, which is whether any median is below (above) it:
    // IATs are never NaN (§2.2 floors them through max(0.0, ·)), so
    // neither are the medians. Each burst's median is compared, not taken.
    let any_median =
        |beyond: fn(&[f64], f64) -> bool, x: f64| ctx.typing_bursts.iter().any(|b| beyond(b, x));
    let label = if ctx.caps_run_max as usize >= AROUSAL_CAPS_RUN_MIN
        || ctx.bang_run_max as usize >= AROUSAL_BANG_RUN_MIN
    {
        "high_agitated"
    } else if !enough {
        "medium_engaged"
    } else if any_median(median_below, AROUSAL_FAST_IAT_S) {
        "high_agitated" // the fastest burst's median
    } else if any_median(median_above, AROUSAL_CALM_IAT_S) {
        "low_calm" // the slowest burst's median
    } else {
        "medium_engaged"
    };
    let conf = if enough { 0.50 } else { 0.30 };
    Some(capped(Primitive::Arousal, label, conf))
}

/// spec §4.4.37: typing rhythm right after an error vs elsewhere.
pub fn stress_response(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.commands.is_empty() {
        return None;
    }
    // Each side holds at most every IAT: room for that, in kept buffers.
    let n = ctx.intra_command_iats.values().len();
    let (mut post, mut base) = (ctx.take_f64s(n), ctx.take_f64s(n));
    let mut q = 0usize;
    for (i, iats) in ctx
        .intra_command_iats
        .iter()
        .enumerate()
        .take(ctx.commands.len())
    {
        let after_error = i > 0 && ctx.commands[i - 1].errored;
        if !after_error {
            base.extend_from_slice(iats);
        } else if !iats.is_empty() {
            post.extend_from_slice(iats);
            q += 1;
        }
        // A post-error command with no IATs (a paste) contributes nothing.
    }
    let label = if post.is_empty() || base.is_empty() {
        "none"
    } else {
        let (mp, mb) = (median_mut(&mut post), median_mut(&mut base));
        if mb <= 0.0 {
            "none"
        } else {
            let ratio = mp / mb;
            if ratio >= STRESS_EUSTRESS_RATIO_MIN {
                "eustress_positive"
            } else if ratio <= 1.0 / STRESS_DISTRESS_RATIO_MIN {
                "distress_negative"
            } else {
                "none"
            }
        }
    };
    ctx.put_f64s(post);
    ctx.put_f64s(base);
    let conf = if q >= STRESS_MIN_ERRORED_WITH_IATS {
        0.50
    } else {
        0.30
    };
    Some(capped(Primitive::StressResponse, label, conf))
}

/// spec §4.4.38: any typed obscenity.
pub fn frustration_venting(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let letters = ctx.typed_letter_count as usize;
    if letters < FRUST_VENT_MIN_TYPED_CHARS {
        return None;
    }
    let (label, conf) = if ctx.obscenity_hits >= 1 {
        ("detected", 0.40)
    } else if letters >= FRUST_VENT_FULL_CONFIDENCE_MIN {
        ("none", 0.50)
    } else {
        ("none", 0.30)
    };
    Some(capped(Primitive::FrustrationVenting, label, conf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::behave::ctx::{Command, TokenSets};

    fn val(o: Option<Observation>) -> Option<(String, f64)> {
        o.map(|o| (o.value.as_str().to_string(), o.confidence))
    }

    fn some(label: &str, conf: f64) -> Option<(String, f64)> {
        Some((label.to_string(), conf))
    }

    // ---- valence ----------------------------------------------------------

    fn valence_of(letters: u32, pos: u32, neg: u32, obs: u32) -> Option<(String, f64)> {
        val(valence(&SessionCtx {
            typed_letter_count: letters,
            positive_hits: pos,
            negative_hits: neg,
            obscenity_hits: obs,
            ..Default::default()
        }))
    }

    #[test]
    fn valence_typed_letter_edges() {
        assert_eq!(valence_of(79, 5, 0, 0), None);
        assert_eq!(valence_of(80, 5, 0, 0), some("positive", 0.30));
        assert_eq!(valence_of(199, 5, 0, 0), some("positive", 0.30));
        assert_eq!(valence_of(200, 5, 0, 0), some("positive", 0.50));
        assert_eq!(valence_of(201, 5, 0, 0), some("positive", 0.50));
    }

    #[test]
    fn valence_positive_hit_edges() {
        assert_eq!(valence_of(100, 1, 0, 0), some("neutral", 0.30));
        assert_eq!(valence_of(100, 2, 0, 0), some("positive", 0.30));
        assert_eq!(valence_of(100, 3, 2, 0), some("positive", 0.30));
        assert_eq!(valence_of(100, 2, 2, 0), some("neutral", 0.30));
    }

    #[test]
    fn valence_negative_counts_obscenity() {
        assert_eq!(valence_of(100, 0, 1, 0), some("neutral", 0.30));
        assert_eq!(valence_of(100, 0, 2, 0), some("negative", 0.30));
        assert_eq!(valence_of(100, 0, 1, 1), some("negative", 0.30));
        assert_eq!(valence_of(100, 0, 0, 2), some("negative", 0.30));
        assert_eq!(valence_of(100, 1, 1, 1), some("negative", 0.30));
        assert_eq!(valence_of(100, 2, 1, 1), some("neutral", 0.30));
    }

    // ---- arousal ----------------------------------------------------------

    fn arousal_of(bursts: Vec<Vec<f64>>, caps: u32, bang: u32) -> Option<(String, f64)> {
        val(arousal(&SessionCtx {
            typing_bursts: bursts.iter().collect(),
            caps_run_max: caps,
            bang_run_max: bang,
            ..Default::default()
        }))
    }

    /// `k` bursts of `len` IATs, each all equal to its own value from `vals`.
    fn bursts(vals: &[f64], len: usize) -> Vec<Vec<f64>> {
        vals.iter().map(|&v| vec![v; len]).collect()
    }

    #[test]
    fn arousal_skips_without_bursts() {
        assert_eq!(arousal_of(vec![], 9, 9), None);
    }

    #[test]
    fn arousal_caps_and_bang_edges() {
        let b = bursts(&[0.2], 3);
        assert_eq!(arousal_of(b.clone(), 4, 2), some("medium_engaged", 0.30));
        assert_eq!(arousal_of(b.clone(), 5, 0), some("high_agitated", 0.30));
        assert_eq!(arousal_of(b.clone(), 6, 0), some("high_agitated", 0.30));
        assert_eq!(arousal_of(b.clone(), 0, 3), some("high_agitated", 0.30));
        assert_eq!(arousal_of(b, 0, 4), some("high_agitated", 0.30));
    }

    #[test]
    fn arousal_iat_count_edges() {
        // 29 IATs: tempo is ignored, even a very fast one.
        assert_eq!(
            arousal_of(bursts(&[0.01], 29), 0, 0),
            some("medium_engaged", 0.30)
        );
        assert_eq!(
            arousal_of(bursts(&[0.01], 30), 0, 0),
            some("high_agitated", 0.50)
        );
        assert_eq!(
            arousal_of(bursts(&[0.01], 31), 0, 0),
            some("high_agitated", 0.50)
        );
        assert_eq!(
            arousal_of(bursts(&[0.9], 29), 0, 0),
            some("medium_engaged", 0.30)
        );
        assert_eq!(arousal_of(bursts(&[0.9], 30), 0, 0), some("low_calm", 0.50));
        // N is summed over all bursts.
        assert_eq!(
            arousal_of(bursts(&[0.01, 0.2], 15), 0, 0),
            some("high_agitated", 0.50)
        );
    }

    #[test]
    fn arousal_fast_edges() {
        // 0.06 itself is not fast (strict <).
        assert_eq!(
            arousal_of(bursts(&[0.06], 30), 0, 0),
            some("medium_engaged", 0.50)
        );
        assert_eq!(
            arousal_of(bursts(&[0.0599], 30), 0, 0),
            some("high_agitated", 0.50)
        );
        assert_eq!(
            arousal_of(bursts(&[0.0601], 30), 0, 0),
            some("medium_engaged", 0.50)
        );
    }

    #[test]
    fn arousal_slow_edges() {
        assert_eq!(
            arousal_of(bursts(&[0.3], 30), 0, 0),
            some("medium_engaged", 0.50)
        );
        assert_eq!(
            arousal_of(bursts(&[0.3001], 30), 0, 0),
            some("low_calm", 0.50)
        );
        assert_eq!(
            arousal_of(bursts(&[0.2999], 30), 0, 0),
            some("medium_engaged", 0.50)
        );
    }

    #[test]
    fn arousal_fast_uses_min_and_slow_uses_max_of_burst_medians() {
        // One fast burst among slow ones: agitated wins over calm.
        assert_eq!(
            arousal_of(bursts(&[0.9, 0.05, 0.9], 10), 0, 0),
            some("high_agitated", 0.50)
        );
        // One slow burst among medium ones: calm.
        assert_eq!(
            arousal_of(bursts(&[0.2, 0.2, 0.5], 10), 0, 0),
            some("low_calm", 0.50)
        );
        // Medians, not means: each burst has median 0.07 but mean 0.0424.
        let b = vec![vec![0.001, 0.07, 0.001, 0.07, 0.07]; 6];
        assert_eq!(arousal_of(b, 0, 0), some("medium_engaged", 0.50));
    }

    // ---- stress_response --------------------------------------------------

    fn cmd(errored: bool) -> Command {
        Command {
            start_ts: 0.0,
            end_ts: 0.0,
            first_token_hash: [0; 32],
            token_sets: TokenSets(0),
            tab_count: 0,
            shortcut_count: 0,
            pipe_count: 0,
            errored,
            output_chars: 0,
            followed_by_prompt: true,
        }
    }

    /// Commands as `(errored, intra IATs)`.
    fn stress_of(cmds: &[(bool, &[f64])]) -> Option<(String, f64)> {
        val(stress_response(&SessionCtx {
            commands: cmds.iter().map(|(e, _)| cmd(*e)).collect(),
            intra_command_iats: cmds.iter().map(|(_, i)| i.to_vec()).collect(),
            ..Default::default()
        }))
    }

    #[test]
    fn stress_skips_without_commands() {
        assert_eq!(stress_of(&[]), None);
    }

    #[test]
    fn stress_none_without_post_or_base_samples() {
        // No error at all: post is empty.
        assert_eq!(
            stress_of(&[(false, &[0.1]), (false, &[0.1])]),
            some("none", 0.30)
        );
        // Post-error command pasted (no IATs): post is empty.
        assert_eq!(
            stress_of(&[(true, &[0.1]), (false, &[])]),
            some("none", 0.30)
        );
        // Base empty: the first command has no IATs, the second is post-error.
        assert_eq!(
            stress_of(&[(true, &[]), (false, &[0.5])]),
            some("none", 0.30)
        );
    }

    #[test]
    fn stress_zero_base_median_is_none() {
        assert_eq!(
            stress_of(&[(true, &[0.0]), (false, &[0.5])]),
            some("none", 0.30)
        );
    }

    #[test]
    fn stress_eustress_ratio_edges() {
        // base 0.25; post 0.3 -> 1.2 (0.3/0.25 rounds to exactly 1.2): eustress.
        assert_eq!(
            stress_of(&[(true, &[0.25]), (false, &[0.3])]),
            some("eustress_positive", 0.30)
        );
        // post 0.296875 -> 1.1875: none.
        assert_eq!(
            stress_of(&[(true, &[0.25]), (false, &[0.296875])]),
            some("none", 0.30)
        );
        // post 0.3125 -> 1.25: eustress.
        assert_eq!(
            stress_of(&[(true, &[0.25]), (false, &[0.3125])]),
            some("eustress_positive", 0.30)
        );
    }

    #[test]
    fn stress_distress_ratio_edges() {
        // ratio exactly 1/1.2 in f64: 0.25 / 0.3 == 0.8333333333333334.
        assert_eq!(0.25 / 0.3, 1.0 / 1.2);
        assert_eq!(
            stress_of(&[(true, &[0.3]), (false, &[0.25])]),
            some("distress_negative", 0.30)
        );
        // 0.84375 (post 0.84375, base 1): none.
        assert_eq!(
            stress_of(&[(true, &[1.0]), (false, &[0.84375])]),
            some("none", 0.30)
        );
        // 0.8125: distress.
        assert_eq!(
            stress_of(&[(true, &[1.0]), (false, &[0.8125])]),
            some("distress_negative", 0.30)
        );
        // Between the two thresholds: none.
        assert_eq!(
            stress_of(&[(true, &[1.0]), (false, &[1.0])]),
            some("none", 0.30)
        );
    }

    #[test]
    fn stress_post_error_command_is_not_baseline() {
        // Command 2 follows an error: its IATs go to post, not base.
        let c: [(bool, &[f64]); 3] = [(true, &[1.0]), (true, &[2.0]), (false, &[2.0])];
        // base = [1.0]; post = [2.0, 2.0]: ratio 2 -> eustress, q = 2.
        assert_eq!(stress_of(&c), some("eustress_positive", 0.50));
    }

    #[test]
    fn stress_uses_medians() {
        // base = [1, 1, 10] (median 1, mean 4); post = [1.5]: eustress.
        let c: [(bool, &[f64]); 2] = [(true, &[1.0, 1.0, 10.0]), (false, &[1.5])];
        assert_eq!(stress_of(&c), some("eustress_positive", 0.30));
    }

    #[test]
    fn stress_confidence_counts_post_commands_with_iats() {
        let one: [(bool, &[f64]); 3] = [(true, &[1.0]), (true, &[2.0]), (false, &[])];
        assert_eq!(stress_of(&one), some("eustress_positive", 0.30));
        let two: [(bool, &[f64]); 3] = [(true, &[1.0]), (true, &[2.0]), (false, &[2.0])];
        assert_eq!(stress_of(&two), some("eustress_positive", 0.50));
        let three: [(bool, &[f64]); 4] = [
            (true, &[1.0]),
            (true, &[2.0]),
            (true, &[2.0]),
            (false, &[2.0]),
        ];
        assert_eq!(stress_of(&three), some("eustress_positive", 0.50));
    }

    // ---- frustration_venting ----------------------------------------------

    fn venting_of(letters: u32, obs: u32) -> Option<(String, f64)> {
        val(frustration_venting(&SessionCtx {
            typed_letter_count: letters,
            obscenity_hits: obs,
            negative_hits: 7,
            ..Default::default()
        }))
    }

    #[test]
    fn venting_typed_letter_edges() {
        assert_eq!(venting_of(29, 1), None);
        assert_eq!(venting_of(30, 1), some("detected", 0.40));
        assert_eq!(venting_of(31, 0), some("none", 0.30));
    }

    #[test]
    fn venting_detected_confidence_does_not_grow() {
        assert_eq!(venting_of(500, 1), some("detected", 0.40));
        assert_eq!(venting_of(500, 3), some("detected", 0.40));
    }

    #[test]
    fn venting_none_confidence_edges() {
        assert_eq!(venting_of(199, 0), some("none", 0.30));
        assert_eq!(venting_of(200, 0), some("none", 0.50));
        assert_eq!(venting_of(201, 0), some("none", 0.50));
    }
}
