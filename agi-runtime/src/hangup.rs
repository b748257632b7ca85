//! The hang-up signal: sticky state plus a future to await.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::buffers::Recycled;

/// A cloneable view of whether a call has hung up, for tasks that outlive a borrow of
/// the [`Call`](crate::Call).
///
/// It fires when the call *learns* of the hangup: when a command meets the `HANGUP`
/// line or a `511`, when Asterisk closes the connection, or while the handler awaits
/// [`Call::hung_up`](crate::Call::hung_up) or [`Call::or_hangup`](crate::Call::or_hangup),
/// which watch the connection between commands.
///
/// ```
/// # async fn demo(call: &mut agi_runtime::Call) {
/// let signal = call.hangup_signal();
/// tokio::spawn(async move {
///     signal.wait().await;
///     // stop background work for this call
/// });
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HangupSignal {
    /// Always there but while the last handle is dropped, which takes it out to give it
    /// back for another call.
    shared: Option<Arc<Shared>>,
}

#[derive(Debug, Default)]
struct Shared {
    hung_up: AtomicBool,
    notify: Notify,
}

thread_local! {
    /// Signal states whose last handle was dropped on this thread, unfired: every call
    /// has a signal, and an allocation per call would be freed in bursts that go past
    /// the system allocator's per-thread cache (see `buffers`).
    static RECYCLED: Recycled<Arc<Shared>> = const { Recycled::new() };
}

impl Default for HangupSignal {
    /// A signal not fired.
    fn default() -> Self {
        let recycled = RECYCLED.try_with(Recycled::take).ok().flatten();
        HangupSignal { shared: Some(recycled.unwrap_or_default()) }
    }
}

impl Drop for HangupSignal {
    fn drop(&mut self) {
        let Some(mut shared) = self.shared.take() else { return };
        // The last handle: no clone can see the state any more, nor wait on it.
        if let Some(state) = Arc::get_mut(&mut shared) {
            *state = Shared::default();
            // During the thread's exit the pool may be gone: the state is then just freed.
            let _ = RECYCLED.try_with(|recycled| recycled.give(shared));
        }
    }
}

impl HangupSignal {
    fn shared(&self) -> &Shared {
        // `shared` is taken only in `drop`.
        self.shared.as_deref().expect("a hang-up signal's state is there until it is dropped")
    }

    /// Whether the hangup has been observed.
    pub fn is_hung_up(&self) -> bool {
        self.shared().hung_up.load(Ordering::Acquire)
    }

    /// Completes once the hangup has been observed (at once if it already was).
    pub async fn wait(&self) {
        wait_until(&self.shared().notify, || self.is_hung_up()).await;
    }

    /// Marks the call hung up and wakes every waiter; later calls do nothing.
    pub(crate) fn fire(&self) {
        let shared = self.shared();
        if !shared.hung_up.swap(true, Ordering::AcqRel) {
            shared.notify.notify_waiters();
        }
    }
}

/// Completes once `ready()` holds, re-checking each time `notify` wakes its waiters.
pub(crate) async fn wait_until(notify: &Notify, ready: impl Fn() -> bool) {
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        // Register before checking, so a wake-up in between is not missed.
        notified.as_mut().enable();
        if ready() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_once_and_the_state_sticks() {
        let signal = HangupSignal::default();
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move { signal.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!signal.is_hung_up());
        signal.fire();
        waiter.await.unwrap();
        assert!(signal.is_hung_up());
        signal.fire();
        signal.wait().await; // already fired: returns at once
    }

    #[test]
    fn the_last_handle_gives_its_state_back_unfired() {
        let signal = HangupSignal::default();
        let clone = signal.clone();
        signal.fire();
        let state = Arc::as_ptr(clone.shared.as_ref().unwrap());
        drop(signal);
        // A clone still holds it: the next signal gets state of its own.
        let other = HangupSignal::default();
        assert_ne!(Arc::as_ptr(other.shared.as_ref().unwrap()), state);
        assert!(clone.is_hung_up());
        drop(clone);
        let recycled = HangupSignal::default();
        assert_eq!(Arc::as_ptr(recycled.shared.as_ref().unwrap()), state, "the same state comes back");
        assert!(!recycled.is_hung_up(), "and it is not fired");
    }
}
