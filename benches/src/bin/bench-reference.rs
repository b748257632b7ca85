//! The benchmark call served by hand with tokio alone: the yardstick of the framework.
//!
//! ```text
//! bench-reference [--listen 127.0.0.1:4573] [--alloc-stats FILE] [--hand-query]
//! ```
//!
//! It does the work the framework does for this call, written the way a careful
//! programmer would write one FastAGI script without a framework: it reads and parses
//! the whole environment block (every line split into name and value, with the same
//! caps), finds the script and checks its path, decodes `extension` and `lang` from the
//! form-encoded query, sends the five commands, checks each reply (skipping the
//! asynchronous `HANGUP` line wherever it comes), and closes. It allocates once per
//! connection for its buffer, and once for `lang` and the caller number, the owned values
//! a handler keeps.
//!
//! The query is decoded as the framework's generated code decodes it, by
//! `serde_urlencoded` into a struct deriving `Deserialize`: the same parsing, so that
//! the comparison measures the framework and not the decoder its DSL specifies.
//! `--hand-query` decodes the two keys by hand instead, a yardstick that also counts
//! `serde_urlencoded`'s cost against the framework (BENCHMARKS.md reports both).

use std::io;

use agi_bench::serve::{self, ServerArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static ALLOCATOR: agi_bench::alloc::Counting = agi_bench::alloc::Counting;

/// The framework's defaults: 8 KiB per environment line, 256 lines, 64 KiB per reply.
const MAX_ENV_LINE: usize = 8 * 1024;
const MAX_ENV_LINES: usize = 256;
const MAX_REPLY_LINE: usize = 64 * 1024;
/// Room for a whole Asterisk 22 environment block in one read.
const BUFFER: usize = 1024;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Bytes read from Asterisk, handed out as lines.
struct Lines {
    buf: Vec<u8>,
    /// Start of the first line not handed out yet.
    start: usize,
}

impl Lines {
    /// The next line as a range of `buf` (without its LF), reading as needed.
    ///
    /// Lines handed out stay valid until [`reset`](Lines::reset).
    async fn next(&mut self, stream: &mut TcpStream, max: usize) -> io::Result<(usize, usize)> {
        let mut scanned = self.start;
        loop {
            if let Some(offset) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let (start, end) = (self.start, scanned + offset);
                if end - start > max {
                    return Err(invalid("line too long"));
                }
                self.start = end + 1;
                return Ok((start, end));
            }
            scanned = self.buf.len();
            if scanned - self.start > max {
                return Err(invalid("line too long"));
            }
            if self.buf.capacity() - self.buf.len() < BUFFER / 2 {
                self.buf.reserve(BUFFER);
            }
            if stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Forgets the lines handed out, keeping what follows them.
    fn reset(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
    }

    fn text(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.buf[start..end]
    }
}

/// The query of the benchmark route.
#[derive(serde::Deserialize)]
struct Query {
    extension: u32,
    lang: Option<String>,
}

/// How the query is decoded (see the module's documentation).
#[derive(Debug, Clone, Copy)]
enum QueryDecoder {
    SerdeUrlencoded,
    ByHand,
}

fn decode_query(query: &[u8], decoder: QueryDecoder) -> io::Result<Query> {
    match decoder {
        QueryDecoder::SerdeUrlencoded => serde_urlencoded::from_bytes(query).map_err(|_| invalid("bad query")),
        QueryDecoder::ByHand => parse_query(query),
    }
}

/// Decodes `application/x-www-form-urlencoded` text by hand: `+` is a space, `%XX` a byte.
fn form_decode(raw: &[u8]) -> io::Result<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(raw[i + 1]), hex(raw[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| invalid("query value is not UTF-8"))
}

fn parse_query(query: &[u8]) -> io::Result<Query> {
    let mut extension = None;
    let mut lang = None;
    for pair in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        match key {
            b"extension" if extension.is_none() => {
                let digits = form_decode(value)?;
                extension = Some(digits.parse::<u32>().map_err(|_| invalid("bad extension"))?);
            }
            b"lang" if lang.is_none() => lang = Some(form_decode(value)?),
            b"extension" | b"lang" => return Err(invalid("repeated query key")),
            _ => {}
        }
    }
    Ok(Query { extension: extension.ok_or_else(|| invalid("no extension"))?, lang })
}

/// Reads and parses the environment block; returns the query of the `/bench` script.
async fn read_env(stream: &mut TcpStream, lines: &mut Lines, decoder: QueryDecoder) -> io::Result<Query> {
    let mut script = None;
    let mut count = 0;
    loop {
        let line = lines.next(stream, MAX_ENV_LINE).await?;
        let text = lines.text(line);
        if text.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_ENV_LINES {
            return Err(invalid("too many environment lines"));
        }
        let colon = text.iter().position(|&b| b == b':').ok_or_else(|| invalid("environment line without `:`"))?;
        let name = &text[..colon];
        let value_start = if text.get(colon + 1) == Some(&b' ') { colon + 2 } else { colon + 1 };
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(invalid("bad environment variable name"));
        }
        if name == b"agi_network_script" && script.is_none() {
            script = Some((line.0 + value_start, line.1));
        }
    }
    let script = lines.text(script.unwrap_or((0, 0)));
    let (path, query) = match script.iter().position(|&b| b == b'?') {
        Some(q) => (&script[..q], &script[q + 1..]),
        None => (script, &b""[..]),
    };
    if path.strip_prefix(b"/").unwrap_or(path) != b"bench" {
        return Err(invalid("no such script"));
    }
    let query = decode_query(query, decoder)?;
    lines.reset();
    Ok(query)
}

