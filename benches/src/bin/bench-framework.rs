//! The benchmark call served with agi-runtime, written as an application would write it.
//!
//! ```text
//! bench-framework [--listen 127.0.0.1:4573] [--alloc-stats FILE] [--report-success]
//! ```
//!
//! By default the server is configured as an application tuned for throughput would
//! be: `SUCCESS` is not reported in `FASTAGI_STATUS` (the dialplan checks only the
//! failures), which saves a round trip per call. `--report-success` keeps the default
//! status reporting, one more command per call.

use std::fmt;

use agi_bench::serve::{self, ServerArgs};
use agi_runtime::StatusReporting;
use agi_runtime::prelude::*;

#[global_allocator]
static ALLOCATOR: agi_bench::alloc::Counting = agi_bench::alloc::Counting;

/// Why the benchmark call failed.
#[derive(Debug)]
enum BenchError {
    Agi(AgiError),
    NoCallerId,
    PlaybackFailed,
}

impl From<AgiError> for BenchError {
    fn from(error: AgiError) -> Self {
        BenchError::Agi(error)
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Agi(error) => error.fmt(f),
            BenchError::NoCallerId => f.write_str("the channel has no caller number"),
            BenchError::PlaybackFailed => f.write_str("`welcome` did not play to the end"),
        }
    }
}

// exten => _X.,1,AGI(agi://127.0.0.1/bench?extension=${EXTEN}&lang=${CHANNEL(language)})
#[agi_route("/bench")]
async fn bench(call: &mut Call, extension: u32, lang: Option<String>) -> Result<(), BenchError> {
    call.answer().await?;
    let caller = call.get_variable("CALLERID(num)").await?.ok_or(BenchError::NoCallerId)?;
    match call.stream_file("welcome", EscapeDigits::NONE).await? {
        Playback::Completed { .. } => {}
        _ => return Err(BenchError::PlaybackFailed),
    }
    call.set_variable("RESULT", "ok").await?;
    call.hangup().await?;
    // What a real handler would log or store.
    std::hint::black_box((extension, lang, caller));
    Ok(())
}

fn main() {
    let usage = "bench-framework [--listen ADDR] [--alloc-stats FILE] [--report-success]";
    let args = ServerArgs::parse(&["--report-success"]).unwrap_or_else(|e| serve::usage(&e, usage));
    let reporting = StatusReporting::default().report_success(args.has("--report-success"));
    let result = serve::run(&args, async {
        let server = Server::bind(args.listen).await?;
        serve::announce(server.local_addr()?);
        server
            // The hold test keeps 19,000 calls waiting at once.
            .max_calls(20_000)
            .status_reporting(reporting)
            .serve(routes![bench])
            .await
    });
    if let Err(error) = result {
        eprintln!("bench-framework: {error}");
        std::process::exit(1);
    }
}
