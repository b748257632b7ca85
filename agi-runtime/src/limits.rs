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

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::sync::Notify;

/// One unit of a count, given back on drop (also on panic or cancellation, so that the
/// counts cannot drift): a connection in a phase, or a slot under a cap.
///
/// A cap is its count: taking a slot checks and counts in one atomic operation, giving
/// it back is another, and no lock is taken. Sessions never wait for a capped phase:
/// [`try_enter`](Held::try_enter) refuses at once when it is full.
#[derive(Debug)]
pub(crate) struct Held<'a>(&'a AtomicUsize);

impl<'a> Held<'a> {
    /// One more in `count`, uncapped.
    fn enter(count: &'a AtomicUsize) -> Held<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Held(count)
    }

    /// One more in `count`, or `None` when it has reached `max`.
    pub(crate) fn try_enter(count: &'a AtomicUsize, max: usize) -> Option<Held<'a>> {
        // `then`, not `then_some`: a guard made and dropped on refusal would give back a
        // unit never taken.
        count
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |taken| (taken < max).then_some(taken + 1))
            .is_ok()
            .then(|| Held(count))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The concurrency cap of one route, shared by every call on it.
#[derive(Debug, Clone)]
pub(crate) struct RouteLimit {
    pub(crate) max: usize,
    running: Arc<AtomicUsize>,
}

impl RouteLimit {
    pub(crate) fn new(max: usize) -> RouteLimit {
        RouteLimit { max: max.max(1), running: Arc::default() }
    }

    /// A slot on the route, or `None` when the route is at its limit.
    pub(crate) fn try_enter(&self) -> Option<Held<'_>> {
        Held::try_enter(&self.running, self.max)
    }
}

/// The connections still sending their environment block: a ring of `max` slots, and
/// the sweep that times them out.
///
/// Each connection takes the slot of its number modulo `max`. A slot still held when
/// its turn comes again belongs to a connection that `max - 1` newer ones have since
/// overtaken: that one is closed and the new connection takes its place. Asterisk
/// writes the whole block right after connecting, so a connection still without a
/// block that many connections later is the one least likely to be a real call: a
/// flood of silent connections (slowloris) then only ever closes its own connections,
/// while real calls complete their handshake within a millisecond and run.
///
/// The environment timeout is kept by one sweep for the whole ring, not by a timer per
/// connection: most connections are polled once before their block arrives (they are
/// accepted as the peer's connect returns, before it writes), and a timer each (a
/// clock read, the timer wheel, an allocation) cost them more than the rest of their
/// handshake. The sweep runs every quarter of the timeout on a task of its own, counts
/// those periods, and times out the connections that took their slot more than the
/// timeout's worth of periods ago: a connection is closed between the timeout and a
/// quarter more.
///
/// Taking and giving back a slot is two atomic operations; a connection that has to
/// wait for its block leaves its waker in its slot, under the slot's lock, and only an
/// eviction or the timeout wakes anyone, and only the connection concerned.
#[derive(Debug)]
pub(crate) struct Handshakes {
    slots: Box<[Slot]>,
    next: AtomicU64,
    /// The sweep's clock: periods since the sweep started.
    now: AtomicU64,
    /// The environment timeout, in periods of the sweep (rounded up).
    timeout_periods: u64,
    period: Duration,
    /// The sweep's task was started (at the first connection, from within the runtime).
    sweeping: AtomicBool,
}

/// Set in a slot's owner once the sweep timed its connection out.
const TIMED_OUT: u64 = 1 << 63;

#[derive(Debug, Default)]
struct Slot {
    /// The number of the connection holding the slot (numbers start at 1), with
    /// [`TIMED_OUT`] once it is timed out; 0 if free.
    owner: AtomicU64,
    /// The sweep's clock when the slot was taken.
    taken_at: AtomicU64,
    /// The owner's waker, once it waits for its block.
    waker: Mutex<Option<Waker>>,
}

impl Slot {
    fn waker(&self) -> MutexGuard<'_, Option<Waker>> {
        // The lock guards no invariant a panic could break halfway.
        self.waker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the owner, if it waits.
    fn wake(&self) {
        let waker = self.waker().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Handshakes {
    /// A ring of `max` slots whose connections time out after `timeout`.
    pub(crate) fn new(max: usize, timeout: Duration) -> Arc<Handshakes> {
        let slots = (0..max.clamp(1, u32::MAX as usize)).map(|_| Slot::default()).collect();
        // A quarter of the timeout, rounded up (at least 1 ms): the timeout is then at most
        // four periods, and a connection is closed within one period after it.
        let period_nanos = timeout.as_nanos().div_ceil(4).max(1_000_000);
        let period = Duration::from_nanos(period_nanos.try_into().unwrap_or(u64::MAX));
        let timeout_periods = timeout.as_nanos().div_ceil(period_nanos).try_into().unwrap_or(u64::MAX);
        Arc::new(Handshakes {
            slots,
            next: AtomicU64::new(1),
            now: AtomicU64::new(0),
            timeout_periods,
            period,
            sweeping: AtomicBool::new(false),
        })
    }

    /// Takes a slot; `true` when an older connection still waiting had to give it up.
    pub(crate) fn enter(self: &Arc<Self>) -> (Handshake, bool) {
        if !self.sweeping.load(Ordering::Relaxed) {
            self.start_sweep();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let index = (id % self.slots.len() as u64) as u32;
        let slot = &self.slots[index as usize];
        // Stored before the owner: the sweep reads it after seeing the owner.
        slot.taken_at.store(self.now.load(Ordering::Relaxed), Ordering::Relaxed);
        let previous = slot.owner.swap(id, Ordering::AcqRel);
        // A connection timed out already was woken by the sweep.
        let evicted = previous != 0 && previous & TIMED_OUT == 0;
        if evicted {
            slot.wake();
        }
        (Handshake { id, index, watching: false, owner: self.clone() }, evicted)
    }

    /// Starts the sweep on a task of its own, which ends once the ring is gone (once
    /// per ring: out of line).
    #[cold]
    #[inline(never)]
    fn start_sweep(self: &Arc<Self>) {
        // Outside a runtime, tried again at the next connection.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let ring = Arc::downgrade(self);
        let period = self.period;
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(ring) = ring.upgrade() else { return };
                ring.now.fetch_add(1, Ordering::Relaxed);
                ring.sweep();
            }
        });
    }

