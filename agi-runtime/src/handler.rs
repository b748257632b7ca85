//! Handlers: what runs a call once its route matched.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::call::Call;
use crate::error::AgiError;
use crate::extract::Rejection;

/// A boxed, sendable future, as handlers return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs a call. `#[agi_route]` implements it for each annotated function; implement it
/// by hand (or use [`handler_fn`]) to register handlers without the macro.
///
/// `S` is the router's shared state (see [`Router::with_state`](crate::Router::with_state)).
///
/// ```
/// use agi_runtime::{BoxFuture, Call, Handler, IntoOutcome, Outcome};
///
/// struct Greeter;
///
/// impl Handler<()> for Greeter {
///     fn call<'a>(&'a self, call: &'a mut Call, _state: &'a ()) -> BoxFuture<'a, Outcome> {
///         Box::pin(async move { call.answer().await.into_outcome() })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an AGI handler for state `{S}`",
    label = "not a handler",
    note = "annotate an `async fn(&mut Call, ...)` with `#[agi_route(\"/path\")]`, or wrap a closure with `handler_fn`"
)]
pub trait Handler<S>: Send + Sync + 'static {
    /// Runs the handler on `call`.
    fn call<'a>(&'a self, call: &'a mut Call, state: &'a S) -> BoxFuture<'a, Outcome>;
}

/// How a handler ended; the server turns it into the status reported to the dialplan.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler finished normally.
    Success,
    /// The handler stopped because the caller hung up (or Asterisk went away).
    HungUp,
    /// The call's inputs could not be extracted; the handler did not run.
    Rejected(Rejection),
    /// The handler returned an error; the text is the error's `Display`.
    Failed(String),
}

/// What a handler may return: `()` or `Result<(), E>` with a displayable error.
///
/// An error that is [`AgiError::HungUp`] or [`AgiError::Disconnected`] counts as the
/// caller leaving, not as a failure.
#[diagnostic::on_unimplemented(
    message = "an AGI handler must return `()` or `Result<(), E>` where `E: Display`, not `{Self}`",
    label = "this return type cannot be reported to the dialplan",
    note = "the server reports the outcome in a channel variable, so errors need a `Display` text"
)]
pub trait IntoOutcome {
    /// Converts the handler's return value.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::Success
    }
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl<E: Display + 'static> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(()) => Outcome::Success,
            Err(error) if is_hangup(&error) => Outcome::HungUp,
            Err(error) => Outcome::Failed(error.to_string()),
        }
    }
}

fn is_hangup(error: &dyn Any) -> bool {
    if let Some(error) = error.downcast_ref::<AgiError>() {
        return error.is_hangup();
    }
    let boxed = error
        .downcast_ref::<Box<dyn std::error::Error + Send + Sync>>()
        .map(|b| &**b as &(dyn std::error::Error + 'static))
        .or_else(|| error.downcast_ref::<Box<dyn std::error::Error>>().map(|b| &**b));
    boxed.and_then(|e| e.downcast_ref::<AgiError>()).is_some_and(AgiError::is_hangup)
}

/// A handler made of a closure returning a boxed future.
///
/// ```
/// use agi_runtime::handler_fn;
///
/// let hello = handler_fn(|call| Box::pin(async move {
///     call.answer().await?;
///     call.verbose("hello").await
/// }));
/// # let _ = agi_runtime::Router::<()>::new().route("/hello", hello);
/// ```
pub fn handler_fn<F, R>(f: F) -> HandlerFn<F>
where
    F: for<'a> Fn(&'a mut Call) -> BoxFuture<'a, R> + Send + Sync + 'static,
    R: IntoOutcome + 'static,
{
    HandlerFn(f)
}

/// The handler built by [`handler_fn`].
#[derive(Clone, Copy)]
pub struct HandlerFn<F>(F);

impl<F> std::fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandlerFn")
    }
}

impl<F, R, S> Handler<S> for HandlerFn<F>
where
    F: for<'a> Fn(&'a mut Call) -> BoxFuture<'a, R> + Send + Sync + 'static,
    R: IntoOutcome + 'static,
{
    fn call<'a>(&'a self, call: &'a mut Call, _state: &'a S) -> BoxFuture<'a, Outcome> {
        boxed_outcome((self.0)(call))
    }
}

/// A handler's future, boxed, its output turned into an [`Outcome`] as it ends: a map
/// written by hand rather than an `async` block around it, which would be one more state
/// to keep and to step through at every poll.
pub(crate) fn boxed_outcome<'a, R, F>(future: F) -> BoxFuture<'a, Outcome>
where
    R: IntoOutcome,
    F: Future<Output = R> + Send + 'a,
{
    Box::pin(IntoOutcomeFuture { future })
}

pin_project_lite::pin_project! {
    /// The future of [`boxed_outcome`].
    struct IntoOutcomeFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F, R> Future for IntoOutcomeFuture<F>
where
    F: Future<Output = R>,
    R: IntoOutcome,
{
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.project().future.poll(cx).map(IntoOutcome::into_outcome)
    }
}

/// Polls a future, turning a panic inside it into `Err(message)`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<'a> CatchUnwind<BoxFuture<'a, Outcome>> {
    /// A handler's future from `start` (its [`Handler::call`]), where a panic in `start`
    /// itself (the extraction of the handler's inputs, or a `call` written by hand) is
    /// raised again at the first poll, and so reported as one in the handler.
    pub(crate) fn start(start: impl FnOnce() -> BoxFuture<'a, Outcome>) -> Self {
        match std::panic::catch_unwind(AssertUnwindSafe(start)) {
            Ok(future) => CatchUnwind(future),
            Err(payload) => CatchUnwind(Box::pin(async move { std::panic::resume_unwind(payload) })),
        }
    }
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangup_errors_are_not_failures() {
        assert!(matches!(Ok::<(), AgiError>(()).into_outcome(), Outcome::Success));
        assert!(matches!(Err::<(), _>(AgiError::HungUp).into_outcome(), Outcome::HungUp));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(AgiError::Disconnected);
        assert!(matches!(Err::<(), _>(boxed).into_outcome(), Outcome::HungUp));
        match Err::<(), _>("no such customer").into_outcome() {
            Outcome::Failed(text) => assert_eq!(text, "no such customer"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn catch_unwind_reports_the_panic_message() {
        let result = CatchUnwind(Box::pin(async { panic!("boom {}", 7) })).await;
        assert_eq!(result.unwrap_err(), "boom 7");
        let result = CatchUnwind(Box::pin(async { 5 })).await;
        assert_eq!(result, Ok(5));
    }
}
