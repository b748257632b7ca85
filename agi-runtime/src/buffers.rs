//! Recycling of the byte buffers every call needs, per thread: the buffer the
//! environment block is read into, the one replies are read into, and the one commands
//! are encoded into.
//!
//! Calls start and end in bursts (one poll of the runtime serves many), and the system
//! allocator's per-thread cache keeps only a few chunks of a size: most of these
//! allocations then went to the allocator's slow paths, which sort, merge and split
//! chunks (`benches/callgrind.sh` counts the difference). A buffer given back here is
//! handed to the next call that asks on the same thread, emptied. Each pool keeps at
//! most [`POOLED`] buffers, so a thread never holds more than about 85 KiB here.

use std::cell::RefCell;

/// The sizes pooled, each with its own pool: what the calls ask for. A buffer of any
/// other capacity (one that grew for a long line) is freed as usual.
const SIZES: [usize; 3] = [64, 256, 1024];

/// The most buffers of one size a thread keeps.
const POOLED: usize = 64;

thread_local! {
    static POOLS: RefCell<[Vec<Vec<u8>>; SIZES.len()]> = const { RefCell::new([const { Vec::new() }; SIZES.len()]) };
}

/// An empty buffer with room for `capacity` bytes: a recycled one when the thread has
/// one of that size.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    let recycled = match SIZES.iter().position(|&size| size == capacity) {
        Some(class) => POOLS.try_with(|pools| pools.borrow_mut()[class].pop()).ok().flatten(),
        None => None,
    };
    recycled.unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Gives a buffer back for another call; it is freed if it has none of the pooled
/// sizes or the pool of its size is full.
pub(crate) fn give(mut buffer: Vec<u8>) {
    let Some(class) = SIZES.iter().position(|&size| size == buffer.capacity()) else {
        return;
    };
    buffer.clear();
    // During the thread's exit the pools may be gone: the buffer is then just freed.
    let _ = POOLS.try_with(|pools| {
        let pool = &mut pools.borrow_mut()[class];
        if pool.len() < POOLED {
            pool.push(buffer);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty() {
        let mut buffer = take(256);
        assert!(buffer.capacity() >= 256);
        buffer.extend_from_slice(b"200 result=0\n");
        let address = buffer.as_ptr();
        give(buffer);
        let again = take(256);
        assert_eq!(again.as_ptr(), address, "the same allocation comes back");
        assert!(again.is_empty());
    }

    #[test]
    fn other_sizes_are_not_kept_and_pools_are_bounded() {
        let pooled = || POOLS.with(|pools| pools.borrow().iter().map(Vec::len).sum::<usize>());
        let before = pooled();
        give(Vec::with_capacity(300));
        assert_eq!(pooled(), before);

        for _ in 0..POOLED + 10 {
            give(Vec::with_capacity(64));
        }
        let kept = POOLS.with(|pools| pools.borrow()[0].len());
        assert_eq!(kept, POOLED);
    }
}
