//! Code shared by the end-to-end tests; each test file uses part of it.
#![allow(dead_code)]

pub(crate) mod captures;
mod harness;

#[allow(unused_imports)] // each test file uses its own part
pub(crate) use harness::*;

use std::sync::{Arc, Mutex};

use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{AgiError, BoxFuture, Call, Router, handler_fn};
use tokio::sync::mpsc;

/// One thing a handler does, reported as text (usually the `Debug` of a result).
pub(crate) type Step = Box<dyn for<'a> FnOnce(&'a mut Call) -> BoxFuture<'a, String> + Send>;

/// Boxes a step; the closure gets the call and returns a boxed future.
pub(crate) fn step<F>(f: F) -> Step
where
    F: for<'a> FnOnce(&'a mut Call) -> BoxFuture<'a, String> + Send + 'static,
{
    Box::new(f)
}

/// A step that runs one expression on the call and reports its `Debug` form:
/// `typed!(call => call.answer().await)`.
#[allow(unused_macros)]
macro_rules! typed {
    ($call:ident => $body:expr) => {
        $crate::support::step(move |$call| Box::pin(async move { format!("{:?}", $body) }))
    };
}

/// A step, the line it must put on the wire (`None`: nothing may be sent), the lines
/// Asterisk answers, and the report the step must produce (see [`check_report`]).
pub(crate) struct Case {
    pub(crate) step: Step,
    pub(crate) sent: Option<String>,
    pub(crate) replies: Vec<String>,
    pub(crate) want: String,
}

/// Builds a [`Case`]: `case(step, Some("ANSWER"), &["200 result=0"], "Ok(())")`.
pub(crate) fn case(step: Step, sent: Option<&str>, replies: &[&str], want: &str) -> Case {
    Case {
        step,
        sent: sent.map(str::to_owned),
        replies: replies.iter().map(|r| (*r).to_owned()).collect(),
        want: want.to_owned(),
    }
}

/// Starts one call whose handler runs `steps` in order, reporting each; returns the
/// scripted Asterisk (environment sent) and the reports.
pub(crate) async fn start_steps(steps: Vec<Step>) -> (ScriptedPeer, mpsc::UnboundedReceiver<String>) {
    let steps = Arc::new(Mutex::new(Some(steps)));
    let (report, reports) = mpsc::unbounded_channel::<String>();
    let router = Router::new()
        .route(
            "/steps",
            handler_fn(move |call| {
                let steps = steps.lock().unwrap().take().unwrap_or_default();
                let report = report.clone();
                Box::pin(async move {
                    for step in steps {
                        let _ = report.send(step(call).await);
                    }
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    (ScriptedPeer::in_memory(router, &CallSpec::new("/steps")).await.unwrap(), reports)
}

/// Checks a report; a `want` ending in `…` only has to be a prefix of it.
pub(crate) fn check_report(got: &str, want: &str, context: &str) {
    match want.strip_suffix('…') {
        Some(prefix) => assert!(got.starts_with(prefix), "{context}: got {got}"),
        None => assert_eq!(got, want, "{context}"),
    }
}

/// Runs the steps in order as one call's handler, against a scripted Asterisk that
/// checks each line sent and plays each reply; returns the peer, before the end of
/// the session, for more checks.
pub(crate) async fn run_steps(cases: Vec<Case>) -> ScriptedPeer {
    let mut steps = Vec::with_capacity(cases.len());
    let mut checks = Vec::with_capacity(cases.len());
    for case in cases {
        steps.push(case.step);
        checks.push((case.sent, case.replies, case.want));
    }
    let (mut peer, mut reports) = start_steps(steps).await;
    for (i, (sent, replies, want)) in checks.into_iter().enumerate() {
        if let Some(line) = &sent {
            peer.expect(line).await.unwrap_or_else(|e| panic!("step {i}: {e}"));
        }
        for reply in &replies {
            peer.send(reply).await.unwrap();
        }
        let got = reports.recv().await.unwrap_or_else(|| panic!("step {i}: the handler stopped"));
        check_report(&got, &want, &format!("step {i} ({sent:?})"));
    }
    peer
}
