//! The hang-up signal: sticky state plus a future to await.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

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
#[derive(Debug, Clone, Default)]
pub struct HangupSignal {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    hung_up: AtomicBool,
    notify: Notify,
}

impl HangupSignal {
    /// Whether the hangup has been observed.
    pub fn is_hung_up(&self) -> bool {
        self.shared.hung_up.load(Ordering::Acquire)
    }

    /// Completes once the hangup has been observed (at once if it already was).
    pub async fn wait(&self) {
        wait_until(&self.shared.notify, || self.is_hung_up()).await;
    }

    /// Marks the call hung up and wakes every waiter; later calls do nothing.
    pub(crate) fn fire(&self) {
        if !self.shared.hung_up.swap(true, Ordering::AcqRel) {
            self.shared.notify.notify_waiters();
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
}
