//! The load generator: Asterisk playing the benchmark call, many times at once.
//!
//! Everything runs on the calling thread (a current-thread runtime and a `LocalSet`),
//! so the generator costs one core and needs no locks.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};

use crate::alloc::AllocStats;
use crate::hist::Histogram;
use crate::procfs;
use crate::scenario::{ENV_BLOCK, FINAL_HANGUP, SCRIPT, STATUS_REPORT};

/// Why a session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The server reset the connection.
    Reset,
    /// Another I/O error.
    Io,
    /// The server sent a command the script does not have at that point.
    Unexpected,
    /// The server closed before the script was complete.
    EarlyClose,
    /// The server sent a line longer than the generator's buffer.
    LongLine,
    /// The session did not end within the session timeout.
    Timeout,
}

impl ErrorKind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Reset => "reset",
            ErrorKind::Io => "io",
            ErrorKind::Unexpected => "unexpected_command",
            ErrorKind::EarlyClose => "early_close",
            ErrorKind::LongLine => "long_line",
            ErrorKind::Timeout => "timeout",
        }
    }

    fn of(error: &io::Error) -> ErrorKind {
        match error.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
                ErrorKind::Reset
            }
            _ => ErrorKind::Io,
        }
    }
}

/// The longest command line the generator accepts (the benchmark's are far shorter).
const LINE_BUFFER: usize = 512;

/// The lines a server sends, read into a fixed buffer.
struct Reader {
    buf: [u8; LINE_BUFFER],
    start: usize,
    end: usize,
}

impl Reader {
    fn new() -> Reader {
        Reader { buf: [0; LINE_BUFFER], start: 0, end: 0 }
    }

    /// The next line (without its LF) as a range of `buf`, or `None` at end of stream.
    async fn next(&mut self, stream: &mut TcpStream) -> Result<Option<(usize, usize)>, ErrorKind> {
        loop {
            if let Some(lf) = self.buf[self.start..self.end].iter().position(|&b| b == b'\n') {
                let line = (self.start, self.start + lf);
                self.start += lf + 1;
                return Ok(Some(line));
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == LINE_BUFFER {
                return Err(ErrorKind::LongLine);
            }
            match stream.read(&mut self.buf[self.end..]).await {
                Ok(0) if self.end == 0 => return Ok(None),
                Ok(0) => return Err(ErrorKind::EarlyClose),
                Ok(n) => self.end += n,
                Err(e) => return Err(ErrorKind::of(&e)),
            }
        }
    }
}

/// What one successful session measured.
#[derive(Debug, Clone, Copy)]
struct Played {
    /// Nanoseconds from sending the environment (or a reply) to reading the next command.
    round_trips: [u64; SCRIPT.len() + 1],
    commands: usize,
    /// Whether the server reported `FASTAGI_STATUS` after the script.
    status_report: bool,
}

/// Plays one call: connect, environment, the script's replies, the final `HANGUP`.
async fn play(addr: SocketAddr, env_delay: Duration, delay: Duration) -> Result<Played, ErrorKind> {
    let mut stream = TcpStream::connect(addr).await.map_err(|_| ErrorKind::Connect)?;
    stream.set_nodelay(true).map_err(|e| ErrorKind::of(&e))?;
    let mut reader = Reader::new();
    let mut played = Played { round_trips: [0; SCRIPT.len() + 1], commands: 0, status_report: false };
    if !env_delay.is_zero() {
        tokio::time::sleep(env_delay).await;
    }
    stream.write_all(ENV_BLOCK.as_bytes()).await.map_err(|e| ErrorKind::of(&e))?;
    let mut sent = Instant::now();
    loop {
        let Some(line) = reader.next(&mut stream).await? else { break };
        let now = Instant::now();
        let command = &reader.buf[line.0..line.1];
        let reply = match SCRIPT.get(played.commands) {
            Some((expected, reply)) if command == expected.as_bytes() => reply,
            None if command == STATUS_REPORT.0.as_bytes() && !played.status_report => {
                played.status_report = true;
                STATUS_REPORT.1
            }
            _ => return Err(ErrorKind::Unexpected),
        };
        if let Some(slot) = played.round_trips.get_mut(played.commands) {
            *slot = now.duration_since(sent).as_nanos() as u64;
        }
        played.commands += 1;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        stream.write_all(reply.as_bytes()).await.map_err(|e| ErrorKind::of(&e))?;
        sent = Instant::now();
    }
    if played.commands < SCRIPT.len() {
        return Err(ErrorKind::EarlyClose);
    }
    // Asterisk's last word once the server has closed its side; a server that closed
    // fully answers it with a reset, which Asterisk ignores too.
    let _ = stream.write_all(FINAL_HANGUP.as_bytes()).await;
    Ok(played)
}

/// One server under load, and where its costs are read.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub addr: SocketAddr,
    /// The server's process, for its CPU time and memory.
    pub pid: Option<u32>,
    /// The file the server writes its allocation counters to on `SIGUSR1`.
    pub alloc_stats: Option<PathBuf>,
}

