//! The commands that play sound or wait for the caller: prompts, `SAY`, digits,
//! recording, and the text, TDD and music commands that only answer.
//!
//! The caller's keys come from the [keypad](super::keypad). Lengths are in samples at
//! 8 kHz; a prompt the caller interrupts stops half-way through, which is where its
//! `endpos` points.

use super::commands::Command;
use super::keypad::Heard;
use super::sounds::{self, DEFAULT_SAMPLES};
use super::{Channel, Reply, leading_int};

/// What a command that waits for a key ends with.
enum Listen {
    Digit(u8),
    Timeout,
    /// A wait with no time limit and nothing left to press: the caller hangs up.
    HangsUp,
}

/// Where a prompt of `len` samples, started at `offset`, is when a key stops it.
fn cut_point(offset: u64, len: u64) -> u64 {
    offset + len.saturating_sub(offset) / 2
}

fn escapes(digits: &str) -> impl Fn(u8) -> bool + '_ {
    move |d| digits.as_bytes().contains(&d)
}

impl Channel {
    fn listen(&mut self, timed: bool, accepts: impl Fn(u8) -> bool) -> Listen {
        match self.keypad.wait_for(timed, accepts) {
            Heard::Digit(d) => Listen::Digit(d),
            Heard::Timeout | Heard::Silence if timed => Listen::Timeout,
            Heard::Timeout | Heard::Silence => Listen::HangsUp,
        }
    }

    pub(super) fn stream_file(
        &mut self,
        file: &str,
        escape: &str,
        offset: Option<&String>,
        hanging_up: bool,
    ) -> Option<Reply> {
        let offset = match offset {
            Some(offset) => u64::try_from(leading_int(offset)?).unwrap_or(0),
            None => 0,
        };
        let Some(len) = self.sounds.playable(file) else {
            // A missing file leaves PLAYBACKSTATUS untouched.
            return Some(Reply::ok(format!("-1 endpos={offset}")).failed_if(true));
        };
        let (result, endpos) = if hanging_up {
            (-1, cut_point(offset, len))
        } else {
            match self.keypad.during_prompt(escapes(escape)) {
                Some(digit) => (i64::from(digit), cut_point(offset, len)),
                None => (0, len.max(offset)),
            }
        };
        self.variables.set("PLAYBACKSTATUS", if result == 0 { "SUCCESS" } else { "FAILED" });
        Some(Reply::ok(format!("{result} endpos={endpos}")))
    }

    pub(super) fn control_stream_file(&mut self, args: &[String], hanging_up: bool) -> Option<Reply> {
        let arg = |i: usize| args.get(i).map(String::as_str);
        let (file, stop) = (arg(0).unwrap_or_default(), arg(1).unwrap_or_default());
        if let Some(skipms) = arg(2) {
            leading_int(skipms)?;
        }
        let offset_ms = match arg(6) {
            Some(offset) => leading_int(offset)?,
            None => 0,
        };
        let key = |i: usize, default: &'static str| arg(i).filter(|k| !k.is_empty()).unwrap_or(default).to_owned();
        let controls = [key(3, "#"), key(4, "*"), arg(5).unwrap_or_default().to_owned()].concat();
        let Some(len) = self.sounds.playable(file) else {
            self.variables.set("CPLAYBACKSTATUS", "ERROR");
            return Some(Reply::ok(format!("-1 endpos={offset_ms}")).failed_if(true));
        };
        let cut_ms = cut_point(offset_ms.max(0) as u64, len / 8) as i64;
        let (result, endpos, status) = if hanging_up {
            (-1, cut_ms, "ERROR")
        } else {
            // Fast-forward, rewind and pause keys are used up while the file plays.
            while self.keypad.during_prompt(escapes(&controls)).is_some() {}
            match self.keypad.during_prompt(escapes(stop)) {
                Some(digit) => {
                    self.variables.set("CPLAYBACKSTOPKEY", &char::from(digit).to_string());
                    (i64::from(digit), cut_ms, "USERSTOPPED")
                }
                None => (0, -1, "SUCCESS"),
            }
        };
        self.variables.set("CPLAYBACKSTATUS", status);
        self.variables.set("CPLAYBACKOFFSET", &endpos.to_string());
        Some(Reply::ok(format!("{result} endpos={endpos}")).failed_if(result < 0))
    }

    pub(super) fn get_option(&mut self, file: &str, escape: &str, hanging_up: bool) -> Reply {
        let Some(len) = self.sounds.playable(file) else {
            return Reply::ok("-1 endpos=0").failed_if(true);
        };
        if hanging_up {
            return Reply::ok(format!("-1 endpos={}", cut_point(0, len)));
        }
        if let Some(digit) = self.keypad.during_prompt(escapes(escape)) {
            return Reply::ok(format!("{digit} endpos={}", cut_point(0, len)));
        }
        match self.listen(true, escapes(escape)) {
            Listen::Digit(digit) => Reply::ok(format!("{digit} endpos={len}")),
            Listen::Timeout | Listen::HangsUp => Reply::ok(format!("0 endpos={len}")),
        }
    }

