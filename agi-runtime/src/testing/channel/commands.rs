//! The command table: names, whether a hung-up channel runs them, and how many words
//! each accepts (AGI-PROTOCOL.md §3; res_agi's own checks).

/// Every command the simulated Asterisk knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Answer,
    AsyncAgiBreak,
    ChannelStatus,
    ControlStreamFile,
    DatabaseDel,
    DatabaseDeltree,
    DatabaseGet,
    DatabasePut,
    Exec,
    GetData,
    GetFullVariable,
    GetOption,
    GetVariable,
    Gosub,
    Hangup,
    Noop,
    ReceiveChar,
    ReceiveText,
    RecordFile,
    SayAlpha,
    SayDate,
    SayDatetime,
    SayDigits,
    SayNumber,
    SayPhonetic,
    SayTime,
    SendImage,
    SendText,
    SetAutohangup,
    SetCallerid,
    SetContext,
    SetExtension,
    SetMusic,
    SetPriority,
    SetVariable,
    SpeechActivateGrammar,
    SpeechCreate,
    SpeechDeactivateGrammar,
    SpeechDestroy,
    SpeechLoadGrammar,
    SpeechRecognize,
    SpeechSet,
    SpeechUnloadGrammar,
    StreamFile,
    TddMode,
    Verbose,
    WaitForDigit,
    /// The sound-file transfer extension (§6), when its module is "loaded".
    PutSoundfile,
    GetSoundfile,
    IsexistingSoundfile,
}

/// Who provides a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Module {
    /// res_agi (and app_stack for GOSUB): always there.
    Core,
    /// The sound-file transfer module (§6): `510` when it is not loaded.
    SoundFiles,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) words: &'static [&'static str],
    pub(crate) command: Command,
    /// Runs on a hung-up channel (otherwise `511`).
    pub(crate) dead: bool,
    /// Fewest and most words, the command's own included (otherwise `520`).
    pub(crate) min: usize,
    pub(crate) max: Option<usize>,
    pub(crate) module: Module,
}

const fn core(words: &'static [&'static str], command: Command, dead: bool, min: usize, max: Option<usize>) -> Spec {
    Spec { words, command, dead, min, max, module: Module::Core }
}

const fn sound(words: &'static [&'static str], command: Command, min: usize, max: usize) -> Spec {
    // Assumed: the module predates dead mode, so its commands need a live channel.
    Spec { words, command, dead: false, min, max: Some(max), module: Module::SoundFiles }
}

use Command as C;

