//! The byte stream of one session: bounded line reads and whole-line writes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::buffers;
use crate::wire::lines::{Drained, LineBuffer, LineSink, LineSpan, LineTooLong};

/// What a session runs over: a TCP stream in production, an in-memory pipe in tests.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// The stream of a session: a TCP stream held as it is (no allocation, no dynamic
/// calls, and its readiness can be asked without reading), or any other transport.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Other(Box<dyn Transport>),
}

impl From<TcpStream> for Stream {
    fn from(stream: TcpStream) -> Self {
        Stream::Tcp(stream)
    }
}

impl From<Box<dyn Transport>> for Stream {
    fn from(stream: Box<dyn Transport>) -> Self {
        Stream::Other(stream)
    }
}

impl<T: Transport> From<Box<T>> for Stream {
    fn from(stream: Box<T>) -> Self {
        Stream::Other(stream)
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Other(stream) => Pin::new(&mut **stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Other(stream) => Pin::new(&mut **stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Other(stream) => Pin::new(&mut **stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Other(stream) => Pin::new(&mut **stream).poll_shutdown(cx),
        }
    }
}

/// How many bytes one read asks for once the call runs: replies are far shorter (a
/// longer one takes more reads), and a call waiting for a reply holds this much.
const READ_CHUNK: usize = 256;

/// How many bytes one read asks for while the environment block arrives: a whole
/// Asterisk block (about 700 bytes without arguments) fits, so it takes one read.
const ENV_CHUNK: usize = 1024;

/// How many bytes the look for lines sent between commands takes at a time, on the
/// stack: usually nothing is there (the buffer is zeroed for nothing), and what is
/// (a `HANGUP` line) is short; more is taken by further reads.
const PEEK_CHUNK: usize = 64;

/// The room reserved for encoded commands: most fit, so encoding takes one buffer (from
/// the thread's pool) a call.
const COMMAND_CAPACITY: usize = 64;

/// How [`Connection::poll_read_lines`] ended.
#[derive(Debug)]
pub(crate) enum ReadLines {
    /// The lines wanted have all been handed.
    Done,
    /// The peer closed the connection first.
    Eof,
    TooLong(LineTooLong),
}

/// What a read of one line produced.
#[derive(Debug)]
pub(crate) enum ReadLine {
    Line(LineSpan),
    /// The peer closed the connection (an unterminated line may be left unread).
    Eof,
    TooLong(LineTooLong),
}

pub(crate) struct Connection {
    stream: Stream,
    lines: LineBuffer,
    /// The encoded command being sent; reused so encoding allocates nothing per command.
    pub(crate) out: Vec<u8>,
    /// How many bytes the next read asks for.
    chunk: usize,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("pending", &self.lines.pending().len()).finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        buffers::give(self.lines.take_storage());
        buffers::give(std::mem::take(&mut self.out));
    }
}

impl Connection {
    pub(crate) fn new(stream: impl Into<Stream>) -> Connection {
        Connection {
            stream: stream.into(),
            lines: LineBuffer::default(),
            // Taken once the environment is read: on the thread that runs the call, whose
            // pool it goes back to (a connection is made on the accept loop's thread).
            out: Vec::new(),
            chunk: ENV_CHUNK,
        }
    }

    /// The environment block is read: later reads ask for less, and the buffer sized
    /// for the block, unless the environment kept it as its text (the usual case), goes
    /// back to the thread's pool, so a call waiting for a reply holds little memory; the
    /// command buffer is taken.
    pub(crate) fn environment_read(&mut self) {
        self.chunk = READ_CHUNK;
        if self.out.capacity() == 0 {
            self.out = buffers::take(COMMAND_CAPACITY);
        }
        if let Some(storage) = self.lines.take_if_empty().filter(|storage| storage.capacity() > 0) {
            buffers::give(storage);
        }
    }

    /// Reads until a whole line (at most `max` bytes) is buffered. Cancel-safe: bytes
    /// read before a cancellation stay in the buffer.
    pub(crate) async fn read_line(&mut self, max: usize) -> std::io::Result<ReadLine> {
        std::future::poll_fn(|cx| self.poll_read_line(cx, max)).await
    }

