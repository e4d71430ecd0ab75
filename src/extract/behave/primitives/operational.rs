//! The `operational` primitives (spec/behave-shell.md §4.4.31–4.4.34).
//!
//! Pure: each function reads the shared [`SessionCtx`] and emits at most one
//! observation. Command vocabulary is read through the precomputed
//! [`TokenSets`] flags and first-token hashes (spec §4.3), never token text.

use crate::extract::behave::ctx::{Command, SessionCtx, TokenSets};
use crate::extract::behave::numeric::{median_mut, py_max};
use crate::extract::behave::thresholds::{
    CLEANUP_TAIL_K, CLEANUP_THOROUGH_MIN_DISTINCT, EXIT_BEHAVIOR_LOOKBACK_K,
    INTENT_FULL_CONFIDENCE_MIN, INTENT_MIN_COMMANDS, MIN_COMMANDS_FOR_FULL_CONFIDENCE,
    MULTI_ACTOR_HALF_MIN_COMMANDS, MULTI_ACTOR_HANDOFF_DELTA, MULTI_ACTOR_MIN_COMMANDS,
};
use crate::model::observation::{Observation, Primitive};

/// Intent precedence of spec §4.3: the first set holding the token labels it.
const INTENT_PRECEDENCE: [(u16, &str); 5] = [
    (TokenSets::DESTRUCTIVE, "destructive"),
    (TokenSets::PERSISTENCE, "persistence"),
    (TokenSets::EXFIL, "exfil"),
    (TokenSets::LATERAL, "lateral"),
    (TokenSets::RECON, "recon"),
];

/// The intent label of one command, if its token is in any intent set.
fn intent(c: &Command) -> Option<&'static str> {
    INTENT_PRECEDENCE
        .iter()
        .find(|(flag, _)| c.token_sets.has(*flag))
        .map(|&(_, l)| l)
}

/// The last `min(K, n)` commands.
fn tail<'c>(ctx: &'c SessionCtx<'_>, n: usize) -> &'c [Command] {
    &ctx.commands[ctx.commands.len().saturating_sub(n)..]
}

/// spec §4.4.31: the dominant intent of the session's commands.
pub fn objective(ctx: &SessionCtx<'_>) -> Option<Observation> {
    // Tallies in first-seen order; a strict `>` below keeps the earliest
    // label on a tie (parity A4: not the precedence order the docstring claims).
    let mut tally: Vec<(&'static str, usize)> = Vec::with_capacity(5);
    for label in ctx.commands.iter().filter_map(intent) {
        match tally.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => tally.push((label, 1)),
        }
    }
    let classified: usize = tally.iter().map(|&(_, n)| n).sum();
    if classified < INTENT_MIN_COMMANDS {
        return None;
    }
    let mut best = tally[0];
    for &entry in &tally[1..] {
        if entry.1 > best.1 {
            best = entry;
        }
    }
    let conf = if classified >= INTENT_FULL_CONFIDENCE_MIN {
        0.60
    } else {
        0.40
    };
    Some(Observation::label(Primitive::Objective, best.0, conf))
}

/// spec §4.4.32: history-hygiene commands, and whether they come at the end.
pub fn opsec_discipline(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    let history = ctx
        .commands
        .iter()
        .any(|c| c.token_sets.has(TokenSets::OPSEC_HISTORY));
    let tidy_tail = tail(ctx, EXIT_BEHAVIOR_LOOKBACK_K)
        .iter()
        .any(|c| c.token_sets.has(TokenSets::CLEANUP));
    let label = match (history, tidy_tail) {
        (false, _) => "careless",
        (true, true) => "careful",
        (true, false) => "learning",
    };
    let conf = if k < MIN_COMMANDS_FOR_FULL_CONFIDENCE {
        0.30
    } else {
        0.45
    };
    Some(Observation::label(Primitive::OpsecDiscipline, label, conf))
}

