//! The `cognitive` primitives (spec/behave-shell.md §4.4).

use crate::extract::behave::ctx::SessionCtx;
use crate::model::observation::Observation;

/// spec §4.4: inter_command_latency_class.
pub fn inter_command_latency_class(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::inter_command_latency_class (issue 3)")
}

/// spec §4.4: command_branch_diversity.
pub fn command_branch_diversity(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::command_branch_diversity (issue 3)")
}

/// spec §4.4: feedback_loop_engagement.
pub fn feedback_loop_engagement(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::feedback_loop_engagement (issue 3)")
}

/// spec §4.4: inter_command_consistency.
pub fn inter_command_consistency(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::inter_command_consistency (issue 3)")
}

/// spec §4.4: cognitive_load.
pub fn cognitive_load(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::cognitive_load (issue 3)")
}

/// spec §4.4: exploration_style.
pub fn exploration_style(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::exploration_style (issue 3)")
}

/// spec §4.4: planning_depth.
pub fn planning_depth(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::planning_depth (issue 3)")
}

/// spec §4.4: tool_vocabulary.
pub fn tool_vocabulary(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::tool_vocabulary (issue 3)")
}

/// spec §4.4: retry_tactic.
pub fn retry_tactic(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::retry_tactic (issue 3)")
}

/// spec §4.4: frustration_typing.
pub fn frustration_typing(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::frustration_typing (issue 3)")
}

/// spec §4.4: fallback_to_man.
pub fn fallback_to_man(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("cognitive::fallback_to_man (issue 3)")
}

