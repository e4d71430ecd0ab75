//! Engine benchmark (issue 3): the extraction engine alone versus the JSON
//! decoding of the same shards, one thread, release build.
//!
//! `cargo bench --bench engine -- <dir with sessions-*.jsonl>`; `make bench`
//! runs it over the generated bench data. Prints MB/s of shard bytes and
//! sessions/s for each half; the target is extract ≥ 2× decode.
//!
//! Two measures. The first runs each half once per shard, in the
//! pipeline's order (decode a shard, extract its sessions), so each half
//! starts on caches and branch history the other one left. Between the
//! two, as in the pipeline, each session's event list is built from the
//! decoded shard (the engine's input); that is timed apart and printed. The second is
//! the steady state a criterion-style benchmark reports: each half runs
//! three times over a shard and the last two runs are timed.
//!
//! `-- --strip <dir>` times the output strip alone (narrowing and ANSI
//! stripping of every session's output events, best of seven passes over
//! the first 60 shards); with `--no-esc` every ESC is first replaced by
//! `x`, so the difference is what the escapes cost.
//!
//! `-- --breakdown <dir>` instead times the context build and each of the
//! 38 primitives separately (all shards decoded first, each part run over
//! every session), to show where the engine's time goes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use driftlake::decode::sessrec::decode_shard;
use driftlake::extract::behave::{ctx, extract_session, FEATURES};
use driftlake::model::observation::Primitive;

fn shards(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            shards(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("sessions-") && n.ends_with(".jsonl"))
        {
            out.push(p);
        }
    }
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "fixtures".into());
    let mut files = Vec::new();
    shards(Path::new(&dir), &mut files);
    files.sort();
    if files.is_empty() {
        eprintln!("no sessions-*.jsonl under {dir}");
        std::process::exit(2);
    }
    if std::env::args().any(|a| a == "--breakdown") {
        breakdown(&files);
        return;
    }
    if std::env::args().any(|a| a == "--strip") {
        strip(&files);
        return;
    }
    if std::env::args().any(|a| a == "--digest") {
        digest(&files);
        return;
    }
    let (mut bytes, mut sessions, mut observations) = (0u64, 0u64, 0u64);
    let (mut t_decode, mut t_extract, mut t_events) = (0f64, 0f64, 0f64);
    let mut payload_chars = 0u64;
    for f in &files {
        let data = std::fs::read(f).expect("bench input is readable");
        bytes += data.len() as u64;
        let t0 = Instant::now();
        let shard = decode_shard(&data);
        t_decode += t0.elapsed().as_secs_f64();
        // The engine's input, the events of each session borrowing the
        // shard's chars: the pipeline builds it between the two halves, so
        // it is timed apart from both.
        let t = Instant::now();
        let inputs: Vec<_> = shard
            .sessions
            .iter()
            .map(|s| s.events(&shard.chars))
            .collect();
        t_events += t.elapsed().as_secs_f64();
        let t1 = Instant::now();
        for events in &inputs {
            if let Ok(x) = extract_session(events) {
                observations += x.observations.len() as u64;
            }
        }
        t_extract += t1.elapsed().as_secs_f64();
        sessions += inputs.len() as u64;
        payload_chars += inputs
            .iter()
            .flatten()
            .map(|e| e.data.len() as u64)
            .sum::<u64>();
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "shards={} bytes={} sessions={} observations={} payload_chars={}",
        files.len(),
        bytes,
        sessions,
        observations,
        payload_chars
    );
    println!(
        "decode : {:8.1} MB/s  {:9.0} sessions/s",
        mb / t_decode,
        sessions as f64 / t_decode
    );
    println!(
        "extract: {:8.1} MB/s  {:9.0} sessions/s  ({:.1} M payload chars/s)",
        mb / t_extract,
        sessions as f64 / t_extract,
        payload_chars as f64 / 1e6 / t_extract
    );
    println!(
        "(building the sessions' event lists, in neither half: {:.1} ms)",
        t_events * 1e3
    );
    println!("extract/decode speed ratio: {:.2}x", t_decode / t_extract);
    steady_state(&files);
}

