//! The `cognitive` primitives (spec/behave-shell.md §4.4.11–§4.4.21): how
//! the attacker thinks between commands — pacing, vocabulary, feedback use,
//! planning and the reaction to errors.
//!
//! Pure: each function reads the shared [`SessionCtx`] and emits at most one
//! observation. Vocabulary is compared through first-token hashes and the
//! precomputed [`TokenSets`] flags (spec §4.3), never through token text.
//! Confidence literals are the reference's, hard-coded in each feature (spec
//! §2.12, bottom list).

use crate::extract::behave::ctx::{Command, SessionCtx, TokenIds, TokenSets};
use crate::extract::behave::numeric::{
    correlation_with_means, fsum, fsum_counts, median, median_bucket, median_mut, py_max, py_min,
    InfiniteMean,
};
use crate::extract::behave::thresholds::{
    BRANCH_DIVERSITY_LINEAR_MIN, COGNITIVE_LOAD_CHUNKING_REF_CV, COGNITIVE_LOAD_LOW_MAX,
    COGNITIVE_LOAD_MEDIUM_MAX, COGNITIVE_LOAD_PACE_REF_CV, EXPLORATION_CHAOTIC_BACKTRACK_MIN,
    EXPLORATION_TARGETED_REP_MIN, FEEDBACK_CORRELATION_MIN, FEEDBACK_MIN_PAIRS,
    FRUSTRATION_LOW_MAX, FRUSTRATION_MODERATE_MAX, IKI_THINK_MAX_S, INTER_CMD_DELIBERATE_MAX,
    INTER_CMD_INSTANT_MAX, INTER_CMD_LLM_HEAVYWEIGHT_MAX, INTER_CMD_LLM_LIGHTWEIGHT_MAX,
    INTER_CMD_TYPING_MAX, MIN_COMMANDS_FOR_FULL_CONFIDENCE, PAUSE_CV_BIMODAL_MIN,
    PAUSE_CV_METRONOMIC_MAX, PLANNING_DEEP_MIN, PLANNING_REACTIVE_MIN, TOOL_VOCAB_BROAD_MIN,
    TOOL_VOCAB_NARROW_MAX,
};
use crate::model::observation::{Observation, Primitive};

/// Confidence of the `unknown` value (spec §4.4.12, §4.4.13): the reference
/// is certain that it cannot tell.
const UNKNOWN_CONFIDENCE: f64 = 1.0;

/// `n / d` as Python's true division of two ints.
fn ratio(n: usize, d: usize) -> f64 {
    n as f64 / d as f64
}

/// The common two-step confidence: `low` when `n` (commands, or errored
/// commands, or post-error samples) is below MIN_COMMANDS_FOR_FULL_CONFIDENCE.
fn by_count(n: usize, low: f64, full: f64) -> f64 {
    if n < MIN_COMMANDS_FOR_FULL_CONFIDENCE {
        low
    } else {
        full
    }
}

/// spec §4.4.11: the median pause between commands, as a speed class.
pub fn inter_command_latency_class(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.inter_cmd_iats.is_empty() {
        return None;
    }
    // Upper bounds are inclusive (spec §4.4.11 step 2): the bucket of the
    // median, found without taking it.
    const EDGES: [f64; 5] = [
        INTER_CMD_INSTANT_MAX,
        INTER_CMD_TYPING_MAX,
        INTER_CMD_DELIBERATE_MAX,
        INTER_CMD_LLM_LIGHTWEIGHT_MAX,
        INTER_CMD_LLM_HEAVYWEIGHT_MAX,
    ];
    const LABELS: [&str; 6] = [
        "instant",
        "typing_speed",
        "deliberate",
        "llm_lightweight",
        "llm_heavyweight",
        "long",
    ];
    let label = LABELS[median_bucket(&ctx.inter_cmd_iats, &EDGES, true)];
    let conf = by_count(ctx.commands.len(), 0.40, 0.80);
    Some(Observation::label(
        Primitive::InterCommandLatencyClass,
        label,
        conf,
    ))
}

/// spec §4.4.12: the share of distinct first tokens. A high share means a
/// scripted run of different tools (`linear_playbook`), as the reference has it.
pub fn command_branch_diversity(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    if k < MIN_COMMANDS_FOR_FULL_CONFIDENCE {
        return Some(Observation::label(
            Primitive::CommandBranchDiversity,
            "unknown",
            UNKNOWN_CONFIDENCE,
        ));
    }
    let label = if ratio(ctx.token_ids().distinct, k) >= BRANCH_DIVERSITY_LINEAR_MIN {
        "linear_playbook"
    } else {
        "adaptive_branching"
    };
    Some(Observation::label(
        Primitive::CommandBranchDiversity,
        label,
        0.80,
    ))
}

/// True when CPython's `math.fsum` raises on these summands: `+inf` with
/// `-inf` (`ValueError`), or finite summands whose partial sums overflow
/// (`OverflowError`), also next to an infinite summand (exact; see
/// [`crate::extract::behave::numeric::fsum_raises`]).
fn fsum_raises(xs: &[f64]) -> bool {
    crate::extract::behave::numeric::fsum_raises(xs)
}

/// True when CPython 3.11's `statistics.correlation(x, y)` raises for a
/// reason other than a zero denominator: one of its five `fsum`s (spec
/// §2.11) raises. Products of huge gaps overflow to infinities of both signs,
/// so this happens with finite but absurd event times (around 1e308).
fn correlation_raises(x: &[f64], y: &[f64]) -> bool {
    if x.is_empty() {
        return false;
    }
    // Below TAME_TIME_MAX (1e100) in magnitude (NaN fails the test) nothing
    // can raise: the means stay below 1e100, deviations below 2e100, their
    // products below 4e200, and no sum of fewer than 2^64 of them nears the
    // f64 range.
    if x.iter()
        .chain(y)
        .all(|v| v.abs() < crate::extract::behave::TAME_TIME_MAX)
    {
        return false;
    }
    correlation_fsums_raise(x, y)
}

