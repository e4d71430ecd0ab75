//! The recorder's `session_recorded` syslog lines → sid ↔ source IP.
//!
//! When a session ends, sessrec writes an RFC 5424 line to PID 1's stdout
//! with event type `session_recorded` and the structured data
//! `[relay@55555 sid="…" service="…" src_ip="…" duration_s="<%.3f>"
//! bytes="<n>" truncated="true|false"]` (behave-shell.md §1.10). The
//! `sessions` table takes `src_ip` (and thus `identity_ref`) from it
//! (lake.md §3).
//!
//! A line is a `session_recorded` record when its RFC 5424 MSGID (or
//! APP-NAME) is `session_recorded`. Every other line, syslog or not, is
//! skipped (`other_syslog`); collector logs hold many event types. A
//! `session_recorded` line that cannot be read is dead: `bad_header` (not
//! RFC 5424), `bad_sd` (structured data missing or malformed, or a bad
//! field), `bad_sid`, `bad_ip`, `invalid_utf8`.

use super::frame::{self, LineSink, MAX_LINE_BYTES};
use crate::model::dead_letter::{DeadLetter, Reason, RecordStats};
use std::net::IpAddr;

/// The event type this decoder reads.
pub const EVENT_TYPE: &str = "session_recorded";
/// The SD-ID of sessrec's structured data element.
pub const SD_ID: &str = "relay@55555";

/// One `session_recorded` record.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecorded {
    /// The session id (`sid`).
    pub sid: String,
    /// `ssh` or `telnet` as written (not validated here).
    pub service: String,
    /// The attacker's address.
    pub src_ip: IpAddr,
    /// Session duration in seconds, when present.
    pub duration_s: Option<f64>,
    /// Raw payload bytes recorded, when present.
    pub bytes: Option<u64>,
    /// Whether the 10 MiB cap cut the recording, when present.
    pub truncated: Option<bool>,
    /// The RFC 5424 TIMESTAMP field as written (`None` for `-`).
    pub timestamp: Option<String>,
    /// The RFC 5424 HOSTNAME field (`None` for `-`).
    pub hostname: Option<String>,
}

/// Decoded syslog input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyslogRecords {
    /// The `session_recorded` records, in line order.
    pub records: Vec<SessionRecorded>,
    /// Dead letters, in line order.
    pub dead: Vec<DeadLetter>,
    /// Line accounting.
    pub stats: RecordStats,
}

/// Push decoder for syslog lines.
#[derive(Debug, Default)]
pub struct SyslogDecoder {
    out: SyslogRecords,
}

type Dead = (Reason, String);

/// The fields of an RFC 5424 header, borrowed from the line.
struct Header<'a> {
    timestamp: &'a str,
    hostname: &'a str,
    app_name: &'a str,
    msg_id: &'a str,
    /// STRUCTURED-DATA and MSG.
    rest: &'a str,
}

/// Split `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID rest`. Leading
/// text before `<PRI>` (a collector's own prefix) is ignored.
fn parse_header(line: &str) -> Option<Header<'_>> {
    let b = line.as_bytes();
    let mut from = 0;
    let start = loop {
        let lt = from + line[from..].find('<')?;
        let digits = b[lt + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if (1..=3).contains(&digits)
            && b.get(lt + 1 + digits) == Some(&b'>')
            && b[lt + 2 + digits..].starts_with(b"1 ")
        {
            let pri: u16 = line[lt + 1..lt + 1 + digits].parse().ok()?;
            if pri <= 191 {
                break lt + digits + 4;
            }
        }
        from = lt + 1;
    };
    let mut parts = line[start..].splitn(6, ' ');
    let timestamp = parts.next()?;
    let hostname = parts.next()?;
    let app_name = parts.next()?;
    let _procid = parts.next()?;
    let msg_id = parts.next()?;
    let rest = parts.next().unwrap_or("");
    if [timestamp, hostname, app_name, msg_id]
        .iter()
        .any(|f| f.is_empty())
    {
        return None;
    }
    Some(Header {
        timestamp,
        hostname,
        app_name,
        msg_id,
        rest,
    })
}

