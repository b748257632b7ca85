//! The benchmark call, as Asterisk plays it: the environment block and the replies.
//!
//! `AGI(agi://127.0.0.1/bench?extension=5551212&lang=en)` on a PJSIP channel of
//! Asterisk 22; the server answers, reads `CALLERID(num)`, plays `welcome`, sets
//! `RESULT` and hangs up.

/// The environment block, byte for byte as Asterisk 22.10 writes it (AGI-PROTOCOL.md §1.3).
pub const ENV_BLOCK: &str = "agi_network: yes\n\
agi_network_script: bench?extension=5551212&lang=en\n\
agi_request: agi://127.0.0.1/bench?extension=5551212&lang=en\n\
agi_channel: PJSIP/alice-0000002a\n\
agi_language: en\n\
agi_type: PJSIP\n\
agi_uniqueid: 1795871406.42\n\
agi_version: 22.10.1\n\
agi_callerid: 5551234\n\
agi_calleridname: Alice\n\
agi_callingpres: 0\n\
agi_callingani2: 0\n\
agi_callington: 0\n\
agi_callingtns: 0\n\
agi_dnid: 5551212\n\
agi_rdnis: unknown\n\
agi_context: from-internal\n\
agi_extension: 5551212\n\
agi_priority: 1\n\
agi_enhanced: 0.0\n\
agi_accountcode: \n\
agi_threadid: 140119749211840\n\
\n";

/// The caller number Asterisk answers to `GET VARIABLE CALLERID(num)`.
pub const CALLER_NUMBER: &str = "5551234";

/// The commands of one benchmark call, in order, with the replies Asterisk sends.
///
/// After `HANGUP` Asterisk's idle loop notices the hung-up channel and writes a `HANGUP`
/// line of its own (AGI-PROTOCOL.md §4.2): it is sent with the reply, in one write.
pub const SCRIPT: [(&str, &str); 5] = [
    ("ANSWER", "200 result=0\n"),
    ("GET VARIABLE CALLERID(num)", "200 result=1 (5551234)\n"),
    ("STREAM FILE welcome \"\"", "200 result=0 endpos=8000\n"),
    ("SET VARIABLE RESULT ok", "200 result=1\n"),
    ("HANGUP", "200 result=1\nHANGUP\n"),
];

/// The status report the framework sends by default after a successful call.
pub const STATUS_REPORT: (&str, &str) = ("SET VARIABLE FASTAGI_STATUS SUCCESS", "200 result=1\n");

/// The route and query the servers read: `extension` and `lang`.
pub const EXTENSION: u32 = 5551212;

/// What Asterisk writes once the server has closed its side, before closing its own.
pub const FINAL_HANGUP: &str = "HANGUP\n";
