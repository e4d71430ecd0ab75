//! The BEHAVE primitives and the pure observation a feature emits
//! (spec/behave-shell.md §3–4). The lake envelope (window, ids, pointers) is
//! added by the caller; see `sink` and spec/lake.md §3.

/// The value kinds of the behave-shell registry (spec §3.1, lake.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// One label from a fixed set.
    Categorical,
    /// A number.
    Numeric,
    /// A hash string (16 lowercase hex chars for the digraph SimHash).
    Hash,
    /// A boolean.
    Bool,
    /// A free string (the locale tag).
    FreeString,
    /// An array.
    Array,
}

impl ValueKind {
    /// The registry's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Categorical => "categorical",
            ValueKind::Numeric => "numeric",
            ValueKind::Hash => "hash",
            ValueKind::Bool => "bool",
            ValueKind::FreeString => "free_string",
            ValueKind::Array => "array",
        }
    }

    /// Parse the registry name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "categorical" => ValueKind::Categorical,
            "numeric" => ValueKind::Numeric,
            "hash" => ValueKind::Hash,
            "bool" => ValueKind::Bool,
            "free_string" => ValueKind::FreeString,
            "array" => ValueKind::Array,
            _ => return None,
        })
    }
}

macro_rules! primitives {
    ($( $variant:ident = $name:literal : $kind:ident [$($label:literal),*] ),* $(,)?) => {
        /// One of the 38 Tier-A shell primitives, in emission order (spec §4.2).
        ///
        /// behave-shell 0.1.4 adds five more (spec §4.1); they join this list
        /// and `extract::behave::FEATURES` when upstream defines their rules.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Primitive { $( #[doc = $name] $variant ),* }

        impl Primitive {
            /// Every primitive, in emission order.
            pub const ALL: &'static [Primitive] = &[ $( Primitive::$variant ),* ];

            /// The dotted registry path, e.g. `motor.input_modality`.
            pub fn as_str(self) -> &'static str {
                match self { $( Primitive::$variant => $name ),* }
            }

            /// The registry's value kind.
            pub fn value_kind(self) -> ValueKind {
                match self { $( Primitive::$variant => ValueKind::$kind ),* }
            }

            /// The registry's allowed labels (empty for hash and free-string kinds).
            pub fn labels(self) -> &'static [&'static str] {
                match self { $( Primitive::$variant => &[$($label),*] ),* }
            }

            /// Look a primitive up by its dotted path.
            pub fn parse(s: &str) -> Option<Primitive> {
                match s { $( $name => Some(Primitive::$variant), )* _ => None }
            }
        }
    };
}

