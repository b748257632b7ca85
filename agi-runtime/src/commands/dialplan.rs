//! Dialplan control: applications, subroutines, and where the dialplan continues.

use crate::call::{Call, Command};
use crate::commands::parse;
use crate::commands::types::InvalidArgument;
use crate::error::{AgiError, AgiResult};
use crate::wire::encode::ArgList;
use crate::wire::{Arg, Response};

/// What a dialplan application run by `EXEC` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppOutcome {
    /// `0`: the application finished and the dialplan would continue.
    Continue,
    /// `-1`: the application asked to end the call (`Hangup`, or `Dial` after the
    /// caller hung up). Asterisk usually sends `HANGUP` next; the call then knows it
    /// is hung up.
    Hangup,
    /// Another value, application-specific. (A `2` also makes Asterisk report
    /// `AGISTATUS=FAILURE`; after a `1` Asterisk sends a usage block, which
    /// [`exec`](Call::exec) reads and drops.)
    Other(i64),
}

/// How `GOSUB` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GosubOutcome {
    /// `Gosub complete`: the subroutine ran and came back with `Return()`; its value,
    /// if any, is in `GOSUB_RETVAL`.
    Completed,
    /// `Gosub complete (abnormal exit)`: the subroutine ended without `Return()` (it ran
    /// off its end, or the channel hung up in it); `GOSUB_RETVAL` is cleared.
    AbnormalExit,
    /// `Gosub label not found`: no such context, extension and priority or label.
    /// Asterisk will report `AGISTATUS=FAILURE` if the channel is still up.
    LabelNotFound,
    /// `Gosub failed`: the subroutine could not be entered.
    Failed {
        /// Asterisk's result value.
        result: i64,
    },
}

/// A dialplan priority: a number (from 1) or a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority<'a> {
    /// A priority number, from 1.
    Number(u32),
    /// A priority label (`exten => s,n(start),…`).
    Label(&'a str),
}

impl From<u32> for Priority<'static> {
    fn from(number: u32) -> Self {
        Priority::Number(number)
    }
}

impl<'a> From<&'a str> for Priority<'a> {
    fn from(label: &'a str) -> Self {
        Priority::Label(label)
    }
}

impl Priority<'_> {
    fn arg(&self) -> Result<Arg<'_>, InvalidArgument> {
        match *self {
            Priority::Number(0) => Err(InvalidArgument::new("priority", "0", "priorities start at 1")),
            Priority::Number(number) => Ok(Arg::Int(number.into())),
            Priority::Label("") => Err(InvalidArgument::new("priority label", "", "it is empty")),
            Priority::Label(label) => Ok(Arg::Text(label)),
        }
    }
}

/// Characters that Asterisk's standard application argument parser
/// (`AST_STANDARD_APP_ARGS`, AGI-PROTOCOL.md §1.2) treats specially: `,` separates,
/// `"` toggles quoting, `(` `)` `[` `]` nest, `\` protects the next character, and `|`
/// was the separator before 1.6 (and still is under `res_agi` 1.4 compatibility).
const APP_ARG_SPECIALS: [char; 8] = [',', '|', '(', ')', '[', ']', '"', '\\'];

/// Builds the single options word of `EXEC`: each argument with its special characters
/// escaped by `\`, joined with `,`. Asterisk's parser removes each `\` and keeps the
/// character after it, so every argument reaches the application intact.
pub(crate) fn app_data(args: &[&str]) -> String {
    let mut data = String::with_capacity(args.iter().map(|a| a.len() + 1).sum());
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        for c in arg.chars() {
            if APP_ARG_SPECIALS.contains(&c) {
                data.push('\\');
            }
            data.push(c);
        }
    }
    data
}

/// How many arguments `Gosub` accepts (`AST_APP_ARG(argval)[100]` in app_stack).
const MAX_GOSUB_ARGS: usize = 100;

