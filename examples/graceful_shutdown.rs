//! Graceful shutdown: on SIGTERM (or Ctrl-C) the server stops accepting calls, lets the
//! calls in flight finish within a grace period, and exits.
//!
//! Its route, `/SlowLookup?account=N`, answers, plays a hold prompt, asks a slow back end
//! for the account's balance and hands it to the dialplan in `BALANCE`. A call that is
//! mid-lookup when the service is told to stop still gets its answer:
//!
//! ```text
//! exten => 5551300,1,AGI(agi://127.0.0.1/SlowLookup?account=${CALLERID(num)})
//!  same => n,SayNumber(${BALANCE})
//! ```
//!
//! Run it with `cargo run --example graceful-shutdown` (listens on 127.0.0.1:4573; give
//! another address as the first argument), place calls with
//! `cargo run -p agi-sim -- call agi://127.0.0.1:4573/SlowLookup?account=42`, and stop it
//! with `kill -TERM <pid>` or Ctrl-C.

use std::time::Duration;

use agi_runtime::prelude::*;

/// How long calls in flight may take to finish once a shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// `SlowLookup?account=N`: the balance of account N, in `BALANCE`.
#[agi_route("/SlowLookup")]
async fn slow_lookup(call: &mut Call, account: u32) -> AgiResult<()> {
    call.answer().await?;
    call.stream_file("please-hold", EscapeDigits::NONE).await?;
    // Stop waiting for the back end as soon as the caller hangs up.
    let balance = call.or_hangup(balance_of(account)).await?;
    call.set_variable("BALANCE", &balance.to_string()).await
}

/// A back end that takes its time.
async fn balance_of(account: u32) -> i64 {
    tokio::time::sleep(Duration::from_millis(300)).await;
    i64::from(account % 1000) * 100
}

/// The route table, as the server serves it (and the tests call it).
pub(crate) fn app() -> Router {
    routes![slow_lookup]
}

#[tokio::main]
pub(crate) async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4573".to_owned());
    let server = Server::bind(&addr).await?.shutdown_grace(SHUTDOWN_GRACE);
    // With port 0 the system picks the port: say which.
    println!("listening on {}", server.local_addr()?);
    let report = server.serve_with_shutdown(app(), shutdown_signal()).await?;
    println!("stopped: {} calls were running, {} were cut", report.in_flight, report.cut);
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