/// In res_agi's registration order (the first command whose words prefix the line wins).
pub(crate) static TABLE: [Spec; 50] = [
    core(&["ANSWER"], C::Answer, false, 1, None),
    core(&["ASYNCAGI", "BREAK"], C::AsyncAgiBreak, true, 2, None),
    core(&["CHANNEL", "STATUS"], C::ChannelStatus, false, 2, Some(3)),
    core(&["DATABASE", "DEL"], C::DatabaseDel, true, 4, Some(4)),
    core(&["DATABASE", "DELTREE"], C::DatabaseDeltree, true, 3, Some(4)),
    core(&["DATABASE", "GET"], C::DatabaseGet, true, 4, Some(4)),
    core(&["DATABASE", "PUT"], C::DatabasePut, true, 5, Some(5)),
    core(&["EXEC"], C::Exec, true, 2, None),
    core(&["GET", "DATA"], C::GetData, false, 3, None),
    core(&["GET", "FULL", "VARIABLE"], C::GetFullVariable, true, 4, Some(5)),
    core(&["GET", "OPTION"], C::GetOption, false, 4, Some(5)),
    core(&["GET", "VARIABLE"], C::GetVariable, true, 3, Some(3)),
    core(&["HANGUP"], C::Hangup, false, 1, Some(2)),
    core(&["NOOP"], C::Noop, true, 1, None),
    core(&["RECEIVE", "CHAR"], C::ReceiveChar, false, 3, Some(3)),
    core(&["RECEIVE", "TEXT"], C::ReceiveText, false, 3, None),
    core(&["RECORD", "FILE"], C::RecordFile, false, 6, None),
    core(&["SAY", "ALPHA"], C::SayAlpha, false, 4, Some(5)),
    core(&["SAY", "DIGITS"], C::SayDigits, false, 4, Some(4)),
    core(&["SAY", "NUMBER"], C::SayNumber, false, 4, Some(5)),
    core(&["SAY", "PHONETIC"], C::SayPhonetic, false, 4, Some(4)),
    core(&["SAY", "DATE"], C::SayDate, false, 4, Some(4)),
    core(&["SAY", "TIME"], C::SayTime, false, 4, Some(4)),
    core(&["SAY", "DATETIME"], C::SayDatetime, false, 4, None),
    core(&["SEND", "IMAGE"], C::SendImage, false, 3, Some(3)),
    core(&["SEND", "TEXT"], C::SendText, false, 3, Some(3)),
    core(&["SET", "AUTOHANGUP"], C::SetAutohangup, false, 3, Some(3)),
    core(&["SET", "CALLERID"], C::SetCallerid, false, 1, None),
    core(&["SET", "CONTEXT"], C::SetContext, false, 3, Some(3)),
    core(&["SET", "EXTENSION"], C::SetExtension, false, 3, Some(3)),
    core(&["SET", "MUSIC"], C::SetMusic, false, 3, None),
    core(&["SET", "PRIORITY"], C::SetPriority, false, 3, Some(3)),
    core(&["SET", "VARIABLE"], C::SetVariable, true, 4, Some(4)),
    core(&["STREAM", "FILE"], C::StreamFile, false, 4, Some(5)),
    core(&["CONTROL", "STREAM", "FILE"], C::ControlStreamFile, false, 5, Some(10)),
    core(&["TDD", "MODE"], C::TddMode, false, 3, Some(3)),
    core(&["VERBOSE"], C::Verbose, true, 2, None),
    core(&["WAIT", "FOR", "DIGIT"], C::WaitForDigit, false, 4, Some(4)),
    core(&["SPEECH", "CREATE"], C::SpeechCreate, false, 3, Some(3)),
    core(&["SPEECH", "SET"], C::SpeechSet, false, 4, Some(4)),
    core(&["SPEECH", "DESTROY"], C::SpeechDestroy, true, 1, None),
    core(&["SPEECH", "LOAD", "GRAMMAR"], C::SpeechLoadGrammar, false, 5, Some(5)),
    core(&["SPEECH", "UNLOAD", "GRAMMAR"], C::SpeechUnloadGrammar, true, 4, Some(4)),
    core(&["SPEECH", "ACTIVATE", "GRAMMAR"], C::SpeechActivateGrammar, false, 4, Some(4)),
    core(&["SPEECH", "DEACTIVATE", "GRAMMAR"], C::SpeechDeactivateGrammar, false, 4, Some(4)),
    core(&["SPEECH", "RECOGNIZE"], C::SpeechRecognize, false, 4, None),
    core(&["GOSUB"], C::Gosub, false, 4, Some(5)),
    sound(&["PUT", "SOUNDFILE"], C::PutSoundfile, 4, 4),
    sound(&["GET", "SOUNDFILE"], C::GetSoundfile, 3, 3),
    sound(&["ISEXISTING", "SOUNDFILE"], C::IsexistingSoundfile, 3, 3),
];

/// The command a line's words name, matched case-insensitively, if its module is there.
pub(crate) fn find(words: &[String], sound_module: bool) -> Option<&'static Spec> {
    TABLE.iter().find(|spec| {
        (spec.module == Module::Core || sound_module)
            && spec.words.len() <= words.len()
            && spec.words.iter().zip(words).all(|(want, got)| want.eq_ignore_ascii_case(got))
    })
}

impl Spec {
    /// Whether `argc` words are acceptable.
    pub(crate) fn accepts(&self, argc: usize) -> bool {
        argc >= self.min && self.max.is_none_or(|max| argc <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn asterisk_has_47_commands_and_the_module_3() {
        assert_eq!(TABLE.iter().filter(|s| s.module == Module::Core).count(), 47);
        let dead: Vec<_> = TABLE.iter().filter(|s| s.dead).map(|s| s.words.join(" ")).collect();
        assert_eq!(
            dead,
            [
                "ASYNCAGI BREAK",
                "DATABASE DEL",
                "DATABASE DELTREE",
                "DATABASE GET",
                "DATABASE PUT",
                "EXEC",
                "GET FULL VARIABLE",
                "GET VARIABLE",
                "NOOP",
                "SET VARIABLE",
                "VERBOSE",
                "SPEECH DESTROY",
                "SPEECH UNLOAD GRAMMAR"
            ]
        );
    }

    #[test]
    fn matches_whole_words_case_insensitively() {
        assert_eq!(find(&words("noop"), false).map(|s| s.command), Some(C::Noop));
        assert_eq!(find(&words("Stream File"), false).map(|s| s.command), Some(C::StreamFile));
        assert_eq!(find(&words("GET"), false).map(|s| s.command), None);
        assert_eq!(find(&words("GET SOUNDFILE x"), false).map(|s| s.command), None);
        assert_eq!(find(&words("GET SOUNDFILE x"), true).map(|s| s.command), Some(C::GetSoundfile));
        assert_eq!(find(&words("NOOP\r"), false).map(|s| s.command), None);
        assert!(TABLE[0].accepts(3));
        assert!(!find(&words("SET VARIABLE x"), false).unwrap().accepts(3));
    }
}
