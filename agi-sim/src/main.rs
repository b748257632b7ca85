//! `agi-sim`: plays Asterisk against any FastAGI server.
//!
//! ```text
//! agi-sim call agi://127.0.0.1:4573/GetCallerRecord?extension=5551212 --caller-id 5551212 --digits 1#
//! agi-sim replay recordings/1700000000000-1700000000.1.json agi://127.0.0.1:4573
//! ```
//!
//! `call` places one simulated call with the fake Asterisk of
//! [`agi_runtime::testing`]: it prints every line exchanged and the variables at the
//! end. `replay` plays a transcript file and checks the server sends exactly the
//! recorded commands. The exit status is 0 when the server behaved, 1 when it did not,
//! 2 for a wrong command line.

mod args;
mod output;

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;

use agi_runtime::testing::{CallSpec, FakeAsterisk, Replay, SimErrorKind};
use args::{Action, CallArgs, Cli, Color, Hangup};
use output::Style;

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(message) => return usage_error(&message),
    };
    match &cli.action {
        Action::Help => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Action::Version => {
            println!("agi-sim {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Action::Call(_) | Action::Replay { .. } => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return failure(&format!("cannot start: {error}")),
    };
    runtime.block_on(run(cli))
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("agi-sim: {message}\n(agi-sim --help shows the usage)");
    ExitCode::from(2)
}

fn failure(message: &str) -> ExitCode {
    eprintln!("agi-sim: {message}");
    ExitCode::FAILURE
}

fn style(color: Color) -> Style {
    let colour = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    Style { colour }
}

/// Prints to stdout; a closed pipe (`agi-sim … | head`) is not an error worth a panic.
fn print(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

async fn run(cli: Cli) -> ExitCode {
    match cli.action {
        Action::Call(ref call) => place_call(call, &cli).await,
        Action::Replay { ref file, ref target } => replay(file, target, &cli).await,
        Action::Help | Action::Version => ExitCode::SUCCESS,
    }
}

async fn resolve(authority: &str) -> Result<SocketAddr, String> {
    let mut addrs =
        tokio::net::lookup_host(authority).await.map_err(|error| format!("cannot resolve `{authority}`: {error}"))?;
    addrs.next().ok_or_else(|| format!("`{authority}` has no address"))
}

fn fake_for(call: &CallArgs, authority: &str, script: &str) -> FakeAsterisk {
    let mut spec = CallSpec::new(script).host(authority).args(call.args.iter().cloned());
    if call.caller_id.is_some() || call.caller_name.is_some() {
        let number = call.caller_id.as_deref().unwrap_or("unknown");
        spec = spec.caller_id(number, call.caller_name.as_deref().unwrap_or("unknown"));
    }
    let options = [
        (&call.channel, CallSpec::channel as fn(CallSpec, String) -> CallSpec),
        (&call.context, CallSpec::context),
        (&call.extension, CallSpec::extension),
        (&call.language, CallSpec::language),
        (&call.uniqueid, CallSpec::uniqueid),
    ];
    for (value, set) in options {
        if let Some(value) = value {
            spec = set(spec, value.clone());
        }
    }
    let mut fake = FakeAsterisk::new(spec);
    if let Some(keys) = &call.digits {
        fake = fake.digits(keys);
    }
    for hangup in &call.hangup {
        fake = match hangup {
            Hangup::AtCommand(n) => fake.hangup_at(*n),
            Hangup::After(delay) => fake.hangup_after(*delay),
            Hangup::During(command) => fake.hangup_during(command),
        };
    }
    let flags = [
        (call.exit_on_hangup, FakeAsterisk::exit_on_hangup as fn(FakeAsterisk) -> FakeAsterisk),
        (call.no_sighup, FakeAsterisk::no_sighup),
        (call.dead, FakeAsterisk::dead_from_start),
        (call.answered, FakeAsterisk::answered),
        (call.only_known_sounds, FakeAsterisk::only_known_sounds),
        (call.no_sound_module, FakeAsterisk::without_sound_module),
    ];
    for (on, set) in flags {
        if on {
            fake = set(fake);
        }
    }
    for (name, value) in &call.vars {
        fake = fake.variable(name, value);
    }
    for (family, key, value) in &call.db {
        fake = fake.database(family, key, value);
    }
    for name in &call.sounds {
        fake = fake.sound(name, 8000);
    }
    for name in &call.missing_sounds {
        fake = fake.missing_sound(name);
    }
    fake
}

async fn place_call(call: &CallArgs, cli: &Cli) -> ExitCode {
    let (authority, script) = match args::split_url(&call.url) {
        Ok(parts) => parts,
        Err(message) => return usage_error(&message),
    };
    let addr = match resolve(&authority).await {
        Ok(addr) => addr,
        Err(message) => return failure(&message),
    };
    let style = style(cli.color);
    let fake = fake_for(call, &authority, &script).timeout(cli.timeout);
    if !cli.json {
        print(&format!("{}\n", style.paint_title(&format!("agi-sim: calling {}", call.url))));
    }
    match fake.call(addr).await {
        Ok(report) => {
            if cli.json {
                print(&report.transcript().to_json());
                for violation in report.violations() {
                    eprintln!("agi-sim: protocol violation: {violation}");
                }
            } else {
                print(&output::transcript(style, report.transcript()));
                print(&output::summary(style, &report));
            }
            if report.violations().is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) if matches!(error.kind(), SimErrorKind::Setup(_)) => usage_error(&error.to_string()),
        Err(error) => {
            if cli.json {
                print(&error.transcript().to_json());
            } else {
                print(&output::transcript(style, error.transcript()));
            }
            failure(&error.to_string())
        }
    }
}

async fn replay(file: &str, target: &str, cli: &Cli) -> ExitCode {
    let replay = match Replay::load(file) {
        Ok(replay) => replay.timeout(cli.timeout),
        Err(error) => return failure(&format!("cannot read `{file}`: {error}")),
    };
    let authority = match args::split_url(target) {
        Ok((authority, _)) => authority,
        Err(_) if !target.contains("://") => target.to_owned(),
        Err(message) => return usage_error(&message),
    };
    let addr = match resolve(&authority).await {
        Ok(addr) => addr,
        Err(message) => return failure(&message),
    };
    let style = style(cli.color);
    match replay.run(addr).await {
        Ok(report) => {
            if cli.json {
                print(&report.transcript().to_json());
            } else {
                print(&output::transcript(style, report.transcript()));
                print(&format!("\nreplayed {} commands byte for byte\n", report.commands_checked()));
            }
            if let Some(hazard) = report.stopped_at() {
                eprintln!("agi-sim: the recording stops being reproducible at {hazard}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if !cli.json {
                print(&output::transcript(style, error.transcript()));
            }
            failure(&error.to_string())
        }
    }
}
