//! The monitor's tunables (spec/agent-monitor.md "Profiles"): the job
//! file's `[agents]` section.

use serde::Deserialize;

/// `[agents]`: window, hop, weights and tier thresholds. Absent keys keep
/// the seed's values (5-minute tumbling windows, 40/30/30, 0.70 and 0.50).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSettings {
    /// Window length in seconds (seed: 300).
    pub window_secs: i64,
    /// Distance between window starts in seconds; equal to the window
    /// (tumbling) when absent. Windows start at multiples of the hop since
    /// the Unix epoch.
    pub hop_secs: Option<i64>,
    /// Weight of the file-operation term F (seed: 0.40).
    pub weight_file: f64,
    /// Weight of the network-operation term N (seed: 0.30).
    pub weight_network: f64,
    /// Weight of the entropy term E (seed: 0.30).
    pub weight_entropy: f64,
    /// `anomalous` (tier 3) when the score is strictly above this (seed: 0.70).
    pub anomaly_threshold: f64,
    /// Tier 2 when the score is strictly above this (seed: 0.50).
    pub elevated_threshold: f64,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            window_secs: 300,
            hop_secs: None,
            weight_file: 0.40,
            weight_network: 0.30,
            weight_entropy: 0.30,
            anomaly_threshold: 0.70,
            elevated_threshold: 0.50,
        }
    }
}

/// Windows per event cap: a hop far below the window would multiply every
/// event into millions of window rows.
pub const MAX_WINDOWS_PER_EVENT: i64 = 1024;

impl AgentSettings {
    /// The hop in seconds (the window when not set).
    pub fn hop(&self) -> i64 {
        self.hop_secs.unwrap_or(self.window_secs)
    }

    /// How many windows one event falls in: ⌈window / hop⌉.
    pub fn windows_per_event(&self) -> i64 {
        let hop = self.hop();
        (self.window_secs + hop - 1) / hop
    }

    /// Check ranges.
    ///
    /// # Errors
    /// A message naming the first bad key.
    pub fn validate(&self) -> Result<(), String> {
        // 100 years: far beyond any monitoring window, far inside i64 µs.
        const MAX_SECS: i64 = 100 * 366 * 86_400;
        if !(1..=MAX_SECS).contains(&self.window_secs) {
            return Err(format!("window_secs must be 1..={MAX_SECS}"));
        }
        let hop = self.hop();
        if !(1..=self.window_secs).contains(&hop) {
            return Err("hop_secs must be at least 1 and at most window_secs".into());
        }
        if self.windows_per_event() > MAX_WINDOWS_PER_EVENT {
            return Err(format!(
                "window_secs / hop_secs must be at most {MAX_WINDOWS_PER_EVENT} windows per event"
            ));
        }
        for (k, w) in [
            ("weight_file", self.weight_file),
            ("weight_network", self.weight_network),
            ("weight_entropy", self.weight_entropy),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{k} must be a finite number >= 0"));
            }
        }
        for (k, t) in [
            ("anomaly_threshold", self.anomaly_threshold),
            ("elevated_threshold", self.elevated_threshold),
        ] {
            if !(0.0..=1.0).contains(&t) {
                return Err(format!("{k} must be within 0..=1"));
            }
        }
        if self.elevated_threshold > self.anomaly_threshold {
            return Err("elevated_threshold must not exceed anomaly_threshold".into());
        }
        Ok(())
    }

    /// The named parameters of `sql/agent_profiles.sql`.
    pub fn sql_params(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("window_secs", self.window_secs.to_string()),
            ("hop_secs", self.hop().to_string()),
            ("windows_per_event", self.windows_per_event().to_string()),
            ("weight_file", fmt_f64(self.weight_file)),
            ("weight_network", fmt_f64(self.weight_network)),
            ("weight_entropy", fmt_f64(self.weight_entropy)),
            ("anomaly_threshold", fmt_f64(self.anomaly_threshold)),
            ("elevated_threshold", fmt_f64(self.elevated_threshold)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Shortest text that parses back to the same f64 (Rust's `Display`).
fn fmt_f64(x: f64) -> String {
    format!("{x:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_values_and_valid() {
        let s = AgentSettings::default();
        s.validate().unwrap();
        assert_eq!(
            (s.window_secs, s.hop(), s.windows_per_event()),
            (300, 300, 1)
        );
        let p = s.sql_params();
        assert_eq!(p["weight_file"], "0.4");
        assert_eq!(p["anomaly_threshold"], "0.7");
        let hop = AgentSettings {
            hop_secs: Some(120),
            ..s
        };
        assert_eq!(hop.windows_per_event(), 3);
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = |f: fn(&mut AgentSettings)| {
            let mut s = AgentSettings::default();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.window_secs = 0).contains("window_secs"));
        assert!(bad(|s| s.hop_secs = Some(301)).contains("hop_secs"));
        assert!(bad(|s| s.hop_secs = Some(0)).contains("hop_secs"));
        assert!(bad(|s| {
            s.window_secs = 100_000;
            s.hop_secs = Some(1);
        })
        .contains("windows per event"));
        assert!(bad(|s| s.weight_entropy = f64::NAN).contains("weight_entropy"));
        assert!(bad(|s| s.weight_file = -0.1).contains("weight_file"));
        assert!(bad(|s| s.anomaly_threshold = 1.5).contains("anomaly_threshold"));
        assert!(bad(|s| s.elevated_threshold = 0.8).contains("elevated_threshold"));
    }
}
