//! Splitting an incoming byte stream into LF-terminated lines, with a length cap.

use std::borrow::Cow;
use std::num::NonZeroU8;

/// The text of a line: borrowed when it is valid UTF-8 (checked with the fast
/// validator), with each invalid sequence replaced by U+FFFD otherwise.
pub(crate) fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The offset of the first LF in `haystack`.
///
/// On x86-64 with AVX2, through a searcher built once: `memchr::memchr` chooses its
/// implementation and builds its vectors again at every call, which cost as much as
/// the search itself over the short lines of AGI (an environment block is about 23
/// searches in a row).
#[inline]
pub(crate) fn find_lf(haystack: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use memchr::arch::x86_64::avx2::memchr::One;
        static SEARCHER: std::sync::OnceLock<Option<One>> = std::sync::OnceLock::new();
        if let Some(searcher) = SEARCHER.get_or_init(|| One::new(b'\n')) {
            return searcher.find(haystack);
        }
    }
    memchr::memchr(b'\n', haystack)
}

/// A line longer than the configured cap: the peer is broken or hostile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineTooLong {
    pub(crate) max: usize,
}

/// Bytes read from the peer that have not been consumed as lines yet.
///
/// Lines are handed out as borrowed slices of the buffer (no copy); the caller
/// consumes a line once it is done with it. The buffer starts empty and grows only
/// to hold one line plus one read, so an idle call costs little memory.
///
/// A plain vector and the offset of its first unconsumed byte: consuming the last
/// line empties it in place, so the next read lands at its start without moving
/// anything (the usual case: one reply, read whole, then consumed).
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// Where the unconsumed bytes start.
    start: usize,
    /// Bytes after `start` already searched for an LF (so long lines are scanned once).
    scanned: usize,
}

/// What takes the lines [`LineBuffer::drain_lines`] hands out.
pub(crate) trait LineSink {
    type Error;

    /// A line, without its terminator, starting `offset` bytes into the chunk being
    /// handed; `Ok(true)` when no more lines are wanted.
    fn line(&mut self, line: &[u8], offset: usize) -> Result<bool, Self::Error>;

    /// The bytes of the lines just handed, terminators included, before they leave
    /// the buffer.
    fn chunk(&mut self, chunk: &[u8]) -> Result<(), Self::Error>;

    /// Offered instead of [`chunk`](Self::chunk) when the lines just handed, the last
    /// one ending the lines wanted, are the whole buffer: the sink may take the buffer
    /// itself (`Ok(true)`) rather than copy its bytes.
    fn take_all(&mut self, buffer: &mut Vec<u8>) -> Result<bool, Self::Error> {
        let _ = buffer;
        Ok(false)
    }
}

/// Where [`LineBuffer::drain_lines`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// `push` said the lines it wanted are all there.
    Done,
    /// Every complete line was handed; more must be read.
    More,
    /// A line is longer than the cap.
    TooLong(LineTooLong),
}

/// A complete line inside the buffer: `len` bytes of text, then `terminator` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineSpan {
    len: usize,
    /// 1 or 2 (LF, CR LF): never zero, so that `Option<LineSpan>` is no larger.
    terminator: NonZeroU8,
}

/// The length of each line ending.
const LF: NonZeroU8 = NonZeroU8::MIN;
const CR_LF: NonZeroU8 = NonZeroU8::MIN.saturating_add(1);

impl LineBuffer {
    /// Finds the first complete line, without its LF (and without one CR before it).
    #[inline]
    pub(crate) fn next_line(&mut self, max: usize) -> Result<Option<LineSpan>, LineTooLong> {
        if self.start == self.buf.len() {
            // The usual case before each command and each first read of a reply: checked
            // inline, without a call.
            return Ok(None);
        }
        self.find_line(max)
    }

    fn find_line(&mut self, max: usize) -> Result<Option<LineSpan>, LineTooLong> {
        let pending = &self.buf[self.start..];
        if let Some(offset) = find_lf(&pending[self.scanned..]) {
            let lf = self.scanned + offset;
            self.scanned = 0;
            if lf > max {
                return Err(LineTooLong { max });
            }
            let (len, terminator) = if lf > 0 && pending[lf - 1] == b'\r' { (lf - 1, CR_LF) } else { (lf, LF) };
            return Ok(Some(LineSpan { len, terminator }));
        }
        self.scanned = pending.len();
        if pending.len() > max {
            return Err(LineTooLong { max });
        }
        Ok(None)
    }