/// Splits like Asterisk's `AST_STANDARD_RAW_ARGS` (`__ast_app_separate_args` without
/// removing characters), which is how `Gosub` reads its arguments: on `,` outside
/// quotes, parentheses and brackets, `\` protecting the next character, nothing
/// removed, at most `max` pieces (the last takes the rest). `None` for a trailing lone
/// backslash, which Asterisk would read past the end of the string.
fn split_raw_app_args(data: &str, max: usize) -> Option<Vec<&str>> {
    let bytes = data.as_bytes();
    let mut args = Vec::new();
    let (mut paren, mut bracket, mut quoted) = (0usize, 0usize, false);
    let mut scan = 0;
    let mut last_delimiter = None;
    while scan < bytes.len() && args.len() + 1 < max {
        let start = scan;
        let mut end = bytes.len();
        while scan < bytes.len() {
            match bytes[scan] {
                b'(' => paren += 1,
                b')' => paren = paren.saturating_sub(1),
                b'[' => bracket += 1,
                b']' => bracket = bracket.saturating_sub(1),
                b'"' => quoted = !quoted,
                b'\\' => {
                    scan += 1;
                    if scan == bytes.len() {
                        return None;
                    }
                }
                b',' if paren == 0 && bracket == 0 && !quoted => {
                    end = scan;
                    last_delimiter = Some(scan);
                    scan += 1;
                    break;
                }
                _ => {}
            }
            scan += 1;
        }
        args.push(&data[start..end]);
    }
    if scan < bytes.len() || (scan > 0 && last_delimiter == Some(scan - 1)) {
        args.push(&data[scan..]);
    }
    Some(args)
}

/// Builds `GOSUB`'s arguments word, or says why the arguments cannot reach the
/// subroutine intact: `Gosub` splits them without removing escapes, so no character
/// can be protected, only checked.
fn gosub_data(args: &[&str]) -> Result<String, InvalidArgument> {
    let data = args.join(",");
    if split_raw_app_args(&data, MAX_GOSUB_ARGS).as_deref() == Some(args) {
        return Ok(data);
    }
    let reason = format!(
        "Gosub would split or alter these arguments; none may hold a comma outside balanced quotes, \
         parentheses or brackets, an unbalanced one of those, or a trailing backslash, and there may \
         be at most {MAX_GOSUB_ARGS} of them (nor a single empty one)"
    );
    Err(InvalidArgument::new("Gosub arguments", &data, reason))
}

