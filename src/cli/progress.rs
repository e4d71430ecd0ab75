//! Showing a run's progress (`pipeline::progress` events): one indicatif
//! bar per stage, with bytes and rows, when stderr is a terminal; one plain
//! line per finished stage otherwise (cron mail, journald). `-q` shows
//! neither.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::pipeline::progress::TARGET;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bars on a terminal.
    Bars,
    /// One line per finished stage.
    Lines,
}

/// The fields of one progress event.
#[derive(Default)]
struct Fields {
    event: String,
    stage: String,
    table: String,
    bytes: u64,
    rows: u64,
    total_bytes: u64,
    inputs: u64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "event" => self.event = value.to_string(),
            "stage" => self.stage = value.to_string(),
            "table" => self.table = value.to_string(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "bytes" => self.bytes = value,
            "rows" => self.rows = value,
            "total_bytes" => self.total_bytes = value,
            "inputs" => self.inputs = value,
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, u64::try_from(value).unwrap_or(0));
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// The stage being shown.
struct Stage {
    name: String,
    started: Instant,
    inputs: u64,
    done: u64,
    bytes: u64,
    rows: u64,
    tables: Vec<String>,
    bar: Option<ProgressBar>,
}

impl Stage {
    fn message(&self) -> String {
        let mut m = format!("{} rows", self.rows);
        if self.inputs > 0 {
            let _ = write!(m, ", {}/{} inputs", self.done, self.inputs);
        }
        if let Some(t) = self.tables.last() {
            let _ = write!(m, ", committed {t}");
        }
        m
    }

    fn line(&self) -> String {
        let mut l = format!("driftlake: {}: {} rows", self.name, self.rows);
        if self.inputs > 0 {
            let _ = write!(l, " from {} inputs ({})", self.done, HumanBytes(self.bytes));
        }
        if !self.tables.is_empty() {
            let _ = write!(l, "; committed {}", self.tables.join(", "));
        }
        let _ = write!(l, " in {:.2} s", self.started.elapsed().as_secs_f64());
        l
    }
}

/// The tracing layer that draws progress.
pub struct ProgressLayer {
    mode: Mode,
    current: Mutex<Option<Stage>>,
}

impl ProgressLayer {
    /// A layer showing progress in `mode`.
    pub fn new(mode: Mode) -> Self {
        ProgressLayer {
            mode,
            current: Mutex::new(None),
        }
    }

    fn finish(&self, stage: Stage) {
        match (&stage.bar, self.mode) {
            (Some(bar), _) => bar.finish_with_message(stage.message()),
            (None, Mode::Lines) => eprintln!("{}", stage.line()),
            (None, Mode::Bars) => {}
        }
    }

    fn bar(&self, total_bytes: u64) -> Option<ProgressBar> {
        if self.mode != Mode::Bars {
            return None;
        }
        let bar = if total_bytes > 0 {
            ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{prefix:>16.bold} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                )
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{prefix:>16.bold} {spinner} {msg} ({elapsed})")
                    .expect("a valid template"),
            )
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    }

    fn on(&self, f: Fields) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match f.event.as_str() {
            "start" => {
                if let Some(prev) = current.take() {
                    self.finish(prev);
                }
                let bar = self.bar(f.total_bytes);
                if let Some(b) = &bar {
                    b.set_prefix(f.stage.clone());
                }
                *current = Some(Stage {
                    name: f.stage,
                    started: Instant::now(),
                    inputs: f.inputs,
                    done: 0,
                    bytes: 0,
                    rows: 0,
                    tables: Vec::new(),
                    bar,
                });
            }
            "advance" => {
                let Some(s) = current.as_mut() else {
                    return;
                };
                s.bytes += f.bytes;
                s.rows += f.rows;
                if f.table.is_empty() {
                    s.done += 1;
                } else {
                    s.tables.push(f.table);
                }
                if let Some(b) = &s.bar {
                    b.inc(f.bytes);
                    b.set_message(s.message());
                }
            }
            "read" => {
                if let Some(s) = current.as_mut() {
                    s.bytes += f.bytes;
                    if let Some(b) = &s.bar {
                        b.inc(f.bytes);
                    }
                }
            }
            "done" => {
                if let Some(prev) = current.take() {
                    self.finish(prev);
                }
            }
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for ProgressLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        self.on(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, stage: &str, table: &str, bytes: u64, rows: u64) -> Fields {
        Fields {
            event: event.into(),
            stage: stage.into(),
            table: table.into(),
            bytes,
            rows,
            ..Fields::default()
        }
    }

    #[test]
    fn a_stage_counts_inputs_bytes_rows_and_tables() {
        let layer = ProgressLayer::new(Mode::Lines);
        let mut start = ev("start", "decode", "", 0, 0);
        start.inputs = 2;
        start.total_bytes = 300;
        layer.on(start);
        layer.on(ev("advance", "decode", "", 100, 7));
        // A streamed input's bytes as they are read, then its end.
        layer.on(ev("read", "decode", "", 150, 0));
        layer.on(ev("advance", "decode", "", 50, 5));
        layer.on(ev("advance", "", "sessions", 0, 12));
        let guard = layer.current.lock().unwrap();
        let s = guard.as_ref().unwrap();
        assert_eq!((s.done, s.bytes, s.rows), (2, 300, 24));
        let line = s.line();
        assert!(
            line.starts_with(
                "driftlake: decode: 24 rows from 2 inputs (300 B); committed sessions in "
            ),
            "{line}"
        );
        assert_eq!(s.message(), "24 rows, 2/2 inputs, committed sessions");
    }

    #[test]
    fn a_new_stage_or_done_closes_the_current_one() {
        let layer = ProgressLayer::new(Mode::Lines);
        layer.on(ev("start", "decode", "", 0, 0));
        layer.on(ev("start", "attribution", "", 0, 0));
        assert_eq!(
            layer
                .current
                .lock()
                .unwrap()
                .as_ref()
                .map(|s| s.name.clone()),
            Some("attribution".to_string())
        );
        layer.on(ev("done", "", "", 0, 0));
        assert!(layer.current.lock().unwrap().is_none());
        // An advance outside any stage is ignored.
        layer.on(ev("advance", "", "x", 0, 1));
        assert!(layer.current.lock().unwrap().is_none());
    }
}
