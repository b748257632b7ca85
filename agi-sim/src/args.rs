//! The command line, parsed by hand: a subcommand, a target, and options.

use std::time::Duration;

pub(crate) const USAGE: &str = "\
agi-sim: plays Asterisk against a FastAGI server

Usage:
  agi-sim call agi://HOST[:PORT]/SCRIPT[?QUERY] [options]
  agi-sim replay FILE agi://HOST[:PORT] [--timeout DURATION] [--json] [--color WHEN]

call: places one simulated call, prints what was said, and the variables at the end.
replay: plays a transcript file (a capture, or a call the server recorded) and checks
        that the server sends exactly the recorded commands.

The caller:
  --arg VALUE               a dialplan argument (agi_arg_1, agi_arg_2, ... in order)
  --caller-id NUMBER        the caller's number
  --caller-name NAME        the caller's name
  --digits KEYS             keys the caller presses: 0-9 * # A-D, w to let a timeout pass
  --hangup-after N          the caller hangs up during the N-th command
  --hangup-after DURATION   ... or after a delay (500ms, 2s)
  --hangup-during COMMAND   ... or during the first such command (\"STREAM FILE\")
  --exit-on-hangup          AGIEXITONHANGUP=yes: Asterisk closes on hangup
  --no-sighup               AGISIGHUP=no: no HANGUP lines at all
  --dead                    the call runs on a hung-up channel (the h extension)
The channel:
  --channel NAME  --context NAME  --extension EXTEN  --language LANG  --uniqueid ID
  --answered                the channel is already answered
  --var NAME=VALUE          a channel variable set before the call (repeatable)
  --db FAMILY/KEY=VALUE     an AstDB entry (repeatable)
  --sound NAME              a prompt that exists (with --only-known-sounds)
  --missing-sound NAME      a prompt that does not exist (repeatable)
  --only-known-sounds       only prompts given with --sound play
  --no-sound-module         PUT/GET/ISEXISTING SOUNDFILE answer 510
Output:
  --timeout DURATION        how long to wait for the server (default 10s)
  --json                    print the transcript in the capture file format
  --color auto|always|never colour (default: when the output is a terminal)

Exit status: 0 when the server behaved, 1 when it did not (a protocol violation, no
close, a timeout, a replay mismatch, unreachable), 2 for a wrong command line.";

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

/// How the caller hangs up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Hangup {
    AtCommand(usize),
    After(Duration),
    During(String),
}

/// A simulated call.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct CallArgs {
    pub(crate) url: String,
    pub(crate) args: Vec<String>,
    pub(crate) caller_id: Option<String>,
    pub(crate) caller_name: Option<String>,
    pub(crate) channel: Option<String>,
    pub(crate) context: Option<String>,
    pub(crate) extension: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) uniqueid: Option<String>,
    pub(crate) digits: Option<String>,
    pub(crate) hangup: Vec<Hangup>,
    pub(crate) exit_on_hangup: bool,
    pub(crate) no_sighup: bool,
    pub(crate) dead: bool,
    pub(crate) answered: bool,
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) db: Vec<(String, String, String)>,
    pub(crate) sounds: Vec<String>,
    pub(crate) missing_sounds: Vec<String>,
    pub(crate) only_known_sounds: bool,
    pub(crate) no_sound_module: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Help,
    Version,
    Call(Box<CallArgs>),
    Replay { file: String, target: String },
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cli {
    pub(crate) action: Action,
    pub(crate) timeout: Duration,
    pub(crate) json: bool,
    pub(crate) color: Color,
}

/// `500ms`, `2s`, `1.5s`.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s')?, 1.0),
    };
    let value: f64 = number.parse().ok()?;
    (0.0..1e9).contains(&value).then(|| Duration::from_secs_f64(value * scale))
}

