//! The `environmental` primitives (spec/behave-shell.md §4.4).

use crate::extract::behave::ctx::SessionCtx;
use crate::model::observation::Observation;

/// spec §4.4: shell_type.
pub fn shell_type(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("environmental::shell_type (issue 3)")
}

/// spec §4.4: terminal_multiplexer.
pub fn terminal_multiplexer(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("environmental::terminal_multiplexer (issue 3)")
}

/// spec §4.4: locale.
pub fn locale(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("environmental::locale (issue 3)")
}

/// spec §4.4: keyboard_layout.
pub fn keyboard_layout(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("environmental::keyboard_layout (issue 3)")
}

/// spec §4.4: numpad_usage.
pub fn numpad_usage(ctx: &SessionCtx<'_>) -> Option<Observation> {
    let _ = ctx;
    todo!("environmental::numpad_usage (issue 3)")
}