    /// Times out the connections waiting longer than the timeout. The whole ring is
    /// looked at (a load or two per slot, a few microseconds per period for the default
    /// 1,024 slots): a connection numbered but not yet in its slot when the sweep passes
    /// is simply seen at the next one.
    fn sweep(&self) {
        let now = self.now.load(Ordering::Relaxed);
        for slot in self.slots.iter() {
            let owner = slot.owner.load(Ordering::Acquire);
            if owner == 0 || owner & TIMED_OUT != 0 {
                continue;
            }
            // Read after the owner, and stored before it: this owner's or a newer one's.
            if slot.taken_at.load(Ordering::Relaxed).saturating_add(self.timeout_periods) >= now {
                continue;
            }
            // Marked and its waker taken under the slot's lock: the slot's next owner
            // cannot leave its waker in between, to be taken for this one's.
            let waker = {
                let mut left = slot.waker();
                match slot.owner.compare_exchange(owner, owner | TIMED_OUT, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => left.take(),
                    Err(_) => None,
                }
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// A slot among the handshakes; freed on drop.
#[derive(Debug)]
pub(crate) struct Handshake {
    id: u64,
    /// Its slot (`u32`, with the flag beside it in one word: the handshake is moved with
    /// every new call).
    index: u32,
    /// Its waker was left in the slot.
    watching: bool,
    owner: Arc<Handshakes>,
}

/// Where a connection waiting for its environment block stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// It may go on waiting.
    Yes,
    /// The environment timeout is over.
    TimedOut,
    /// A newer connection took its slot.
    Evicted,
}

impl Handshake {
    fn slot(&self) -> &Slot {
        &self.owner.slots[self.index as usize]
    }

    /// Whether the connection may go on waiting for its block; `waker` is left in the
    /// slot (replacing an older one that would not wake the same task), to be woken when
    /// the wait is over. Called when the block is not all there, which is at most a few
    /// times per connection.
    pub(crate) fn waiting(&mut self, waker: &Waker) -> Waiting {
        self.watching = true;
        let slot = self.slot();
        let mut left = slot.waker();
        // Checked under the lock, under which an eviction or the sweep takes the waker.
        let owner = slot.owner.load(Ordering::Acquire);
        if owner == self.id {
            if !left.as_ref().is_some_and(|left| left.will_wake(waker)) {
                *left = Some(waker.clone());
            }
            return Waiting::Yes;
        }
        if owner == self.id | TIMED_OUT { Waiting::TimedOut } else { Waiting::Evicted }
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        let slot = self.slot();
        if self.watching {
            // Taken back before the slot is given up: a later owner's waker is never
            // taken for this one's.
            let mut left = slot.waker();
            if slot.owner.load(Ordering::Acquire) & !TIMED_OUT == self.id {
                left.take();
            }
        }
        // Frees the slot, unless a newer connection has taken it over.
        if slot.owner.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Acquire).is_err() {
            let _ = slot.owner.compare_exchange(self.id | TIMED_OUT, 0, Ordering::AcqRel, Ordering::Acquire);
        }
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

/// The counts are the caps' own: the count of calls is what `max_calls` is checked
/// against, the count of connections what the accept loop waits on, so that each
/// connection and each call is counted once.
#[derive(Debug)]
struct Counts {
    connections: AtomicUsize,
    /// The cap on connections, set when the server starts serving.
    max_connections: AtomicUsize,
    handshakes: AtomicUsize,
    calls: AtomicUsize,
    refusing: AtomicUsize,
    /// Notified when the last connection is released, and when one is released from a
    /// full set (the accept loop may be waiting).
    released: Notify,
    accepting: AtomicBool,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            connections: AtomicUsize::new(0),
            // Uncapped until a server serves with them.
            max_connections: AtomicUsize::new(usize::MAX),
            handshakes: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            refusing: AtomicUsize::new(0),
            released: Notify::new(),
            accepting: AtomicBool::new(false),
        }
    }
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

    /// Sets the cap that [`connection_slot`](Self::connection_slot) waits on.
    pub(crate) fn set_max_connections(&self, max: usize) {
        self.shared.max_connections.store(max, Ordering::Release);
    }

    /// Whether fewer connections than the cap are held.
    pub(crate) fn has_connection_slot(&self) -> bool {
        let shared = &*self.shared;
        shared.connections.load(Ordering::Acquire) < shared.max_connections.load(Ordering::Acquire)
    }

    /// Completes once fewer connections than the cap are held. Only the accept loop
    /// opens connections under the cap, so one is still free when it opens the next.
    pub(crate) async fn connection_slot(&self) {
        crate::hangup::wait_until(&self.shared.released, || self.has_connection_slot()).await;
    }

    /// Counts one more connection until the guard is dropped: taken as its session is
    /// made, given back once everything the session held is dropped.
    pub(crate) fn open_connection(&self) -> OpenConnection {
        self.shared.connections.fetch_add(1, Ordering::AcqRel);
        OpenConnection(self.clone())
    }

    /// Counts one more connection still sending its environment block.
    pub(crate) fn handshaking(&self) -> Held<'_> {
        Held::enter(&self.shared.handshakes)
    }

    /// Counts one more running call, or `None` when `max` are running.
    pub(crate) fn try_call(&self, max: usize) -> Option<Held<'_>> {
        Held::try_enter(&self.shared.calls, max)
    }