impl Call {
    /// `EXEC application arg1,arg2,…`: runs a dialplan application with arguments,
    /// each delivered intact.
    ///
    /// `EXEC` takes a single options word, which the application splits again with
    /// Asterisk's argument parser. This builds that word: each argument has `,` `|`
    /// `(` `)` `[` `]` `"` `\` escaped with `\`, and the arguments are joined with `,`
    /// (then quoted for AGI as usual). So `exec("Playback", &["hello, world"])` plays one
    /// file, where a hand-built `Playback(hello, world)` would play two.
    ///
    /// Use it for applications that read their data as separate arguments — nearly
    /// all: `Dial`, `Playback`, `Read`, `Verbose`, `Wait`, `Queue`, … Use
    /// [`exec_raw`](Call::exec_raw) for those that take their data as one unsplit
    /// string (`Set`, `MSet`, `ExecIf`, `GotoIf`), or to pass dialplan syntax on
    /// purpose. Characters an application parses further itself (the `&` between
    /// `Playback` files or `Dial` devices, `Dial`'s option letters) keep their meaning.
    /// With `AGIEXECFULL=yes` Asterisk also expands `${…}` in the arguments: never pass
    /// caller-controlled text then.
    ///
    /// Results: [`AppOutcome`]; an application Asterisk does not have is
    /// [`AgiError::UnknownApplication`] (`result=-2`). Works on a dead channel (for the
    /// applications that do).
    ///
    /// ```
    /// use agi_runtime::AppOutcome;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// // Sends `EXEC Dial PJSIP/100,30,tT`.
    /// if call.exec("Dial", &["PJSIP/100", "30", "tT"]).await? == AppOutcome::Hangup {
    ///     return Ok(());
    /// }
    /// // An argument with a comma: `EXEC Verbose "1,Hello\\, world"` on the wire.
    /// call.exec("Verbose", &["1", "Hello, world"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn exec(&mut self, application: &str, args: &[&str]) -> AgiResult<AppOutcome> {
        let data = app_data(args);
        self.exec_data(application, &data).await
    }

    /// `EXEC application data`: runs a dialplan application with `data` passed as it
    /// is (only quoted for AGI).
    ///
    /// For applications that take their data unsplit, like `Set` (`"NAME=a,b"` sets
    /// `NAME` to `a,b`), or when `data` is deliberately written in dialplan syntax.
    /// Otherwise prefer [`exec`](Call::exec), which keeps each argument intact. Same
    /// results as [`exec`](Call::exec). Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.exec_raw("Set", "CDR(userfield)=vip,returning").await?;
    /// # Ok(()) }
    /// ```
    pub async fn exec_raw(&mut self, application: &str, data: &str) -> AgiResult<AppOutcome> {
        self.exec_data(application, data).await
    }

    async fn exec_data(&mut self, application: &str, data: &str) -> AgiResult<AppOutcome> {
        let reply = if data.is_empty() {
            self.execute("EXEC", true, &[Arg::Text(application)]).await?
        } else {
            self.execute("EXEC", true, &[Arg::Text(application), Arg::Text(data)]).await?
        };
        match parse::code("EXEC", &reply)? {
            0 => Ok(AppOutcome::Continue),
            -1 => Ok(AppOutcome::Hangup),
            -2 => Err(AgiError::UnknownApplication { application: application.to_owned() }),
            1 => {
                // res_agi hands the application's 1 on as its own "show usage" status and
                // sends EXEC's usage block after the reply: read it, or the next command
                // would take it for its own reply.
                match self.read_reply("EXEC", self.command_timeout()).await {
                    Err(AgiError::InvalidSyntax { .. }) => Ok(AppOutcome::Other(1)),
                    Err(other) => Err(other),
                    Ok(reply) => Err(AgiError::unexpected("EXEC", &reply)),
                }
            }
            other => Ok(AppOutcome::Other(other)),
        }
    }

    /// `GOSUB context extension priority [args]`: runs a dialplan subroutine, which ends
    /// with `Return()`, then continues the AGI session.
    ///
    /// Asterisk first answers `100 result=0 Trying...`, then the final reply once the
    /// subroutine is done; this waits for the final one (it can take as long as the
    /// subroutine does). The subroutine sees `args` as `${ARG1}`, `${ARG2}`, …
    /// Asterisk splits them without removing escapes, so they cannot be protected like
    /// `EXEC` arguments: arguments that would not arrive intact (a comma outside
    /// balanced quotes or brackets, an unbalanced quote or bracket, a trailing
    /// backslash, more than 100) are refused with
    /// [`AgiError::InvalidArgument`] before sending.
    ///
    /// Results: [`GosubOutcome`]; `503 result=-2 Memory allocation failure` is
    /// [`AgiError::Status`]; without app_stack loaded, [`AgiError::InvalidCommand`].
    /// Live channel only.
    ///
    /// ```
    /// use agi_runtime::GosubOutcome;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// // Sends `GOSUB sub-lookup s 1 1001,vip`.
    /// if call.gosub("sub-lookup", "s", 1, &["1001", "vip"]).await? == GosubOutcome::Completed {
    ///     let answer = call.get_variable("GOSUB_RETVAL").await?;
    /// }
    /// call.gosub("sub-lookup", "s", "retry", &[]).await?; // a label
    /// # Ok(()) }
    /// ```
    pub async fn gosub<'p>(
        &mut self,
        context: &str,
        extension: &str,
        priority: impl Into<Priority<'p>>,
        args: &[&str],
    ) -> AgiResult<GosubOutcome> {
        let priority = priority.into();
        let priority = priority.arg()?;
        let data = if args.is_empty() { None } else { Some(gosub_data(args)?) };
        let mut words = ArgList::<4>::from([Arg::Text(context), Arg::Text(extension), priority]);
        words.extend(data.as_deref().map(Arg::Text));
        let reply = self.execute("GOSUB", false, words.as_slice()).await?;
        let text = reply.rest();
        match (parse::code("GOSUB", &reply)?, text) {
            (0, "Gosub complete") => Ok(GosubOutcome::Completed),
            (0, "Gosub complete (abnormal exit)") => Ok(GosubOutcome::AbnormalExit),
            (-1, "Gosub label not found") => Ok(GosubOutcome::LabelNotFound),
            (result, "Gosub failed") => Ok(GosubOutcome::Failed { result }),
            _ => Err(AgiError::unexpected("GOSUB", &reply)),
        }
    }

    /// `SET CONTEXT context`: the context the dialplan continues in after the AGI
    /// (at the current priority + 1 unless [`set_priority`](Call::set_priority) is used
    /// too). Asterisk does not check that it exists. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_context("after-hours").await?;
    /// call.set_extension("s").await?;
    /// call.set_priority(1).await?;
    /// # Ok(()) }
    /// ```
    pub fn set_context(&mut self, context: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("SET CONTEXT", false, &[Arg::Text(context)], |reply| parse::expect("SET CONTEXT", reply, 0, None))
    }

    /// `SET EXTENSION extension`: the extension the dialplan continues at after the
    /// AGI. Asterisk does not check that it exists. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_extension("100").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_extension(&mut self, extension: &str) -> impl Future<Output = AgiResult<()>> {
        self.typed("SET EXTENSION", false, &[Arg::Text(extension)], |reply| {
            parse::expect("SET EXTENSION", reply, 0, None)
        })
    }

    /// `SET PRIORITY priority`: the priority (number or label) the dialplan continues
    /// **at** after the AGI. A label unknown in the current context and extension is
    /// answered with a syntax error, [`AgiError::InvalidSyntax`]. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_priority("vip-path").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_priority<'p>(&mut self, priority: impl Into<Priority<'p>>) -> impl Future<Output = AgiResult<()>> {
        let parse = |reply: &Response<'_>| parse::expect("SET PRIORITY", reply, 0, None);
        match priority.into().arg() {
            Ok(arg) => self.typed("SET PRIORITY", false, &[arg], parse),
            Err(invalid) => Command::refused(invalid.into(), parse),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_data_escapes_what_the_parser_reads() {
        assert_eq!(app_data(&[]), "");
        assert_eq!(app_data(&["PJSIP/100", "30", "tT"]), "PJSIP/100,30,tT");
        assert_eq!(app_data(&["1", "Hello, world"]), "1,Hello\\, world");
        assert_eq!(
            app_data(&["a|b", "(x)", "[y]", "\"q\"", "back\\slash", ""]),
            "a\\|b,\\(x\\),\\[y\\],\\\"q\\\",back\\\\slash,"
        );
    }

    #[test]
    fn raw_split_mirrors_gosub() {
        let split = |s| split_raw_app_args(s, MAX_GOSUB_ARGS).unwrap();
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split("a,b"), ["a", "b"]);
        assert_eq!(split("a,"), ["a", ""]);
        assert_eq!(split(",,"), ["", "", ""]);
        assert_eq!(split("\"a,b\",c"), ["\"a,b\"", "c"]);
        assert_eq!(split("f(a,b),[c,d],e"), ["f(a,b)", "[c,d]", "e"]);
        assert_eq!(split("a\\,b,c"), ["a\\,b", "c"]);
        assert_eq!(split("x),y"), ["x)", "y"]);
        assert_eq!(split_raw_app_args("a\\", 10), None);
        assert_eq!(split_raw_app_args("a,b,c,d", 3).unwrap(), ["a", "b", "c,d"]);
    }

    #[test]
    fn gosub_arguments_are_checked_not_escaped() {
        assert_eq!(gosub_data(&["a", "b"]).unwrap(), "a,b");
        assert_eq!(gosub_data(&["f(x,y)", "\"q,r\"", "", "s p a c e"]).unwrap(), "f(x,y),\"q,r\",,s p a c e");
        for bad in [&["a,b"][..], &["(", "x"], &["\"", "x"], &["x\\"], &["[", "]"], &[""]] {
            assert!(gosub_data(bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_GOSUB_ARGS).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(gosub_data(&many[..MAX_GOSUB_ARGS]).is_ok());
        assert!(gosub_data(&many).is_err());
    }
}
