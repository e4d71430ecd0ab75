//! The `motor` primitives (spec/behave-shell.md §4.4).

use crate::extract::behave::ctx::SessionCtx;
use crate::model::observation::Observation;

/// spec §4.4: input_modality.
pub fn input_modality(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::input_modality (issue 3)")
}

/// spec §4.4: paste_burst_rate.
pub fn paste_burst_rate(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::paste_burst_rate (issue 3)")
}

/// spec §4.4: keystroke_cadence.
pub fn keystroke_cadence(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::keystroke_cadence (issue 3)")
}

/// spec §4.4: digraph_simhash.
pub fn digraph_simhash(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::digraph_simhash (issue 3)")
}

/// spec §4.4: motor_stability.
pub fn motor_stability(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::motor_stability (issue 3)")
}

/// spec §4.4: error_correction.
pub fn error_correction(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::error_correction (issue 3)")
}

/// spec §4.4: command_chunking.
pub fn command_chunking(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::command_chunking (issue 3)")
}

/// spec §4.4: tab_completion.
pub fn tab_completion(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::tab_completion (issue 3)")
}

/// spec §4.4: shortcut_usage.
pub fn shortcut_usage(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::shortcut_usage (issue 3)")
}

/// spec §4.4: pipe_chaining_depth.
pub fn pipe_chaining_depth(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("motor::pipe_chaining_depth (issue 3)")
}