    /// Counts one more call being told why it was refused, or `None` when `max` are.
    pub(crate) fn try_refusal(&self, max: usize) -> Option<Held<'_>> {
        Held::try_enter(&self.shared.refusing, max)
    }
}

/// One connection counted in [`ServerStats::connections`], given back on drop.
#[derive(Debug)]
pub(crate) struct OpenConnection(ServerStats);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let shared = &*self.0.shared;
        let before = shared.connections.fetch_sub(1, Ordering::AcqRel);
        if before == 1 || before >= shared.max_connections.load(Ordering::Acquire) {
            shared.released.notify_waiters();
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
        let connection = stats.open_connection();
        let call = stats.try_call(1).unwrap();
        assert!(stats.try_call(1).is_none(), "the count is the cap");
        assert!(stats.try_refusal(0).is_none(), "a cap of zero takes nothing");
        assert_eq!(stats.refusing(), 0, "a refusal gives back nothing");
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
    async fn the_accept_loop_waits_for_a_connection_slot_and_is_woken_by_a_release() {
        let stats = ServerStats::default();
        stats.set_max_connections(2);
        let first = stats.open_connection();
        stats.connection_slot().await;
        let second = stats.open_connection();
        let waiter = tokio::spawn({
            let stats = stats.clone();
            async move { stats.connection_slot().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "both slots are taken");
        drop(second);
        waiter.await.unwrap();
        assert_eq!(stats.connections(), 1);
        drop(first);
    }

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes::default());
        (wakes.clone(), Waker::from(wakes))
    }

    #[tokio::test]
    async fn a_connection_overtaken_by_a_full_ring_is_evicted() {
        let pool = Handshakes::new(2, Duration::from_secs(60));
        let (mut first, evicted) = pool.enter();
        assert!(!evicted);
        let (stale, stale_waker) = counting_waker();
        assert_eq!(first.waiting(&stale_waker), Waiting::Yes);
        // Polled again from elsewhere: the newer waker replaces the one left.
        let (wakes, waker) = counting_waker();
        assert_eq!(first.waiting(&waker), Waiting::Yes);
        let (second, _) = pool.enter();
        let (third, evicted) = pool.enter();
        assert!(evicted);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "the evicted connection is woken");
        assert_eq!(stale.0.load(Ordering::SeqCst), 0, "through the waker it left last");
        assert_eq!(first.waiting(&waker), Waiting::Evicted);
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
        assert!(pool.slots.iter().all(|slot| slot.waker().is_none()), "no waker is left behind");
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_times_out_a_connection_between_the_timeout_and_a_quarter_more() {
        let timeout = Duration::from_secs(4);
        let pool = Handshakes::new(8, timeout);
        let started = tokio::time::Instant::now();
        let (mut waiting, _) = pool.enter();
        let (mut later, _) = pool.enter();
        let (wakes, waker) = counting_waker();
        assert_eq!(waiting.waiting(&waker), Waiting::Yes);
        let (later_wakes, later_waker) = counting_waker();
        assert_eq!(later.waiting(&later_waker), Waiting::Yes);
        // A connection that got its block in time leaves the ring before the timeout.
        let (done, _) = pool.enter();
        drop(done);
        let step = Duration::from_millis(10);
        while wakes.0.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(step).await;
            assert!(started.elapsed() <= timeout + timeout / 4 + step, "not timed out after {:?}", started.elapsed());
        }
        assert!(started.elapsed() > timeout, "timed out after {:?}", started.elapsed());
        assert_eq!(waiting.waiting(&waker), Waiting::TimedOut);
        assert_eq!(later_wakes.0.load(Ordering::SeqCst), 1, "the connection after it too");
        assert_eq!(later.waiting(&later_waker), Waiting::TimedOut);
        // A connection taking the slot of one timed out is not an eviction.
        for _ in 0..6 {
            drop(pool.enter());
        }
        let (_, evicted) = pool.enter();
        assert!(!evicted);
        drop((waiting, later));
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_ends_with_the_ring() {
        let pool = Handshakes::new(2, Duration::from_millis(40));
        drop(pool.enter());
        let sweep = Arc::downgrade(&pool);
        drop(pool);
        assert!(sweep.upgrade().is_none(), "the sweep does not keep the ring");
        // It notices at its next period and ends: nothing is left to run.
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::task::yield_now().await;
        let metrics = tokio::runtime::Handle::current().metrics();
        assert_eq!(metrics.num_alive_tasks(), 0);
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
}
