//! Plays Asterisk against a FastAGI server at scale, and tabulates the results.
//!
//! ```text
//! agi-load run   [--addr 127.0.0.1:4573] [--concurrency 64] [--warmup-secs 2] (--secs 8 | --sessions N)
//!                [--reply-delay-ms 0] [--env-delay-ms 0] [--pid PID [--alloc-stats FILE]] [--label L] [--out FILE]
//! agi-load run   --target label=L,addr=A[,pid=PID][,alloc-stats=FILE][,out=FILE] --target ...
//!                [--concurrency 64] [--warmup-secs 2] --secs 8 [--turn-ms 500] [--reply-delay-ms 0] [--env-delay-ms 0]
//! agi-load hold  [--addr ...] --sessions 19000 [--opening 128] [--pid PID] [--label L] [--out FILE]
//! agi-load table DIR
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use agi_bench::load::{self, HoldConfig, RunConfig, Target};
use agi_bench::report;

const USAGE: &str = "agi-load run [--addr A] [--concurrency N] [--warmup-secs S] (--secs S | --sessions N) \
[--reply-delay-ms MS] [--env-delay-ms MS] [--pid PID [--alloc-stats FILE]] [--label L] [--out FILE]\n\
       agi-load run --target label=L,addr=A[,pid=PID][,alloc-stats=FILE][,out=FILE] --target ... \
[--concurrency N] [--warmup-secs S] --secs S [--turn-ms MS] [--reply-delay-ms MS] [--env-delay-ms MS]\n\
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

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n == name).map(|(_, value)| value.as_str())
    }

    fn check(&self, known: &[&str]) {
        if let Some((name, _)) = self.0.iter().find(|(n, _)| !known.contains(&n.as_str())) {
            fail(&format!("unknown option {name}"));
        }
    }
}

fn address(options: &Options) -> SocketAddr {
    loopback(options.get("--addr").unwrap_or(([127, 0, 0, 1], 4573).into()))
}

fn loopback(addr: SocketAddr) -> SocketAddr {
    if !addr.ip().is_loopback() {
        fail("the load generator targets loopback only");
    }
    addr
}

/// A server of the run, with the label and the file of its report.
struct Labelled {
    target: Target,
    label: String,
    out: Option<PathBuf>,
}

/// `label=L,addr=A[,pid=PID][,alloc-stats=FILE][,out=FILE]`.
fn parse_target(spec: &str) -> Labelled {
    let (mut addr, mut pid, mut alloc_stats, mut label, mut out) = (None, None, None, String::new(), None);
    for field in spec.split(',') {
        let Some((key, value)) = field.split_once('=') else { fail(&format!("bad --target field `{field}`")) };
        let bad = || -> ! { fail(&format!("bad value for {key} in --target: `{value}`")) };
        match key {
            "label" => label = value.to_owned(),
            "addr" => addr = Some(loopback(value.parse().unwrap_or_else(|_| bad()))),
            "pid" => pid = Some(value.parse().unwrap_or_else(|_| bad())),
            "alloc-stats" => alloc_stats = Some(value.into()),
            "out" => out = Some(value.into()),
            _ => fail(&format!("unknown --target field `{key}`")),
        }
    }
    let addr = addr.unwrap_or_else(|| fail("a --target needs addr="));
    Labelled { target: Target { addr, pid, alloc_stats }, label, out }
}

fn or_exit<T>(result: std::io::Result<T>) -> T {
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        std::process::exit(1)
    })
}

/// Prints a report (and writes it to `out`).
fn emit(kind: &str, label: &str, out: Option<PathBuf>, keys: String) {
    let text = format!("kind={kind}\nlabel={label}\n{keys}");
    print!("{text}");
    if let Some(path) = out
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
                "--env-delay-ms",
                "--pid",
                "--alloc-stats",
                "--label",
                "--out",
                "--target",
                "--turn-ms",
            ]);
            let duration = options.get::<f64>("--secs").map(Duration::from_secs_f64);
            let sessions = options.get("--sessions").unwrap_or(0);
            if duration.is_none() && sessions == 0 {
                fail("give --secs or --sessions");
            }
            let mut servers: Vec<Labelled> = options.all("--target").map(parse_target).collect();
            if servers.is_empty() {
                servers.push(Labelled {
                    target: Target {
                        addr: address(&options),
                        pid: options.get("--pid"),
                        alloc_stats: options.get("--alloc-stats"),
                    },
                    label: options.get("--label").unwrap_or_default(),
                    out: options.get("--out"),
                });
            } else if ["--addr", "--pid", "--alloc-stats", "--label", "--out"]
                .iter()
                .any(|o| options.all(o).next().is_some())
            {
                fail("with --target, give the server's settings in it");
            } else if duration.is_none() && servers.len() > 1 {
                fail("several servers take turns for --secs, not for --sessions");
            }
            let config = RunConfig {
                targets: servers.iter().map(|s| s.target.clone()).collect(),
                concurrency: options.get("--concurrency").unwrap_or(64),
                warmup: Duration::from_secs_f64(options.get("--warmup-secs").unwrap_or(2.0)),
                duration,
                turn: Duration::from_millis(options.get("--turn-ms").unwrap_or(500)),
                sessions,
                reply_delay: Duration::from_millis(options.get("--reply-delay-ms").unwrap_or(0)),
                env_delay: Duration::from_millis(options.get("--env-delay-ms").unwrap_or(0)),
                session_timeout: Duration::from_secs(10),
            };
            let reports = or_exit(runtime().block_on(load::run(config)));
            for (server, report) in servers.into_iter().zip(reports) {
                emit("run", &server.label, server.out, report.to_keys());
            }
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
            let report = or_exit(runtime().block_on(load::hold(config)));
            emit("hold", &options.get::<String>("--label").unwrap_or_default(), options.get("--out"), report.to_keys());
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