    /// Hands every complete line buffered (without its LF, and one CR before it) to
    /// `sink`, in one pass, until it wants no more; then the bytes of the lines handed,
    /// at once, before they are consumed.
    pub(crate) fn drain_lines<S: LineSink>(&mut self, max: usize, sink: &mut S) -> Result<Drained, S::Error> {
        let pending = &self.buf[self.start..];
        let mut start = 0;
        let mut from = self.scanned;
        let drained = loop {
            let Some(offset) = find_lf(&pending[from..]) else {
                let partial = pending.len() - start;
                break if partial > max { Drained::TooLong(LineTooLong { max }) } else { Drained::More };
            };
            let lf = from + offset;
            if lf - start > max {
                break Drained::TooLong(LineTooLong { max });
            }
            let end = if lf > start && pending[lf - 1] == b'\r' { lf - 1 } else { lf };
            let done = sink.line(&pending[start..end], start)?;
            start = lf + 1;
            from = start;
            if done {
                break Drained::Done;
            }
        };
        if drained == Drained::Done && self.start == 0 && start == self.buf.len() && sink.take_all(&mut self.buf)? {
            // The sink took the whole buffer, lines and allocation: nothing is left here.
            self.buf = Vec::new();
            self.start = 0;
            self.scanned = 0;
            return Ok(drained);
        }
        if start > 0 {
            sink.chunk(&self.buf[self.start..self.start + start])?;
        }
        self.advance(start);
        self.scanned = if drained == Drained::More { self.buf.len() - self.start } else { 0 };
        Ok(drained)
    }

    /// The text of a line found by [`next_line`](Self::next_line).
    pub(crate) fn line(&self, span: LineSpan) -> &[u8] {
        &self.buf[self.start..self.start + span.len]
    }

    /// Drops a line found by [`next_line`](Self::next_line) from the front.
    pub(crate) fn consume(&mut self, span: LineSpan) {
        self.advance(span.len + usize::from(span.terminator.get()));
        self.scanned = 0;
    }

