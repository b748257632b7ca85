//! Scripted expectations: "expect this exact command line, answer these lines", checked
//! in order before the simulated channel answers.

use std::collections::VecDeque;

use super::channel::internal;

#[derive(Debug, Clone)]
struct Expectation {
    /// The command line, without its LF, as channel bytes.
    command: String,
    /// The reply lines, without their LF.
    reply: Vec<String>,
}

/// How a command line is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// By the script, with these lines.
    Scripted(Vec<String>),
    /// By the simulated channel.
    Simulated,
    /// Not at all: the script is strict and expected something else.
    Unexpected { expected: Option<String> },
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Script {
    queue: VecDeque<Expectation>,
    /// Every command must be the next expectation (no simulated answers).
    pub(crate) strict: bool,
}

impl Script {
    /// Adds an expectation; `reply` may hold several lines separated by LF.
    pub(crate) fn push(&mut self, command: &str, reply: &str) {
        let reply = reply.strip_suffix('\n').unwrap_or(reply);
        self.queue
            .push_back(Expectation { command: internal(command), reply: reply.split('\n').map(internal).collect() });
    }

    /// Answers `line` (channel bytes, no LF) from the script if it is the next
    /// expectation.
    pub(crate) fn answer(&mut self, line: &str) -> Answer {
        match self.queue.front() {
            Some(next) if next.command == line => {
                Answer::Scripted(self.queue.pop_front().map(|e| e.reply).unwrap_or_default())
            }
            next if self.strict => Answer::Unexpected { expected: next.map(|e| e.command.clone()) },
            _ => Answer::Simulated,
        }
    }

    /// The expectations never met, in order.
    pub(crate) fn unmet(&self) -> Vec<String> {
        self.queue.iter().map(|e| e.command.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_are_met_in_order_and_mix_with_the_simulation() {
        let mut script = Script::default();
        script.push("STREAM FILE welcome \"\"", "200 result=53 endpos=1200");
        script.push("NOOP", "HANGUP\n200 result=0\n");
        assert_eq!(script.answer("ANSWER"), Answer::Simulated);
        assert_eq!(
            script.answer("STREAM FILE welcome \"\""),
            Answer::Scripted(vec!["200 result=53 endpos=1200".into()])
        );
        assert_eq!(script.unmet(), ["NOOP"]);
        assert_eq!(script.answer("NOOP"), Answer::Scripted(vec!["HANGUP".into(), "200 result=0".into()]));
        script.strict = true;
        assert_eq!(script.answer("NOOP"), Answer::Unexpected { expected: None });
    }
}