primitives! {
    InputModality = "motor.input_modality": Categorical ["typed", "pasted", "mixed"],
    PasteBurstRate = "motor.paste_burst_rate": Categorical ["none", "occasional", "habitual"],
    KeystrokeCadence = "motor.keystroke_cadence": Categorical ["steady", "bursty", "hunt_and_peck", "machine"],
    DigraphSimhash = "motor.digraph_simhash": Hash [],
    MotorStability = "motor.motor_stability": Categorical ["steady", "variable", "tremor"],
    ErrorCorrection = "motor.error_correction": Categorical ["immediate", "deferred", "absent", "route_around"],
    CommandChunking = "motor.command_chunking": Categorical ["fluent", "fragmented", "single_command"],
    TabCompletion = "motor.shell_mastery.tab_completion": Categorical ["none", "occasional", "habitual"],
    ShortcutUsage = "motor.shell_mastery.shortcut_usage": Categorical ["none", "moderate", "heavy"],
    PipeChainingDepth = "motor.shell_mastery.pipe_chaining_depth": Categorical ["shallow", "moderate", "deep"],
    InterCommandLatencyClass = "cognitive.inter_command_latency_class": Categorical ["instant", "typing_speed", "deliberate", "llm_lightweight", "llm_heavyweight", "long"],
    CommandBranchDiversity = "cognitive.command_branch_diversity": Categorical ["linear_playbook", "adaptive_branching", "unknown"],
    FeedbackLoopEngagement = "cognitive.feedback_loop_engagement": Categorical ["closed_loop", "fire_and_forget", "unknown"],
    InterCommandConsistency = "cognitive.inter_command_consistency": Categorical ["metronomic", "variable", "bimodal"],
    CognitiveLoad = "cognitive.cognitive_load": Categorical ["low", "medium", "high"],
    ExplorationStyle = "cognitive.exploration_style": Categorical ["methodical", "chaotic", "targeted"],
    PlanningDepth = "cognitive.planning_depth": Categorical ["deep", "shallow", "reactive"],
    ToolVocabulary = "cognitive.tool_vocabulary": Categorical ["narrow", "moderate", "broad"],
    RetryTactic = "cognitive.error_resilience.retry_tactic": Categorical ["rerun", "modify", "switch", "abort"],
    FrustrationTyping = "cognitive.error_resilience.frustration_typing": Categorical ["low", "moderate", "high"],
    FallbackToMan = "cognitive.error_resilience.fallback_to_man": Categorical ["absent", "present"],
    SessionDuration = "temporal.session_duration": Categorical ["short", "medium", "long", "marathon"],
    EscalationPattern = "temporal.escalation_pattern": Categorical ["sustained", "erratic", "bursty"],
    LandingRitual = "temporal.lifecycle_markers.landing_ritual": Categorical ["present", "absent"],
    ExitBehavior = "temporal.lifecycle_markers.exit_behavior": Categorical ["graceful", "abrupt", "cleanup"],
    ShellType = "environmental.shell_type": Categorical ["bash", "zsh", "fish", "cmd.exe", "powershell"],
    TerminalMultiplexer = "environmental.terminal_multiplexer": Categorical ["none", "tmux", "screen"],
    Locale = "environmental.locale": FreeString [],
    KeyboardLayout = "environmental.keyboard_layout": Categorical ["qwerty", "azerty", "qwertz", "other"],
    NumpadUsage = "environmental.numpad_usage": Categorical ["detected", "not_detected"],
    Objective = "operational.objective": Categorical ["recon", "exfil", "persistence", "lateral", "destructive"],
    OpsecDiscipline = "operational.opsec_discipline": Categorical ["careful", "careless", "learning"],
    CleanupBehavior = "operational.cleanup_behavior": Categorical ["thorough", "partial", "none"],
    MultiActorIndicators = "operational.multi_actor_indicators": Categorical ["solo", "handoff_detected", "team_coordinated"],
    Valence = "emotional_valence.valence": Categorical ["positive", "neutral", "negative"],
    Arousal = "emotional_valence.arousal": Categorical ["low_calm", "medium_engaged", "high_agitated"],
    StressResponse = "emotional_valence.stress_response": Categorical ["none", "eustress_positive", "distress_negative"],
    FrustrationVenting = "emotional_valence.frustration_venting": Categorical ["none", "detected"],
}

impl Primitive {
    /// The family: the first dotted component (`motor`, `cognitive`, …).
    pub fn family(self) -> &'static str {
        let s = self.as_str();
        &s[..s.find('.').expect("every primitive path is dotted")]
    }
}

/// An observation's value. The extractor only ever emits strings (spec §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A fixed registry label.
    Label(&'static str),
    /// A computed string: the locale tag or the 16-hex SimHash.
    Text(String),
}

impl Value {
    /// The string value.
    pub fn as_str(&self) -> &str {
        match self {
            Value::Label(s) => s,
            Value::Text(s) => s,
        }
    }
}

/// What one feature emits for one session: primitive, value, confidence.
/// Window, source and pointers are session-level and added by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Which primitive.
    pub primitive: Primitive,
    /// The value (always a string for the shell extractor).
    pub value: Value,
    /// Confidence in [0, 1], compared bit for bit with the reference.
    pub confidence: f64,
}

impl Observation {
    /// An observation with a registry label.
    pub fn label(primitive: Primitive, label: &'static str, confidence: f64) -> Self {
        debug_assert!(
            primitive.labels().contains(&label),
            "{label} is not a registry label of {}",
            primitive.as_str()
        );
        Observation {
            primitive,
            value: Value::Label(label),
            confidence,
        }
    }

    /// An observation with a computed string value.
    pub fn text(primitive: Primitive, text: String, confidence: f64) -> Self {
        Observation {
            primitive,
            value: Value::Text(text),
            confidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_eight_primitives_in_emission_order() {
        assert_eq!(Primitive::ALL.len(), 38);
        assert_eq!(Primitive::ALL[0].as_str(), "motor.input_modality");
        assert_eq!(
            Primitive::ALL[37].as_str(),
            "emotional_valence.frustration_venting"
        );
        for p in Primitive::ALL {
            assert_eq!(Primitive::parse(p.as_str()), Some(*p));
        }
    }
}