/// spec §4.4.33: how many distinct cleanup tools close the session.
pub fn cleanup_behavior(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let k = ctx.commands.len();
    if k == 0 {
        return None;
    }
    // Distinct by first-token hash: equal hashes are equal tokens (spec §4.3).
    let mut distinct: Vec<&[u8; 32]> = Vec::with_capacity(CLEANUP_TAIL_K);
    for c in tail(ctx, CLEANUP_TAIL_K) {
        if c.token_sets.has(TokenSets::CLEANUP) && !distinct.contains(&&c.first_token_hash) {
            distinct.push(&c.first_token_hash);
        }
    }
    let label = match distinct.len() {
        0 => "none",
        n if n >= CLEANUP_THOROUGH_MIN_DISTINCT => "thorough",
        _ => "partial",
    };
    let conf = if k >= 8 { 0.55 } else { 0.35 };
    Some(Observation::label(Primitive::CleanupBehavior, label, conf))
}

/// spec §4.4.34: a change of typing rhythm between the session's two halves.
pub fn multi_actor_indicators(ctx: &SessionCtx<'_>) -> Option<Observation> {
    if ctx.commands.len() < MULTI_ACTOR_MIN_COMMANDS {
        return None;
    }
    // parity A3: the midpoint uses t_end, which trailing output can move.
    let mid = ctx.t_start + ctx.duration_s / 2.0;
    // Each half holds at most every IAT: room for that, in kept buffers.
    let n = ctx.intra_command_iats.values().len();
    let (mut iats_a, mut iats_b) = (ctx.take_f64s(n), ctx.take_f64s(n));
    let (mut n_a, mut n_b) = (0usize, 0usize);
    for (c, iats) in ctx.commands.iter().zip(&ctx.intra_command_iats) {
        if c.start_ts < mid {
            n_a += 1;
            iats_a.extend_from_slice(iats);
        } else {
            n_b += 1;
            iats_b.extend_from_slice(iats);
        }
    }
    let handoff = n_a >= MULTI_ACTOR_HALF_MIN_COMMANDS
        && n_b >= MULTI_ACTOR_HALF_MIN_COMMANDS
        && !iats_a.is_empty()
        && !iats_b.is_empty()
        && {
            let (a, b) = (median_mut(&mut iats_a), median_mut(&mut iats_b));
            let d = py_max(a, b);
            d > 0.0 && (a - b).abs() / d > MULTI_ACTOR_HANDOFF_DELTA
        };
    ctx.put_f64s(iats_a);
    ctx.put_f64s(iats_b);
    let label = if handoff { "handoff_detected" } else { "solo" };
    let conf = if n_a >= 8 && n_b >= 8 { 0.55 } else { 0.40 };
    Some(Observation::label(
        Primitive::MultiActorIndicators,
        label,
        conf,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECON: u16 = TokenSets::RECON;
    const EXFIL: u16 = TokenSets::EXFIL;
    const PERS: u16 = TokenSets::PERSISTENCE;
    const LAT: u16 = TokenSets::LATERAL;
    const DESTR: u16 = TokenSets::DESTRUCTIVE;
    const HIST: u16 = TokenSets::OPSEC_HISTORY;
    const CLEAN: u16 = TokenSets::CLEANUP;

    /// A command whose token is identified by `tok` (its hash's first byte).
    fn cmd(tok: u8, sets: u16) -> Command {
        let mut first_token_hash = [0u8; 32];
        first_token_hash[0] = tok;
        Command {
            start_ts: 0.0,
            end_ts: 0.0,
            first_token_hash,
            token_sets: TokenSets(sets),
            tab_count: 0,
            shortcut_count: 0,
            pipe_count: 0,
            errored: false,
            output_chars: 0,
            followed_by_prompt: true,
        }
    }

    fn ctx_of(cmds: Vec<Command>) -> SessionCtx<'static> {
        SessionCtx {
            commands: cmds,
            ..Default::default()
        }
    }

    fn val(o: Option<Observation>) -> Option<(String, f64)> {
        o.map(|o| (o.value.as_str().to_string(), o.confidence))
    }

    fn some(label: &str, conf: f64) -> Option<(String, f64)> {
        Some((label.to_string(), conf))
    }

    fn with_sets(sets: &[u16]) -> SessionCtx<'static> {
        ctx_of(
            sets.iter()
                .enumerate()
                .map(|(i, &s)| cmd(i as u8, s))
                .collect(),
        )
    }

    // ---- objective --------------------------------------------------------

    #[test]
    fn objective_skips_without_commands() {
        assert_eq!(val(objective(&SessionCtx::default())), None);
    }

    #[test]
    fn objective_classified_count_edges() {
        assert_eq!(val(objective(&with_sets(&[RECON, RECON, 0, 0]))), None);
        assert_eq!(
            val(objective(&with_sets(&[RECON, RECON, RECON]))),
            some("recon", 0.40)
        );
        assert_eq!(val(objective(&with_sets(&[RECON; 5]))), some("recon", 0.40));
        assert_eq!(val(objective(&with_sets(&[RECON; 6]))), some("recon", 0.60));
        assert_eq!(val(objective(&with_sets(&[RECON; 7]))), some("recon", 0.60));
    }

    #[test]
    fn objective_precedence_within_one_command() {
        // A token in several sets takes the first in precedence order.
        let all = DESTR | PERS | EXFIL | LAT | RECON;
        assert_eq!(
            val(objective(&with_sets(&[all; 3]))),
            some("destructive", 0.40)
        );
        let s = PERS | EXFIL | LAT | RECON;
        assert_eq!(
            val(objective(&with_sets(&[s; 3]))),
            some("persistence", 0.40)
        );
        let s = EXFIL | LAT | RECON;
        assert_eq!(val(objective(&with_sets(&[s; 3]))), some("exfil", 0.40));
        let s = LAT | RECON;
        assert_eq!(val(objective(&with_sets(&[s; 3]))), some("lateral", 0.40));
        // Non-intent flags do not classify.
        assert_eq!(val(objective(&with_sets(&[HIST | CLEAN; 3]))), None);
    }

    #[test]
    fn objective_majority_then_first_seen_tie() {
        assert_eq!(
            val(objective(&with_sets(&[DESTR, RECON, RECON]))),
            some("recon", 0.40)
        );
        // Appendix B: ls, rm x, ls, rm y -> recon; reversed -> destructive (parity A4).
        assert_eq!(
            val(objective(&with_sets(&[RECON, DESTR, RECON, DESTR]))),
            some("recon", 0.40)
        );
        assert_eq!(
            val(objective(&with_sets(&[DESTR, RECON, DESTR, RECON]))),
            some("destructive", 0.40)
        );
        assert_eq!(
            val(objective(&with_sets(&[LAT, EXFIL, EXFIL, LAT, PERS]))),
            some("lateral", 0.40)
        );
    }

    // ---- opsec_discipline -------------------------------------------------

    #[test]
    fn opsec_skips_without_commands() {
        assert_eq!(val(opsec_discipline(&SessionCtx::default())), None);
    }

    #[test]
    fn opsec_branches() {
        assert_eq!(
            val(opsec_discipline(&with_sets(&[0, CLEAN]))),
            some("careless", 0.30)
        );
        assert_eq!(
            val(opsec_discipline(&with_sets(&[HIST, 0, 0, 0]))),
            some("learning", 0.30)
        );
        assert_eq!(
            val(opsec_discipline(&with_sets(&[HIST, 0, CLEAN]))),
            some("careful", 0.30)
        );
        // `history` is in both sets: it alone is careful.
        assert_eq!(
            val(opsec_discipline(&with_sets(&[HIST | CLEAN]))),
            some("careful", 0.30)
        );
    }

    #[test]
    fn opsec_cleanup_lookback_edges() {
        // CLEANUP third from last counts; fourth from last does not.
        assert_eq!(
            val(opsec_discipline(&with_sets(&[HIST, CLEAN, 0, 0]))),
            some("careful", 0.30)
        );
        assert_eq!(
            val(opsec_discipline(&with_sets(&[HIST, CLEAN, 0, 0, 0]))),
            some("learning", 0.45)
        );
    }

    #[test]
    fn opsec_confidence_edges() {
        assert_eq!(
            val(opsec_discipline(&with_sets(&[0; 4]))),
            some("careless", 0.30)
        );
        assert_eq!(
            val(opsec_discipline(&with_sets(&[0; 5]))),
            some("careless", 0.45)
        );
        assert_eq!(
            val(opsec_discipline(&with_sets(&[0; 6]))),
            some("careless", 0.45)
        );
    }

    // ---- cleanup_behavior -------------------------------------------------

    fn cleanup_of(toks: &[(u8, u16)]) -> Option<(String, f64)> {
        val(cleanup_behavior(&ctx_of(
            toks.iter().map(|&(t, s)| cmd(t, s)).collect(),
        )))
    }

    #[test]
    fn cleanup_skips_without_commands() {
        assert_eq!(val(cleanup_behavior(&SessionCtx::default())), None);
    }

    #[test]
    fn cleanup_distinct_count_edges() {
        assert_eq!(cleanup_of(&[(1, 0), (2, 0)]), some("none", 0.35));
        assert_eq!(cleanup_of(&[(1, CLEAN)]), some("partial", 0.35));
        assert_eq!(cleanup_of(&[(1, CLEAN), (2, CLEAN)]), some("partial", 0.35));
        assert_eq!(
            cleanup_of(&[(1, CLEAN), (2, CLEAN), (3, CLEAN)]),
            some("thorough", 0.35)
        );
        assert_eq!(
            cleanup_of(&[(1, CLEAN), (2, CLEAN), (3, CLEAN), (4, CLEAN)]),
            some("thorough", 0.35)
        );
    }

    #[test]
    fn cleanup_repeated_token_counts_once() {
        assert_eq!(
            cleanup_of(&[(1, CLEAN), (1, CLEAN), (1, CLEAN), (2, CLEAN)]),
            some("partial", 0.35)
        );
    }

    #[test]
    fn cleanup_only_last_five_commands() {
        // Cleanup tokens 1 and 2 sit sixth and seventh from last: outside.
        let toks = [
            (1, CLEAN),
            (2, CLEAN),
            (3, CLEAN),
            (9, 0),
            (9, 0),
            (9, 0),
            (9, 0),
        ];
        assert_eq!(cleanup_of(&toks), some("partial", 0.35));
        // Fifth from last is inside.
        let toks = [(1, CLEAN), (2, CLEAN), (3, CLEAN), (9, 0), (9, 0), (9, 0)];
        assert_eq!(cleanup_of(&toks), some("partial", 0.35));
        let toks = [(1, CLEAN), (2, CLEAN), (3, CLEAN), (9, 0), (9, 0)];
        assert_eq!(cleanup_of(&toks), some("thorough", 0.35));
    }

    #[test]
    fn cleanup_confidence_edges() {
        let mut toks = vec![(9, 0); 7];
        assert_eq!(cleanup_of(&toks), some("none", 0.35));
        toks.push((9, 0));
        assert_eq!(cleanup_of(&toks), some("none", 0.55));
        toks.push((9, 0));
        assert_eq!(cleanup_of(&toks), some("none", 0.55));
    }

    // ---- multi_actor_indicators -------------------------------------------

    /// Commands at the given start times, each with its intra-IAT list.
    fn actors(t_start: f64, duration_s: f64, cmds: &[(f64, Vec<f64>)]) -> SessionCtx<'static> {
        SessionCtx {
            commands: cmds
                .iter()
                .map(|(t, _)| Command {
                    start_ts: *t,
                    ..cmd(0, 0)
                })
                .collect(),
            intra_command_iats: cmds.iter().map(|(_, i)| i.clone()).collect(),
            t_start,
            t_end: t_start + duration_s,
            duration_s,
            ..Default::default()
        }
    }

    /// `na` commands in the first half with IAT `a`, `nb` in the second with `b`.
    fn halves(na: usize, a: f64, nb: usize, b: f64) -> Option<(String, f64)> {
        let mut cmds = Vec::new();
        for i in 0..na {
            cmds.push((i as f64, vec![a, a]));
        }
        for i in 0..nb {
            cmds.push((50.0 + i as f64, vec![b, b]));
        }
        val(multi_actor_indicators(&actors(0.0, 100.0, &cmds)))
    }

    #[test]
    fn multi_actor_command_count_edges() {
        assert_eq!(halves(4, 0.1, 3, 0.5), None);
        assert_eq!(halves(4, 0.1, 4, 0.5), some("handoff_detected", 0.40));
    }

    #[test]
    fn multi_actor_half_size_edges() {
        assert_eq!(halves(3, 0.1, 5, 0.5), some("solo", 0.40));
        assert_eq!(halves(5, 0.1, 3, 0.5), some("solo", 0.40));
        assert_eq!(halves(4, 0.1, 4, 0.5), some("handoff_detected", 0.40));
    }

    #[test]
    fn multi_actor_confidence_depends_only_on_half_sizes() {
        assert_eq!(halves(8, 0.1, 8, 0.1), some("solo", 0.55));
        assert_eq!(halves(8, 0.1, 8, 0.5), some("handoff_detected", 0.55));
        assert_eq!(halves(7, 0.1, 8, 0.5), some("handoff_detected", 0.40));
        assert_eq!(halves(8, 0.1, 7, 0.5), some("handoff_detected", 0.40));
    }

    #[test]
    fn multi_actor_delta_edges() {
        // |a-b|/max = 0.5 exactly: not > 0.5, solo.
        assert_eq!(halves(4, 0.25, 4, 0.5), some("solo", 0.40));
        // Just above: 0.5 vs 0.2421875 -> 0.515625.
        assert_eq!(halves(4, 0.2421875, 4, 0.5), some("handoff_detected", 0.40));
        // Just below: 0.5 vs 0.2578125 -> 0.484375.
        assert_eq!(halves(4, 0.2578125, 4, 0.5), some("solo", 0.40));
        // Direction does not matter.
        assert_eq!(halves(4, 0.5, 4, 0.2421875), some("handoff_detected", 0.40));
    }

    #[test]
    fn multi_actor_zero_rhythm_is_solo() {
        assert_eq!(halves(4, 0.0, 4, 0.0), some("solo", 0.40));
    }

    #[test]
    fn multi_actor_empty_iat_list_is_solo() {
        let mut cmds: Vec<(f64, Vec<f64>)> = (0..4).map(|i| (i as f64, vec![])).collect();
        cmds.extend((0..4).map(|i| (60.0 + i as f64, vec![0.5])));
        assert_eq!(
            val(multi_actor_indicators(&actors(0.0, 100.0, &cmds))),
            some("solo", 0.40)
        );
    }

    #[test]
    fn multi_actor_midpoint_is_strict_and_uses_t_start() {
        // t_start 10, duration 80 -> mid 50. A command at exactly 50 is half B.
        let mut cmds: Vec<(f64, Vec<f64>)> = (0..3).map(|i| (20.0 + i as f64, vec![0.1])).collect();
        cmds.push((50.0, vec![0.1]));
        cmds.extend((0..4).map(|i| (60.0 + i as f64, vec![0.5])));
        // Half A has 3 commands: solo.
        assert_eq!(
            val(multi_actor_indicators(&actors(10.0, 80.0, &cmds))),
            some("solo", 0.40)
        );
        // Just below the midpoint it joins half A: 4 + 4, handoff.
        cmds[3].0 = 49.999;
        assert_eq!(
            val(multi_actor_indicators(&actors(10.0, 80.0, &cmds))),
            some("handoff_detected", 0.40)
        );
    }

    #[test]
    fn multi_actor_uses_medians_of_pooled_iats() {
        // Half A pools [0.1, 0.1, 0.1, 0.1, 0.9] -> median 0.1 despite the outlier.
        let mut cmds: Vec<(f64, Vec<f64>)> = (0..3).map(|i| (i as f64, vec![0.1])).collect();
        cmds.push((3.0, vec![0.1, 0.9]));
        cmds.extend((0..4).map(|i| (60.0 + i as f64, vec![0.125])));
        assert_eq!(
            val(multi_actor_indicators(&actors(0.0, 100.0, &cmds))),
            some("solo", 0.40)
        );
    }
}