    fn advance(&mut self, count: usize) {
        self.start += count;
        if self.start >= self.buf.len() {
            // Empty: the next read starts at the front again.
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Bytes received but not yet consumed.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops every byte received and not consumed.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
    }

    /// The buffer to read more bytes into (appending only), with room for at least
    /// `additional` more.
    pub(crate) fn read_target(&mut self, additional: usize) -> &mut Vec<u8> {
        if self.buf.is_empty() && self.buf.capacity() > 4 * additional {
            // A long line grew the buffer once; give the memory back while idle.
            self.buf = Vec::new();
        }
        if self.buf.capacity() - self.buf.len() < additional && self.start > 0 {
            // Room is short: move the unconsumed bytes to the front first.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(additional);
        &mut self.buf
    }

    /// Room allocated for bytes, used or not.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives the buffer an allocation to read into; it must hold no byte yet.
    pub(crate) fn provide(&mut self, storage: Vec<u8>) {
        debug_assert!(self.buf.is_empty() && storage.is_empty());
        self.buf = storage;
        self.start = 0;
        self.scanned = 0;
    }

    /// Takes the buffer's allocation when nothing is pending in it: the next read needs
    /// another one.
    pub(crate) fn take_if_empty(&mut self) -> Option<Vec<u8>> {
        self.buf.is_empty().then(|| std::mem::take(&mut self.buf))
    }

    /// Takes the buffer's allocation, dropping whatever is pending.
    pub(crate) fn take_storage(&mut self) -> Vec<u8> {
        self.clear();
        std::mem::take(&mut self.buf)
    }

    /// Adds bytes as if they had been read.
    #[cfg(test)]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, LineTooLong>> {
        let mut buffer = LineBuffer::default();
        buffer.extend(input);
        let mut out = Vec::new();
        loop {
            match buffer.next_line(max) {
                Ok(Some(span)) => {
                    out.push(Ok(buffer.line(span).to_vec()));
                    buffer.consume(span);
                }
                Ok(None) => return out,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }

    #[test]
    fn splits_on_lf_and_strips_one_cr() {
        let got = lines(b"a\nb\r\n\nc\r\r\nrest", 10);
        let want: Vec<Result<Vec<u8>, LineTooLong>> =
            vec![Ok(b"a".to_vec()), Ok(b"b".to_vec()), Ok(b"".to_vec()), Ok(b"c\r".to_vec())];
        assert_eq!(got, want);
    }

    #[test]
    fn caps_complete_and_partial_lines() {
        assert_eq!(lines(b"12345\n", 5), vec![Ok(b"12345".to_vec())]);
        assert_eq!(lines(b"123456\n", 5), vec![Err(LineTooLong { max: 5 })]);
        assert_eq!(lines(b"123456", 5), vec![Err(LineTooLong { max: 5 })]);
        assert_eq!(lines(b"12345", 5), vec![]);
    }

    /// Keeps what it is handed; stops at an empty line, or fails on `fail`.
    #[derive(Default)]
    struct Collect {
        lines: Vec<(Vec<u8>, usize)>,
        chunks: Vec<Vec<u8>>,
    }

    impl LineSink for Collect {
        type Error = &'static str;

        fn line(&mut self, line: &[u8], offset: usize) -> Result<bool, &'static str> {
            if line == b"fail" {
                return Err("failed");
            }
            self.lines.push((line.to_vec(), offset));
            Ok(line.is_empty())
        }

        fn chunk(&mut self, chunk: &[u8]) -> Result<(), &'static str> {
            self.chunks.push(chunk.to_vec());
            Ok(())
        }
    }

    #[test]
    fn drains_lines_in_one_pass_and_stops_where_asked() {
        let mut buffer = LineBuffer::default();
        buffer.extend(b"a: 1\r\nb: 2\n\nrest\nmore");
        let mut sink = Collect::default();
        assert_eq!(buffer.drain_lines(10, &mut sink), Ok(Drained::Done));
        assert_eq!(sink.lines, [(b"a: 1".to_vec(), 0), (b"b: 2".to_vec(), 6), (b"".to_vec(), 11)]);
        assert_eq!(sink.chunks, [b"a: 1\r\nb: 2\n\n".to_vec()]);
        assert_eq!(buffer.pending(), b"rest\nmore");
        let mut sink = Collect::default();
        assert_eq!(buffer.drain_lines(10, &mut sink), Ok(Drained::More));
        assert_eq!((sink.lines, sink.chunks), (vec![(b"rest".to_vec(), 0)], vec![b"rest\n".to_vec()]));
        assert_eq!(buffer.pending(), b"more");
        buffer.extend(b"_and_more");
        assert_eq!(buffer.drain_lines(10, &mut Collect::default()), Ok(Drained::TooLong(LineTooLong { max: 10 })));
        assert_eq!(buffer.drain_lines(4, &mut Collect::default()), Ok(Drained::TooLong(LineTooLong { max: 4 })));
        let mut buffer = LineBuffer::default();
        buffer.extend(b"ok\nfail\nnext\n");
        let mut sink = Collect::default();
        assert_eq!(buffer.drain_lines(10, &mut sink), Err("failed"));
        assert!(sink.chunks.is_empty(), "nothing is handed as a chunk after a failure");
    }

    #[test]
    fn resumes_scanning_after_partial_input() {
        let mut buffer = LineBuffer::default();
        buffer.extend(b"200 res");
        assert_eq!(buffer.next_line(100), Ok(None));
        buffer.extend(b"ult=0\nHANG");
        let span = buffer.next_line(100).unwrap().unwrap();
        assert_eq!(buffer.line(span), b"200 result=0");
        buffer.consume(span);
        assert_eq!(buffer.next_line(100), Ok(None));
        assert_eq!(buffer.pending(), b"HANG");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Read as the connection reads (chunks of at most 512 bytes, lines consumed as
        /// they complete), the buffer never holds more than one capped line and one read.
        #[test]
        fn memory_stays_within_one_line_and_one_read(
            chunks in proptest::collection::vec(proptest::collection::vec(0u8..=255, 1..512), 0..64),
            max in 1usize..2048,
        ) {
            let mut buffer = LineBuffer::default();
            'reading: for chunk in chunks {
                buffer.read_target(512).extend_from_slice(&chunk);
                proptest::prop_assert!(buffer.buf.capacity() <= 2 * (max + 2 * 512), "{} bytes", buffer.buf.capacity());
                loop {
                    match buffer.next_line(max) {
                        Ok(Some(span)) => {
                            proptest::prop_assert!(buffer.line(span).len() <= max);
                            buffer.consume(span);
                        }
                        Ok(None) => break,
                        Err(_) => break 'reading,
                    }
                }
            }
        }
    }
}