fn pair<'a>(option: &str, value: &'a str) -> Result<(&'a str, &'a str), String> {
    value.split_once('=').ok_or_else(|| format!("{option} wants NAME=VALUE, got `{value}`"))
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let mut args = args.into_iter();
    let mut cli = Cli { action: Action::Help, timeout: Duration::from_secs(10), json: false, color: Color::Auto };
    let mut call = CallArgs::default();
    let mut positional = Vec::new();
    let mut subcommand = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Cli { action: Action::Help, ..cli }),
            "-V" | "--version" => return Ok(Cli { action: Action::Version, ..cli }),
            "--timeout" => {
                let text = value("--timeout")?;
                cli.timeout =
                    duration(&text).ok_or_else(|| format!("--timeout wants a duration like 5s, got `{text}`"))?;
            }
            "--json" => cli.json = true,
            "--color" | "--colour" => {
                cli.color = match value("--color")?.as_str() {
                    "auto" => Color::Auto,
                    "always" => Color::Always,
                    "never" => Color::Never,
                    other => return Err(format!("--color wants auto, always or never, got `{other}`")),
                }
            }
            "--arg" => call.args.push(value("--arg")?),
            "--caller-id" => call.caller_id = Some(value("--caller-id")?),
            "--caller-name" => call.caller_name = Some(value("--caller-name")?),
            "--channel" => call.channel = Some(value("--channel")?),
            "--context" => call.context = Some(value("--context")?),
            "--extension" => call.extension = Some(value("--extension")?),
            "--language" => call.language = Some(value("--language")?),
            "--uniqueid" => call.uniqueid = Some(value("--uniqueid")?),
            "--digits" => call.digits = Some(value("--digits")?),
            "--hangup-after" => {
                let text = value("--hangup-after")?;
                let hangup = match (text.parse::<usize>(), duration(&text)) {
                    (Ok(0), _) => return Err("--hangup-after counts commands from 1".to_owned()),
                    (Ok(n), _) => Hangup::AtCommand(n),
                    (Err(_), Some(delay)) => Hangup::After(delay),
                    (Err(_), None) => {
                        return Err(format!("--hangup-after wants a command count or a duration, got `{text}`"));
                    }
                };
                call.hangup.push(hangup);
            }
            "--hangup-during" => call.hangup.push(Hangup::During(value("--hangup-during")?)),
            "--exit-on-hangup" => call.exit_on_hangup = true,
            "--no-sighup" => call.no_sighup = true,
            "--dead" => call.dead = true,
            "--answered" => call.answered = true,
            "--var" => {
                let text = value("--var")?;
                let (name, value) = pair("--var", &text)?;
                call.vars.push((name.to_owned(), value.to_owned()));
            }
            "--db" => {
                let text = value("--db")?;
                let (path, value) = pair("--db", &text)?;
                let (family, key) =
                    path.split_once('/').ok_or_else(|| format!("--db wants FAMILY/KEY=VALUE, got `{text}`"))?;
                call.db.push((family.to_owned(), key.to_owned(), value.to_owned()));
            }
            "--sound" => call.sounds.push(value("--sound")?),
            "--missing-sound" => call.missing_sounds.push(value("--missing-sound")?),
            "--only-known-sounds" => call.only_known_sounds = true,
            "--no-sound-module" => call.no_sound_module = true,
            option if option.starts_with('-') && option.len() > 1 => return Err(format!("unknown option `{option}`")),
            _ if subcommand.is_none() => subcommand = Some(arg),
            _ => positional.push(arg),
        }
    }
    let unexpected = |extra: &String| Err(format!("unexpected argument `{extra}`"));
    cli.action = match (subcommand.as_deref(), positional.as_slice()) {
        (None | Some("help"), _) => Action::Help,
        (Some("call"), [url]) => {
            call.url = url.clone();
            Action::Call(Box::new(call))
        }
        (Some("call"), []) => return Err("call needs the URL of the server, e.g. agi://127.0.0.1:4573/Script".into()),
        (Some("call"), [_, extra, ..]) => return unexpected(extra),
        (Some("replay"), [file, target]) => Action::Replay { file: file.clone(), target: target.clone() },
        (Some("replay"), [_, _, extra, ..]) => return unexpected(extra),
        (Some("replay"), _) => return Err("replay needs a transcript file and the server, e.g. agi://127.0.0.1".into()),
        (Some(other), _) => return Err(format!("unknown command `{other}`: use call or replay")),
    };
    Ok(cli)
}

