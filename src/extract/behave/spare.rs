//! Buffers a session's context leaves to the next session on its thread.
//!
//! A context holds some twenty buffers of a few KB each: its events, gaps,
//! commands, time indexes and windows, and the output text; the primitives
//! add their own (the IATs of a session's halves, say). From the allocator
//! each of them is a search of its free lists (most are past the small
//! sizes glibc keeps per thread) and a free at the session's end. Kept here
//! instead, the next session on the thread clears and refills them. A
//! buffer past [`KEEP_BYTES`] is freed, so one huge session does not hold
//! its memory afterwards. What a buffer held before never shows: each is
//! emptied when kept.

use std::cell::RefCell;

use super::ctx::{Command, PromptLine};
use super::numeric::SpreadSums;
use crate::model::event::Event;

/// The largest buffer kept, in bytes.
pub const KEEP_BYTES: usize = 256 << 10;

/// The most buffers of one element type kept: as many as a context uses.
pub const KEEP_COUNT: usize = 8;

/// Emptied buffers of one element type.
#[derive(Clone, Debug)]
pub struct Pool<T>(Vec<Vec<T>>);

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool(Vec::new())
    }
}

impl<T> Pool<T> {
    /// An empty buffer: a kept one, or a new one (which allocates on its
    /// first push).
    pub fn take(&mut self) -> Vec<T> {
        self.0.pop().unwrap_or_default()
    }

    /// Keeps `v`, emptied, unless it holds no allocation, is past
    /// [`KEEP_BYTES`], or [`KEEP_COUNT`] are kept already.
    pub fn put(&mut self, mut v: Vec<T>) {
        let bytes = v.capacity().saturating_mul(size_of::<T>().max(1));
        if v.capacity() > 0 && bytes <= KEEP_BYTES && self.0.len() < KEEP_COUNT {
            v.clear();
            self.0.push(v);
        }
    }
}

/// A thread's kept buffers, by element type.
#[derive(Clone, Debug, Default)]
pub struct Spare {
    /// Gaps, times and series values.
    pub f64s: Pool<f64>,
    /// Offsets, ends and selections.
    pub usizes: Pool<usize>,
    /// Narrowed and stripped text.
    pub bytes: Pool<u8>,
    /// Events, under a placeholder lifetime (see [`Spare::events`]).
    events: Pool<Event<'static>>,
    /// Commands.
    pub commands: Pool<Command>,
    /// Prompt lines.
    pub prompt_lines: Pool<PromptLine>,
    /// Spans and (event, offset) pairs.
    pub pairs: Pool<(usize, usize)>,
    /// Where boundaries land in a stripped text.
    pub landings: Pool<Option<usize>>,
    /// Per-series sums.
    pub sums: Pool<Option<SpreadSums>>,
    /// Token ids.
    pub u32s: Pool<u32>,
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::default();
}

impl Spare {
    /// This thread's buffers, out of the thread's keeping until
    /// [`Spare::keep`] (a `take` in between finds none).
    pub fn take() -> Spare {
        SPARE.take()
    }

    /// Gives the buffers back to the thread.
    pub fn keep(self) {
        SPARE.set(self);
    }

    /// An empty event buffer.
    pub fn events<'a>(&mut self) -> Vec<Event<'a>> {
        self.events.take()
    }

    /// Keeps an event buffer.
    pub fn put_events(&mut self, v: Vec<Event<'_>>) {
        self.events.put(relabel(v));
    }
}

/// `v` emptied, as a buffer of events that may live as long as the
/// thread. The collect takes over `v`'s allocation (the layouts are the
/// same, so std collects in place); there is nothing to convert.
#[expect(
    clippy::unnecessary_filter_map,
    reason = "filter would keep the events' lifetime, which is what changes"
)]
fn relabel(mut v: Vec<Event<'_>>) -> Vec<Event<'static>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabel_keeps_the_allocation() {
        let data = [1u32, 2, 3];
        let mut v = Vec::with_capacity(100);
        v.push(Event::new(0.0, crate::model::event::Channel::Input, &data));
        let ptr = v.as_ptr() as usize;
        let w: Vec<Event<'static>> = relabel(v);
        assert!(w.is_empty());
        assert_eq!((w.as_ptr() as usize, w.capacity()), (ptr, 100));
    }

    #[test]
    fn pool_keeps_emptied_buffers_within_its_limits() {
        let mut pool = Pool::<u64>::default();
        pool.put(Vec::new()); // no allocation: nothing to keep
        assert!(pool.take().capacity() == 0);
        pool.put(vec![7; 10]);
        let v = pool.take();
        assert!(v.is_empty() && v.capacity() >= 10);
        pool.put(Vec::with_capacity(KEEP_BYTES / 8 + 1)); // too large
        assert_eq!(pool.take().capacity(), 0);
        for _ in 0..KEEP_COUNT + 3 {
            pool.put(vec![1; 4]);
        }
        assert_eq!(pool.0.len(), KEEP_COUNT);
    }

    #[test]
    fn a_thread_takes_back_what_it_kept() {
        let mut spare = Spare::take();
        spare.f64s.put(Vec::with_capacity(64));
        spare.keep();
        let mut again = Spare::take();
        assert!(again.f64s.take().capacity() >= 64);
        // Taken out: a second take finds none.
        assert_eq!(Spare::take().f64s.take().capacity(), 0);
        again.keep();
    }
}
