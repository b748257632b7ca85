//! Plays Asterisk against a FastAGI server at scale, and tabulates the results.
//!
//! ```text
//! agi-load run   [--addr 127.0.0.1:4573] [--concurrency 64] [--warmup-secs 2] (--secs 8 | --sessions N)
//!                [--reply-delay-ms 0] [--pid PID [--alloc-stats FILE]] [--label L] [--out FILE]
//! agi-load hold  [--addr ...] --sessions 19000 [--opening 128] [--pid PID] [--label L] [--out FILE]
//! agi-load table DIR
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use agi_bench::load::{self, HoldConfig, RunConfig};
use agi_bench::report;

const USAGE: &str = "agi-load run [--addr A] [--concurrency N] [--warmup-secs S] (--secs S | --sessions N) \
[--reply-delay-ms MS] [--pid PID [--alloc-stats FILE]] [--label L] [--out FILE]\n\
       agi-load hold [--addr A] --sessions N [--opening N] [--settle-ms MS] [--pid PID] [--label L] [--out FILE]\n\
       agi-load table DIR";

fn fail(message: &str) -> ! {
    eprintln!("error: {message}\nusage: {USAGE}");
    std::process::exit(2)
}

/// `--name value` options.
struct Options(Vec<(String, String)>);

impl Options {
    fn parse(words: &[String]) -> Options {
        let mut pairs = Vec::new();
        let mut words = words.iter();
        while let Some(name) = words.next() {
            if !name.starts_with("--") {
                fail(&format!("unexpected `{name}`"));
            }
            let value = words.next().unwrap_or_else(|| fail(&format!("{name} needs a value")));
            pairs.push((name.clone(), value.clone()));
        }
        Options(pairs)
    }

    fn get<T: FromStr>(&self, name: &str) -> Option<T> {
        let (_, value) = self.0.iter().find(|(n, _)| n == name)?;
        Some(value.parse().unwrap_or_else(|_| fail(&format!("bad value for {name}: `{value}`"))))
    }

    fn check(&self, known: &[&str]) {
        if let Some((name, _)) = self.0.iter().find(|(n, _)| !known.contains(&n.as_str())) {
            fail(&format!("unknown option {name}"));
        }
    }
}

fn address(options: &Options) -> SocketAddr {
    let addr: SocketAddr = options.get("--addr").unwrap_or(([127, 0, 0, 1], 4573).into());
    if !addr.ip().is_loopback() {
        fail("the load generator targets loopback only");
    }
    addr
}

/// Prints the report (and writes it to `--out`), or the error that stopped it.
fn emit(options: &Options, kind: &str, keys: std::io::Result<String>) {
    let keys = keys.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        std::process::exit(1)
    });
    let label: String = options.get("--label").unwrap_or_default();
    let text = format!("kind={kind}\nlabel={label}\n{keys}");
    print!("{text}");
    if let Some(path) = options.get::<PathBuf>("--out")
        && let Err(error) = std::fs::write(&path, &text)
    {
        eprintln!("error: {}: {error}", path.display());
        std::process::exit(1);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| fail(&e.to_string()))
}

fn main() {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = words.split_first() else { fail("no command") };
    match command.as_str() {
        "run" => {
            let options = Options::parse(rest);
            options.check(&[
                "--addr",
                "--concurrency",
                "--warmup-secs",
                "--secs",
                "--sessions",
                "--reply-delay-ms",
                "--pid",
                "--alloc-stats",
                "--label",
                "--out",
            ]);
            let duration = options.get::<f64>("--secs").map(Duration::from_secs_f64);
            let sessions = options.get("--sessions").unwrap_or(0);
            if duration.is_none() && sessions == 0 {
                fail("give --secs or --sessions");
            }
            let config = RunConfig {
                addr: address(&options),
                concurrency: options.get("--concurrency").unwrap_or(64),
                warmup: Duration::from_secs_f64(options.get("--warmup-secs").unwrap_or(2.0)),
                duration,
                sessions,
                reply_delay: Duration::from_millis(options.get("--reply-delay-ms").unwrap_or(0)),
                session_timeout: Duration::from_secs(10),
                pid: options.get("--pid"),
                alloc_stats: options.get("--alloc-stats"),
            };
            let report = runtime().block_on(load::run(config));
            emit(&options, "run", report.map(|r| r.to_keys()));
        }
        "hold" => {
            let options = Options::parse(rest);
            options.check(&["--addr", "--sessions", "--opening", "--settle-ms", "--pid", "--label", "--out"]);
            let config = HoldConfig {
                addr: address(&options),
                sessions: options.get("--sessions").unwrap_or_else(|| fail("give --sessions")),
                opening: options.get("--opening").unwrap_or(128),
                pid: options.get("--pid"),
                settle: Duration::from_millis(options.get("--settle-ms").unwrap_or(1000)),
                session_timeout: Duration::from_secs(30),
            };
            let report = runtime().block_on(load::hold(config));
            emit(&options, "hold", report.map(|r| r.to_keys()));
        }
        "table" => {
            let [dir] = rest else { fail("table needs one folder") };
            match report::read_results(dir.as_ref()) {
                Ok(results) => {
                    let (text, met) = report::table(&results);
                    print!("{text}");
                    std::process::exit(if met { 0 } else { 1 });
                }
                Err(error) => {
                    eprintln!("error: {dir}: {error}");
                    std::process::exit(2);
                }
            }
        }
        other => fail(&format!("unknown command `{other}`")),
    }
}