/// One SD-ELEMENT: its ID and (name, unescaped value) params.
type SdElement<'a> = (&'a str, Vec<(&'a str, String)>);

/// Parse STRUCTURED-DATA at the start of `s` (RFC 5424 §6.3). Returns the
/// elements; `-` gives none. In PARAM-VALUE, `\"`, `\\` and `\]` are
/// escapes; any other backslash is kept as is (§6.3.3).
fn parse_sd(s: &str) -> Result<Vec<SdElement<'_>>, String> {
    if s == "-" || s.starts_with("- ") {
        return Ok(Vec::new());
    }
    let b = s.as_bytes();
    let mut p = 0;
    let mut out = Vec::new();
    while b.get(p) == Some(&b'[') {
        p += 1;
        let id_start = p;
        while p < b.len() && !matches!(b[p], b' ' | b']' | b'=' | b'"') {
            p += 1;
        }
        let id = &s[id_start..p];
        if id.is_empty() {
            return Err("empty SD-ID".into());
        }
        let mut params = Vec::new();
        loop {
            match b.get(p) {
                Some(b']') => {
                    p += 1;
                    break;
                }
                Some(b' ') => p += 1,
                _ => return Err(format!("malformed SD element {id}")),
            }
            let name_start = p;
            while p < b.len() && !matches!(b[p], b' ' | b']' | b'=' | b'"') {
                p += 1;
            }
            let name = &s[name_start..p];
            if name.is_empty() || b.get(p) != Some(&b'=') || b.get(p + 1) != Some(&b'"') {
                return Err(format!("malformed SD-PARAM in {id}"));
            }
            p += 2;
            let mut value = String::new();
            let mut run = p;
            loop {
                match b.get(p) {
                    None => return Err(format!("unterminated value of {name}")),
                    Some(b'"') => {
                        value.push_str(&s[run..p]);
                        p += 1;
                        break;
                    }
                    Some(b'\\') if matches!(b.get(p + 1), Some(b'"' | b'\\' | b']')) => {
                        value.push_str(&s[run..p]);
                        run = p + 1;
                        p += 2;
                    }
                    Some(_) => p += 1,
                }
            }
            params.push((name, value));
        }
        out.push((id, params));
    }
    if out.is_empty() {
        return Err("no structured data".into());
    }
    match b.get(p) {
        None | Some(b' ') => Ok(out),
        Some(_) => Err("junk after structured data".into()),
    }
}

fn nil(s: &str) -> Option<String> {
    (s != "-").then(|| s.to_string())
}

fn read_record(line: &str) -> Result<Option<SessionRecorded>, Dead> {
    let Some(h) = parse_header(line) else {
        return Err((
            Reason::BadHeader,
            "session_recorded line is not RFC 5424".into(),
        ));
    };
    if h.msg_id != EVENT_TYPE && h.app_name != EVENT_TYPE {
        return Ok(None);
    }
    let sd = parse_sd(h.rest).map_err(|m| (Reason::BadSd, m))?;
    let Some((_, params)) = sd.iter().rev().find(|(id, _)| *id == SD_ID) else {
        return Err((Reason::BadSd, format!("no {SD_ID} element")));
    };
    // A repeated PARAM-NAME: the last one wins, like JSON keys elsewhere.
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
    };
    let sid = match get("sid") {
        Some(s) if !s.is_empty() => s.to_string(),
        Some(_) => return Err((Reason::BadSid, "sid is empty".into())),
        None => return Err((Reason::BadSid, "no sid param".into())),
    };
    let service = get("service")
        .ok_or((Reason::BadSd, "no service param".to_string()))?
        .to_string();
    let src_ip = match get("src_ip") {
        None => return Err((Reason::BadIp, "no src_ip param".into())),
        Some(v) => v
            .parse::<IpAddr>()
            .map_err(|_| (Reason::BadIp, "src_ip is not an IP address".to_string()))?,
    };
    let duration_s = match get("duration_s") {
        None => None,
        Some(v) => match v.parse::<f64>() {
            Ok(d) if d.is_finite() && d >= 0.0 => Some(d),
            _ => {
                return Err((
                    Reason::BadSd,
                    "duration_s is not a non-negative number".into(),
                ))
            }
        },
    };
    let bytes = match get("bytes") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| (Reason::BadSd, "bytes is not an unsigned int".to_string()))?,
        ),
    };
    let truncated = match get("truncated") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err((Reason::BadSd, "truncated is not true or false".into())),
    };
    Ok(Some(SessionRecorded {
        sid,
        service,
        src_ip,
        duration_s,
        bytes,
        truncated,
        timestamp: nil(h.timestamp),
        hostname: nil(h.hostname),
    }))
}

