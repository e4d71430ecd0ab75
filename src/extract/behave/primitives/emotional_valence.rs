//! The `emotional_valence` primitives (spec/behave-shell.md §4.4).

use crate::extract::behave::ctx::SessionCtx;
use crate::model::observation::Observation;

/// spec §4.4: valence.
pub fn valence(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("emotional_valence::valence (issue 3)")
}

/// spec §4.4: arousal.
pub fn arousal(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("emotional_valence::arousal (issue 3)")
}

/// spec §4.4: stress_response.
pub fn stress_response(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("emotional_valence::stress_response (issue 3)")
}

/// spec §4.4: frustration_venting.
pub fn frustration_venting(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("emotional_valence::frustration_venting (issue 3)")
}

