//! What both benchmark servers share besides their protocol code: the command line, the
//! single-threaded runtime, and the allocation report on `SIGUSR1`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::signal::unix::{SignalKind, signal};

use crate::alloc::AllocStats;

/// The command line of a benchmark server.
#[derive(Debug, Clone)]
pub struct ServerArgs {
    /// Where to listen (loopback only).
    pub listen: SocketAddr,
    /// Where to write the allocation counters on each `SIGUSR1`.
    pub alloc_stats: Option<PathBuf>,
    /// Flags the binary defines itself (e.g. `--report-success`).
    pub flags: Vec<String>,
}

impl ServerArgs {
    /// Parses `--listen ADDR`, `--alloc-stats FILE` and the flags in `known`.
    pub fn parse(known: &[&str]) -> Result<ServerArgs, String> {
        let mut args = ServerArgs { listen: ([127, 0, 0, 1], 4573).into(), alloc_stats: None, flags: Vec::new() };
        let mut words = std::env::args().skip(1);
        while let Some(word) = words.next() {
            match word.as_str() {
                "--listen" => {
                    let value = words.next().ok_or("--listen needs an address")?;
                    args.listen = value.parse().map_err(|e| format!("--listen {value}: {e}"))?;
                }
                "--alloc-stats" => args.alloc_stats = Some(words.next().ok_or("--alloc-stats needs a file")?.into()),
                flag if known.contains(&flag) => args.flags.push(word),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if !args.listen.ip().is_loopback() {
            return Err(format!("{}: the benchmark servers listen on loopback only", args.listen));
        }
        Ok(args)
    }

    /// Whether `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Runs `server` on a single-threaded runtime until `SIGTERM` or `SIGINT`.
///
/// Both servers run the same way: one thread, since each is pinned to one core, and
/// the runtime's own thread counts the allocations.
pub fn run<F>(args: &ServerArgs, server: F) -> io::Result<()>
where
    F: Future<Output = io::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut stop = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut report = signal(SignalKind::user_defined1())?;
        let mut sequence = 0u64;
        tokio::pin!(server);
        loop {
            tokio::select! {
                result = &mut server => return result,
                _ = stop.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
                _ = report.recv() => {
                    sequence += 1;
                    if let Some(path) = &args.alloc_stats {
                        write_stats(path, sequence, AllocStats::current())?;
                    }
                }
            }
        }
    })
}

fn write_stats(path: &std::path::Path, sequence: u64, stats: AllocStats) -> io::Result<()> {
    // Written aside and renamed, so a reader never sees half a line.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("seq={sequence} {stats}\n"))?;
    std::fs::rename(partial, path)
}

/// Tells `run.sh` the server is ready.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
}

/// Prints the usage error and exits.
pub fn usage(error: &str, usage: &str) -> ! {
    eprintln!("error: {error}\nusage: {usage}");
    std::process::exit(2)
}
