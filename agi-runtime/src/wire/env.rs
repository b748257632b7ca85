//! The `agi_*` environment block Asterisk sends when a FastAGI session starts.

use std::fmt;

use crate::buffers::VecPool;
use crate::wire::lines::{Drained, LineBuffer, LineSink};

/// Caps on the environment block; a peer that exceeds one is refused.
///
/// `max_bytes` bounds the memory a connection can make the server hold before its
/// call starts, whatever the other two allow: with the server's handshake limit it
/// bounds the memory of every connection still sending its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvLimits {
    /// Longest accepted line, in bytes, without its LF (at most 65,535 are ever
    /// accepted).
    pub max_line: usize,
    /// Most accepted lines, the final empty line not counted (at most 65,534 are ever
    /// accepted).
    pub max_lines: usize,
    /// Most bytes in the whole block, its lines counted with their separators.
    pub max_bytes: usize,
}

impl Default for EnvLimits {
    /// 8 KiB per line, 256 lines and 64 KiB in all: Asterisk sends 22 variables plus at
    /// most 127 `agi_arg_N` (about 700 bytes without arguments), and a dialplan
    /// argument longer than a few hundred bytes is rare.
    fn default() -> Self {
        EnvLimits { max_line: 8 * 1024, max_lines: 256, max_bytes: 64 * 1024 }
    }
}

/// The most lines a block may have whatever the limits say: entry indexes are `u16`,
/// with `u16::MAX` meaning absent.
const MAX_LINES: usize = u16::MAX as usize - 1;

/// The longest line accepted whatever the limits say: offsets within a line are `u16`.
const MAX_LINE: usize = u16::MAX as usize;

impl EnvLimits {
    /// The line length to read up to: the limit, within what the parser can index.
    pub(crate) fn line_cap(&self) -> usize {
        self.max_line.min(MAX_LINE)
    }
}

/// Why an environment block was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// A line exceeded [`EnvLimits::max_line`].
    #[error("environment line longer than {max} bytes")]
    LineTooLong {
        /// The cap in force.
        max: usize,
    },
    /// More lines than [`EnvLimits::max_lines`] before the empty line.
    #[error("environment block has more than {max} lines")]
    TooManyLines {
        /// The cap in force.
        max: usize,
    },
    /// More bytes than [`EnvLimits::max_bytes`] before the empty line.
    #[error("environment block is larger than {max} bytes")]
    TooLarge {
        /// The cap in force.
        max: usize,
    },
    /// A line that is not `name: value`.
    #[error("environment line {number} is not `name: value`: {text:?}")]
    MalformedLine {
        /// 1-based line number.
        number: usize,
        /// The start of the line, for the log.
        text: String,
    },
    /// The peer closed the connection before the empty line.
    #[error("connection closed after {lines} environment lines, before the end of the block")]
    Truncated {
        /// Lines received before the end.
        lines: usize,
    },
    /// The block did not arrive in time.
    #[error("no complete environment block within {0:?}")]
    Timeout(std::time::Duration),
    /// The connection failed while reading the block.
    #[error("I/O error while reading the environment block: {0}")]
    Io(#[from] std::io::Error),
}

/// The variables Asterisk sends, in the order it sends them (AGI-PROTOCOL.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Known {
    Network,
    NetworkScript,
    Request,
    Channel,
    Language,
    Type,
    Uniqueid,
    Version,
    Callerid,
    Calleridname,
    Callingpres,
    Callingani2,
    Callington,
    Callingtns,
    Dnid,
    Rdnis,
    Context,
    Extension,
    Priority,
    Enhanced,
    Accountcode,
    Threadid,
}

const KNOWN_COUNT: usize = Known::Threadid as usize + 1;
const ABSENT: u16 = u16::MAX;

/// Every known variable, in the order Asterisk sends them, with its name as it starts a
/// line: followed by `: `.
const KNOWN: [(Known, &[u8]); KNOWN_COUNT] = [
    (Known::Network, b"agi_network: "),
    (Known::NetworkScript, b"agi_network_script: "),
    (Known::Request, b"agi_request: "),
    (Known::Channel, b"agi_channel: "),
    (Known::Language, b"agi_language: "),
    (Known::Type, b"agi_type: "),
    (Known::Uniqueid, b"agi_uniqueid: "),
    (Known::Version, b"agi_version: "),
    (Known::Callerid, b"agi_callerid: "),
    (Known::Calleridname, b"agi_calleridname: "),
    (Known::Callingpres, b"agi_callingpres: "),
    (Known::Callingani2, b"agi_callingani2: "),
    (Known::Callington, b"agi_callington: "),
    (Known::Callingtns, b"agi_callingtns: "),
    (Known::Dnid, b"agi_dnid: "),
    (Known::Rdnis, b"agi_rdnis: "),
    (Known::Context, b"agi_context: "),
    (Known::Extension, b"agi_extension: "),
    (Known::Priority, b"agi_priority: "),
    (Known::Enhanced, b"agi_enhanced: "),
    (Known::Accountcode, b"agi_accountcode: "),
    (Known::Threadid, b"agi_threadid: "),
];

/// Whether `line` starts with `prefix`, a known name with its `: ` (8 to 24 bytes, as
/// every one in [`KNOWN`] is): three overlapping 8-byte words compared inline, where
/// `starts_with` calls `memcmp` for every line of every block.
#[inline(always)]
fn starts_with_known(line: &[u8], prefix: &[u8]) -> bool {
    let len = prefix.len();
    debug_assert!((8..=24).contains(&len), "{prefix:?}");
    if line.len() < len || len < 8 {
        return false;
    }
    let word = |bytes: &[u8], at: usize| bytes.get(at..at + 8).and_then(|w| w.try_into().ok()).map(u64::from_ne_bytes);
    // The three windows start at 0, midway and 8 from the end: together they cover up to
    // 24 bytes.
    let middle = (len - 8) / 2;
    word(line, 0) == word(prefix, 0)
        && word(line, middle) == word(prefix, middle)
        && word(line, len - 8) == word(prefix, len - 8)
}