/// The criterion-style measure: each half three times over each shard, the
/// last two timed (the first warms the caches and branch history).
fn steady_state(files: &[PathBuf]) {
    const RUNS: usize = 3;
    let (mut bytes, mut t_decode, mut t_extract) = (0u64, 0f64, 0f64);
    for f in files {
        let data = std::fs::read(f).expect("bench input is readable");
        bytes += data.len() as u64;
        let mut shard = decode_shard(&data);
        for _ in 1..RUNS {
            // The last run's shard is dropped before the clock starts.
            drop(shard);
            let t = Instant::now();
            shard = decode_shard(&data);
            t_decode += t.elapsed().as_secs_f64();
        }
        let inputs: Vec<_> = shard
            .sessions
            .iter()
            .map(|s| s.events(&shard.chars))
            .collect();
        for run in 0..RUNS {
            let t = Instant::now();
            for events in &inputs {
                std::hint::black_box(extract_session(events).ok());
            }
            if run > 0 {
                t_extract += t.elapsed().as_secs_f64();
            }
        }
    }
    let mb = bytes as f64 / 1e6 * (RUNS - 1) as f64;
    println!(
        "steady state (each half {RUNS} times per shard, the last {} timed): \
         decode {:.1} MB/s, extract {:.1} MB/s, ratio {:.2}x",
        RUNS - 1,
        mb / t_decode,
        mb / t_extract,
        t_decode / t_extract
    );
}

/// The output strip alone (see the module doc).
fn strip(files: &[PathBuf]) {
    use driftlake::extract::behave::text::narrow_strip_pieces;
    use driftlake::model::event::Channel;
    let no_esc = std::env::args().any(|a| a == "--no-esc");
    let mut outputs: Vec<Vec<Vec<u32>>> = Vec::new();
    for f in files.iter().take(60) {
        let shard = decode_shard(&std::fs::read(f).expect("bench input is readable"));
        for s in &shard.sessions {
            let events = s.events(&shard.chars);
            let pieces = events.iter().filter(|e| e.ch == Channel::Output);
            outputs.push(
                pieces
                    .map(|e| {
                        let x = |&c: &u32| if no_esc && c == 0x1B { 0x78 } else { c };
                        e.data.iter().map(x).collect()
                    })
                    .collect(),
            );
        }
    }
    let chars: usize = outputs.iter().flatten().map(Vec::len).sum();
    let escs = outputs
        .iter()
        .flatten()
        .flatten()
        .filter(|&&c| c == 0x1B)
        .count();
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        for pieces in &outputs {
            std::hint::black_box(narrow_strip_pieces(pieces));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{} sessions, {chars} output chars, {escs} ESCs: {:.2} ms ({:.3} ns per char)",
        outputs.len(),
        best * 1e3,
        best * 1e9 / chars as f64
    );
}

/// Seconds of the context build and of each primitive, over every session.
fn breakdown(files: &[PathBuf]) {
    let shards: Vec<_> = files
        .iter()
        .map(|f| decode_shard(&std::fs::read(f).expect("bench input is readable")))
        .collect();
    let sessions: Vec<_> = shards
        .iter()
        .flat_map(|sh| sh.sessions.iter().map(|s| s.events(&sh.chars)))
        .collect();
    // Interleaved per session, as the engine runs: build, the 38, drop.
    let mut parts: Vec<(f64, &str)> = Primitive::ALL.iter().map(|p| (0.0, p.as_str())).collect();
    let (mut build, mut dropping) = (0.0, 0.0);
    for events in &sessions {
        let t = Instant::now();
        let Ok(c) = ctx::build(events) else {
            continue;
        };
        build += t.elapsed().as_secs_f64();
        for (f, part) in FEATURES.iter().zip(&mut parts) {
            let t = Instant::now();
            std::hint::black_box(f(&c));
            part.0 += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        drop(c);
        dropping += t.elapsed().as_secs_f64();
    }
    parts.push((dropping, "(dropping the context)"));
    parts.push((build, "(context build)"));
    let total: f64 = parts.iter().map(|p| p.0).sum();
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("{} sessions, {:.1} ms in all", sessions.len(), total * 1e3);
    for (s, name) in parts {
        println!("{:8.2} ms {:5.1} %  {name}", s * 1e3, 100.0 * s / total);
    }
}

/// A hash of every session's outcome, in shard and session order.
fn digest(files: &[PathBuf]) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let (mut sessions, mut observations) = (0u64, 0u64);
    for f in files {
        let shard = decode_shard(&std::fs::read(f).expect("bench input is readable"));
        for s in &shard.sessions {
            let outcome = extract_session(&s.events(&shard.chars));
            if let Ok(x) = &outcome {
                observations += x.observations.len() as u64;
            }
            // Debug prints floats exactly (shortest round-trip form).
            format!("{outcome:?}").hash(&mut h);
            sessions += 1;
        }
    }
    println!(
        "sessions={sessions} observations={observations} digest={:016x}",
        h.finish()
    );
}
