//! The BEHAVE-SHELL extraction engine (spec/behave-shell.md, normative).
//!
//! Pure: the events of one session in, its observations out, in the spec's
//! emission order (§4.2). No I/O, no clock, no randomness. The session
//! context (§2) is built once and shared by every primitive; each primitive
//! is one small function named after its §4.4 entry, in a module per family.

pub mod ctx;
pub mod numeric;
pub mod primitives;
pub mod pychar;
pub mod simhash;
pub mod text;
pub mod thresholds;

use crate::model::event::Event;
use crate::model::observation::Observation;
use ctx::SessionCtx;
use primitives::{cognitive, emotional_valence, environmental, motor, operational, temporal};

/// One feature: reads the context, emits zero or one observation.
pub type Feature = fn(&SessionCtx<'_>) -> Option<Observation>;

/// The 38 features in emission order (spec §4.2). The five primitives
/// behave-shell 0.1.4 adds (§4.1) join here when upstream defines them.
pub const FEATURES: [Feature; 38] = [
    motor::input_modality,
    motor::paste_burst_rate,
    motor::keystroke_cadence,
    motor::digraph_simhash,
    motor::motor_stability,
    motor::error_correction,
    motor::command_chunking,
    motor::tab_completion,
    motor::shortcut_usage,
    motor::pipe_chaining_depth,
    cognitive::inter_command_latency_class,
    cognitive::command_branch_diversity,
    cognitive::feedback_loop_engagement,
    cognitive::inter_command_consistency,
    cognitive::cognitive_load,
    cognitive::exploration_style,
    cognitive::planning_depth,
    cognitive::tool_vocabulary,
    cognitive::retry_tactic,
    cognitive::frustration_typing,
    cognitive::fallback_to_man,
    temporal::session_duration,
    temporal::escalation_pattern,
    temporal::landing_ritual,
    temporal::exit_behavior,
    environmental::shell_type,
    environmental::terminal_multiplexer,
    environmental::locale,
    environmental::keyboard_layout,
    environmental::numpad_usage,
    operational::objective,
    operational::opsec_discipline,
    operational::cleanup_behavior,
    operational::multi_actor_indicators,
    emotional_valence::valence,
    emotional_valence::arousal,
    emotional_valence::stress_response,
    emotional_valence::frustration_venting,
];

/// Why a session yields no observations at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// Spec A7: a command's first token holds a char that cannot be encoded
    /// to UTF-8 (a surrogate-escaped byte), so hashing it fails and the
    /// reference emits nothing for the whole session.
    #[error("first token of command {command} cannot be encoded as UTF-8")]
    FirstTokenNotUtf8 {
        /// 0-based index of the command.
        command: usize,
    },
}

impl ExtractError {
    /// A short stable code for `sessions.error_reason`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExtractError::FirstTokenNotUtf8 { .. } => "first_token_not_utf8",
        }
    }
}

/// The result of extracting one session.
#[derive(Clone, Debug, PartialEq)]
pub struct Extraction {
    /// Observations in emission order.
    pub observations: Vec<Observation>,
    /// Window start on the relative `t` axis (spec §2.1).
    pub t_start: f64,
    /// Window end on the relative `t` axis (spec §2.1).
    pub t_end: f64,
    /// Number of commands found (K).
    pub commands: usize,
}

/// Extract one session's observations (spec §2 then §4, in §4.2 order).
///
/// # Errors
/// [`ExtractError::FirstTokenNotUtf8`] for spec A7 sessions.
pub fn extract_session(events: &[Event<'_>]) -> Result<Extraction, ExtractError> {
    let ctx = ctx::build(events)?;
    let observations = FEATURES.iter().filter_map(|f| f(&ctx)).collect();
    Ok(Extraction {
        observations,
        t_start: ctx.t_start,
        t_end: ctx.t_end,
        commands: ctx.commands.len(),
    })
}