impl SyslogDecoder {
    /// A decoder with nothing read.
    pub fn new() -> Self {
        SyslogDecoder::default()
    }

    fn dead(&mut self, line_no: u64, off: u64, raw: &[u8], (reason, detail): Dead) {
        self.out.stats.add_dead();
        self.out
            .dead
            .push(DeadLetter::new(Some(line_no), off, reason, detail, raw));
    }

    /// Read one line (without its `\n`).
    pub fn push_line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        if memchr::memmem::find(body, EVENT_TYPE.as_bytes()).is_none() {
            self.out.stats.add_skipped();
            return;
        }
        if line.len() > MAX_LINE_BYTES {
            let d = (
                Reason::LineTooLong,
                format!(
                    "line of {} bytes exceeds the {MAX_LINE_BYTES} byte limit",
                    line.len()
                ),
            );
            return self.dead(line_no, byte_offset, line, d);
        }
        let text = match std::str::from_utf8(body) {
            Ok(t) => t,
            Err(e) => {
                let d = (
                    Reason::InvalidUtf8,
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                );
                return self.dead(line_no, byte_offset, line, d);
            }
        };
        match read_record(text) {
            Ok(Some(r)) => {
                self.out.stats.add_ok();
                self.out.records.push(r);
            }
            Ok(None) => self.out.stats.add_skipped(),
            Err(d) => self.dead(line_no, byte_offset, line, d),
        }
    }

    /// Close the input.
    pub fn finish(self) -> SyslogRecords {
        debug_assert!(self.out.stats.balanced());
        self.out
    }
}

impl LineSink for SyslogDecoder {
    fn line(&mut self, line: &[u8], line_no: u64, byte_offset: u64) {
        self.push_line(line, line_no, byte_offset);
    }
    fn too_long(&mut self, len: u64, raw_sha256: [u8; 32], line_no: u64, byte_offset: u64) {
        // Not kept, so we cannot tell whether it was a session_recorded
        // line: make it visible rather than skip it silently.
        self.out.stats.add_dead();
        self.out.dead.push(DeadLetter {
            line: Some(line_no),
            byte_offset,
            reason: Reason::LineTooLong,
            detail: format!("line of {len} bytes exceeds the {MAX_LINE_BYTES} byte limit"),
            raw_sha256,
        });
    }
}

