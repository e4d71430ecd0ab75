//! Crash points for the kill test (issue 8): every lake write (put or
//! delete, the lock included) passes `before_write` first.
//!
//! With `DRIFTLAKE_TEST_CRASH_AT=N` the process kills itself with SIGKILL
//! just before its N-th write, as `kill -9` at that instant would; with
//! `DRIFTLAKE_TEST_CRASH_AT=list` it names every write on stderr as
//! `driftlake-crash-point <n> <op> <object>`. Unset (every real run), a
//! write costs one atomic add here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms the crash points.
pub const CRASH_ENV: &str = "DRIFTLAKE_TEST_CRASH_AT";

enum Armed {
    Off,
    List,
    At(u64),
}

fn armed() -> &'static Armed {
    static ARMED: OnceLock<Armed> = OnceLock::new();
    ARMED.get_or_init(|| match std::env::var(CRASH_ENV).ok().as_deref() {
        None | Some("") => Armed::Off,
        Some("list") => Armed::List,
        Some(n) => n.parse().map_or(Armed::Off, Armed::At),
    })
}

static WRITES: AtomicU64 = AtomicU64::new(0);

/// Count one lake write of `object` (`op`: `put`, `delete`) and, when armed
/// for this one, die here.
pub(crate) fn before_write(op: &str, object: &dyn std::fmt::Display) {
    let n = WRITES.fetch_add(1, Ordering::Relaxed) + 1;
    match armed() {
        Armed::Off => {}
        Armed::List => eprintln!("driftlake-crash-point {n} {op} {object}"),
        Armed::At(k) if *k == n => {
            eprintln!("driftlake-crash-point {n} {op} {object}: killed");
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            // `kill` missing: die without unwinding all the same.
            std::process::abort();
        }
        Armed::At(_) => {}
    }
}