/// How a load run is shaped.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The servers. With a `duration`, they take turns (see `turn`); without, there is one.
    pub targets: Vec<Target>,
    /// Sessions in flight at once; a new one starts as each ends.
    pub concurrency: usize,
    /// How long each server is played before measuring starts (with `duration`).
    pub warmup: Duration,
    /// How long each server is measured; `None` runs `sessions` sessions instead, all measured.
    pub duration: Option<Duration>,
    /// With a `duration`, how long one turn lasts. The servers take turns until each has
    /// been measured for `duration`: a machine whose speed drifts (other work on shared
    /// cores) then slows each of them alike. A turn ends once its sessions have ended, so
    /// each session is counted whole, against its own server.
    pub turn: Duration,
    /// The number of sessions when there is no `duration`.
    pub sessions: u64,
    /// A pause before each reply, as a real channel takes time to play or answer.
    pub reply_delay: Duration,
    /// A pause between connecting and sending the environment block, so that the server
    /// finds no block at its first read (as under load, where it often polls a new
    /// connection before the block has arrived).
    pub env_delay: Duration,
    /// The longest a session may take before it counts as an error.
    pub session_timeout: Duration,
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Sessions completed while measuring.
    pub sessions: u64,
    /// Commands answered in those sessions.
    pub commands: u64,
    /// Of those, status reports after the script.
    pub status_reports: u64,
    /// The measured time.
    pub elapsed: Duration,
    /// Command round trips, as seen by Asterisk: reply (or environment) sent to next command read, ns.
    pub round_trip: Histogram,
    /// Whole sessions, connect to the server's close, ns.
    pub session: Histogram,
    /// Failed sessions by kind, over the whole run (warm-up included).
    pub errors: BTreeMap<&'static str, u64>,
    /// The server's CPU time while measuring.
    pub server_cpu: Option<procfs::CpuTime>,
    /// The server's memory before the first session.
    pub server_rest: Option<procfs::Memory>,
    /// The server's memory after the run (its `hwm_kib` is the peak).
    pub server_end: Option<procfs::Memory>,
    /// The server's allocations while measuring.
    pub allocs: Option<AllocStats>,
    /// The generator's own CPU time while measuring, in seconds.
    pub own_cpu: f64,
}