impl Known {
    fn from_name(name: &[u8]) -> Option<Known> {
        KNOWN.iter().find(|(_, prefix)| prefix.strip_suffix(b": ") == Some(name)).map(|&(known, _)| known)
    }
}

/// One variable: its line starts at `start` in `AgiEnv::text`, its name ends and its
/// value starts at the offsets given within the line, and its value ends at the LF
/// that ends the line (the byte before the next line). Eight bytes an entry keep an
/// idle call small.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u32,
    name_end: u16,
    value_start: u16,
}

/// The parsed environment of one AGI session.
///
/// Every variable is kept, known or not, in the order received; typed accessors cover
/// the ones Asterisk documents. All the text lives in one buffer and the index in
/// another, however many variables there are (both recycled from call to call).
///
/// ```
/// use agi_runtime::AgiEnv;
///
/// let env = AgiEnv::parse(
///     "agi_network: yes\n\
///      agi_network_script: GetCallerRecord?extension=100\n\
///      agi_channel: PJSIP/alice-0000002a\n\
///      agi_callerid: 1001\n\
///      agi_calleridname: unknown\n\
///      agi_arg_1: one\n\
///      agi_arg_2: \n\
///      \n",
/// )
/// .unwrap();
/// assert_eq!(env.path(), "/GetCallerRecord");
/// assert_eq!(env.query(), "extension=100");
/// assert_eq!(env.channel(), Some("PJSIP/alice-0000002a"));
/// assert_eq!(env.caller_id_num(), Some("1001"));
/// assert_eq!(env.caller_id_name(), None); // Asterisk sends `unknown`
/// assert_eq!(env.args().collect::<Vec<_>>(), ["one", ""]);
/// ```
#[derive(Clone)]
pub struct AgiEnv {
    /// The lines as received, UTF-8 with LF endings: pushed only when a chunk is
    /// ASCII without CR, else cleaned first (`EnvBuilder::push_chunk`). Kept as
    /// bytes so that the usual, ASCII block is not validated whole: each value is, as it
    /// is read.
    text: Vec<u8>,
    entries: Vec<Entry>,
    /// Where the last line ends, after its LF (the derived path may follow).
    lines_end: u32,
    known: [u16; KNOWN_COUNT],
    /// `agi_arg_N` entries as (N, entry index), sorted by N.
    args: Vec<(u16, u16)>,
    path: (u32, u32),
    query: (u32, u32),
}

impl AgiEnv {
    /// Parses a whole block (lines up to and including the empty line), with default limits.
    ///
    /// Mostly for tests and tools; the server parses line by line as bytes arrive.
    pub fn parse(block: &str) -> Result<AgiEnv, EnvError> {
        parse_block(block.as_bytes(), EnvLimits::default())
    }

    /// The value of any variable by name (the first one if a peer repeated it).
    pub fn get(&self, name: &str) -> Option<&str> {
        match Known::from_name(name.as_bytes()) {
            Some(known) => self.known(known),
            // Names compared as bytes: only the value found is validated.
            None => (0..self.entries.len())
                .find(|&i| self.bytes(self.name_range(i)) == name.as_bytes())
                .map(|i| self.slice(self.value_range(i))),
        }
    }

