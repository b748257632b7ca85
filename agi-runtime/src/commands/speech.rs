//! Speech recognition through Asterisk's speech API (`res_speech` and an engine module).

use std::time::Duration;

use crate::call::Call;
use crate::commands::parse;
use crate::commands::types::{Digit, IntoSoundFile, SoundFile};
use crate::error::{AgiError, AgiResult};
use crate::wire::encode::ArgList;
use crate::wire::{Arg, Response};

/// One hypothesis of the recognizer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpeechResult {
    /// The engine's confidence score (engine-specific scale, often 0-1000).
    pub score: i32,
    /// The recognized text.
    pub text: String,
    /// The grammar that matched.
    pub grammar: String,
}

/// How `SPEECH RECOGNIZE` ended. Positions (`endpos`) are in samples of the prompt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recognition {
    /// `(speech)`: the engine recognized something; the hypotheses, best first (the
    /// list can be empty).
    Speech {
        /// Where the prompt was stopped.
        endpos: u64,
        /// The hypotheses.
        results: Vec<SpeechResult>,
    },
    /// `(digit)`: the caller pressed a key.
    Digit {
        /// The digit pressed.
        digit: Digit,
        /// Where the prompt was stopped.
        endpos: u64,
    },
    /// `(timeout)`: nothing was said within the timeout after the prompt.
    Timeout {
        /// Where the prompt was stopped.
        endpos: u64,
    },
    /// `(hangup)`: the channel hung up.
    HungUp {
        /// Where the prompt was stopped.
        endpos: u64,
    },
}

/// More hypotheses than any engine returns in the 4 KiB Asterisk formats them into.
const MAX_RESULTS: usize = 256;

/// Parses `score<i>=<n> text<i>="<text>" grammar<i>=<g>` items, separated by spaces.
///
/// The text is not escaped by Asterisk, so it can contain quotes and spaces. It ends
/// at the first `" grammar<i>=` that is followed by a grammar name and then either the
/// end of the line (last item) or the start of the next item, `score<i+1>=<n>
/// text<i+1>="`. Only a text that itself contains that whole sequence can be split
/// wrongly, and nothing in the reply could tell.
fn speech_results(rest: &str, count: usize) -> Option<Vec<SpeechResult>> {
    if count == 0 {
        return rest.is_empty().then(Vec::new);
    }
    let mut results = Vec::with_capacity(count.min(16));
    let mut item = rest.strip_prefix("score0=").and_then(score_and_text(0));
    for i in 0..count {
        let (score, text_start) = item?;
        let marker = format!("\" grammar{i}=");
        let last = i + 1 == count;
        let (text, grammar, next) = text_start.match_indices(&marker).find_map(|(at, _)| {
            let after_marker = &text_start[at + marker.len()..];
            let end = after_marker.find(' ').unwrap_or(after_marker.len());
            let (grammar, tail) = after_marker.split_at(end);
            if last {
                return tail.is_empty().then_some((&text_start[..at], grammar, None));
            }
            let next = tail.strip_prefix(&format!(" score{}=", i + 1)).and_then(score_and_text(i + 1))?;
            Some((&text_start[..at], grammar, Some(next)))
        })?;
        results.push(SpeechResult { score, text: text.to_owned(), grammar: grammar.to_owned() });
        item = next;
    }
    Some(results)
}

/// Reads `<n> text<i>="` (after `score<i>=`): the score and the text onwards.
fn score_and_text(i: usize) -> impl Fn(&str) -> Option<(i32, &str)> {
    move |rest| {
        let (score, after) = rest.split_once(' ')?;
        Some((score.parse().ok()?, after.strip_prefix(&format!("text{i}=\""))?))
    }
}