/// `agi://host[:port][/script]` → (`host:port`, script with its query).
pub(crate) fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .get(..6)
        .filter(|scheme| scheme.eq_ignore_ascii_case("agi://"))
        .map(|_| &url[6..])
        .ok_or_else(|| format!("`{url}` is not an agi:// URL"))?;
    let (authority, script) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && (!host.contains(':') || host.ends_with(']')) && !port.is_empty(),
        None => false,
    };
    let authority = if has_port { authority.to_owned() } else { format!("{authority}:4573") };
    Ok((authority, script.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Cli, String> {
        parse(line.split(' ').map(str::to_owned))
    }

    #[test]
    fn parses_the_readme_call() {
        let cli = parse_line(
            "call agi://127.0.0.1:4573/GetCallerRecord?extension=100 --arg foo --caller-id 5551212 --digits 1# --hangup-after 5",
        )
        .unwrap();
        let Action::Call(call) = cli.action else { panic!("{cli:?}") };
        assert_eq!(call.url, "agi://127.0.0.1:4573/GetCallerRecord?extension=100");
        assert_eq!(call.args, ["foo"]);
        assert_eq!(call.caller_id.as_deref(), Some("5551212"));
        assert_eq!(call.digits.as_deref(), Some("1#"));
        assert_eq!(call.hangup, [Hangup::AtCommand(5)]);
        assert!(!cli.json);
    }

    #[test]
    fn parses_durations_pairs_and_replays() {
        let cli = parse_line("call agi://h/x --hangup-after 250ms --var A=b=c --db cust/1=gold --timeout 1.5s --json")
            .unwrap();
        let Action::Call(call) = cli.action else { panic!() };
        assert_eq!(call.hangup, [Hangup::After(Duration::from_millis(250))]);
        assert_eq!(call.vars, [("A".to_owned(), "b=c".to_owned())]);
        assert_eq!(call.db, [("cust".to_owned(), "1".to_owned(), "gold".to_owned())]);
        assert_eq!((cli.timeout, cli.json), (Duration::from_millis(1500), true));
        let cli = parse_line("replay rec.json agi://127.0.0.1").unwrap();
        assert_eq!(cli.action, Action::Replay { file: "rec.json".into(), target: "agi://127.0.0.1".into() });
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        assert_eq!(
            parse_line("call").unwrap_err(),
            "call needs the URL of the server, e.g. agi://127.0.0.1:4573/Script"
        );
        assert_eq!(parse_line("call agi://h --nope").unwrap_err(), "unknown option `--nope`");
        assert_eq!(parse_line("call agi://h --digits").unwrap_err(), "--digits needs a value");
        assert_eq!(
            parse_line("call agi://h --hangup-after soon").unwrap_err(),
            "--hangup-after wants a command count or a duration, got `soon`"
        );
        assert_eq!(parse_line("dial x").unwrap_err(), "unknown command `dial`: use call or replay");
        assert_eq!(parse_line("call a b").unwrap_err(), "unexpected argument `b`");
        assert_eq!(parse(Vec::new()).unwrap().action, Action::Help);
    }

    #[test]
    fn splits_agi_urls() {
        assert_eq!(split_url("agi://127.0.0.1:4573/Get?x=1").unwrap(), ("127.0.0.1:4573".into(), "Get?x=1".into()));
        assert_eq!(split_url("AGI://localhost/Get").unwrap(), ("localhost:4573".into(), "Get".into()));
        assert_eq!(split_url("agi://[::1]:5000").unwrap(), ("[::1]:5000".into(), String::new()));
        assert_eq!(split_url("agi://[::1]/x").unwrap(), ("[::1]:4573".into(), "x".into()));
        assert!(split_url("http://x/").is_err());
        assert!(split_url("agi:///x").is_err());
    }
}