    /// Every variable, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        (0..self.entries.len()).map(|i| (self.slice(self.name_range(i)), self.slice(self.value_range(i))))
    }

    /// The number of variables received.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the block was empty (only the terminating empty line).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn name_range(&self, index: usize) -> (u32, u32) {
        let entry = self.entries[index];
        (entry.start, entry.start + u32::from(entry.name_end))
    }

    fn value_range(&self, index: usize) -> (u32, u32) {
        let entry = self.entries[index];
        // The byte before the next line is the LF of this one.
        let end = self.entries.get(index + 1).map_or(self.lines_end, |next| next.start) - 1;
        (entry.start + u32::from(entry.value_start), end)
    }

    fn slice(&self, (start, end): (u32, u32)) -> &str {
        // Ranges start and end at ASCII bytes (line starts, `: `, LF, `?`) of UTF-8
        // text, so this never falls back; tests and fuzzing check it.
        let bytes = self.bytes((start, end));
        let text = std::str::from_utf8(bytes);
        debug_assert!(text.is_ok(), "an environment range is not UTF-8: {bytes:?}");
        text.unwrap_or_default()
    }

    /// The text between two offsets, as bytes.
    fn bytes(&self, (start, end): (u32, u32)) -> &[u8] {
        &self.text[start as usize..end as usize]
    }

    fn known(&self, known: Known) -> Option<&str> {
        match self.known[known as usize] {
            ABSENT => None,
            index => Some(self.slice(self.value_range(index as usize))),
        }
    }

    fn known_or_unknown(&self, known: Known) -> Option<&str> {
        self.known(known).filter(|v| *v != "unknown")
    }

    /// The request path: `agi_network_script` up to `?`, with a leading `/`.
    ///
    /// Asterisk sends the script without its leading `/`, and omits the variable when
    /// the URL has no script (`agi://host`); both give `/` here.
    pub fn path(&self) -> &str {
        self.slice(self.path)
    }

    /// The raw query: `agi_network_script` after the first `?`, still percent-encoded.
    pub fn query(&self) -> &str {
        self.slice(self.query)
    }

    /// The raw query as bytes, for a decoder that reads bytes: not validated again.
    pub(crate) fn query_bytes(&self) -> &[u8] {
        self.bytes(self.query)
    }

    /// `agi_arg_1` … `agi_arg_N`, in order, empty arguments included.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &str> {
        self.args.iter().map(|&(_, index)| self.slice(self.value_range(index as usize)))
    }

    /// `agi_arg_N` (1-based, as in the dialplan).
    pub fn arg(&self, n: usize) -> Option<&str> {
        let n = u16::try_from(n).ok()?;
        let position = self.args.binary_search_by_key(&n, |&(k, _)| k).ok()?;
        Some(self.slice(self.value_range(self.args[position].1 as usize)))
    }

    /// `agi_network`: `yes` for FastAGI.
    pub fn network(&self) -> Option<&str> {
        self.known(Known::Network)
    }
    /// `agi_network_script`: the URL part after `host[:port]/`, query included.
    pub fn network_script(&self) -> Option<&str> {
        self.known(Known::NetworkScript)
    }
    /// `agi_request`: the first `AGI()` argument as written in the dialplan.
    pub fn request(&self) -> Option<&str> {
        self.known(Known::Request)
    }
    /// `agi_channel`: the channel name, e.g. `PJSIP/alice-0000002a`.
    pub fn channel(&self) -> Option<&str> {
        self.known(Known::Channel)
    }
    /// `agi_language`: the channel language, e.g. `en`.
    pub fn language(&self) -> Option<&str> {
        self.known(Known::Language)
    }
    /// `agi_type`: the channel technology, e.g. `PJSIP`.
    pub fn channel_type(&self) -> Option<&str> {
        self.known(Known::Type)
    }
    /// `agi_uniqueid`: the channel's unique id.
    pub fn uniqueid(&self) -> Option<&str> {
        self.known(Known::Uniqueid)
    }
    /// `agi_version`: the Asterisk version string, e.g. `22.10.1`.
    pub fn version(&self) -> Option<&str> {
        self.known(Known::Version)
    }
    /// `agi_callerid`: the caller's number; `None` when Asterisk sends `unknown`.
    pub fn caller_id_num(&self) -> Option<&str> {
        self.known_or_unknown(Known::Callerid)
    }
    /// `agi_calleridname`: the caller's name; `None` when Asterisk sends `unknown`.
    pub fn caller_id_name(&self) -> Option<&str> {
        self.known_or_unknown(Known::Calleridname)
    }
    /// `agi_callingpres`: the numeric caller id presentation (`67` = number unavailable).
    pub fn calling_pres(&self) -> Option<u8> {
        self.known(Known::Callingpres)?.parse().ok()
    }
    /// `agi_callingani2`: the ANI2 digits.
    pub fn calling_ani2(&self) -> Option<u32> {
        self.known(Known::Callingani2)?.parse().ok()
    }
    /// `agi_callington`: the type of number.
    pub fn calling_ton(&self) -> Option<u8> {
        self.known(Known::Callington)?.parse().ok()
    }
    /// `agi_callingtns`: the transit network select.
    pub fn calling_tns(&self) -> Option<u32> {
        self.known(Known::Callingtns)?.parse().ok()
    }
    /// `agi_dnid`: the dialed number; `None` when Asterisk sends `unknown`.
    pub fn dnid(&self) -> Option<&str> {
        self.known_or_unknown(Known::Dnid)
    }
    /// `agi_rdnis`: the redirecting number; `None` when Asterisk sends `unknown`.
    pub fn rdnis(&self) -> Option<&str> {
        self.known_or_unknown(Known::Rdnis)
    }
    /// `agi_context`: the dialplan context that ran `AGI()`.
    pub fn context(&self) -> Option<&str> {
        self.known(Known::Context)
    }
    /// `agi_extension`: the extension that ran `AGI()` (`h` in the hangup handler).
    pub fn extension(&self) -> Option<&str> {
        self.known(Known::Extension)
    }
    /// `agi_priority`: the priority that ran `AGI()`.
    pub fn priority(&self) -> Option<&str> {
        self.known(Known::Priority)
    }
    /// `agi_enhanced`: `1.0` for EAGI, `0.0` otherwise (always `0.0` over FastAGI).
    pub fn enhanced(&self) -> Option<&str> {
        self.known(Known::Enhanced)
    }
    /// `agi_accountcode`: the account code, often empty.
    pub fn account_code(&self) -> Option<&str> {
        self.known(Known::Accountcode)
    }
    /// `agi_threadid`: the id of the Asterisk thread running the session.
    pub fn thread_id(&self) -> Option<&str> {
        self.known(Known::Threadid)
    }
}

thread_local! {
    /// Indexes of dropped environments, for the next call's (see `crate::buffers`).
    static INDEXES: VecPool<Entry> = const { VecPool::new(2 * INDEX_ROOM) };
}

/// The room an environment's index starts with: an Asterisk block has about 25 lines.
const INDEX_ROOM: usize = 32;

impl Drop for AgiEnv {
    fn drop(&mut self) {
        // Its buffers serve the next call's environment (see `crate::buffers`); during
        // the thread's exit the pool may be gone, and they are just freed.
        crate::buffers::give(std::mem::take(&mut self.text));
        let entries = std::mem::take(&mut self.entries);
        let _ = INDEXES.try_with(|pool| pool.give(entries));
    }
}