    pub(super) fn get_data(
        &mut self,
        file: &str,
        timeout: Option<&String>,
        max: Option<&String>,
        hanging_up: bool,
    ) -> Reply {
        // atoi: anything that is not a number is 0, the default timeout.
        let timeout = timeout.and_then(|t| leading_int(t)).unwrap_or(0);
        let max = max.and_then(|m| leading_int(m)).filter(|&m| m > 0).unwrap_or(1024) as usize;
        if self.sounds.playable(file).is_none() || hanging_up {
            return Reply::ok(-1);
        }
        let mut digits = String::new();
        let mut next = self.keypad.during_prompt(|_| true).map(Listen::Digit);
        loop {
            match next.take().unwrap_or_else(|| self.listen(timeout >= 0, |_| true)) {
                Listen::Digit(b'#') => return Reply::ok(digits),
                Listen::Digit(digit) => {
                    digits.push(char::from(digit));
                    if digits.len() >= max {
                        return Reply::ok(digits);
                    }
                }
                Listen::Timeout => return Reply::ok(format!("{digits} (timeout)")),
                Listen::HangsUp => return Reply::ok(-1).hanging_up(),
            }
        }
    }

    pub(super) fn wait_for_digit(&mut self, timeout: &str, hanging_up: bool) -> Option<Reply> {
        let timeout = leading_int(timeout)?;
        if hanging_up {
            return Some(Reply::ok(-1));
        }
        Some(match self.listen(timeout >= 0, |_| true) {
            Listen::Digit(digit) => Reply::ok(digit),
            Listen::Timeout => Reply::ok(0),
            Listen::HangsUp => Reply::ok(-1).hanging_up(),
        })
    }

    /// Plays `files` (every `SAY` command), stopped by an escape digit.
    pub(super) fn say(&mut self, files: &[String], escape: &str, hanging_up: bool) -> Reply {
        if !self.sounds.all_playable(files.iter().map(String::as_str)) {
            return Reply::ok(-1).failed_if(true);
        }
        if hanging_up {
            return Reply::ok(-1);
        }
        match self.keypad.during_prompt(escapes(escape)) {
            Some(digit) => Reply::ok(digit),
            None => Reply::ok(0),
        }
    }

    pub(super) fn say_alpha(
        &mut self,
        text: &str,
        escape: &str,
        case: Option<&String>,
        hanging_up: bool,
    ) -> Option<Reply> {
        if let Some(case) = case
            && !matches!(case.chars().next(), None | Some('a' | 'A' | 'l' | 'L' | 'u' | 'U' | 'n' | 'N'))
        {
            return None;
        }
        Some(self.say(&sounds::alpha_files(text), escape, hanging_up))
    }

    pub(super) fn say_digits(&mut self, number: &str, escape: &str, hanging_up: bool) -> Option<Reply> {
        leading_int(number)?;
        Some(self.say(&sounds::digit_files(number), escape, hanging_up))
    }

    pub(super) fn say_number(&mut self, number: &str, escape: &str, hanging_up: bool) -> Option<Reply> {
        let number = leading_int(number)?;
        Some(self.say(&sounds::number_files(number), escape, hanging_up))
    }

    /// `SAY DATE` and `SAY TIME` play their English files (in UTC); `SAY DATETIME`,
    /// whose files depend on its format, looks none up.
    pub(super) fn say_time(&mut self, command: Command, epoch: &str, escape: &str, hanging_up: bool) -> Option<Reply> {
        let epoch = leading_int(epoch)?;
        let files = match command {
            Command::SayDate => sounds::date_files(epoch),
            Command::SayTime => sounds::time_files(epoch),
            _ => Vec::new(),
        };
        Some(self.say(&files, escape, hanging_up))
    }

    pub(super) fn record_file(&mut self, args: &[String], hanging_up: bool) -> Option<Reply> {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        let (file, format, escape) = (arg(0), arg(1), arg(2));
        let limit_ms = leading_int(arg(3))?;
        let silence = args[4.min(args.len())..].iter().any(|a| a.starts_with("s=") && a.len() > 2);
        if !self.sounds.writable(file) {
            return Some(Reply::ok("-1 (writefile)").failed_if(true));
        }
        let limit = u64::try_from(limit_ms).ok().filter(|&ms| ms > 0).map(|ms| ms.saturating_mul(8));
        let (line, samples, hangs_up) = if hanging_up {
            (format!("-1 (hangup) endpos={DEFAULT_SAMPLES}"), DEFAULT_SAMPLES, false)
        } else {
            match self.listen(limit.is_some() || silence, escapes(escape)) {
                Listen::Digit(digit) => {
                    let samples = limit.map_or(DEFAULT_SAMPLES, |l| l.min(DEFAULT_SAMPLES));
                    (format!("{digit} (dtmf) endpos={samples}"), samples, false)
                }
                Listen::Timeout => {
                    let samples = limit.unwrap_or(DEFAULT_SAMPLES);
                    (format!("0 (timeout) endpos={samples}"), samples, false)
                }
                Listen::HangsUp => (format!("-1 (hangup) endpos={DEFAULT_SAMPLES}"), DEFAULT_SAMPLES, true),
            }
        };
        self.sounds.record(file, format, samples);
        let reply = Reply::ok(line).failed_if(hanging_up || hangs_up);
        Some(if hangs_up { reply.hanging_up() } else { reply })
    }
}