/// The five `fsum`s of `statistics.correlation`, each checked.
fn correlation_fsums_raise(x: &[f64], y: &[f64]) -> bool {
    if fsum_raises(x) || fsum_raises(y) {
        return true;
    }
    let n = x.len() as f64;
    let (xbar, ybar) = (fsum(x) / n, fsum(y) / n);
    let dx: Vec<f64> = x.iter().map(|xi| xi - xbar).collect();
    let dy: Vec<f64> = y.iter().map(|yi| yi - ybar).collect();
    let sxy: Vec<f64> = dx.iter().zip(&dy).map(|(a, b)| a * b).collect();
    let sxx: Vec<f64> = dx.iter().map(|a| a * a).collect();
    let syy: Vec<f64> = dy.iter().map(|b| b * b).collect();
    fsum_raises(&sxy) || fsum_raises(&sxx) || fsum_raises(&syy)
}

/// The `(x, y)` series of spec §4.4.13 step 3, or `None` when step 2 stops
/// before any correlation is computed.
fn feedback_pairs<'c>(ctx: &'c SessionCtx<'_>) -> Option<(Vec<f64>, &'c [f64])> {
    // zip() of the two K-1 series.
    let pairs = ctx.output_per_cmd.len().min(ctx.inter_cmd_iats.len());
    if ctx.outputs.is_empty() || pairs < FEEDBACK_MIN_PAIRS {
        return None;
    }
    let x = ctx.output_per_cmd[..pairs]
        .iter()
        .map(|&b| b as f64)
        .collect();
    Some((x, &ctx.inter_cmd_iats[..pairs]))
}

/// True when the reference's `feedback_loop_engagement` raises instead of
/// returning (see `correlation_raises`). The reference then emits nothing
/// for the whole session, so the session driver should check this; the
/// primitive itself just skips.
pub fn feedback_loop_engagement_raises(ctx: &SessionCtx<'_>) -> bool {
    feedback_pairs(ctx).is_some_and(|(x, y)| correlation_raises(&x, y))
}

/// spec §4.4.13: whether bigger outputs are followed by longer pauses (the
/// attacker reads the output).
pub fn feedback_loop_engagement(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let unknown = || {
        Observation::label(
            Primitive::FeedbackLoopEngagement,
            "unknown",
            UNKNOWN_CONFIDENCE,
        )
    };
    let Some((x, y)) = feedback_pairs(ctx) else {
        // No output at all, or too few pairs: skip only when K = 0.
        return (!ctx.commands.is_empty()).then(unknown);
    };
    // Where the reference raises, skip (see `feedback_loop_engagement_raises`).
    if correlation_raises(&x, y) {
        return None;
    }
    // Zero denominator: Python raises, the reference reports `unknown`.
    // The means: x holds counts, and y is every inter-command IAT (both
    // series are K - 1 long), whose spread the context keeps.
    let n = x.len() as f64;
    let xbar = fsum_counts(&ctx.output_per_cmd[..x.len()]) / n;
    let ybar = ctx.inter_cmd_spread().mean;
    debug_assert_eq!(y.len(), ctx.inter_cmd_iats.len());
    let Some(r) = correlation_with_means(&x, y, xbar, ybar) else {
        return Some(unknown());
    };
    // Strict; a negative (or NaN) r is fire_and_forget too.
    let label = if r > FEEDBACK_CORRELATION_MIN {
        "closed_loop"
    } else {
        "fire_and_forget"
    };
    Some(Observation::label(
        Primitive::FeedbackLoopEngagement,
        label,
        0.75,
    ))
}

/// True when the reference's `inter_command_consistency` raises instead of
/// returning (see `Spread::cv`; only with non-finite or absurd, around 1e308,
/// event times). The reference then emits nothing for the whole session, so
/// the session driver should check this; the primitive itself just skips.
pub fn inter_command_consistency_raises(ctx: &SessionCtx<'_>) -> bool {
    ctx.inter_cmd_spread().cv(true).is_err()
}

/// spec §4.4.14: how regular the pauses between commands are.
pub fn inter_command_consistency(ctx: &SessionCtx<'_>) -> Option<Observation> {
    // spec §2.11: sample stdev here.
    // Where the reference raises, skip (see `inter_command_consistency_raises`).
    let cv = ctx.inter_cmd_spread().cv(true).ok()??;
    let label = if cv < PAUSE_CV_METRONOMIC_MAX {
        "metronomic"
    } else if cv >= PAUSE_CV_BIMODAL_MIN {
        "bimodal"
    } else {
        "variable"
    };
    let conf = by_count(ctx.commands.len(), 0.40, 0.75);
    Some(Observation::label(
        Primitive::InterCommandConsistency,
        label,
        conf,
    ))
}

/// Clamp to [0, 1] the way `max(0.0, min(1.0, x))` does in Python.
fn clip01(x: f64) -> f64 {
    py_max(0.0, py_min(1.0, x))
}

/// The `load` score of spec §4.4.15 steps 2–5: the mean of the components
/// present, summed in the order A, B, C. `Ok(None)` when `K = 0`.
fn load_score(ctx: &SessionCtx<'_>) -> Result<Option<f64>, InfiniteMean> {
    let k = ctx.commands.len();
    if k == 0 {
        return Ok(None);
    }
    let mut chunking = ctx.take_f64s(k);
    // Commands with fewer than two IATs have no CV.
    for spread in ctx.intra_spreads().flatten() {
        chunking.extend(spread.cv(true)?);
    }
    let a = (!chunking.is_empty())
        .then(|| clip01(median_mut(&mut chunking) / COGNITIVE_LOAD_CHUNKING_REF_CV));
    ctx.put_f64s(chunking);
    let errored = ctx.commands.iter().filter(|c| c.errored).count();
    let b = Some(clip01(ratio(errored, k)));
    let c = ctx
        .inter_cmd_spread()
        .cv(true)?
        .map(|cv| clip01(cv / COGNITIVE_LOAD_PACE_REF_CV));
    // A plain left-to-right f64 sum, as Python's sum() (spec §4.4.15 step 5).
    let (total, present) = [a, b, c]
        .into_iter()
        .flatten()
        .fold((0.0, 0), |(acc, n), v| (acc + v, n + 1));
    Ok(Some(total / f64::from(present)))
}