impl RunReport {
    /// Sessions per second.
    pub fn sessions_per_sec(&self) -> f64 {
        self.sessions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Command round trips per second.
    pub fn round_trips_per_sec(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Failed sessions.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The report as `key=value` lines.
    pub fn to_keys(&self) -> String {
        let mut out = String::new();
        let mut put = |key: &str, value: String| {
            out.push_str(key);
            out.push('=');
            out.push_str(&value);
            out.push('\n');
        };
        let us = |ns: u64| format!("{:.1}", ns as f64 / 1000.0);
        put("sessions", self.sessions.to_string());
        put("elapsed_s", format!("{:.3}", self.elapsed.as_secs_f64()));
        put("sessions_per_s", format!("{:.1}", self.sessions_per_sec()));
        put("round_trips_per_s", format!("{:.1}", self.round_trips_per_sec()));
        put("commands_per_session", format!("{:.2}", self.commands as f64 / self.sessions.max(1) as f64));
        put("status_reports", self.status_reports.to_string());
        put("rtt_p50_us", us(self.round_trip.quantile(0.5)));
        put("rtt_p99_us", us(self.round_trip.quantile(0.99)));
        put("rtt_max_us", us(self.round_trip.max()));
        put("session_p50_us", us(self.session.quantile(0.5)));
        put("session_p99_us", us(self.session.quantile(0.99)));
        put("session_max_us", us(self.session.max()));
        put("errors", self.error_count().to_string());
        for (kind, count) in &self.errors {
            put(&format!("error_{kind}"), count.to_string());
        }
        if let Some(cpu) = self.server_cpu {
            let per_session = |seconds: f64| format!("{:.2}", seconds * 1e6 / self.sessions.max(1) as f64);
            put("server_cpu_s", format!("{:.3}", cpu.total()));
            put("server_cpu_us_per_session", per_session(cpu.total()));
            put("server_user_us_per_session", per_session(cpu.user_part()));
            put("server_system_us_per_session", per_session(cpu.system_part()));
            put("server_cpu_pct", format!("{:.1}", cpu.total() * 100.0 / self.elapsed.as_secs_f64().max(1e-9)));
        }
        if let Some(rest) = self.server_rest {
            put("server_rss_rest_kib", rest.rss_kib.to_string());
        }
        if let Some(end) = self.server_end {
            put("server_rss_end_kib", end.rss_kib.to_string());
            put("server_rss_peak_kib", end.hwm_kib.to_string());
        }
        if let Some(allocs) = self.allocs {
            let per = |n: u64| format!("{:.2}", n as f64 / self.sessions.max(1) as f64);
            put("allocs_per_session", per(allocs.calls()));
            put("alloc_bytes_per_session", per(allocs.bytes));
        }
        put("loadgen_cpu_pct", format!("{:.1}", self.own_cpu * 100.0 / self.elapsed.as_secs_f64().max(1e-9)));
        out
    }
}

/// State shared by the sessions of a run (one thread: cells, no locks).
#[derive(Default)]
struct Shared {
    stop: Cell<bool>,
    /// The server new sessions are played against; `None` between turns.
    turn: Cell<Option<usize>>,
    /// Whether the sessions of this turn are measured.
    measuring: Cell<bool>,
    /// Sessions being played now.
    in_flight: Cell<usize>,
    /// Wakes the waiting workers when a turn starts or the run stops.
    turn_started: Notify,
    /// Wakes the scheduler when the last session of an ended turn ends.
    drained: Notify,
    /// Sessions started, when there is a session count.
    started: Cell<u64>,
    /// One report per target.
    reports: RefCell<Vec<RunReport>>,
}

impl Shared {
    fn record(&self, target: usize, played: &Played, session_ns: u64) {
        let mut reports = self.reports.borrow_mut();
        let report = &mut reports[target];
        report.sessions += 1;
        report.commands += played.commands as u64;
        report.status_reports += u64::from(played.status_report);
        for &ns in &played.round_trips[..played.commands.min(played.round_trips.len())] {
            report.round_trip.record(ns);
        }
        report.session.record(session_ns);
    }

    fn fail(&self, target: usize, kind: ErrorKind) {
        *self.reports.borrow_mut()[target].errors.entry(kind.name()).or_default() += 1;
    }
}

async fn worker(shared: Rc<Shared>, config: Rc<RunConfig>) {
    loop {
        if shared.stop.get() {
            return;
        }
        // One thread: nothing can start a turn between this check and the wait.
        let Some(target) = shared.turn.get() else {
            shared.turn_started.notified().await;
            continue;
        };
        if config.duration.is_none() {
            if shared.started.get() >= config.sessions {
                return;
            }
            shared.started.set(shared.started.get() + 1);
        }
        let measured = shared.measuring.get();
        shared.in_flight.set(shared.in_flight.get() + 1);
        let started = Instant::now();
        let addr = config.targets[target].addr;
        let outcome =
            tokio::time::timeout(config.session_timeout, play(addr, config.env_delay, config.reply_delay)).await;
        shared.in_flight.set(shared.in_flight.get() - 1);
        let refused = matches!(outcome, Ok(Err(ErrorKind::Connect)));
        match outcome {
            Ok(Ok(played)) if measured => shared.record(target, &played, started.elapsed().as_nanos() as u64),
            Ok(Ok(_)) => {}
            Ok(Err(kind)) => shared.fail(target, kind),
            Err(_) => shared.fail(target, ErrorKind::Timeout),
        }
        if shared.in_flight.get() == 0 && shared.turn.get().is_none() {
            shared.drained.notify_one();
        }
        if refused {
            // The server is not there (yet): do not spin. (After the turn's end was
            // signalled: this pause is not the turn's time.)
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A reading of one server and of the generator at one instant.
struct Snapshot {
    at: Instant,
    server_cpu: Option<procfs::CpuTime>,
    own_cpu: f64,
}

fn snapshot(target: &Target) -> io::Result<Snapshot> {
    let server_cpu = target.pid.map(procfs::cpu_time).transpose()?;
    Ok(Snapshot { at: Instant::now(), server_cpu, own_cpu: procfs::cpu_time(std::process::id())?.total() })
}

/// The server's allocation counters, when it has them.
async fn alloc_snapshot(target: &Target) -> io::Result<Option<AllocStats>> {
    match (target.pid, &target.alloc_stats) {
        (Some(pid), Some(path)) => Ok(Some(request_alloc_stats(pid, path).await?)),
        _ => Ok(None),
    }
}

/// Asks the server (by `SIGUSR1`) to write its allocation counters, and reads them.
pub async fn request_alloc_stats(pid: u32, path: &Path) -> io::Result<AllocStats> {
    let read = || std::fs::read_to_string(path).ok();
    let before = read();
    let status = std::process::Command::new("kill").args(["-USR1", &pid.to_string()]).status()?;
    if !status.success() {
        return Err(io::Error::other(format!("kill -USR1 {pid} failed")));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(text) = read().filter(|text| Some(text) != before.as_ref())
            && let Some(stats) = AllocStats::parse(&text)
        {
            return Ok(stats);
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!("the server did not write {}", path.display())));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs sessions as `config` says and reports what it measured, one report per target.
pub async fn run(config: RunConfig) -> io::Result<Vec<RunReport>> {
    if config.targets.is_empty() || (config.duration.is_none() && config.targets.len() > 1) {
        return Err(io::Error::other("a run has one target, or several with a duration"));
    }
    let config = Rc::new(config);
    let shared = Rc::new(Shared {
        reports: RefCell::new(vec![RunReport::default(); config.targets.len()]),
        ..Shared::default()
    });
    let rest: Vec<_> =
        config.targets.iter().map(|t| t.pid.map(procfs::memory).transpose()).collect::<Result<_, _>>()?;
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let workers: Vec<_> = (0..config.concurrency.max(1))
                .map(|_| tokio::task::spawn_local(worker(shared.clone(), config.clone())))
                .collect();
            let ran = match config.duration {
                Some(duration) => take_turns(&shared, &config, duration).await,
                None => run_count(&shared, &config, &workers).await,
            };
            shared.turn.set(None);
            shared.stop.set(true);
            shared.turn_started.notify_waiters();
            for worker in workers {
                let _ = worker.await;
            }
            ran?;
            let mut reports = shared.reports.borrow().clone();
            for ((report, target), rest) in reports.iter_mut().zip(&config.targets).zip(rest) {
                report.server_rest = rest;
                report.server_end = target.pid.map(procfs::memory).transpose()?;
            }
            Ok(reports)
        })
        .await
}

/// Plays the one target until the session count is reached, all measured.
async fn run_count(shared: &Shared, config: &RunConfig, workers: &[tokio::task::JoinHandle<()>]) -> io::Result<()> {
    let target = &config.targets[0];
    let allocs = alloc_snapshot(target).await?;
    let first = snapshot(target)?;
    shared.measuring.set(true);
    shared.turn.set(Some(0));
    shared.turn_started.notify_waiters();
    for worker in workers {
        while !worker.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let last = snapshot(target)?;
    let allocs = allocs.zip(alloc_snapshot(target).await?).map(|(a, b)| b.since(a));
    let mut reports = shared.reports.borrow_mut();
    add_turn(&mut reports[0], &first, &last);
    reports[0].allocs = allocs;
    Ok(())
}

/// Warms each target up, then measures each, turn by turn, for `duration`.
async fn take_turns(shared: &Shared, config: &RunConfig, duration: Duration) -> io::Result<()> {
    let turn = config.turn.max(Duration::from_millis(10));
    let turns = |total: Duration| {
        let count = total.as_secs_f64() / turn.as_secs_f64();
        let count = (count.ceil() as u32).max(1);
        (count, total / count)
    };
    let (count, length) = turns(config.warmup);
    if !config.warmup.is_zero() {
        for _ in 0..count {
            for index in 0..config.targets.len() {
                play_turn(shared, index, length).await;
            }
        }
    }
    // The servers are idle between turns: counters read now and at the end count the
    // measured sessions only.
    let mut allocs = Vec::new();
    for target in &config.targets {
        allocs.push(alloc_snapshot(target).await?);
    }
    shared.measuring.set(true);
    let (count, length) = turns(duration);
    for _ in 0..count {
        for (index, target) in config.targets.iter().enumerate() {
            let first = snapshot(target)?;
            play_turn(shared, index, length).await;
            let last = snapshot(target)?;
            add_turn(&mut shared.reports.borrow_mut()[index], &first, &last);
        }
    }
    shared.measuring.set(false);
    for (index, (target, first)) in config.targets.iter().zip(allocs).enumerate() {
        let last = alloc_snapshot(target).await?;
        shared.reports.borrow_mut()[index].allocs = first.zip(last).map(|(a, b)| b.since(a));
    }
    Ok(())
}

/// Starts sessions against one target for `length`, then waits for them to end.
async fn play_turn(shared: &Shared, target: usize, length: Duration) {
    shared.turn.set(Some(target));
    shared.turn_started.notify_waiters();
    tokio::time::sleep(length).await;
    shared.turn.set(None);
    while shared.in_flight.get() > 0 {
        shared.drained.notified().await;
    }
}

/// Adds what one turn cost to a target's report.
fn add_turn(report: &mut RunReport, first: &Snapshot, last: &Snapshot) {
    report.elapsed += last.at - first.at;
    report.own_cpu += last.own_cpu - first.own_cpu;
    if let (Some(a), Some(b)) = (first.server_cpu, last.server_cpu) {
        let spent = b.since(a);
        match &mut report.server_cpu {
            Some(total) => total.add(spent),
            None => report.server_cpu = Some(spent),
        }
    }
}

/// How a hold test is shaped.
#[derive(Debug, Clone)]
pub struct HoldConfig {
    /// The server.
    pub addr: SocketAddr,
    /// Sessions to open and keep waiting for a reply.
    pub sessions: usize,
    /// Connections being opened at once.
    pub opening: usize,
    /// The server's process, for its memory.
    pub pid: Option<u32>,
    /// How long to wait, once every session is held, before reading the memory.
    pub settle: Duration,
    /// The longest the opening of one session may take.
    pub session_timeout: Duration,
}

/// What a hold test measured.
#[derive(Debug, Clone, Default)]
pub struct HoldReport {
    /// Sessions that reached their first command and were kept waiting.
    pub held: u64,
    /// Sessions that failed to get there, by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// How long opening them all took.
    pub opening: Duration,
    /// The server before the first session.
    pub idle: Option<procfs::Memory>,
    /// The server with every session held.
    pub holding: Option<procfs::Memory>,
    /// The server once the sessions were released.
    pub released: Option<procfs::Memory>,
}

impl HoldReport {
    /// Resident memory per held session, in KiB: (held − idle) / sessions.
    pub fn kib_per_session(&self) -> Option<f64> {
        let (idle, holding) = (self.idle?, self.holding?);
        Some((holding.rss_kib as f64 - idle.rss_kib as f64) / self.held.max(1) as f64)
    }

    /// The report as `key=value` lines.
    pub fn to_keys(&self) -> String {
        let mut out = format!(
            "held={}\nerrors={}\nopening_s={:.3}\n",
            self.held,
            self.errors.values().sum::<u64>(),
            self.opening.as_secs_f64()
        );
        for (kind, count) in &self.errors {
            out.push_str(&format!("error_{kind}={count}\n"));
        }
        for (name, memory) in [("idle", self.idle), ("held", self.holding), ("released", self.released)] {
            if let Some(memory) = memory {
                out.push_str(&format!("rss_{name}_kib={}\n", memory.rss_kib));
            }
        }
        if let Some(kib) = self.kib_per_session() {
            out.push_str(&format!("kib_per_held_session={kib:.3}\n"));
        }
        out
    }
}

/// Opens one session and returns it once the server has sent its first command.
async fn open_held(addr: SocketAddr) -> Result<TcpStream, ErrorKind> {
    let mut stream = TcpStream::connect(addr).await.map_err(|_| ErrorKind::Connect)?;
    stream.set_nodelay(true).map_err(|e| ErrorKind::of(&e))?;
    stream.write_all(ENV_BLOCK.as_bytes()).await.map_err(|e| ErrorKind::of(&e))?;
    let mut reader = Reader::new();
    match reader.next(&mut stream).await? {
        Some(line) if reader.buf[line.0..line.1] == *SCRIPT[0].0.as_bytes() => Ok(stream),
        Some(_) => Err(ErrorKind::Unexpected),
        None => Err(ErrorKind::EarlyClose),
    }
}

/// Opens `sessions` calls, keeps each waiting for the reply to its first command, and
/// reads the server's memory; then closes them all.
pub async fn hold(config: HoldConfig) -> io::Result<HoldReport> {
    let mut report = HoldReport { idle: config.pid.map(procfs::memory).transpose()?, ..HoldReport::default() };
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let opening = Rc::new(Semaphore::new(config.opening.max(1)));
            let release = Rc::new(Notify::new());
            let released = Rc::new(Cell::new(false));
            // Sessions held or failed so far, and the failures.
            let settled = Rc::new(Cell::new(0usize));
            let failures = Rc::new(RefCell::new(BTreeMap::<&'static str, u64>::new()));
            let started = Instant::now();
            let tasks: Vec<_> = (0..config.sessions)
                .map(|_| {
                    let (opening, release, released) = (opening.clone(), release.clone(), released.clone());
                    let (settled, failures) = (settled.clone(), failures.clone());
                    let (addr, timeout) = (config.addr, config.session_timeout);
                    tokio::task::spawn_local(async move {
                        let permit = opening.acquire().await.expect("never closed");
                        let opened = tokio::time::timeout(timeout, open_held(addr)).await;
                        drop(permit);
                        settled.set(settled.get() + 1);
                        let stream = match opened {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(kind)) => return *failures.borrow_mut().entry(kind.name()).or_default() += 1,
                            Err(_) => return *failures.borrow_mut().entry(ErrorKind::Timeout.name()).or_default() += 1,
                        };
                        while !released.get() {
                            release.notified().await;
                        }
                        drop(stream);
                    })
                })
                .collect();
            while settled.get() < config.sessions {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            report.opening = started.elapsed();
            tokio::time::sleep(config.settle).await;
            report.holding = config.pid.map(procfs::memory).transpose()?;
            report.errors = failures.borrow().clone();
            report.held = config.sessions as u64 - report.errors.values().sum::<u64>();
            released.set(true);
            release.notify_waiters();
            for task in tasks {
                let _ = task.await;
            }
            tokio::time::sleep(config.settle).await;
            report.released = config.pid.map(procfs::memory).transpose()?;
            Ok(report)
        })
        .await
}