/// Sends one command and returns the text after `200 result=` of its reply, skipping
/// `HANGUP` lines. The text stays valid until the next command.
async fn command<'a>(stream: &mut TcpStream, lines: &'a mut Lines, line: &[u8]) -> io::Result<&'a [u8]> {
    lines.reset();
    stream.write_all(line).await?;
    loop {
        let reply = lines.next(stream, MAX_REPLY_LINE).await?;
        let text = lines.text(reply);
        if text == b"HANGUP" {
            continue;
        }
        return match text.strip_prefix(b"200 result=") {
            Some(_) => Ok(&lines.buf[reply.0 + 11..reply.1]),
            None => Err(invalid("command failed")),
        };
    }
}

/// The result code of a reply: the digits (and sign) after `result=`.
fn code(result: &[u8]) -> Option<i64> {
    let end = result.iter().position(|&b| b == b' ').unwrap_or(result.len());
    std::str::from_utf8(&result[..end]).ok()?.parse().ok()
}

/// The payload in parentheses, up to the last `)`.
fn payload(result: &[u8]) -> Option<&[u8]> {
    let open = result.iter().position(|&b| b == b'(')?;
    let close = result.iter().rposition(|&b| b == b')')?;
    result.get(open + 1..close)
}

async fn session(mut stream: TcpStream, decoder: QueryDecoder) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut lines = Lines { buf: Vec::with_capacity(BUFFER), start: 0 };
    let query = read_env(&mut stream, &mut lines, decoder).await?;

    let reply = command(&mut stream, &mut lines, b"ANSWER\n").await?;
    if code(reply) != Some(0) {
        return Err(invalid("ANSWER failed"));
    }
    let reply = command(&mut stream, &mut lines, b"GET VARIABLE CALLERID(num)\n").await?;
    let caller = match (code(reply), payload(reply)) {
        (Some(1), Some(value)) => String::from_utf8_lossy(value).into_owned(),
        _ => return Err(invalid("no caller number")),
    };
    let reply = command(&mut stream, &mut lines, b"STREAM FILE welcome \"\"\n").await?;
    if code(reply) != Some(0) {
        return Err(invalid("playback failed"));
    }
    let reply = command(&mut stream, &mut lines, b"SET VARIABLE RESULT ok\n").await?;
    if code(reply) != Some(1) {
        return Err(invalid("SET VARIABLE failed"));
    }
    let reply = command(&mut stream, &mut lines, b"HANGUP\n").await?;
    if code(reply) != Some(1) {
        return Err(invalid("HANGUP failed"));
    }
    std::hint::black_box((query.extension, query.lang, caller));
    // Every command has its reply: nothing can be lost by closing now.
    Ok(())
}

async fn serve(listener: TcpListener, decoder: QueryDecoder) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    let _ = session(stream, decoder).await;
                });
            }
            Err(error) => {
                eprintln!("bench-reference: accept: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

fn main() {
    let usage = "bench-reference [--listen ADDR] [--alloc-stats FILE] [--hand-query]";
    let args = ServerArgs::parse(&["--hand-query"]).unwrap_or_else(|e| serve::usage(&e, usage));
    let decoder = if args.has("--hand-query") { QueryDecoder::ByHand } else { QueryDecoder::SerdeUrlencoded };
    let result = serve::run(&args, async {
        let listener = TcpListener::bind(args.listen).await?;
        serve::announce(listener.local_addr()?);
        serve(listener, decoder).await
    });
    if let Err(error) = result {
        eprintln!("bench-reference: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both decoders give the same values, and refuse the same queries.
    #[test]
    fn the_two_query_decoders_agree() {
        let decode = |query: &str| {
            [QueryDecoder::SerdeUrlencoded, QueryDecoder::ByHand]
                .map(|decoder| decode_query(query.as_bytes(), decoder).ok().map(|q| (q.extension, q.lang)))
        };
        for (query, expected) in [
            ("extension=5551212&lang=en", Some((5551212, Some("en".to_owned())))),
            ("lang=es+MX&extension=7", Some((7, Some("es MX".to_owned())))),
            ("lang=fr%2DCA&extension=7&other=1", Some((7, Some("fr-CA".to_owned())))),
            ("extension=12", Some((12, None))),
            ("&extension=12&", Some((12, None))),
            ("extension=12a", None),
            ("lang=en", None),
            ("extension=1&extension=2", None),
        ] {
            assert_eq!(decode(query), [expected.clone(), expected], "{query}");
        }
    }
}
