//! DECNET's shard layout and naming rules (spec/behave-shell.md §1.2).
//!
//! `<decky>/<service>/[transcripts/]sessions-YYYY-MM-DD.jsonl`, matched on
//! the *tail* of an object's path, so a source URL may point at the
//! artifacts root, at one decky, or at one shard. `.gz` and `.zst`
//! suffixes are accepted (the content is sniffed by `decode`, not the
//! name). Pure: no I/O.

use chrono::NaiveDate;

/// A validated shard name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardName {
    /// The decky (`^[a-z0-9][a-z0-9-]{0,62}$`).
    pub decky: String,
    /// `ssh` or `telnet`.
    pub service: String,
    /// The canonical basename `sessions-YYYY-MM-DD.jsonl`, without any
    /// compression suffix, so `evidence_ref`s match DECNET's (spec §1.10).
    pub basename: String,
    /// The UTC day in the basename.
    pub date: NaiveDate,
}

impl ShardName {
    /// The evidence pointer of a session of this shard (spec §1.10):
    /// `shard:<decky>/<service>/<basename>#<sid>`.
    pub fn evidence_ref(&self, sid: &str) -> String {
        format!(
            "shard:{}/{}/{}#{}",
            self.decky, self.service, self.basename, sid
        )
    }
}

/// What an object path is, as far as sessrec listing is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// A valid shard.
    Shard(ShardName),
    /// Looks like a shard (a `.jsonl[.gz|.zst]` object) but breaks a rule.
    BadName {
        /// The rule that failed (no path content).
        why: &'static str,
        /// The basename's date when that part is valid (for the dlq
        /// partition).
        date: Option<NaiveDate>,
    },
    /// Not a shard at all (README, other extensions): ignored.
    NotAShard,
}

/// Classify an object path given as its `/`-separated segments.
pub fn classify(parts: &[&str]) -> Candidate {
    let Some((&file, dirs)) = parts.split_last() else {
        return Candidate::NotAShard;
    };
    let Some(basename) = strip_compression(file) else {
        return Candidate::NotAShard;
    };
    let date = parse_basename(basename);
    let bad = |why| Candidate::BadName { why, date };
    if date.is_none() {
        return bad("basename does not match ^sessions-YYYY-MM-DD\\.jsonl$ with a calendar date");
    }
    let dirs = match dirs.split_last() {
        Some((&"transcripts", rest)) => rest,
        _ => dirs,
    };
    let Some((&service, dirs)) = dirs.split_last() else {
        return bad("no <decky>/<service>/ directories above the shard");
    };
    if !is_service(service) {
        return bad("service does not match ^(ssh|telnet)$");
    }
    let Some(&decky) = dirs.last() else {
        return bad("no <decky>/ directory above the service");
    };
    if !is_decky(decky) {
        return bad("decky does not match ^[a-z0-9][a-z0-9-]{0,62}$");
    }
    Candidate::Shard(ShardName {
        decky: decky.to_string(),
        service: service.to_string(),
        basename: basename.to_string(),
        date: date.expect("checked above"),
    })
}

/// `sessions-….jsonl` from `….jsonl`, `….jsonl.gz`, `….jsonl.zst`; None for
/// anything that is not JSON lines.
fn strip_compression(file: &str) -> Option<&str> {
    let base = file
        .strip_suffix(".gz")
        .or_else(|| file.strip_suffix(".zst"))
        .unwrap_or(file);
    base.ends_with(".jsonl").then_some(base)
}

/// The date of `sessions-YYYY-MM-DD.jsonl` (ASCII digits only; Python's
/// `\d` would also take other Unicode digits, which no recorder writes).
fn parse_basename(base: &str) -> Option<NaiveDate> {
    let ymd = base.strip_prefix("sessions-")?.strip_suffix(".jsonl")?;
    let b = ymd.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    NaiveDate::parse_from_str(ymd, "%Y-%m-%d").ok()
}

fn is_service(s: &str) -> bool {
    s == "ssh" || s == "telnet"
}

fn is_decky(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && b.len() <= 63 && ok(&b[0]) && b[1..].iter().all(|c| ok(c) || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<&str> {
        p.split('/').collect()
    }

    #[test]
    fn classify_accepts_decnet_layouts() {
        for p in [
            "root/web-01/ssh/transcripts/sessions-2026-05-02.jsonl",
            "web-01/ssh/sessions-2026-05-02.jsonl",
            "web-01/ssh/sessions-2026-05-02.jsonl.gz",
            "web-01/ssh/transcripts/sessions-2026-05-02.jsonl.zst",
        ] {
            let Candidate::Shard(s) = classify(&parts(p)) else {
                panic!("{p}")
            };
            assert_eq!(s.basename, "sessions-2026-05-02.jsonl");
            assert_eq!(
                s.evidence_ref("x"),
                "shard:web-01/ssh/sessions-2026-05-02.jsonl#x"
            );
        }
        let Candidate::Shard(s) = classify(&parts("a/telnet/sessions-2024-02-29.jsonl")) else {
            panic!()
        };
        assert_eq!((s.decky.as_str(), s.service.as_str()), ("a", "telnet"));
    }

    #[test]
    fn classify_rejects_bad_names() {
        for p in [
            "Web-01/ssh/sessions-2026-05-02.jsonl",
            "-web/ssh/sessions-2026-05-02.jsonl",
            "web_01/ssh/sessions-2026-05-02.jsonl",
            "web-01/ftp/sessions-2026-05-02.jsonl",
            "web-01/SSH/sessions-2026-05-02.jsonl",
            "web-01/ssh/sessions-2026-13-02.jsonl",
            "web-01/ssh/sessions-2026-5-02.jsonl",
            "web-01/ssh/session-2026-05-02.jsonl",
            "ssh/sessions-2026-05-02.jsonl",
            "sessions-2026-05-02.jsonl",
            "x/web-01/ssh/extra/sessions-2026-05-02.jsonl",
        ] {
            assert!(
                matches!(classify(&parts(p)), Candidate::BadName { .. }),
                "{p}"
            );
        }
        let long = format!("{}/ssh/sessions-2026-05-02.jsonl", "a".repeat(64));
        assert!(matches!(classify(&parts(&long)), Candidate::BadName { .. }));
        let max = format!("{}/ssh/sessions-2026-05-02.jsonl", "a".repeat(63));
        assert!(matches!(classify(&parts(&max)), Candidate::Shard(_)));
    }

    #[test]
    fn classify_ignores_non_shards() {
        for p in [
            "web-01/ssh/README.md",
            "web-01/ssh/x.cast",
            "a.jsonl.bak",
            "",
        ] {
            assert_eq!(classify(&parts(p)), Candidate::NotAShard, "{p}");
        }
    }

    #[test]
    fn bad_name_keeps_valid_date() {
        let Candidate::BadName { date, .. } = classify(&parts("Bad/ssh/sessions-2026-05-02.jsonl"))
        else {
            panic!()
        };
        assert_eq!(date, NaiveDate::from_ymd_opt(2026, 5, 2));
    }
}
