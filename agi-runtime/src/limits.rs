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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The concurrency cap of one route, shared by every call on it.
#[derive(Debug, Clone)]
pub(crate) struct RouteLimit {
    pub(crate) max: usize,
    permits: Arc<Semaphore>,
}

impl RouteLimit {
    pub(crate) fn new(max: usize) -> RouteLimit {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        RouteLimit { max, permits: Arc::new(Semaphore::new(max)) }
    }

    /// A slot on the route, or `None` when the route is at its limit.
    pub(crate) fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }
}

/// The connections still sending their environment block, oldest first.
///
/// When every slot is taken, a new connection takes the slot of the oldest one, which
/// is closed. Asterisk writes the whole block right after connecting, so the oldest
/// connection still without a block is the one least likely to be a real call: a flood
/// of silent connections (slowloris) then only ever closes its own connections, while
/// real calls complete their handshake within a millisecond and run.
#[derive(Debug)]
pub(crate) struct Handshakes {
    max: usize,
    waiting: Mutex<BTreeMap<u64, CancellationToken>>,
    next: AtomicU64,
}

impl Handshakes {
    pub(crate) fn new(max: usize) -> Arc<Handshakes> {
        Arc::new(Handshakes { max: max.max(1), waiting: Mutex::default(), next: AtomicU64::new(0) })
    }

    /// Takes a slot; `true` when the oldest connection had to give up its slot.
    pub(crate) fn enter(self: &Arc<Self>) -> (Handshake, bool) {
        let token = CancellationToken::new();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let evicted = waiting.len() >= self.max;
        if evicted && let Some((_, oldest)) = waiting.pop_first() {
            oldest.cancel();
        }
        waiting.insert(id, token.clone());
        (Handshake { id, token, owner: self.clone() }, evicted)
    }
}

/// A slot among the handshakes; freed on drop.
#[derive(Debug)]
pub(crate) struct Handshake {
    id: u64,
    token: CancellationToken,
    owner: Arc<Handshakes>,
}

impl Handshake {
    /// Completes when a newer connection took this slot.
    pub(crate) async fn evicted(&self) {
        self.token.cancelled().await;
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        self.owner.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
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
    pub(crate) fn enter(&self, phase: Phase) -> Held {
        self.count(phase).fetch_add(1, Ordering::AcqRel);
        Held { stats: self.clone(), phase }
    }
}

/// One unit of a [`ServerStats`] count, given back on drop.
#[derive(Debug)]
pub(crate) struct Held {
    stats: ServerStats,
    phase: Phase,
}

impl Drop for Held {
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
    async fn a_full_handshake_pool_evicts_its_oldest_member() {
        let pool = Handshakes::new(2);
        let (first, evicted) = pool.enter();
        assert!(!evicted);
        let (second, _) = pool.enter();
        let (third, evicted) = pool.enter();
        assert!(evicted);
        first.evicted().await;
        assert!(!second.token.is_cancelled());
        drop(second);
        let (_fourth, evicted) = pool.enter();
        assert!(!evicted, "the slot of a finished handshake is free again");
        drop(third);
        drop(first);
        assert_eq!(pool.waiting.lock().unwrap().len(), 1);
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