/// True when the reference's `cognitive_load` raises instead of returning
/// (see `Spread::cv`; only with non-finite or absurd, around 1e308, event
/// times). The reference then emits nothing for the whole session, so the
/// session driver should check this; the primitive itself just skips.
pub fn cognitive_load_raises(ctx: &SessionCtx<'_>) -> bool {
    load_score(ctx).is_err()
}

/// spec §4.4.15: a blend of fragmented typing, error rate and erratic pacing.
pub fn cognitive_load(ctx: &SessionCtx<'_>) -> Option<Observation> {
    // Where the reference raises, skip (see `cognitive_load_raises`).
    let load = load_score(ctx).ok()??;
    let label = if load < COGNITIVE_LOAD_LOW_MAX {
        "low"
    } else if load < COGNITIVE_LOAD_MEDIUM_MAX {
        "medium"
    } else {
        "high"
    };
    let conf = by_count(ctx.commands.len(), 0.40, 0.60);
    Some(Observation::label(Primitive::CognitiveLoad, label, conf))
}

/// Backtracks of spec §4.4.16 step 2: returns to an earlier, different tool.
fn backtracks(tokens: &TokenIds) -> usize {
    let Some((&first, rest)) = tokens.ids.split_first() else {
        return 0;
    };
    let mut seen = vec![false; tokens.distinct];
    seen[first as usize] = true;
    let mut count = 0;
    let mut prev = first;
    for &cur in rest {
        if cur != prev && seen[cur as usize] {
            count += 1;
        }
        seen[cur as usize] = true;
        prev = cur;
    }
    count
}

/// spec §4.4.16: repetition and backtracking in the tool sequence.
pub fn exploration_style(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    let tokens = ctx.token_ids();
    let rep = 1.0 - ratio(tokens.distinct, k);
    let jump = if k == 1 {
        0.0
    } else {
        ratio(backtracks(tokens), k - 1)
    };
    let label = if jump >= EXPLORATION_CHAOTIC_BACKTRACK_MIN {
        "chaotic"
    } else if rep >= EXPLORATION_TARGETED_REP_MIN {
        "targeted"
    } else {
        "methodical"
    };
    let conf = by_count(k, 0.40, 0.60);
    Some(Observation::label(Primitive::ExplorationStyle, label, conf))
}

/// spec §4.4.17: the share of long think-pauses versus instant follow-ups.
pub fn planning_depth(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let gaps = &ctx.inter_cmd_iats;
    if gaps.is_empty() {
        return None;
    }
    let n = gaps.len();
    let deep = ratio(gaps.iter().filter(|&&x| x > IKI_THINK_MAX_S).count(), n);
    let reactive = ratio(
        gaps.iter().filter(|&&x| x <= INTER_CMD_INSTANT_MAX).count(),
        n,
    );
    let label = if deep >= PLANNING_DEEP_MIN {
        "deep"
    } else if reactive >= PLANNING_REACTIVE_MIN {
        "reactive"
    } else {
        "shallow"
    };
    let conf = by_count(ctx.commands.len(), 0.40, 0.65);
    Some(Observation::label(Primitive::PlanningDepth, label, conf))
}

/// spec §4.4.18: the absolute number of distinct first tokens.
pub fn tool_vocabulary(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    let u = ctx.token_ids().distinct;
    let label = if u <= TOOL_VOCAB_NARROW_MAX {
        "narrow"
    } else if u >= TOOL_VOCAB_BROAD_MIN {
        "broad"
    } else {
        "moderate"
    };
    let conf = by_count(k, 0.40, 0.70);
    Some(Observation::label(Primitive::ToolVocabulary, label, conf))
}

/// The errored commands, each with the command that follows it (if any).
fn errored_with_next(commands: &[Command]) -> impl Iterator<Item = (&Command, Option<&Command>)> {
    commands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.errored)
        .map(|(i, c)| (c, commands.get(i + 1)))
}

/// spec §4.4.19: what follows an error — the same tool again, another
/// tool, or nothing.
pub fn retry_tactic(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let (mut rerun, mut switch, mut abort) = (0usize, 0usize, 0usize);
    for (cmd, next) in errored_with_next(&ctx.commands) {
        match next {
            None => abort += 1,
            Some(n) if n.first_token_hash == cmd.first_token_hash => rerun += 1,
            Some(_) => switch += 1,
        }
    }
    let errored = rerun + switch + abort;
    if errored == 0 {
        return None;
    }
    // Highest count wins; ties go to the earlier of rerun, switch, abort.
    // `modify` is never produced by the reference.
    let mut best = ("rerun", rerun);
    for cand in [("switch", switch), ("abort", abort)] {
        if cand.1 > best.1 {
            best = cand;
        }
    }
    let conf = by_count(errored, 0.40, 0.65);
    Some(Observation::label(Primitive::RetryTactic, best.0, conf))
}

/// spec §4.4.20: how much the typing rhythm changes after an error compared
/// with after a success.
pub fn frustration_typing(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.commands.len() < 2 {
        return None;
    }
    let k = ctx.commands.len();
    // Each command after the first that holds IATs, with the command
    // before it.
    let after = || {
        ctx.intra_command_iats
            .iter()
            .skip(1)
            .zip(&ctx.commands)
            .filter(|(iats, _)| !iats.is_empty())
    };
    // Both sides must hold one, else there is no observation: checked
    // before any median is taken.
    let sides = after().fold((false, false), |(err, ok), (_, prev)| {
        (err | prev.errored, ok | !prev.errored)
    });
    if sides != (true, true) {
        return None;
    }
    let (mut post_err, mut post_ok) = (ctx.take_f64s(k), ctx.take_f64s(k));
    for (iats, prev) in after() {
        let m = median(iats);
        if prev.errored {
            post_err.push(m);
        } else {
            post_ok.push(m);
        }
    }
    let a = median_mut(&mut post_err);
    let b = median_mut(&mut post_ok);
    let errored = post_err.len();
    ctx.put_f64s(post_err);
    ctx.put_f64s(post_ok);
    if b <= 0.0 {
        return None;
    }
    let delta = (a - b).abs() / b;
    let label = if delta < FRUSTRATION_LOW_MAX {
        "low"
    } else if delta < FRUSTRATION_MODERATE_MAX {
        "moderate"
    } else {
        "high"
    };
    let conf = by_count(errored, 0.40, 0.60);
    Some(Observation::label(
        Primitive::FrustrationTyping,
        label,
        conf,
    ))
}