impl fmt::Debug for AgiEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for AgiEnv {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

/// Builds an [`AgiEnv`] from the lines of the block, as they arrive.
///
/// Lines are parsed where they lie in the read buffer; each chunk of lines handed at
/// once (usually the whole block) is then copied into the environment's text in one
/// piece, once checked to be ASCII without CR (as Asterisk sends it). Any other chunk
/// is parsed again from a cleaned copy (invalid UTF-8 replaced by U+FFFD, the CR before
/// each LF dropped, valid UTF-8 kept as it is), so that the text always holds UTF-8
/// `name: value` lines each ending with one LF.
#[derive(Debug)]
pub(crate) struct EnvBuilder<'e> {
    /// Filled where it will stay (in the call), so that it is not moved once built.
    env: &'e mut AgiEnv,
    /// The known variable expected next: Asterisk sends them in a fixed order, so one
    /// comparison usually names the line.
    next_known: usize,
    /// The limits, capped where the index's integer widths need it.
    max_lines: usize,
    max_bytes: usize,
    lines: usize,
    /// The state before the chunk being handed, to parse it again if it needs cleaning.
    mark: Mark,
    /// The empty line that ends the block was handed.
    ended: bool,
}

/// What [`EnvBuilder`] had before a chunk.
#[derive(Debug, Clone, Copy)]
struct Mark {
    entries: usize,
    args: usize,
    lines: usize,
    next_known: usize,
}

impl AgiEnv {
    /// An environment with no variables, to be filled by an [`EnvBuilder`].
    pub(crate) fn empty() -> AgiEnv {
        AgiEnv {
            text: Vec::new(),
            entries: Vec::new(),
            lines_end: 0,
            known: [ABSENT; KNOWN_COUNT],
            args: Vec::new(),
            path: (0, 0),
            query: (0, 0),
        }
    }
}

impl<'e> EnvBuilder<'e> {
    /// A builder filling `env`, which it empties first.
    pub(crate) fn new(env: &'e mut AgiEnv, limits: EnvLimits) -> EnvBuilder<'e> {
        *env = AgiEnv::empty();
        env.entries = INDEXES.try_with(|pool| pool.take(INDEX_ROOM)).unwrap_or_else(|_| Vec::with_capacity(INDEX_ROOM));
        EnvBuilder {
            env,
            next_known: 0,
            max_lines: limits.max_lines.min(MAX_LINES),
            // Offsets into the text are `u32`: never let it near 4 GiB, whatever the limits.
            max_bytes: limits.max_bytes.min(u32::MAX as usize / 2),
            lines: 0,
            mark: Mark { entries: 0, args: 0, lines: 0, next_known: 0 },
            ended: false,
        }
    }

    /// Lines received so far (for error reports).
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }

    /// Adds one line (without its terminator) that starts `offset` bytes into the
    /// chunk being handed; `Ok(true)` at the empty line that ends the block.
    // Inlined into the loop over a read's lines: a call per line cost a fifth of its work.
    #[inline(always)]
    fn push_line(&mut self, line: &[u8], offset: usize) -> Result<bool, EnvError> {
        if line.is_empty() {
            self.ended = true;
            return Ok(true);
        }
        self.lines += 1;
        let start = self.env.text.len() + offset;
        if self.lines > self.max_lines || start + line.len() > self.max_bytes {
            return Err(self.over_limit());
        }
        // Asterisk sends its variables in a fixed order: the line usually starts with the
        // name expected next and ": ", which names it without searching the line (a known
        // name has no ':' and no blank, so the general split would give the same).
        let (name_end, value_start, known) = match KNOWN.get(self.next_known) {
            Some(&(known, prefix)) if starts_with_known(line, prefix) => (prefix.len() - 2, prefix.len(), Some(known)),
            _ => self.split_line(line)?,
        };
        // Offsets within a line are `u16`, entry indexes too: the line count is capped
        // above at `MAX_LINES`, and the line length here.
        if line.len() > MAX_LINE {
            return Err(EnvError::LineTooLong { max: MAX_LINE });
        }
        let env = &mut self.env;
        let index = env.entries.len() as u16;
        env.entries.push(Entry { start: start as u32, name_end: name_end as u16, value_start: value_start as u16 });
        if let Some(known) = known {
            self.next_known = known as usize + 1;
            // A repeated variable keeps its first value, as `get` documents.
            if env.known[known as usize] == ABSENT {
                env.known[known as usize] = index;
            }
        } else if let Some(n) = line[..name_end].strip_prefix(b"agi_arg_").and_then(parse_u16)
            && n > 0
            && !env.args.iter().any(|&(k, _)| k == n)
        {
            env.args.push((n, index));
        }
        Ok(false)
    }

    /// Which limit the line just counted is over.
    #[cold]
    fn over_limit(&self) -> EnvError {
        if self.lines > self.max_lines {
            EnvError::TooManyLines { max: self.max_lines }
        } else {
            EnvError::TooLarge { max: self.max_bytes }
        }
    }

    /// Splits a line that does not start with the known name expected next: its name's
    /// end, its value's start, and the known variable it names, if any.
    #[inline(never)]
    fn split_line(&self, line: &[u8]) -> Result<(usize, usize, Option<Known>), EnvError> {
        // What Asterisk writes, a name then ": ", is split at the first ':'; anything
        // else takes the general split.
        let Some((name_end, value_start)) = (match memchr::memchr(b':', line) {
            Some(i) if line.get(i + 1) == Some(&b' ') => Some((i, i + 2)),
            _ => split_name_value(line),
        }) else {
            return Err(self.malformed(line));
        };
        // Blanks and control characters (ASCII whitespace is either) are refused in a
        // name; checked without an early exit, which compiles to a few wide comparisons.
        let name = &line[..name_end];
        if name.is_empty() || name.iter().fold(false, |unclean, &b| unclean | (b <= b' ') | (b == 0x7f)) {
            return Err(self.malformed(line));
        }
        Ok((name_end, value_start, Known::from_name(name)))
    }

