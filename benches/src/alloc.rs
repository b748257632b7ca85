//! A global allocator that counts, per thread, what the system allocator is asked for.
//!
//! The benchmark servers run on a single-threaded runtime, so the counters of the
//! runtime thread are the whole server's. Counting is a few non-atomic additions on a
//! thread-local, so it costs both servers the same per allocation.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;

/// The counting allocator: `#[global_allocator] static A: Counting = Counting;`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    static COUNTS: Cell<AllocStats> = const { Cell::new(AllocStats::ZERO) };
}

/// What one thread asked the allocator for, since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocStats {
    /// Calls to `alloc` (and `alloc_zeroed`).
    pub allocs: u64,
    /// Calls to `realloc`.
    pub reallocs: u64,
    /// Calls to `dealloc`.
    pub frees: u64,
    /// Bytes asked for by `alloc` and by the growth of `realloc`.
    pub bytes: u64,
}

impl AllocStats {
    const ZERO: AllocStats = AllocStats { allocs: 0, reallocs: 0, frees: 0, bytes: 0 };

    /// The counters of the calling thread.
    pub fn current() -> AllocStats {
        COUNTS.with(Cell::get)
    }

    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: AllocStats) -> AllocStats {
        AllocStats {
            allocs: self.allocs - earlier.allocs,
            reallocs: self.reallocs - earlier.reallocs,
            frees: self.frees - earlier.frees,
            bytes: self.bytes - earlier.bytes,
        }
    }

    /// Allocations and reallocations: each is a trip into the allocator that may take memory.
    pub fn calls(self) -> u64 {
        self.allocs + self.reallocs
    }

    /// Parses the text written by `Display`.
    pub fn parse(text: &str) -> Option<AllocStats> {
        let mut stats = AllocStats::ZERO;
        for pair in text.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                "allocs" => stats.allocs = value,
                "reallocs" => stats.reallocs = value,
                "frees" => stats.frees = value,
                "bytes" => stats.bytes = value,
                _ => {}
            }
        }
        Some(stats)
    }
}

impl fmt::Display for AllocStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "allocs={} reallocs={} frees={} bytes={}", self.allocs, self.reallocs, self.frees, self.bytes)
    }
}

fn count(update: impl FnOnce(&mut AllocStats)) {
    // `try_with`: the thread-local is gone while a thread is being torn down.
    let _ = COUNTS.try_with(|cell| {
        let mut stats = cell.get();
        update(&mut stats);
        cell.set(stats);
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// plain thread-local cells with no destructor and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(|s| {
            s.allocs += 1;
            s.bytes += layout.size() as u64;
        });
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(|s| {
            s.allocs += 1;
            s.bytes += layout.size() as u64;
        });
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(|s| s.frees += 1);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(|s| {
            s.reallocs += 1;
            s.bytes += new_size.saturating_sub(layout.size()) as u64;
        });
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_round_trips() {
        let stats = AllocStats { allocs: 12, reallocs: 3, frees: 11, bytes: 4096 };
        assert_eq!(AllocStats::parse(&stats.to_string()), Some(stats));
        assert_eq!(stats.since(AllocStats { allocs: 2, reallocs: 1, frees: 1, bytes: 96 }).calls(), 12);
    }
}
