//! The `operational` primitives (spec/behave-shell.md §4.4).

use crate::extract::behave::ctx::SessionCtx;
use crate::model::observation::Observation;

/// spec §4.4: objective.
pub fn objective(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("operational::objective (issue 3)")
}

/// spec §4.4: opsec_discipline.
pub fn opsec_discipline(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("operational::opsec_discipline (issue 3)")
}

/// spec §4.4: cleanup_behavior.
pub fn cleanup_behavior(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("operational::cleanup_behavior (issue 3)")
}

/// spec §4.4: multi_actor_indicators.
pub fn multi_actor_indicators(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("operational::multi_actor_indicators (issue 3)")
}