    /// [`read_line`](Self::read_line) as a poll, for the hand-written future of a
    /// command's exchange.
    pub(crate) fn poll_read_line(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<std::io::Result<ReadLine>> {
        loop {
            match self.lines.next_line(max) {
                Ok(Some(span)) => return Poll::Ready(Ok(ReadLine::Line(span))),
                Ok(None) => {}
                Err(too_long) => return Poll::Ready(Ok(ReadLine::TooLong(too_long))),
            }
            if ready!(self.poll_fill(cx))? == 0 {
                return Poll::Ready(Ok(ReadLine::Eof));
            }
        }
    }

    /// Reads more bytes into the line buffer; `Ok(0)` at end of stream.
    ///
    /// Through `poll_read`, which, after a short read, lets tokio forget the readiness
    /// without a failed `recv`: the check before the next command then costs no system
    /// call. (Waiting for readiness before reserving room would spare a waiting call its
    /// 256-byte buffer, at about 400 instructions per read: measured, not worth it.)
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        self.ensure_storage();
        // The read future keeps nothing between polls: made again at each one.
        std::pin::pin!(self.stream.read_buf(self.lines.read_target(self.chunk))).poll(cx)
    }

    /// Gives the line buffer a recycled allocation of the size reads ask for, if it has
    /// none (a waiting call holds no read buffer until bytes arrive).
    fn ensure_storage(&mut self) {
        if self.lines.capacity() == 0 {
            self.lines.provide(buffers::take(self.chunk));
        }
    }

    /// Hands each line to `sink` as it arrives, reading as needed, until it wants no
    /// more. Lines already buffered are handed in one pass, without a read or a wait
    /// between them (a whole environment block usually comes in one read).
    pub(crate) fn poll_read_lines<S>(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
        sink: &mut S,
    ) -> Poll<Result<ReadLines, S::Error>>
    where
        S: LineSink,
        S::Error: From<std::io::Error>,
    {
        loop {
            match self.lines.drain_lines(max, sink)? {
                Drained::Done => return Poll::Ready(Ok(ReadLines::Done)),
                Drained::TooLong(too_long) => return Poll::Ready(Ok(ReadLines::TooLong(too_long))),
                Drained::More => {}
            }
            if ready!(self.poll_fill(cx))? == 0 {
                return Poll::Ready(Ok(ReadLines::Eof));
            }
        }
    }

    /// A complete line already buffered, without reading.
    pub(crate) fn buffered_line(&mut self, max: usize) -> Result<Option<LineSpan>, LineTooLong> {
        self.lines.next_line(max)
    }

    /// Reads whatever the peer has already sent, without waiting: `Ok(None)` if nothing
    /// is there, `Ok(Some(0))` at end of stream.
    pub(crate) fn read_now(&mut self) -> std::io::Result<Option<usize>> {
        if let Stream::Tcp(tcp) = &mut self.stream {
            // Tokio knows whether the socket may be readable: when it is not, this makes
            // no system call and stores no waker. The bytes land on the stack first, so
            // that a call with nothing pending keeps no read buffer.
            let mut chunk = [0u8; PEEK_CHUNK];
            return match tcp.try_read(&mut chunk) {
                Ok(n) => {
                    self.ensure_storage();
                    self.lines.read_target(n).extend_from_slice(&chunk[..n]);
                    Ok(Some(n))
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
                Err(e) => Err(e),
            };
        }
        // Uninitialised: most of the time nothing is there, so nothing is written.
        let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); PEEK_CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut self.stream).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                self.ensure_storage();
                self.lines.read_target(filled.len()).extend_from_slice(filled);
                Ok(Some(filled.len()))
            }
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Ok(None),
        }
    }

    pub(crate) fn line(&self, span: LineSpan) -> &[u8] {
        self.lines.line(span)
    }

    pub(crate) fn consume(&mut self, span: LineSpan) {
        self.lines.consume(span);
    }

    /// Sends the encoded command in `out`.
    pub(crate) async fn send_out(&mut self) -> std::io::Result<()> {
        let mut written = 0;
        std::future::poll_fn(|cx| self.poll_send_out(cx, &mut written)).await
    }

    /// Writes the encoded command in `out` from byte `*written` on, counting the bytes
    /// written: the poll form of [`send_out`](Self::send_out).
    pub(crate) fn poll_send_out(&mut self, cx: &mut Context<'_>, written: &mut usize) -> Poll<std::io::Result<()>> {
        while let Some(rest) = self.out.get(*written..).filter(|rest| !rest.is_empty()) {
            match ready!(Pin::new(&mut self.stream).poll_write(cx, rest))? {
                0 => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                n => *written += n,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Sends bytes that are not an encoded command (the end-of-session marker, data lines).
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Half-closes: Asterisk then sends its final `HANGUP` and closes.
    pub(crate) async fn shutdown(&mut self) -> std::io::Result<()> {
        self.stream.shutdown().await
    }

    /// Reads and discards until end of stream (the trailing `HANGUP` after we close).
    pub(crate) async fn drain_to_eof(&mut self) -> std::io::Result<()> {
        loop {
            self.lines.clear();
            if self.stream.read_buf(self.lines.read_target(READ_CHUNK)).await? == 0 {
                return Ok(());
            }
        }
    }
}