    /// Takes the text of the lines just parsed: as it is when it is ASCII with LF
    /// endings (as Asterisk sends it), else cleaned and parsed again.
    fn push_chunk(&mut self, chunk: &[u8]) -> Result<(), EnvError> {
        let mark = self.mark;
        // The empty line that ends the block stays out of the text.
        let lines = if self.ended { &chunk[..chunk.len() - 1] } else { chunk };
        if is_ascii_without_cr(lines) {
            let room = self.path_room(self.env.text.len() + lines.len());
            self.reserve_text(lines.len() + room);
            self.env.text.extend_from_slice(lines);
        } else {
            self.push_cleaned(mark, chunk)?;
        }
        let env = &self.env;
        self.mark =
            Mark { entries: env.entries.len(), args: env.args.len(), lines: self.lines, next_known: self.next_known };
        Ok(())
    }

    /// Takes the read buffer itself as the text, when it holds the whole block, read at
    /// once and ASCII without CR (as Asterisk sends it): the lines were parsed where
    /// they lie, and the offsets stay right. Any other block is copied (`push_chunk`).
    fn take_block(&mut self, buffer: &mut Vec<u8>) -> bool {
        // The empty line that ends the block stays out of the text.
        let lines = buffer.len() - 1;
        if !self.ended || self.env.text.capacity() != 0 || !is_ascii_without_cr(&buffer[..lines]) {
            return false;
        }
        let room = self.path_room(lines);
        buffer.truncate(lines);
        // Usually there already: the buffer was sized for a whole block and a read.
        buffer.reserve_exact(room);
        self.env.text = std::mem::take(buffer);
        true
    }

    /// Parses a chunk again from a copy in which every line is UTF-8 (invalid sequences
    /// replaced) and ends with LF alone.
    fn push_cleaned(&mut self, mark: Mark, chunk: &[u8]) -> Result<(), EnvError> {
        // Forget what the first pass added.
        let env = &mut self.env;
        env.entries.truncate(mark.entries);
        env.args.truncate(mark.args);
        for index in &mut env.known {
            if *index != ABSENT && usize::from(*index) >= mark.entries {
                *index = ABSENT;
            }
        }
        self.lines = mark.lines;
        self.next_known = mark.next_known;
        self.ended = false;
        let mut cleaned = String::with_capacity(chunk.len());
        for raw in chunk.split_inclusive(|&b| b == b'\n') {
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = String::from_utf8_lossy(line);
            let offset = cleaned.len();
            if self.push_line(text.as_bytes(), offset)? {
                break;
            }
            cleaned.push_str(&text);
            cleaned.push('\n');
        }
        let room = self.path_room(self.env.text.len() + cleaned.len());
        self.reserve_text(cleaned.len() + room);
        self.env.text.extend_from_slice(cleaned.as_bytes());
        Ok(())
    }

    /// Room for `additional` more bytes of text: a recycled buffer for the first chunk
    /// (usually the whole block), the exact room after it.
    fn reserve_text(&mut self, additional: usize) {
        if self.env.text.capacity() == 0 {
            self.env.text = crate::buffers::take(additional);
        } else {
            self.env.text.reserve_exact(additional);
        }
    }

    /// Room for the path derived at the end (`/` and at most the whole script), reserved
    /// with the last chunk so that deriving it does not grow the text again; `lines_end`
    /// is where the text will end once the chunk is in.
    fn path_room(&self, lines_end: usize) -> usize {
        let index = self.env.known[Known::NetworkScript as usize];
        if !self.ended || index == ABSENT {
            return 0;
        }
        let index = usize::from(index);
        let start = self.env.entries[index].start as usize;
        let end = self.env.entries.get(index + 1).map_or(lines_end, |next| next.start as usize);
        1 + end - start
    }

    #[cold]
    fn malformed(&self, line: &[u8]) -> EnvError {
        EnvError::MalformedLine { number: self.lines, text: String::from_utf8_lossy(line).chars().take(80).collect() }
    }

    /// Completes the block: derives the path and query of `agi_network_script`.
    pub(crate) fn finish(&mut self) {
        let env = &mut *self.env;
        env.lines_end = env.text.len() as u32;
        env.args.sort_unstable_by_key(|&(n, _)| n);
        let script = match env.known[Known::NetworkScript as usize] {
            ABSENT => None,
            index => Some(env.value_range(index as usize)),
        };
        let (script_start, script_end) = script.unwrap_or((0, 0));
        let script_text = &env.text[script_start as usize..script_end as usize];
        let (path_len, query) = match memchr::memchr(b'?', script_text) {
            Some(q) => (q, (script_start + q as u32 + 1, script_end)),
            None => (script_text.len(), (script_end, script_end)),
        };
        env.query = query;
        if script_text.starts_with(b"/") {
            env.path = (script_start, script_start + path_len as u32);
        } else {
            // Asterisk strips the leading '/': store the normalised path once, after the rest.
            let start = env.text.len();
            env.text.push(b'/');
            env.text.extend_from_within(script_start as usize..script_start as usize + path_len);
            env.path = (start as u32, env.text.len() as u32);
        }
    }
}