/// Decode a whole uncompressed syslog text.
pub fn decode_syslog(bytes: &[u8]) -> SyslogRecords {
    let mut dec = SyslogDecoder::new();
    frame::frame_all(bytes, &mut dec);
    dec.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "5b0e2c6a-93d1-4f7e-8a2b-c4d5e6f70819";

    fn line(sd: &str) -> String {
        format!("<134>1 2026-05-02T10:15:00.123Z web-01 sessrec 77 session_recorded {sd}")
    }

    #[test]
    fn reads_a_record() {
        let l = line(&format!(
            "[relay@55555 sid=\"{SID}\" service=\"ssh\" src_ip=\"198.51.100.7\" duration_s=\"93.250\" bytes=\"4096\" truncated=\"false\"]"
        ));
        let got = decode_syslog(l.as_bytes());
        assert_eq!(
            got.stats,
            RecordStats {
                read: 1,
                ok: 1,
                skipped: 0,
                dead: 0
            }
        );
        let r = &got.records[0];
        assert_eq!(r.sid, SID);
        assert_eq!(r.service, "ssh");
        assert_eq!(r.src_ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.duration_s, r.bytes, r.truncated),
            (Some(93.25), Some(4096), Some(false))
        );
        assert_eq!(r.timestamp.as_deref(), Some("2026-05-02T10:15:00.123Z"));
        assert_eq!(r.hostname.as_deref(), Some("web-01"));
    }

    #[test]
    fn escapes_ipv6_optional_fields_and_prefixes() {
        let l = format!(
            "2026-05-02T10:15:00Z stdout F <13>1 - - - - session_recorded [meta x=\"a\\]b\"][relay@55555 sid=\"{SID}\" service=\"tel\\\"net\\\\\" src_ip=\"2001:db8::1\" note=\"c:\\d\"] trailing msg"
        );
        let got = decode_syslog(l.as_bytes());
        assert!(got.dead.is_empty(), "{:?}", got.dead);
        let r = &got.records[0];
        assert_eq!(r.service, "tel\"net\\");
        assert_eq!(r.src_ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.duration_s, r.bytes, r.truncated, r.timestamp.clone()),
            (None, None, None, None)
        );
        assert_eq!(parse_sd("[a x=\"c:\\d\\]\"]").unwrap()[0].1[0].1, "c:\\d]");
    }

    #[test]
    fn other_lines_are_skipped_and_bad_ones_dead() {
        let good = format!("[relay@55555 sid=\"{SID}\" service=\"ssh\" src_ip=\"10.0.0.1\"]");
        let lines = [
            "".to_string(),
            "<134>1 2026-05-02T10:15:00Z web-01 sshd 1 login [relay@55555 user=\"root\"]"
                .to_string(),
            "plain text mentioning session_recorded in passing".to_string(),
            "<134>1 2026-05-02T10:15:00Z web-01 sessrec 77 other_event msg about session_recorded"
                .to_string(),
            line(&good),
            line(&good.replace("10.0.0.1", "10.0.0.999")),
            line(&good.replace(" src_ip=\"10.0.0.1\"", "")),
            line(&good.replace(SID, "")),
            line(&good.replace("relay@55555", "other@1")),
            line("-"),
            line(&good.replace("\"]", "\" truncated=\"maybe\"]")),
            line(&good.replace("\"]", "\" bytes=\"-1\"]")),
            line(&good.replace("\"]", "\" duration_s=\"NaN\"]")),
            line(&good.replace("\"]", "")),
            line(&format!("{good}junk")),
            format!("{}\u{fffd}", line(&good)).replace('\u{fffd}', ""),
        ];
        let mut text = lines.join("\n").into_bytes();
        text.extend_from_slice(b"\n<134>1 - - - - session_recorded [relay@55555 sid=\"\xff\"]\n");
        let got = decode_syslog(&text);
        let reasons: Vec<(u64, &str)> = got
            .dead
            .iter()
            .map(|d| (d.line.unwrap(), d.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (3, "bad_header"),
                (6, "bad_ip"),
                (7, "bad_ip"),
                (8, "bad_sid"),
                (9, "bad_sd"),
                (10, "bad_sd"),
                (11, "bad_sd"),
                (12, "bad_sd"),
                (13, "bad_sd"),
                (14, "bad_sd"),
                (15, "bad_sd"),
                (17, "invalid_utf8"),
            ]
        );
        assert_eq!(got.records.len(), 2);
        assert_eq!(
            (got.stats.read, got.stats.ok, got.stats.skipped),
            (17, 2, 3)
        );
        assert!(got.stats.balanced());
        // Details never carry the line's values.
        assert!(got
            .dead
            .iter()
            .all(|d| !d.detail.contains("10.0.0.999") && !d.detail.contains("maybe")));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(s in "\\PC{0,80}", t in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let mut text = format!("<1>1 - - - - session_recorded {s}\n").into_bytes();
            text.extend(b"<1>1 - - - - session_recorded [relay@55555 ");
            text.extend(t);
            let got = decode_syslog(&text);
            proptest::prop_assert!(got.stats.balanced());
            let lines = text.iter().filter(|&&b| b == b'\n').count() + usize::from(!text.ends_with(b"\n"));
            proptest::prop_assert_eq!(got.stats.read, lines as u64);
        }
    }
}
