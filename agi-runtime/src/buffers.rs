//! Recycling of the buffers every call needs, per thread: the buffer the environment
//! block is read into, the environment's text and its index, the buffer replies are
//! read into, and the one commands are encoded into; [`Recycled`] is the bounded
//! per-thread stack other per-call values use the same way (the hang-up signal's state).
//!
//! Calls start and end in bursts (one poll of the runtime serves many), and the system
//! allocator's per-thread cache keeps only a few chunks of a size: most of these
//! allocations then went to the allocator's slow paths, which sort, merge and split
//! chunks (`benches/callgrind.sh` counts the difference). A buffer given back here is
//! handed to the next call that asks on the same thread, emptied. Each size keeps at
//! most [`POOLED`] buffers, so a thread never holds more than about 270 KiB here.

use std::cell::RefCell;

/// The sizes pooled, each with its own pool: the command buffer, the reply buffer, the
/// environment's text (in steps of 128 bytes, so that a text wastes little room for the
/// whole call), and the environment read. A buffer of any other capacity (one that grew
/// for a long line) is freed as usual.
const SIZES: [usize; 7] = [64, 256, 512, 640, 768, 896, 1024];

/// The most buffers of one size a thread keeps.
const POOLED: usize = 64;

thread_local! {
    static POOLS: RefCell<[Vec<Vec<u8>>; SIZES.len()]> = const { RefCell::new([const { Vec::new() }; SIZES.len()]) };
}

/// An empty buffer with room for at least `capacity` bytes: of the smallest pooled size
/// that holds them, recycled when the thread has one; of exactly `capacity` beyond the
/// pooled sizes.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    let Some(class) = SIZES.iter().position(|&size| size >= capacity) else {
        return Vec::with_capacity(capacity);
    };
    let recycled = POOLS.try_with(|pools| pools.borrow_mut()[class].pop()).ok().flatten();
    recycled.unwrap_or_else(|| Vec::with_capacity(SIZES[class]))
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

/// A bounded stack of values given back for reuse, kept per thread (in a
/// `thread_local!`): at most [`POOLED`] are kept, the rest are dropped.
pub(crate) struct Recycled<T> {
    items: RefCell<Vec<T>>,
}

impl<T> Recycled<T> {
    pub(crate) const fn new() -> Self {
        Recycled { items: RefCell::new(Vec::new()) }
    }

    /// The value given back last, if any.
    pub(crate) fn take(&self) -> Option<T> {
        self.items.borrow_mut().pop()
    }

    /// Keeps `item` for a later `take`, unless the stack is full.
    pub(crate) fn give(&self, item: T) {
        let mut items = self.items.borrow_mut();
        if items.len() < POOLED {
            items.push(item);
        }
    }
}

/// A per-thread stack of emptied vectors of one kind, for the small per-call indexes
/// that are not bytes (the environment's), recycled for the reasons above: at most
/// [`POOLED`] are kept, each at most `max_capacity` long.
pub(crate) struct VecPool<T> {
    vectors: Recycled<Vec<T>>,
    max_capacity: usize,
}

impl<T> VecPool<T> {
    pub(crate) const fn new(max_capacity: usize) -> Self {
        VecPool { vectors: Recycled::new(), max_capacity }
    }

    /// An empty vector: a recycled one if the pool has one, else one with room for
    /// `capacity` elements.
    pub(crate) fn take(&self, capacity: usize) -> Vec<T> {
        self.vectors.take().unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Keeps a vector for the next `take`, emptied, unless it grew past the limit or the
    /// pool is full.
    pub(crate) fn give(&self, mut vector: Vec<T>) {
        if vector.capacity() == 0 || vector.capacity() > self.max_capacity {
            return;
        }
        vector.clear();
        self.vectors.give(vector);
    }
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
    fn a_request_gets_the_smallest_pooled_size_that_holds_it() {
        assert_eq!(take(64).capacity(), 64);
        assert_eq!(take(580).capacity(), 640);
        assert_eq!(take(1024).capacity(), 1024);
        assert_eq!(take(1500).capacity(), 1500);
    }

    #[test]
    fn a_vector_pool_recycles_emptied_vectors_within_its_bounds() {
        let pool = VecPool::<u64>::new(32);
        let mut vector = pool.take(24);
        assert!(vector.capacity() >= 24);
        vector.extend([1, 2, 3]);
        let address = vector.as_ptr();
        pool.give(vector);
        let again = pool.take(24);
        assert_eq!(again.as_ptr(), address, "the same allocation comes back");
        assert!(again.is_empty());

        pool.give(Vec::with_capacity(100));
        assert_eq!(pool.vectors.items.borrow().len(), 0, "a vector that grew past the limit is freed");
        for _ in 0..POOLED + 10 {
            pool.give(Vec::with_capacity(8));
        }
        assert_eq!(pool.vectors.items.borrow().len(), POOLED);
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
