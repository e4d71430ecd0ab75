//! The `temporal` primitives (spec/behave-shell.md §4.4).

use crate::extract::behave::ctx::SessionCtx;
use crate::model::observation::Observation;

/// spec §4.4: session_duration.
pub fn session_duration(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("temporal::session_duration (issue 3)")
}

/// spec §4.4: escalation_pattern.
pub fn escalation_pattern(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("temporal::escalation_pattern (issue 3)")
}

/// spec §4.4: landing_ritual.
pub fn landing_ritual(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("temporal::landing_ritual (issue 3)")
}

/// spec §4.4: exit_behavior.
pub fn exit_behavior(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("temporal::exit_behavior (issue 3)")
}