/// spec §4.4.21: whether an error is followed by `man`, `help` or `info`.
pub fn fallback_to_man(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let mut errored = 0usize;
    let mut present = false;
    for (_, next) in errored_with_next(&ctx.commands) {
        errored += 1;
        present |= next.is_some_and(|n| n.token_sets.has(TokenSets::HELP_FAMILY));
    }
    if errored == 0 {
        return None;
    }
    let label = if present { "present" } else { "absent" };
    let conf = by_count(errored, 0.40, 0.65);
    Some(Observation::label(Primitive::FallbackToMan, label, conf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{Channel, Event};

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

    /// A command whose first token hash is `[tok; 32]`.
    fn cmd(tok: u8) -> Command {
        Command {
            start_ts: 0.0,
            end_ts: 0.0,
            first_token_hash: [tok; 32],
            token_sets: TokenSets::default(),
            tab_count: 0,
            shortcut_count: 0,
            pipe_count: 0,
            errored: false,
            output_chars: 0,
            followed_by_prompt: false,
        }
    }

    fn err(tok: u8) -> Command {
        Command {
            errored: true,
            ..cmd(tok)
        }
    }

    fn help(tok: u8) -> Command {
        Command {
            token_sets: TokenSets(TokenSets::HELP_FAMILY),
            ..cmd(tok)
        }
    }

    /// Commands with first tokens from a string, one letter per command.
    fn seq(s: &str) -> Vec<Command> {
        s.bytes().map(cmd).collect()
    }

    fn cmds(k: usize) -> Vec<Command> {
        (0..k).map(|_| cmd(0)).collect()
    }

    // ---- §4.4.11 inter_command_latency_class -----------------------------

    fn latency(k: usize, gaps: &[f64]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands: cmds(k),
            inter_cmd_iats: gaps.to_vec(),
            ..Default::default()
        };
        got(
            inter_command_latency_class(&ctx),
            Primitive::InterCommandLatencyClass,
        )
    }

    #[test]
    fn latency_class_skips_with_fewer_than_two_commands() {
        assert_eq!(latency(1, &[]), None);
    }

    #[test]
    fn latency_class_upper_bounds_are_inclusive() {
        let classes = [
            (0.30f64, "instant", "typing_speed"),
            (1.50, "typing_speed", "deliberate"),
            (2.00, "deliberate", "llm_lightweight"),
            (8.00, "llm_lightweight", "llm_heavyweight"),
            (30.00, "llm_heavyweight", "long"),
        ];
        for (edge, at, above) in classes {
            assert_eq!(
                latency(5, &[edge.next_down(); 4]),
                want(at, 0.80),
                "below {edge}"
            );
            assert_eq!(latency(5, &[edge; 4]), want(at, 0.80), "at {edge}");
            assert_eq!(
                latency(5, &[edge.next_up(); 4]),
                want(above, 0.80),
                "above {edge}"
            );
        }
        assert_eq!(latency(2, &[0.0]), want("instant", 0.40));
        assert_eq!(latency(2, &[f64::INFINITY]), want("long", 0.40));
    }

    #[test]
    fn latency_class_uses_median_and_command_count() {
        // median of [0.1, 5, 100] is 5; mean would be "long".
        assert_eq!(
            latency(4, &[0.1, 100.0, 5.0]),
            want("llm_lightweight", 0.40)
        );
        assert_eq!(
            latency(5, &[0.1, 100.0, 5.0, 5.0]),
            want("llm_lightweight", 0.80)
        );
    }

    // ---- §4.4.12 command_branch_diversity --------------------------------

    fn diversity(s: &str) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands: seq(s),
            ..Default::default()
        };
        got(
            command_branch_diversity(&ctx),
            Primitive::CommandBranchDiversity,
        )
    }

    #[test]
    fn branch_diversity_unknown_below_five_commands() {
        assert_eq!(diversity(""), None);
        assert_eq!(diversity("a"), want("unknown", 1.0));
        assert_eq!(diversity("abcd"), want("unknown", 1.0));
    }

    #[test]
    fn branch_diversity_linear_edge_is_inclusive() {
        assert_eq!(diversity("abcdefgaaa"), want("linear_playbook", 0.80)); // 7/10
        assert_eq!(diversity("abcdefaaaa"), want("adaptive_branching", 0.80)); // 6/10
        assert_eq!(diversity("abcdefghaa"), want("linear_playbook", 0.80)); // 8/10
        assert_eq!(diversity("aaaaa"), want("adaptive_branching", 0.80));
    }

    // ---- §4.4.13 feedback_loop_engagement --------------------------------

    fn feedback(k: usize, with_output: bool, sizes: &[u64], gaps: &[f64]) -> Option<(String, f64)> {
        let outputs = if with_output {
            vec![Event::new(0.0, Channel::Output, &[])]
        } else {
            vec![]
        };
        let ctx = SessionCtx {
            commands: cmds(k),
            outputs,
            output_per_cmd: sizes.to_vec(),
            inter_cmd_iats: gaps.to_vec(),
            ..Default::default()
        };
        got(
            feedback_loop_engagement(&ctx),
            Primitive::FeedbackLoopEngagement,
        )
    }

    const SIZES: [u64; 5] = [8, 9, 10, 11, 12];

    /// Gaps `10 + d` whose Pearson r with SIZES is exactly r (sxx = syy = 10).
    fn gaps(devs: [f64; 5]) -> Vec<f64> {
        devs.iter().map(|d| 10.0 + d).collect()
    }

    #[test]
    fn feedback_skips_only_without_commands() {
        assert_eq!(feedback(0, true, &[], &[]), None);
        assert_eq!(feedback(0, false, &[], &[]), None);
    }

    #[test]
    fn feedback_unknown_without_output_or_pairs() {
        let g = gaps([-2.0, -1.0, 0.0, 1.0, 2.0]);
        assert_eq!(feedback(6, false, &SIZES, &g), want("unknown", 1.0));
        assert_eq!(
            feedback(5, true, &SIZES[..4], &g[..4]),
            want("unknown", 1.0)
        );
        assert_eq!(feedback(1, true, &[], &[]), want("unknown", 1.0));
        assert_eq!(feedback(6, true, &SIZES, &g), want("closed_loop", 0.75));
    }

    #[test]
    fn feedback_unknown_when_correlation_undefined() {
        assert_eq!(
            feedback(6, true, &[7; 5], &gaps([-2.0, -1.0, 0.0, 1.0, 2.0])),
            want("unknown", 1.0)
        );
        assert_eq!(feedback(6, true, &SIZES, &[3.0; 5]), want("unknown", 1.0));
    }

    #[test]
    fn feedback_closed_loop_edge_is_strict() {
        assert_eq!(
            feedback(6, true, &SIZES, &gaps([-2.0, 1.0, 2.0, -1.0, 0.0])),
            want("fire_and_forget", 0.75)
        ); // 0.2
        assert_eq!(
            feedback(6, true, &SIZES, &gaps([-2.0, 0.0, 2.0, 1.0, -1.0])),
            want("fire_and_forget", 0.75)
        ); // 0.3
        assert_eq!(
            feedback(6, true, &SIZES, &gaps([-2.0, 0.0, 1.0, 2.0, -1.0])),
            want("closed_loop", 0.75)
        ); // 0.4
        assert_eq!(
            feedback(6, true, &SIZES, &gaps([2.0, 1.0, 0.0, -1.0, -2.0])),
            want("fire_and_forget", 0.75)
        ); // -1
    }

    #[test]
    fn correlation_below_1e100_never_raises() {
        // The shortcut in `correlation_raises` against the five checked
        // fsums: series of every length up to 40 with values up to just
        // under 1e100 of both signs never raise; one value past it can.
        let mut next = crate::extract::xorshift(0x2545_F491_4F6C_DD1Du64);
        let edge = 9.999_999_999_999_999e99;
        for round in 0..2000 {
            let n = 1 + (next() % 40) as usize;
            let mut v = |_| match next() % 4 {
                0 => edge,
                1 => -edge,
                2 => (next() % 1000) as f64 * 1e-3,
                _ => f64::from_bits(next() >> 2) % edge,
            };
            let x: Vec<f64> = (0..n).map(&mut v).collect();
            let y: Vec<f64> = (0..n).map(&mut v).collect();
            assert!(
                !correlation_fsums_raise(&x, &y),
                "round {round}: {x:?} {y:?}"
            );
        }
        assert!(correlation_raises(&[1.7e308, 1.7e308], &[1.0, 2.0]));
        assert!(correlation_fsums_raise(&[1.7e308, 1.7e308], &[1.0, 2.0]));
    }

    #[test]
    fn fsum_raise_detection() {
        let inf = f64::INFINITY;
        assert!(fsum_raises(&[1.0, inf, -inf]));
        assert!(!fsum_raises(&[1.0, inf, inf]));
        assert!(fsum_raises(&[1.7e308, 1.7e308]));
        assert!(!fsum_raises(&[1.7e308, -1.7e308, 1.0]));
        assert!(!fsum_raises(&[]));
    }

    #[test]
    fn feedback_raises_when_products_overflow_both_ways() {
        // One absurd gap: its deviation times the output deviations overflows
        // to +inf and -inf, and CPython's fsum raises `-inf + inf`.
        let sizes = [17, 5, 1835, 439, 2000];
        let g = [2.5, 0.5, 1.7e308, 0.0, 2.2];
        let c = SessionCtx {
            commands: cmds(6),
            outputs: vec![Event::new(0.0, Channel::Output, &[])],
            output_per_cmd: sizes.to_vec(),
            inter_cmd_iats: g.to_vec(),
            ..Default::default()
        };
        assert!(feedback_loop_engagement_raises(&c));
        assert_eq!(feedback_loop_engagement(&c), None);
        // Ordinary data never raises; too few pairs never correlate.
        let c = SessionCtx {
            inter_cmd_iats: gaps([-2.0, -1.0, 0.0, 1.0, 2.0]),
            ..c
        };
        assert!(!feedback_loop_engagement_raises(&c));
        let c = SessionCtx {
            inter_cmd_iats: vec![1.7e308; 4],
            output_per_cmd: vec![1, 2, 3, 4],
            ..c
        };
        assert!(!feedback_loop_engagement_raises(&c));
    }

    // ---- §4.4.14 inter_command_consistency -------------------------------

    fn consistency(k: usize, g: &[f64]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands: cmds(k),
            inter_cmd_iats: g.to_vec(),
            ..Default::default()
        };
        got(
            inter_command_consistency(&ctx),
            Primitive::InterCommandConsistency,
        )
    }

    /// `k` copies of `c` then `z` zeros: sample CV^2 = n(n-k) / (k(n-1)).
    fn zeros_and(c: f64, k: usize, z: usize) -> Vec<f64> {
        let mut v = vec![c; k];
        v.extend(std::iter::repeat_n(0.0, z));
        v
    }

    #[test]
    fn consistency_skips() {
        assert_eq!(consistency(2, &[1.0]), None);
        assert_eq!(consistency(3, &[0.0, 0.0]), None);
        assert_eq!(consistency(3, &[1.0, 1.0]), want("metronomic", 0.40));
    }

    #[test]
    fn consistency_metronomic_edge_is_strict() {
        assert_eq!(consistency(4, &[3.0, 5.0, 7.0]), want("variable", 0.40)); // sample CV 0.4
        assert_eq!(consistency(4, &[3.01, 5.0, 6.99]), want("metronomic", 0.40));
        assert_eq!(consistency(4, &[2.99, 5.0, 7.01]), want("variable", 0.40));
        // Population stdev would give 0.327 → metronomic: the sample one is used.
        assert_eq!(consistency(4, &[3.0, 5.0, 7.0]), want("variable", 0.40));
    }

    #[test]
    fn consistency_bimodal_edge_is_inclusive() {
        assert_eq!(
            consistency(10, &zeros_and(3.0, 3, 6)),
            want("bimodal", 0.75)
        ); // 1.5
        assert_eq!(
            consistency(9, &zeros_and(3.0, 3, 5)),
            want("variable", 0.75)
        ); // 1.38
        assert_eq!(
            consistency(11, &zeros_and(3.0, 3, 7)),
            want("bimodal", 0.75)
        ); // 1.61
    }

    // ---- §4.4.15 cognitive_load ------------------------------------------

    fn load(commands: Vec<Command>, intra: &[&[f64]], inter: &[f64]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands,
            intra_command_iats: intra.iter().map(|x| x.to_vec()).collect(),
            inter_cmd_iats: inter.to_vec(),
            ..Default::default()
        };
        got(cognitive_load(&ctx), Primitive::CognitiveLoad)
    }

    fn with_errors(k: usize, errored: usize) -> Vec<Command> {
        (0..k)
            .map(|i| if i < errored { err(0) } else { cmd(0) })
            .collect()
    }

    #[test]
    fn cognitive_load_skips_without_commands() {
        assert_eq!(load(vec![], &[], &[]), None);
    }

    #[test]
    fn cognitive_load_error_component_alone() {
        assert_eq!(load(with_errors(1, 0), &[], &[]), want("low", 0.40));
        assert_eq!(load(with_errors(1, 1), &[], &[]), want("high", 0.40));
    }

    #[test]
    fn cognitive_load_low_medium_edge() {
        assert_eq!(load(with_errors(100, 33), &[], &[]), want("medium", 0.60)); // 0.33
        assert_eq!(load(with_errors(100, 32), &[], &[]), want("low", 0.60));
        assert_eq!(load(with_errors(100, 34), &[], &[]), want("medium", 0.60));
    }

    #[test]
    fn cognitive_load_medium_high_edge() {
        assert_eq!(load(with_errors(100, 67), &[], &[]), want("high", 0.60)); // 0.67
        assert_eq!(load(with_errors(100, 66), &[], &[]), want("medium", 0.60));
        assert_eq!(load(with_errors(100, 68), &[], &[]), want("high", 0.60));
    }

    #[test]
    fn cognitive_load_chunking_component() {
        // A = 0 joins B = 1: (0 + 1) / 2 = 0.5.
        assert_eq!(
            load(with_errors(1, 1), &[&[1.0, 1.0, 1.0]], &[]),
            want("medium", 0.40)
        );
        // Undefined per-command CVs (one IAT, zero mean) leave A absent.
        assert_eq!(
            load(with_errors(2, 2), &[&[1.0], &[0.0, 0.0]], &[]),
            want("high", 0.40)
        );
        // Sample CV of [1, 3] is 0.707 (population would be 0.5 → low).
        assert_eq!(
            load(with_errors(1, 0), &[&[1.0, 3.0]], &[]),
            want("medium", 0.40)
        );
        // A is clipped to 1: sqrt(3) → 1, (1 + 0) / 2 = 0.5 (unclipped 0.87 → high).
        assert_eq!(
            load(with_errors(1, 0), &[&[0.0, 0.0, 3.0]], &[]),
            want("medium", 0.40)
        );
    }

    #[test]
    fn cognitive_load_pace_component() {
        // C = 0.4 / 1.5 = 0.267, B = 0: load 0.133.
        assert_eq!(
            load(with_errors(4, 0), &[], &[3.0, 5.0, 7.0]),
            want("low", 0.40)
        );
        // C = 1.5 / 1.5 = 1, B = 0: load 0.5.
        assert_eq!(
            load(with_errors(10, 0), &[], &zeros_and(3.0, 3, 6)),
            want("medium", 0.60)
        );
        // C clipped (CV 1.73): still 0.5.
        assert_eq!(
            load(with_errors(4, 0), &[], &[0.0, 0.0, 3.0]),
            want("medium", 0.40)
        );
        // Zero-mean or single gaps leave C absent: B alone.
        assert_eq!(load(with_errors(2, 2), &[], &[0.5]), want("high", 0.40));
        assert_eq!(
            load(with_errors(3, 3), &[], &[0.0, 0.0]),
            want("high", 0.40)
        );
    }

    #[test]
    fn cognitive_load_averages_all_three() {
        // A = 1 (clipped), B = 0, C = 1: 2/3 = 0.667 < 0.67 → medium.
        let ks = with_errors(10, 0);
        assert_eq!(
            load(ks, &[&[0.0, 0.0, 3.0]], &zeros_and(3.0, 3, 6)),
            want("medium", 0.60)
        );
        // A = 1, B = 0.1, C = 1: 0.7 → high.
        assert_eq!(
            load(
                with_errors(10, 1),
                &[&[0.0, 0.0, 3.0]],
                &zeros_and(3.0, 3, 6)
            ),
            want("high", 0.60)
        );
    }

    #[test]
    fn infinite_gaps_make_the_reference_raise() {
        let inf = f64::INFINITY;
        let ctx = |k: usize, intra: &[&[f64]], inter: &[f64]| SessionCtx {
            commands: cmds(k),
            intra_command_iats: intra.iter().map(|x| x.to_vec()).collect(),
            inter_cmd_iats: inter.to_vec(),
            ..Default::default()
        };
        // An infinite inter-command gap among >= 2: both stdev users raise.
        let c = ctx(3, &[], &[1.0, inf]);
        assert!(inter_command_consistency_raises(&c));
        assert!(cognitive_load_raises(&c));
        assert_eq!(inter_command_consistency(&c), None);
        assert_eq!(cognitive_load(&c), None);
        // A single infinite gap is never passed to stdev.
        let c = ctx(2, &[], &[inf]);
        assert!(!inter_command_consistency_raises(&c));
        assert!(!cognitive_load_raises(&c));
        assert_eq!(
            got(cognitive_load(&c), Primitive::CognitiveLoad),
            want("low", 0.40)
        );
        // An infinite intra-command IAT among >= 2 raises in cognitive_load only.
        let c = ctx(2, &[&[inf, 0.1], &[]], &[1.0]);
        assert!(cognitive_load_raises(&c));
        assert!(!inter_command_consistency_raises(&c));
        assert_eq!(cognitive_load(&c), None);
        // Finite data never raises.
        let c = ctx(4, &[&[0.1, 0.2]], &[1.0, 2.0, 3.0]);
        assert!(!cognitive_load_raises(&c));
        assert!(!inter_command_consistency_raises(&c));
    }

    // ---- §4.4.16 exploration_style ---------------------------------------

    fn exploration(s: &str) -> Option<(String, f64)> {
        got(
            exploration_style(&SessionCtx {
                commands: seq(s),
                ..Default::default()
            }),
            Primitive::ExplorationStyle,
        )
    }

    #[test]
    fn exploration_style_values() {
        assert_eq!(exploration(""), None);
        assert_eq!(exploration("a"), want("methodical", 0.40));
        assert_eq!(exploration("aba"), want("chaotic", 0.40)); // J = 1/2
        assert_eq!(exploration("aaaaa"), want("targeted", 0.60)); // repeats are not backtracks
        assert_eq!(exploration("abcde"), want("methodical", 0.60));
    }

    #[test]
    fn backtrack_counting() {
        assert_eq!(backtracks(&TokenIds::of(&seq(""))), 0);
        assert_eq!(backtracks(&TokenIds::of(&seq("aaab"))), 0);
        assert_eq!(backtracks(&TokenIds::of(&seq("abab"))), 2);
        assert_eq!(backtracks(&TokenIds::of(&seq("abba"))), 1);
        assert_eq!(backtracks(&TokenIds::of(&seq("abcabc"))), 3);
    }

    #[test]
    fn exploration_style_chaotic_edge_is_inclusive() {
        assert_eq!(exploration("ababacdefgh"), want("chaotic", 0.60)); // 3/10
        assert_eq!(exploration("ababcdefghi"), want("methodical", 0.60)); // 2/10
    }

    #[test]
    fn exploration_style_targeted_edge_is_inclusive() {
        assert_eq!(exploration("aabb"), want("targeted", 0.40)); // R = 0.5
        assert_eq!(exploration("aabbcc"), want("targeted", 0.60)); // R = 0.5
        assert_eq!(exploration("aabbc"), want("methodical", 0.60)); // R = 0.4
        assert_eq!(exploration("aaabbb"), want("targeted", 0.60)); // R = 0.667
    }

    // ---- §4.4.17 planning_depth ------------------------------------------

    fn planning(k: usize, g: &[f64]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands: cmds(k),
            inter_cmd_iats: g.to_vec(),
            ..Default::default()
        };
        got(planning_depth(&ctx), Primitive::PlanningDepth)
    }

    #[test]
    fn planning_depth_values() {
        assert_eq!(planning(1, &[]), None);
        assert_eq!(planning(6, &[2.0, 2.0, 0.5, 0.5, 0.5]), want("deep", 0.65)); // 0.4
        assert_eq!(
            planning(6, &[2.0, 0.5, 0.5, 0.5, 0.5]),
            want("shallow", 0.65)
        ); // 0.2
           // deep beats reactive
        assert_eq!(planning(6, &[2.0, 2.0, 0.1, 0.1, 0.1]), want("deep", 0.65));
        assert_eq!(planning(4, &[0.1, 0.1, 0.5]), want("reactive", 0.40));
    }

    #[test]
    fn planning_depth_think_pause_is_strict() {
        assert_eq!(
            planning(6, &[1.5, 1.5, 0.5, 0.5, 0.5]),
            want("shallow", 0.65)
        );
        let over = 1.5f64.next_up();
        assert_eq!(
            planning(6, &[over, over, 0.5, 0.5, 0.5]),
            want("deep", 0.65)
        );
    }

    #[test]
    fn planning_depth_reactive_is_inclusive() {
        assert_eq!(planning(5, &[0.3, 0.3, 0.5, 0.5]), want("reactive", 0.65)); // 0.5
        assert_eq!(planning(5, &[0.3, 0.5, 0.5, 0.5]), want("shallow", 0.65)); // 0.25
        let over = 0.3f64.next_up();
        assert_eq!(planning(5, &[over, over, 0.5, 0.5]), want("shallow", 0.65));
    }

    // ---- §4.4.18 tool_vocabulary -----------------------------------------

    fn vocab(s: &str) -> Option<(String, f64)> {
        got(
            tool_vocabulary(&SessionCtx {
                commands: seq(s),
                ..Default::default()
            }),
            Primitive::ToolVocabulary,
        )
    }

    #[test]
    fn tool_vocabulary_values() {
        assert_eq!(vocab(""), None);
        assert_eq!(vocab("abc"), want("narrow", 0.40)); // 3
        assert_eq!(vocab("abcd"), want("moderate", 0.40)); // 4
        assert_eq!(vocab("abcabcabc"), want("narrow", 0.70)); // absolute, not relative
        assert_eq!(vocab("abcdefghi"), want("moderate", 0.70)); // 9
        assert_eq!(vocab("abcdefghij"), want("broad", 0.70)); // 10
        assert_eq!(vocab("abcdefghijk"), want("broad", 0.70));
    }

    // ---- §4.4.19 retry_tactic --------------------------------------------

    fn retry(commands: Vec<Command>) -> Option<(String, f64)> {
        got(
            retry_tactic(&SessionCtx {
                commands,
                ..Default::default()
            }),
            Primitive::RetryTactic,
        )
    }

    #[test]
    fn retry_tactic_skips_without_errors() {
        assert_eq!(retry(vec![]), None);
        assert_eq!(retry(seq("abc")), None);
    }

    #[test]
    fn retry_tactic_single_outcomes() {
        assert_eq!(retry(vec![err(b'a'), cmd(b'a')]), want("rerun", 0.40));
        assert_eq!(retry(vec![err(b'a'), cmd(b'b')]), want("switch", 0.40));
        assert_eq!(retry(vec![cmd(b'a'), err(b'b')]), want("abort", 0.40));
    }

    #[test]
    fn retry_tactic_ties_follow_rerun_switch_abort() {
        // rerun 1, switch 1
        assert_eq!(
            retry(vec![err(b'a'), cmd(b'a'), err(b'a'), cmd(b'b')]),
            want("rerun", 0.40)
        );
        // switch 1, abort 1
        assert_eq!(
            retry(vec![err(b'a'), cmd(b'b'), err(b'c')]),
            want("switch", 0.40)
        );
        // rerun 1, abort 1
        assert_eq!(
            retry(vec![err(b'a'), cmd(b'a'), err(b'c')]),
            want("rerun", 0.40)
        );
        // all three once
        assert_eq!(
            retry(vec![err(b'a'), cmd(b'b'), err(b'c'), cmd(b'c'), err(b'd')]),
            want("rerun", 0.40)
        );
    }

    #[test]
    fn retry_tactic_majority_wins() {
        assert_eq!(
            retry(vec![
                err(b'a'),
                cmd(b'a'),
                err(b'a'),
                cmd(b'b'),
                err(b'c'),
                cmd(b'd')
            ]),
            want("switch", 0.40)
        );
        // Errored chains: each errored command counts, the last one aborts.
        assert_eq!(
            retry(vec![err(b'a'), err(b'a'), err(b'a')]),
            want("rerun", 0.40)
        );
        assert_eq!(
            retry(vec![err(b'a'), err(b'b'), err(b'b')]),
            want("rerun", 0.40)
        ); // switch 1, rerun 1, abort 1
    }

    #[test]
    fn retry_tactic_confidence_counts_errored_commands() {
        let four: Vec<Command> = (0..4).flat_map(|_| [err(b'a'), cmd(b'b')]).collect();
        assert_eq!(retry(four), want("switch", 0.40));
        let five: Vec<Command> = (0..5).flat_map(|_| [err(b'a'), cmd(b'b')]).collect();
        assert_eq!(retry(five), want("switch", 0.65));
    }

    // ---- §4.4.20 frustration_typing --------------------------------------

    fn frustration(commands: Vec<Command>, intra: &[&[f64]]) -> Option<(String, f64)> {
        let ctx = SessionCtx {
            commands,
            intra_command_iats: intra.iter().map(|x| x.to_vec()).collect(),
            ..Default::default()
        };
        got(frustration_typing(&ctx), Primitive::FrustrationTyping)
    }

    /// err, x, ok, y: `a` is the command after the error, `b` after a success.
    fn pair(a: f64, b: f64) -> Option<(String, f64)> {
        frustration(vec![err(0), cmd(0), cmd(0)], &[&[], &[a], &[b]])
    }

    #[test]
    fn frustration_typing_skips() {
        assert_eq!(frustration(vec![err(0)], &[&[0.1]]), None);
        // No post-error sample: the follow-up was pasted.
        assert_eq!(
            frustration(vec![err(0), cmd(0), cmd(0)], &[&[0.1], &[], &[0.2]]),
            None
        );
        // No post-success sample.
        assert_eq!(frustration(vec![err(0), err(0)], &[&[0.1], &[0.2]]), None);
        // The first command's own IATs never count.
        assert_eq!(frustration(vec![cmd(0), err(0)], &[&[0.1], &[0.2]]), None);
        // b <= 0.
        assert_eq!(pair(0.2, 0.0), None);
    }

    #[test]
    fn frustration_typing_low_moderate_edge() {
        assert_eq!(pair(11.0, 10.0), want("moderate", 0.40)); // delta 0.1 exactly
        assert_eq!(pair(9.0, 10.0), want("moderate", 0.40)); // |a - b|
        assert_eq!(pair(10.9, 10.0), want("low", 0.40));
        assert_eq!(pair(10.0, 10.0), want("low", 0.40));
    }

    #[test]
    fn frustration_typing_moderate_high_edge() {
        assert_eq!(pair(13.0, 10.0), want("high", 0.40)); // 0.3 exactly
        assert_eq!(pair(12.9, 10.0), want("moderate", 0.40));
        assert_eq!(pair(7.0, 10.0), want("high", 0.40));
        assert_eq!(pair(13.1, 10.0), want("high", 0.40));
    }

    #[test]
    fn frustration_typing_medians_of_medians() {
        // post-error medians 1, 10, 10 → 10; post-ok medians 10 → delta 0.
        let ks = vec![err(0), err(0), err(0), cmd(0), cmd(0)];
        let intra: &[&[f64]] = &[&[], &[1.0, 1.0, 50.0], &[10.0], &[10.0, 10.0], &[10.0]];
        assert_eq!(frustration(ks, intra), want("low", 0.40));
    }

    #[test]
    fn frustration_typing_confidence_counts_post_error_samples() {
        let mut ks = Vec::new();
        let mut intra: Vec<&[f64]> = Vec::new();
        for _ in 0..5 {
            ks.push(err(0));
            intra.push(&[1.0]);
        }
        ks.push(cmd(0));
        intra.push(&[1.0]); // post-error #5 (after the 5th err)
        ks.push(cmd(0));
        intra.push(&[1.0]); // post-ok
                            // Errors at 0..4 → commands 1..5 are post-error (5 samples).
        assert_eq!(frustration(ks.clone(), &intra), want("low", 0.60));
        ks[4] = cmd(0);
        assert_eq!(frustration(ks, &intra), want("low", 0.40));
    }

    // ---- §4.4.21 fallback_to_man -----------------------------------------

    fn fallback(commands: Vec<Command>) -> Option<(String, f64)> {
        got(
            fallback_to_man(&SessionCtx {
                commands,
                ..Default::default()
            }),
            Primitive::FallbackToMan,
        )
    }

    #[test]
    fn fallback_to_man_values() {
        assert_eq!(fallback(vec![]), None);
        assert_eq!(fallback(vec![help(b'm'), cmd(b'a')]), None);
        assert_eq!(fallback(vec![err(b'a'), help(b'm')]), want("present", 0.40));
        assert_eq!(fallback(vec![err(b'a'), cmd(b'b')]), want("absent", 0.40));
        // man before the error does not count; an error at the end has no follow-up.
        assert_eq!(fallback(vec![help(b'm'), err(b'a')]), want("absent", 0.40));
        // An errored help command after an error still counts.
        assert_eq!(
            fallback(vec![
                err(b'a'),
                Command {
                    errored: true,
                    ..help(b'm')
                }
            ]),
            want("present", 0.40)
        );
    }

    #[test]
    fn fallback_to_man_confidence_counts_errored_commands() {
        let mut four: Vec<Command> = (0..4).map(|_| err(b'a')).collect();
        four.push(help(b'm'));
        assert_eq!(fallback(four), want("present", 0.40));
        let five: Vec<Command> = (0..5).map(|_| err(b'a')).collect();
        assert_eq!(fallback(five), want("absent", 0.65));
    }
}