/// Whether `bytes` are all ASCII and none is CR: text as the environment keeps it, with
/// no UTF-8 to validate. One pass with no early exit, which compiles to wide operations
/// (about 16 bytes an instruction), where validating UTF-8 takes about one instruction
/// for every 2 bytes.
fn is_ascii_without_cr(bytes: &[u8]) -> bool {
    let (high, cr) = bytes.iter().fold((0u8, false), |(high, cr), &b| (high | b, cr | (b == b'\r')));
    high < 0x80 && !cr
}

impl LineSink for EnvBuilder<'_> {
    type Error = EnvError;

    fn line(&mut self, line: &[u8], offset: usize) -> Result<bool, EnvError> {
        self.push_line(line, offset)
    }

    fn chunk(&mut self, chunk: &[u8]) -> Result<(), EnvError> {
        self.push_chunk(chunk)
    }

    fn take_all(&mut self, buffer: &mut Vec<u8>) -> Result<bool, EnvError> {
        Ok(self.take_block(buffer))
    }
}

/// Parses a block held whole in memory exactly as the server parses one read from a
/// connection.
pub(crate) fn parse_block(block: &[u8], limits: EnvLimits) -> Result<AgiEnv, EnvError> {
    let mut lines = LineBuffer::default();
    lines.read_target(block.len()).extend_from_slice(block);
    let mut env = AgiEnv::empty();
    let mut builder = EnvBuilder::new(&mut env, limits);
    match lines.drain_lines(limits.line_cap(), &mut builder)? {
        Drained::Done => {
            builder.finish();
            Ok(env)
        }
        Drained::More => Err(EnvError::Truncated { lines: builder.lines }),
        Drained::TooLong(too_long) => Err(EnvError::LineTooLong { max: too_long.max }),
    }
}

/// Where the name ends and the value starts: at the first ": " (what Asterisk writes),
/// else at the first ':'.
fn split_name_value(line: &[u8]) -> Option<(usize, usize)> {
    let mut first_colon = None;
    for i in memchr::memchr_iter(b':', line) {
        if line.get(i + 1) == Some(&b' ') {
            return Some((i, i + 2));
        }
        first_colon.get_or_insert(i);
    }
    first_colon.map(|i| (i, i + 1))
}

