//! Concurrency limits and the live counts behind them.
//!
//! A connection goes through three phases, each with its own cap, so that one phase
//! can never starve another:
//!
//! 1. **handshake**: accepted, its environment block not complete yet
//!    ([`Server::max_handshakes`](crate::Server::max_handshakes));
//! 2. **call**: a handler runs ([`Server::max_calls`](crate::Server::max_calls), and
//!    per route [`Router::max_calls_for`](crate::Router::max_calls_for));
//! 3. **refusal**: the call is told why it will not run (`OVERLOADED`, `NOT_FOUND`,
//!    `DENIED`), then closed
//!    ([`Server::max_overload_responders`](crate::Server::max_overload_responders)).
//!
//! No phase ever waits for a slot: a connection that finds its phase full is refused
//! (or closed) at once, because a caller waiting on a queued call hears silence.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A cap on how many of something are held at once: one atomic count, so taking and
/// giving back a slot costs two atomic operations and no lock.
///
/// Sessions only ever [`try_take`](Slots::try_take) (a phase that is full refuses at
/// once); the accept loop alone waits, in [`take_owned`](Slots::take_owned), and only
/// a release from a full set wakes it.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    taken: AtomicUsize,
    freed: Notify,
}

impl Slots {
    pub(crate) fn new(max: usize) -> Slots {
        Slots { max, taken: AtomicUsize::new(0), freed: Notify::new() }
    }

    fn try_increment(&self) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |taken| (taken < self.max).then_some(taken + 1))
            .is_ok()
    }

    /// A slot, or `None` when all are taken.
    pub(crate) fn try_take(&self) -> Option<Taken<'_>> {
        self.try_increment().then(|| Taken(self))
    }

    /// A slot that can move into a task, or `None` when all are taken.
    pub(crate) fn try_take_owned(self: &Arc<Self>) -> Option<OwnedTaken> {
        self.try_increment().then(|| OwnedTaken(self.clone()))
    }

    /// Waits for a slot that can move into a task.
    pub(crate) async fn take_owned(self: &Arc<Self>) -> OwnedTaken {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before trying, so a release in between is not missed.
            freed.as_mut().enable();
            if let Some(taken) = self.try_take_owned() {
                return taken;
            }
            freed.await;
        }
    }

    fn release(&self) {
        if self.taken.fetch_sub(1, Ordering::AcqRel) == self.max {
            self.freed.notify_waiters();
        }
    }
}

/// A slot of [`Slots`], given back on drop.
#[derive(Debug)]
pub(crate) struct Taken<'a>(&'a Slots);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A slot of [`Slots`] that owns its set, given back on drop.
#[derive(Debug)]
pub(crate) struct OwnedTaken(Arc<Slots>);

impl Drop for OwnedTaken {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The concurrency cap of one route, shared by every call on it.
#[derive(Debug, Clone)]
pub(crate) struct RouteLimit {
    pub(crate) max: usize,
    slots: Arc<Slots>,
}

impl RouteLimit {
    pub(crate) fn new(max: usize) -> RouteLimit {
        let max = max.max(1);
        RouteLimit { max, slots: Arc::new(Slots::new(max)) }
    }

    /// A slot on the route, or `None` when the route is at its limit.
    pub(crate) fn try_enter(&self) -> Option<Taken<'_>> {
        self.slots.try_take()
    }
}

/// The connections still sending their environment block: a ring of `max` slots.
///
/// Each connection takes the slot of its number modulo `max`. A slot still held when
/// its turn comes again belongs to a connection that `max - 1` newer ones have since
/// overtaken: that one is closed and the new connection takes its place. Asterisk
/// writes the whole block right after connecting, so a connection still without a
/// block that many connections later is the one least likely to be a real call: a
/// flood of silent connections (slowloris) then only ever closes its own connections,
/// while real calls complete their handshake within a millisecond and run.
///
/// Taking and giving back a slot is two atomic operations; only an eviction wakes
/// anyone, and only the connection evicted.
#[derive(Debug)]
pub(crate) struct Handshakes {
    slots: Box<[Slot]>,
    next: AtomicU64,
}

#[derive(Debug, Default)]
struct Slot {
    /// The number of the connection holding the slot (numbers start at 1), 0 if free.
    owner: AtomicU64,
    /// Wakes the owner when a newer connection takes the slot.
    evicted: Notify,
}

impl Handshakes {
    pub(crate) fn new(max: usize) -> Arc<Handshakes> {
        let slots = (0..max.max(1)).map(|_| Slot::default()).collect();
        Arc::new(Handshakes { slots, next: AtomicU64::new(1) })
    }

    /// Takes a slot; `true` when an older connection still waiting had to give it up.
    pub(crate) fn enter(self: &Arc<Self>) -> (Handshake, bool) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let index = (id % self.slots.len() as u64) as usize;
        let slot = &self.slots[index];
        let evicted = slot.owner.swap(id, Ordering::AcqRel) != 0;
        if evicted {
            slot.evicted.notify_waiters();
        }
        (Handshake { id, index, owner: self.clone() }, evicted)
    }
}

/// A slot among the handshakes; freed on drop.
#[derive(Debug)]
pub(crate) struct Handshake {
    id: u64,
    index: usize,
    owner: Arc<Handshakes>,
}

impl Handshake {
    fn slot(&self) -> &Slot {
        &self.owner.slots[self.index]
    }