fn recognition(reply: &Response<'_>) -> AgiResult<Recognition> {
    const COMMAND: &str = "SPEECH RECOGNIZE";
    let unexpected = || AgiError::unexpected(COMMAND, reply);
    if reply.result_code() == Some(0) {
        return Err(AgiError::failed(COMMAND, reply));
    }
    if reply.result_code() != Some(1) {
        return Err(unexpected());
    }
    let endpos = || parse::endpos_samples(COMMAND, reply);
    match reply.tag() {
        Some("speech") => {
            let after = reply.after_tag();
            let rest = after.strip_prefix("endpos=").ok_or_else(unexpected)?;
            let (endpos, rest) = rest.split_once(' ').ok_or_else(unexpected)?;
            let rest = rest.strip_prefix("results=").ok_or_else(unexpected)?;
            let (count, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let count = count.parse::<usize>().ok().filter(|&n| n <= MAX_RESULTS).ok_or_else(unexpected)?;
            let results = speech_results(rest, count).ok_or_else(unexpected)?;
            Ok(Recognition::Speech { endpos: endpos.parse().map_err(|_| unexpected())?, results })
        }
        Some("digit") => {
            let digit =
                reply.attribute("digit").and_then(|d| d.parse::<char>().ok()).and_then(|c| Digit::try_from(c).ok());
            Ok(Recognition::Digit { digit: digit.ok_or_else(unexpected)?, endpos: endpos()? })
        }
        Some("timeout") => Ok(Recognition::Timeout { endpos: endpos()? }),
        Some("hangup") => Ok(Recognition::HungUp { endpos: endpos()? }),
        _ => Err(unexpected()),
    }
}

impl Call {
    /// Sends a speech command answered `1` (done) or `0` (failed, or no speech object).
    fn speech_step<'c>(
        &'c mut self,
        keywords: &'static str,
        dead_ok: bool,
        args: &[Arg<'_>],
    ) -> impl Future<Output = AgiResult<()>> + use<'c> {
        self.typed(keywords, dead_ok, args, move |reply| parse::expect(keywords, reply, 1, Some(0)))
    }

    /// `SPEECH CREATE engine`: creates this session's speech object with an engine
    /// (`lumenvox`, `unimrcp`, …). One per session.
    ///
    /// [`AgiError::Failed`] if the engine is unknown or a speech object already exists.
    /// Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_create("unimrcp").await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_create(&mut self, engine: &str) -> impl Future<Output = AgiResult<()>> {
        self.speech_step("SPEECH CREATE", false, &[Arg::Text(engine)])
    }

    /// `SPEECH SET name value`: sets an engine setting. [`AgiError::Failed`] if there is
    /// no speech object or the engine refused. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_set("confidencethreshold", "500").await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_set(&mut self, name: &str, value: &str) -> impl Future<Output = AgiResult<()>> {
        self.speech_step("SPEECH SET", false, &[Arg::Text(name), Arg::Text(value)])
    }

    /// `SPEECH DESTROY`: destroys the speech object. `Ok(true)` if there was one,
    /// `Ok(false)` if not. Works on a dead channel (to clean up after a hangup).
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_destroy().await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_destroy(&mut self) -> impl Future<Output = AgiResult<bool>> {
        self.typed("SPEECH DESTROY", true, &[], |reply| parse::yes_no("SPEECH DESTROY", reply))
    }

    /// `SPEECH LOAD GRAMMAR name path`: loads a grammar file under `name`.
    /// [`AgiError::Failed`] if there is no speech object or the engine refused. Live
    /// channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_load_grammar("yesno", "/etc/asterisk/grammars/yesno.gram").await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_load_grammar(&mut self, name: &str, path: &str) -> impl Future<Output = AgiResult<()>> {
        self.speech_step("SPEECH LOAD GRAMMAR", false, &[Arg::Text(name), Arg::Text(path)])
    }

    /// `SPEECH UNLOAD GRAMMAR name`: unloads a grammar. [`AgiError::Failed`] if there is
    /// no speech object or no such grammar. Works on a dead channel.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_unload_grammar("yesno").await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_unload_grammar(&mut self, name: &str) -> impl Future<Output = AgiResult<()>> {
        self.speech_step("SPEECH UNLOAD GRAMMAR", true, &[Arg::Text(name)])
    }

    /// `SPEECH ACTIVATE GRAMMAR name`: lets a loaded grammar match.
    /// [`AgiError::Failed`] if there is no speech object or no such grammar. Live
    /// channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_activate_grammar("yesno").await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_activate_grammar(&mut self, name: &str) -> impl Future<Output = AgiResult<()>> {
        self.speech_step("SPEECH ACTIVATE GRAMMAR", false, &[Arg::Text(name)])
    }

    /// `SPEECH DEACTIVATE GRAMMAR name`: stops a grammar from matching.
    /// [`AgiError::Failed`] if there is no speech object or no such grammar. Live
    /// channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.speech_deactivate_grammar("yesno").await?;
    /// # Ok(()) }
    /// ```
    pub fn speech_deactivate_grammar(&mut self, name: &str) -> impl Future<Output = AgiResult<()>> {
        self.speech_step("SPEECH DEACTIVATE GRAMMAR", false, &[Arg::Text(name)])
    }

    /// `SPEECH RECOGNIZE prompt timeout`: plays `prompt` and listens, with the active
    /// grammars, until the caller says something, presses a key or hangs up, or
    /// `timeout` passes after the prompt ended.
    ///
    /// The timeout is sent in **seconds** (rounded up); `None` listens without a
    /// limit. [`AgiError::Failed`] if there is no speech object (`result=0`). The
    /// recognizer's text is not escaped by Asterisk; see [`SpeechResult`]. Live channel
    /// only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::Recognition;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// match call.speech_recognize("say-yes-or-no", Some(Duration::from_secs(5))).await? {
    ///     Recognition::Speech { results, .. } => {
    ///         if let Some(best) = results.first() {
    ///             call.verbose(&format!("heard {:?} ({})", best.text, best.score)).await?;
    ///         }
    ///     }
    ///     Recognition::Digit { digit, .. } => { /* DTMF fallback */ }
    ///     Recognition::Timeout { .. } | Recognition::HungUp { .. } => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn speech_recognize<'f>(
        &mut self,
        prompt: impl IntoSoundFile<'f>,
        timeout: Option<Duration>,
    ) -> AgiResult<Recognition> {
        self.recognize(prompt.into_sound_file()?, timeout, None).await
    }

    /// `SPEECH RECOGNIZE prompt timeout offset`: like
    /// [`speech_recognize`](Call::speech_recognize), starting the prompt `sample_offset`
    /// samples in. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let again = call.speech_recognize_from("say-yes-or-no", Some(Duration::from_secs(5)), 8000).await?;
    /// # Ok(()) }
    /// ```
    pub async fn speech_recognize_from<'f>(
        &mut self,
        prompt: impl IntoSoundFile<'f>,
        timeout: Option<Duration>,
        sample_offset: u64,
    ) -> AgiResult<Recognition> {
        self.recognize(prompt.into_sound_file()?, timeout, Some(sample_offset)).await
    }

    fn recognize(
        &mut self,
        prompt: SoundFile<'_>,
        timeout: Option<Duration>,
        offset: Option<u64>,
    ) -> impl Future<Output = AgiResult<Recognition>> {
        let mut args =
            ArgList::<3>::from([Arg::Text(prompt.as_str()), Arg::Int(timeout.map_or(0, parse::seconds_nonzero))]);
        args.extend(offset.map(|sample| Arg::Int(parse::offset(sample))));
        self.typed("SPEECH RECOGNIZE", false, args.as_slice(), recognition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognize(text: &str) -> AgiResult<Recognition> {
        recognition(&Response::parse(text).unwrap())
    }

    fn result(score: i32, text: &str, grammar: &str) -> SpeechResult {
        SpeechResult { score, text: text.to_owned(), grammar: grammar.to_owned() }
    }

    #[test]
    fn parses_results_with_unescaped_text() {
        let got = recognize(
            "result=1 (speech) endpos=1200 results=2 score0=900 text0=\"say \"hi\" (now)\" grammar0=greet score1=12 text1=\"\" grammar1=g2",
        )
        .unwrap();
        assert_eq!(
            got,
            Recognition::Speech {
                endpos: 1200,
                results: vec![result(900, "say \"hi\" (now)", "greet"), result(12, "", "g2")]
            }
        );
        let got = recognize(
            "result=1 (speech) endpos=0 results=1 score0=-5 text0=\"a\" grammar0=x\" grammar0=y\" grammar0=z",
        )
        .unwrap();
        assert_eq!(
            got,
            Recognition::Speech { endpos: 0, results: vec![result(-5, "a\" grammar0=x\" grammar0=y", "z")] }
        );
        // Asterisk leaves a space after `results=0`.
        assert_eq!(
            recognize("result=1 (speech) endpos=0 results=0 ").unwrap(),
            Recognition::Speech { endpos: 0, results: vec![] }
        );
        // A text containing part of the next item's start stays whole.
        let got = recognize(
            "result=1 (speech) endpos=0 results=2 score0=1 text0=\"a\" grammar0=g score1=\" grammar0=h score1=2 text1=\"b\" grammar1=k",
        )
        .unwrap();
        let want = vec![result(1, "a\" grammar0=g score1=", "h"), result(2, "b", "k")];
        assert_eq!(got, Recognition::Speech { endpos: 0, results: want });
    }

    #[test]
    fn parses_the_other_endings() {
        assert_eq!(
            recognize("result=1 (digit) digit=5 endpos=300").unwrap(),
            Recognition::Digit { digit: Digit::D5, endpos: 300 }
        );
        assert_eq!(recognize("result=1 (timeout) endpos=8000").unwrap(), Recognition::Timeout { endpos: 8000 });
        assert_eq!(recognize("result=1 (hangup) endpos=10").unwrap(), Recognition::HungUp { endpos: 10 });
        assert!(matches!(recognize("result=0"), Err(AgiError::Failed { .. })));
        assert!(matches!(recognize("result=0 endpos=0"), Err(AgiError::Failed { .. })));
        for bad in [
            "result=1 (speech) endpos=0 results=2 score0=1 text0=\"a\" grammar0=g",
            "result=1 (speech) endpos=0 results=1 score0=1 text0=\"a grammar0=g",
            "result=1 (speech) endpos=x results=0",
            "result=1 (speech) endpos=0 results=99999",
            "result=1 (digit) digit=x endpos=0",
            "result=1 (other) endpos=0",
            "result=2",
        ] {
            assert!(matches!(recognize(bad), Err(AgiError::UnexpectedReply { .. })), "{bad}");
        }
    }
}