/// The number of an `agi_arg_N` name.
fn parse_u16(digits: &[u8]) -> Option<u16> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TV1: &str = "agi_network: yes\nagi_network_script: basic?from=dialplan\nagi_request: agi://127.0.0.1:4573/basic?from=dialplan\nagi_channel: Local/basic@agi-tests-00000002;2\nagi_language: en\nagi_type: Local\nagi_uniqueid: 1795871406.5\nagi_version: 22.10.1\nagi_callerid: unknown\nagi_calleridname: unknown\nagi_callingpres: 67\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\nagi_context: agi-tests\nagi_extension: basic\nagi_priority: 1\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140119749211840\n\n";

    #[test]
    fn parses_the_full_asterisk_22_block() {
        let env = AgiEnv::parse(TV1).unwrap();
        assert_eq!(env.len(), 22);
        assert_eq!(env.network(), Some("yes"));
        assert_eq!(env.path(), "/basic");
        assert_eq!(env.query(), "from=dialplan");
        assert_eq!(env.request(), Some("agi://127.0.0.1:4573/basic?from=dialplan"));
        assert_eq!(env.channel(), Some("Local/basic@agi-tests-00000002;2"));
        assert_eq!(env.language(), Some("en"));
        assert_eq!(env.channel_type(), Some("Local"));
        assert_eq!(env.uniqueid(), Some("1795871406.5"));
        assert_eq!(env.version(), Some("22.10.1"));
        assert_eq!(env.caller_id_num(), None);
        assert_eq!(env.get("agi_callerid"), Some("unknown"));
        assert_eq!(env.caller_id_name(), None);
        assert_eq!(env.calling_pres(), Some(67));
        assert_eq!(env.calling_ani2(), Some(0));
        assert_eq!(env.calling_ton(), Some(0));
        assert_eq!(env.calling_tns(), Some(0));
        assert_eq!(env.dnid(), None);
        assert_eq!(env.rdnis(), None);
        assert_eq!(env.context(), Some("agi-tests"));
        assert_eq!(env.extension(), Some("basic"));
        assert_eq!(env.priority(), Some("1"));
        assert_eq!(env.enhanced(), Some("0.0"));
        assert_eq!(env.account_code(), Some(""));
        assert_eq!(env.thread_id(), Some("140119749211840"));
        assert_eq!(env.args().len(), 0);
    }

    #[test]
    fn missing_script_gives_root_path_and_empty_query() {
        let env = AgiEnv::parse("agi_network: yes\nagi_request: agi://127.0.0.1:4573\n\n").unwrap();
        assert_eq!(env.path(), "/");
        assert_eq!(env.query(), "");
        assert_eq!(env.network_script(), None);
    }

    #[test]
    fn splits_script_on_first_question_mark_and_keeps_a_leading_slash() {
        let env = AgiEnv::parse("agi_network_script: a/b?x=1?y\n\n").unwrap();
        assert_eq!((env.path(), env.query()), ("/a/b", "x=1?y"));
        let env = AgiEnv::parse("agi_network_script: /already\n\n").unwrap();
        assert_eq!((env.path(), env.query()), ("/already", ""));
        let env = AgiEnv::parse("agi_network_script: ?only=query\n\n").unwrap();
        assert_eq!((env.path(), env.query()), ("/", "only=query"));
    }

    #[test]
    fn keeps_unknown_names_values_with_colons_and_ordered_args() {
        let env =
            AgiEnv::parse("agi_future: a: b\nagi_arg_2: two words\nagi_arg_1: one\nagi_arg_3: \nx_odd:no space\n\n")
                .unwrap();
        assert_eq!(env.get("agi_future"), Some("a: b"));
        assert_eq!(env.get("x_odd"), Some("no space"));
        assert_eq!(env.args().collect::<Vec<_>>(), ["one", "two words", ""]);
        assert_eq!(env.arg(2), Some("two words"));
        assert_eq!(env.arg(4), None);
        assert_eq!(env.arg(0), None);
    }

    #[test]
    fn first_of_duplicate_names_wins() {
        let env = AgiEnv::parse("agi_channel: first\nagi_channel: second\nagi_arg_1: a\nagi_arg_1: b\n\n").unwrap();
        assert_eq!(env.channel(), Some("first"));
        assert_eq!(env.args().collect::<Vec<_>>(), ["a"]);
        assert_eq!(env.len(), 4);
    }

    #[test]
    fn rejects_lines_without_a_name() {
        let err = AgiEnv::parse("agi_network: yes\nGET / HTTP/1.1\n\n").unwrap_err();
        assert!(matches!(err, EnvError::MalformedLine { number: 2, .. }), "{err}");
        assert!(matches!(AgiEnv::parse(": x\n\n"), Err(EnvError::MalformedLine { .. })));
    }

    fn block(lines: &[&[u8]]) -> Vec<u8> {
        let mut block: Vec<u8> = lines.iter().flat_map(|line| [*line, b"\n"].concat()).collect();
        block.push(b'\n');
        block
    }

    #[test]
    fn caps_the_number_of_lines() {
        let limits = EnvLimits { max_line: 100, max_lines: 3, max_bytes: 1000 };
        assert_eq!(parse_block(&block(&[&b"a: b"[..]; 3]), limits).unwrap().len(), 3);
        assert!(matches!(parse_block(&block(&[&b"a: b"[..]; 4]), limits), Err(EnvError::TooManyLines { max: 3 })));
    }

    #[test]
    fn caps_the_total_size_and_the_line_count_whatever_the_limits() {
        let limits = EnvLimits { max_line: 100, max_lines: 100, max_bytes: 10 };
        assert!(parse_block(&block(&[b"abc: defg"]), limits).is_ok());
        assert!(matches!(parse_block(&block(&[b"abc: defg", b"h: ij"]), limits), Err(EnvError::TooLarge { max: 10 })));
        let limits = EnvLimits { max_line: 100, max_lines: usize::MAX, max_bytes: usize::MAX };
        assert_eq!(parse_block(&block(&vec![&b"a: b"[..]; MAX_LINES]), limits).unwrap().len(), MAX_LINES);
        assert!(matches!(
            parse_block(&block(&vec![&b"a: b"[..]; MAX_LINES + 1]), limits),
            Err(EnvError::TooManyLines { max: MAX_LINES })
        ));
    }

    #[test]
    fn replaces_invalid_utf8_instead_of_failing() {
        let env = parse_block(b"agi_calleridname: Jos\xe9\n\n", EnvLimits::default()).unwrap();
        assert_eq!(env.caller_id_name(), Some("Jos\u{fffd}"));
    }

    #[test]
    fn keeps_valid_utf8_as_it_is() {
        let raw =
            "agi_network_script: caf\u{e9}?who=Zo\u{eb}\nagi_calleridname: Jos\u{e9} \u{2603}\nagi_arg_1: \u{fc}\n\n";
        let env = parse_block(raw.as_bytes(), EnvLimits::default()).unwrap();
        assert_eq!(env.caller_id_name(), Some("Jos\u{e9} \u{2603}"));
        assert_eq!((env.path(), env.query()), ("/caf\u{e9}", "who=Zo\u{eb}"));
        assert_eq!(env.args().collect::<Vec<_>>(), ["\u{fc}"]);
        assert_eq!(env.len(), 3);
    }

    #[test]
    fn cleans_a_chunk_with_crlf_or_invalid_utf8_and_keeps_every_value() {
        let raw = b"agi_network: yes\r\nagi_network_script: s?q=1\nagi_channel: caf\xc3\n\
                    agi_arg_1: one\r\r\nagi_arg_2: two\n\r\n";
        let env = parse_block(raw, EnvLimits::default()).unwrap();
        let got: Vec<(&str, &str)> = env.iter().collect();
        assert_eq!(
            got,
            [
                ("agi_network", "yes"),
                ("agi_network_script", "s?q=1"),
                ("agi_channel", "caf\u{fffd}"),
                ("agi_arg_1", "one\r"),
                ("agi_arg_2", "two"),
            ]
        );
        assert_eq!(
            (env.network(), env.channel(), env.path(), env.query()),
            (Some("yes"), Some("caf\u{fffd}"), "/s", "q=1")
        );
        assert_eq!(env.args().collect::<Vec<_>>(), ["one\r", "two"]);
    }

    #[test]
    fn the_known_names_are_recognised_exactly_as_by_starts_with() {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for &(_, prefix) in &KNOWN {
            assert!((8..=24).contains(&prefix.len()), "{prefix:?}");
            lines.push([prefix, b"value"].concat());
            lines.push(prefix.to_vec());
            lines.push(prefix[..prefix.len() - 1].to_vec());
            // Each byte changed in turn.
            for i in 0..prefix.len() {
                let mut changed = [prefix, b"x"].concat();
                changed[i] ^= 0x20;
                lines.push(changed);
            }
        }
        lines.extend([b"".to_vec(), b"agi_".to_vec(), b"agi_arg_1: x".to_vec()]);
        for &(_, prefix) in &KNOWN {
            for line in &lines {
                assert_eq!(starts_with_known(line, prefix), line.starts_with(prefix), "{line:?} {prefix:?}");
            }
        }
    }

    /// The environment of a block that arrives in `pieces`, one read each.
    fn read_in_pieces(pieces: &[&[u8]]) -> AgiEnv {
        let mut lines = LineBuffer::default();
        let mut env = AgiEnv::empty();
        let mut builder = EnvBuilder::new(&mut env, EnvLimits::default());
        let mut drained = Drained::More;
        for piece in pieces {
            lines.read_target(piece.len()).extend_from_slice(piece);
            drained = lines.drain_lines(100, &mut builder).unwrap();
        }
        assert_eq!(drained, Drained::Done);
        builder.finish();
        env
    }

    #[test]
    fn a_block_read_in_pieces_keeps_each_piece_in_place() {
        let env = read_in_pieces(&[
            b"agi_network: yes\nagi_network_scr",
            b"ipt: a/b?x=2\nagi_channel: X\xff\n",
            b"agi_arg_1: z\n",
            b"\n",
        ]);
        assert_eq!(env.iter().count(), 4);
        assert_eq!((env.network(), env.channel(), env.arg(1)), (Some("yes"), Some("X\u{fffd}"), Some("z")));
        assert_eq!((env.path(), env.query()), ("/a/b", "x=2"));
    }

    #[test]
    fn pieces_of_every_kind_each_keep_their_values() {
        // ASCII, then valid UTF-8 split across two reads, then CR LF endings and a lone
        // CR inside a value, then the end.
        let env = read_in_pieces(&[
            b"agi_network: yes\nagi_calleridname: Jos",
            "\u{e9} M\u{fc}ller\nagi_network_script: caf\u{e9}".as_bytes(),
            "?who=Zo\u{eb}\n".as_bytes(),
            b"agi_channel: a\rb\r\nagi_arg_1: one\r\n",
            b"\n",
        ]);
        assert_eq!(env.iter().count(), 5);
        assert_eq!(env.caller_id_name(), Some("Jos\u{e9} M\u{fc}ller"));
        assert_eq!((env.path(), env.query()), ("/caf\u{e9}", "who=Zo\u{eb}"));
        assert_eq!((env.channel(), env.arg(1)), (Some("a\rb"), Some("one")));
        assert_eq!(env.get("agi_network"), Some("yes"));
    }

    #[test]
    fn splits_on_the_first_colon_space_else_the_first_colon() {
        let split = |line: &'static str| split_name_value(line.as_bytes());
        assert_eq!(split("agi_accountcode: "), Some((15, 17)));
        assert_eq!(split("a:b: c"), Some((3, 5)));
        assert_eq!(split("a:b:c"), Some((1, 2)));
        assert_eq!(split("a: b: c"), Some((1, 3)));
        assert_eq!(split("no colon"), None);
        let env = AgiEnv::parse("a:b: c\nx:y\nagi_network_script: p?q: r\n\n").unwrap();
        assert_eq!(env.iter().collect::<Vec<_>>(), [("a:b", "c"), ("x", "y"), ("agi_network_script", "p?q: r")]);
        assert_eq!((env.path(), env.query()), ("/p", "q: r"));
        assert!(matches!(AgiEnv::parse("a b: c\n\n"), Err(EnvError::MalformedLine { .. })));
        assert!(matches!(AgiEnv::parse("a\tb:c\n\n"), Err(EnvError::MalformedLine { .. })));
    }

    #[test]
    fn truncated_block_is_an_error() {
        assert!(matches!(AgiEnv::parse("agi_network: yes\n"), Err(EnvError::Truncated { lines: 1 })));
    }

    /// Reads `input` at once into a line buffer and builds an environment from it: the
    /// environment, where its text was read into, and the bytes left in the buffer.
    fn read_at_once(input: &[u8]) -> (AgiEnv, *const u8, Vec<u8>) {
        let mut lines = LineBuffer::default();
        lines.read_target(1024).extend_from_slice(input);
        let read_into = lines.pending().as_ptr();
        let mut env = AgiEnv::empty();
        let mut builder = EnvBuilder::new(&mut env, EnvLimits::default());
        assert_eq!(lines.drain_lines(8192, &mut builder).unwrap(), Drained::Done);
        builder.finish();
        (env, read_into, lines.pending().to_vec())
    }

    #[test]
    fn a_block_read_whole_keeps_the_buffer_it_was_read_into() {
        let (env, read_into, left) = read_at_once(b"agi_network: yes\nagi_network_script: bench?extension=1\n\n");
        assert_eq!(env.text.as_ptr(), read_into, "the text is the read buffer, not a copy");
        assert!(left.is_empty());
        assert_eq!(env.network(), Some("yes"));
        assert_eq!(env.path(), "/bench");
        assert_eq!(env.query(), "extension=1");
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn a_block_followed_by_more_bytes_or_needing_cleaning_is_copied() {
        let (env, read_into, left) = read_at_once(b"agi_network: yes\nagi_arg_1: x\n\nHANGUP\n");
        assert_ne!(env.text.as_ptr(), read_into);
        assert_eq!(left, b"HANGUP\n", "what follows the block stays to be read");
        assert_eq!(env.arg(1), Some("x"));
        let (env, read_into, _) = read_at_once(b"agi_network: yes\r\nagi_channel: caf\xc3\xa9\r\n\r\n");
        assert_ne!(env.text.as_ptr(), read_into);
        assert_eq!(env.channel(), Some("caf\u{e9}"));
        assert_eq!(env.network(), Some("yes"));
    }
}