    /// Completes when a newer connection took this slot.
    pub(crate) async fn evicted(&self) {
        let slot = self.slot();
        loop {
            let notified = slot.evicted.notified();
            tokio::pin!(notified);
            // Registered before the check, so an eviction in between is not missed.
            notified.as_mut().enable();
            if slot.owner.load(Ordering::Acquire) != self.id {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        // Frees the slot, unless a newer connection has taken it over.
        let _ = self.slot().owner.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Live counts of a server's connections, readable while it serves.
///
/// Cheap to clone; every clone sees the same counts. Take it with
/// [`Server::stats`](crate::Server::stats) before serving.
///
/// ```no_run
/// # async fn demo(server: agi_runtime::Server) {
/// let stats = server.stats();
/// // … later, from a health check or a test:
/// println!("{} calls, {} connections", stats.calls(), stats.connections());
/// stats.idle().await; // every connection has been released
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    shared: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    connections: AtomicUsize,
    handshakes: AtomicUsize,
    calls: AtomicUsize,
    refusing: AtomicUsize,
    released: Notify,
    accepting: AtomicBool,
}

/// Which count a [`Held`] guard holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    Connection,
    Handshake,
    Call,
    Refusal,
}

impl ServerStats {
    /// Sockets the server holds, in every phase.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Acquire)
    }

    /// Connections whose environment block has not arrived yet.
    pub fn handshakes(&self) -> usize {
        self.shared.handshakes.load(Ordering::Acquire)
    }

    /// Calls whose handler is running (the count [`Server::max_calls`](crate::Server::max_calls) caps).
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::Acquire)
    }

    /// Calls being told why they were refused.
    pub fn refusing(&self) -> usize {
        self.shared.refusing.load(Ordering::Acquire)
    }

    /// Whether the server is accepting connections: `false` before it serves and from
    /// the moment a graceful shutdown has closed its listener (while calls in flight
    /// may still be finishing). A health check can report a draining server with it.
    pub fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire)
    }

    pub(crate) fn set_accepting(&self, accepting: bool) {
        self.shared.accepting.store(accepting, Ordering::Release);
    }

    /// Completes once the server holds no connection (at once if it holds none now).
    pub async fn idle(&self) {
        crate::hangup::wait_until(&self.shared.released, || self.connections() == 0).await;
    }

    fn count(&self, phase: Phase) -> &AtomicUsize {
        match phase {
            Phase::Connection => &self.shared.connections,
            Phase::Handshake => &self.shared.handshakes,
            Phase::Call => &self.shared.calls,
            Phase::Refusal => &self.shared.refusing,
        }
    }

    /// Counts one more connection in `phase` until the guard is dropped (also on panic
    /// or cancellation, so the counts cannot drift).
    pub(crate) fn enter(&self, phase: Phase) -> Held<'_> {
        self.count(phase).fetch_add(1, Ordering::AcqRel);
        Held { stats: self, phase }
    }
}

/// One unit of a [`ServerStats`] count, given back on drop.
#[derive(Debug)]
pub(crate) struct Held<'a> {
    stats: &'a ServerStats,
    phase: Phase,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let before = self.stats.count(self.phase).fetch_sub(1, Ordering::AcqRel);
        if before == 1 && matches!(self.phase, Phase::Connection) {
            self.stats.shared.released.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guards_count_and_idle_wakes_on_the_last_release() {
        let stats = ServerStats::default();
        stats.idle().await;
        let connection = stats.enter(Phase::Connection);
        let call = stats.enter(Phase::Call);
        assert_eq!((stats.connections(), stats.calls(), stats.handshakes()), (1, 1, 0));
        let waiter = tokio::spawn({
            let stats = stats.clone();
            async move { stats.idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(call);
        drop(connection);
        waiter.await.unwrap();
        assert_eq!((stats.connections(), stats.calls()), (0, 0));
    }

    #[tokio::test]
    async fn a_connection_overtaken_by_a_full_ring_is_evicted() {
        let pool = Handshakes::new(2);
        let (first, evicted) = pool.enter();
        assert!(!evicted);
        let (second, _) = pool.enter();
        let (third, evicted) = pool.enter();
        assert!(evicted);
        first.evicted().await;
        let still_held = |handshake: &Handshake| handshake.slot().owner.load(Ordering::Acquire) == handshake.id;
        assert!(!still_held(&first));
        assert!(still_held(&second) && still_held(&third));
        drop(second);
        let (fourth, evicted) = pool.enter();
        assert!(!evicted, "the slot of a finished handshake is free again");
        // The evicted connection going away leaves its successor's slot alone.
        drop(first);
        assert!(still_held(&third) && still_held(&fourth));
        drop(third);
        drop(fourth);
        assert!(pool.slots.iter().all(|slot| slot.owner.load(Ordering::Acquire) == 0));
    }

    #[test]
    fn a_route_limit_refuses_past_its_maximum() {
        let limit = RouteLimit::new(2);
        let a = limit.try_enter().unwrap();
        let _b = limit.try_enter().unwrap();
        assert!(limit.try_enter().is_none());
        drop(a);
        assert!(limit.try_enter().is_some());
        assert_eq!(RouteLimit::new(0).max, 1);
    }

    #[tokio::test]
    async fn a_full_set_of_slots_wakes_its_waiter_on_release() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.try_take_owned().unwrap();
        assert!(slots.try_take().is_none());
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take_owned().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        let taken = waiter.await.unwrap();
        assert!(slots.try_take().is_none());
        drop(taken);
        assert!(slots.try_take().is_some());
        assert!(Slots::new(0).try_take().is_none());
    }
}
