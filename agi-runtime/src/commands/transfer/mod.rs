//! Sound-file transfer: `PUT SOUNDFILE`, `GET SOUNDFILE` and `ISEXISTING SOUNDFILE`,
//! the commands of the third-party "AGI Audio File Transfer Addons" module
//! (`res_agi-audiotx`, AGI-PROTOCOL.md §6).
//!
//! The module is not part of Asterisk and its server side was never published; the
//! framing here is the one its only known client uses (§6.2), with the safety rules of
//! §6.3: strict stop-and-wait (no data before the go-ahead), 57-byte chunks as base64
//! lines, exact size accounting, a per-line timeout, and a resynchronisation after each
//! download because nobody knows whether the module sends a status line after the data.

mod base64;

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::call::Call;
use crate::commands::parse;
use crate::commands::types::{IntoRemoteFile, InvalidArgument};
use crate::error::{AgiError, AgiResult};
use crate::wire::{Arg, Response};

/// Why a sound-file transfer did not complete.
///
/// Unless noted, the call stays usable: the stream is back in step after the error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// `510`: Asterisk does not know the command, so the transfer module
    /// (`res_agi-audiotx`) is not loaded there.
    #[error("the sound-file transfer module is not loaded in Asterisk (510)")]
    ModuleNotLoaded,
    /// `PUT SOUNDFILE` answered `-10`: the file could not be created.
    #[error("Asterisk could not create the file (-10)")]
    CannotCreateFile,
    /// `PUT SOUNDFILE` answered `-11`: the directory could not be created.
    #[error("Asterisk could not create the directory of the file (-11)")]
    CannotCreateDirectory,
    /// Another non-zero result before any data (for `GET SOUNDFILE`, typically: no such
    /// file).
    #[error("Asterisk refused the transfer (result={result})")]
    Refused {
        /// The result value.
        result: i64,
    },
    /// `PUT SOUNDFILE`: a non-zero result after all the data was sent. If the module
    /// stopped reading early, the lines Asterisk then took for commands are dropped, so
    /// the call stays usable.
    #[error("Asterisk reported a failure after receiving the file (result={result})")]
    Failed {
        /// The result value.
        result: i64,
    },
    /// `GET SOUNDFILE`: a status line arrived before the announced size was reached.
    #[error("the download stopped after {received} of {expected} bytes: `{status}`")]
    Aborted {
        /// The announced size.
        expected: u64,
        /// Bytes received before the status line.
        received: u64,
        /// The status line.
        status: String,
    },
    /// `GET SOUNDFILE`: more data than the announced size.
    #[error("Asterisk sent more than the {expected} bytes it announced")]
    TooMuchData {
        /// The announced size.
        expected: u64,
    },
    /// `GET SOUNDFILE`: a data line that is not base64.
    #[error("data line {line} of the download is not base64")]
    BadData {
        /// 1-based number of the line.
        line: u64,
    },
    /// `PUT SOUNDFILE`: the source ended before `expected` bytes. If that happened
    /// before anything was sent, the call is still usable; otherwise Asterisk waits for
    /// data that will never come and the call is broken.
    #[error("the source ended after {read} of the {expected} bytes announced")]
    SourceTooShort {
        /// The announced length.
        expected: u64,
        /// Bytes read before the end.
        read: u64,
    },
    /// `PUT SOUNDFILE`: reading the source failed. As for
    /// [`SourceTooShort`](TransferError::SourceTooShort), the call is broken if data was
    /// already sent.
    #[error("reading the file to upload failed: {0}")]
    Source(#[source] io::Error),
    /// `GET SOUNDFILE`: writing the downloaded data failed. The download itself was read
    /// to its end, so the call is still usable; the destination holds part of the file.
    #[error("writing the downloaded file failed: {0}")]
    Destination(#[source] io::Error),
}

/// Raw bytes per data line: 57 bytes are 76 base64 characters.
const LINE_BYTES: usize = 57;
/// Data lines per write while uploading (about 29 KiB of file, 39 KiB on the wire).
const LINES_PER_WRITE: usize = 512;
/// Downloaded bytes gathered before each write to the destination.
const DESTINATION_BATCH: usize = 64 * 1024;
/// Lines the resynchronisation may drop before giving up on the connection.
const MAX_DROPPED_LINES: usize = 4096;

fn module_missing(error: AgiError) -> AgiError {
    match error {
        AgiError::InvalidCommand { .. } => TransferError::ModuleNotLoaded.into(),
        other => other,
    }
}

/// Whether a line is a status line (`NNN text`) rather than data; a space is never
/// base64, so the two cannot be confused.
fn is_status(line: &[u8]) -> bool {
    line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b' '
}

/// What one line of a download held.
enum DataLine {
    /// This many bytes, appended to the output.
    Data(usize),
    /// A status line (the module ending the transfer).
    Status(String),
    /// Neither.
    Invalid,
}

fn data_line(line: &[u8], out: &mut Vec<u8>) -> DataLine {
    if is_status(line) {
        return DataLine::Status(String::from_utf8_lossy(line).into_owned());
    }
    match base64::decode(line, out) {
        Ok(n) => DataLine::Data(n),
        Err(_) => DataLine::Invalid,
    }
}

/// Reads exactly `buf.len()` bytes unless the source ends first; returns how many.
async fn fill<R: AsyncRead + Unpin>(source: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Reads the next batch of an upload: `min(remaining, buf.len())` bytes, exactly.
async fn next_batch<R: AsyncRead + Unpin>(
    source: &mut R,
    buf: &mut [u8],
    len: u64,
    remaining: u64,
) -> AgiResult<usize> {
    let want = buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
    let got = fill(source, &mut buf[..want]).await.map_err(TransferError::Source)?;
    if got < want {
        return Err(TransferError::SourceTooShort { expected: len, read: len - remaining + got as u64 }.into());
    }
    Ok(got)
}

fn upload_result(command: &str, reply: &Response<'_>) -> AgiResult<()> {
    match parse::code(command, reply)? {
        0 => Ok(()),
        -10 => Err(TransferError::CannotCreateFile.into()),
        -11 => Err(TransferError::CannotCreateDirectory.into()),
        result => Err(TransferError::Refused { result }.into()),
    }
}

impl Call {
    /// `ISEXISTING SOUNDFILE name`: whether a file exists on the Asterisk host, as the
    /// transfer module sees it (`result=-1` means absent).
    ///
    /// [`TransferError::ModuleNotLoaded`] if the module is not loaded: calling this once
    /// is the way to probe for it. Sent even after a hangup (the module decides).
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call, bytes: &[u8]) -> agi_runtime::AgiResult<()> {
    /// if !call.sound_file_exists("custom/greeting-42.gsm").await? {
    ///     call.put_sound_file("custom/greeting-42.gsm", bytes).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sound_file_exists<'n>(&mut self, name: impl IntoRemoteFile<'n>) -> AgiResult<bool> {
        let name = name.into_remote_file()?;
        let reply =
            self.execute("ISEXISTING SOUNDFILE", true, &[Arg::Quoted(name.as_str())]).await.map_err(module_missing)?;
        Ok(parse::code("ISEXISTING SOUNDFILE", &reply)? != -1)
    }

    /// `PUT SOUNDFILE name size`: uploads `data` to a file on the Asterisk host (name
    /// with its extension, see [`RemoteFile`](crate::RemoteFile)).
    ///
    /// Same as [`put_sound_file_from`](Call::put_sound_file_from) with a byte slice: the
    /// same results, and sent even after a hangup (the module decides).
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let prompt = std::fs::read("greeting.gsm")?;
    /// call.put_sound_file("custom/greeting-42.gsm", &prompt).await?;
    /// call.stream_file("custom/greeting-42", agi_runtime::EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_sound_file<'n>(&mut self, name: impl IntoRemoteFile<'n>, data: &[u8]) -> AgiResult<()> {
        self.put_sound_file_from(name, data, data.len() as u64).await
    }

    /// `PUT SOUNDFILE name size`: uploads exactly `len` bytes read from `source`, in
    /// bounded memory (about 70 KiB, whatever the size).
    ///
    /// The command announces `len`; only after Asterisk's go-ahead (`200 result=0`) are
    /// the bytes sent, as base64 lines of 57 bytes each, and the final status is read
    /// (after a failure status the stream is put back in step as after a download, in
    /// case the module stopped reading early).
    /// Results: `Ok(())`, or [`AgiError::Transfer`] with
    /// [`ModuleNotLoaded`](TransferError::ModuleNotLoaded),
    /// [`CannotCreateFile`](TransferError::CannotCreateFile) (`-10`),
    /// [`CannotCreateDirectory`](TransferError::CannotCreateDirectory) (`-11`),
    /// [`Refused`](TransferError::Refused), [`Failed`](TransferError::Failed), or a
    /// source problem ([`SourceTooShort`](TransferError::SourceTooShort),
    /// [`Source`](TransferError::Source)). The first batch is read before the command is
    /// sent, so a source that fails at once costs nothing. Each write and the final
    /// status wait at most [`data_timeout`](Call::data_timeout); a stall breaks the
    /// call ([`AgiError::Timeout`]). Sent even after a hangup (the module decides).
    ///
    /// ```
    /// # async fn demo<R>(call: &mut agi_runtime::Call, file: R, len: u64) -> agi_runtime::AgiResult<()>
    /// # where R: tokio::io::AsyncRead + Unpin {
    /// // `file`: any AsyncRead, e.g. a `tokio::fs::File`, and `len` its length.
    /// call.put_sound_file_from("custom/announcement.wav", file, len).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_sound_file_from<'n, R: AsyncRead + Unpin>(
        &mut self,
        name: impl IntoRemoteFile<'n>,
        mut source: R,
        len: u64,
    ) -> AgiResult<()> {
        const COMMAND: &str = "PUT SOUNDFILE";
        let name = name.into_remote_file()?;
        let size = i64::try_from(len)
            .map_err(|_| InvalidArgument::new("file size", &len.to_string(), "larger than Asterisk can count"))?;
        let batch_bytes = usize::try_from(len).unwrap_or(usize::MAX).min(LINE_BYTES * LINES_PER_WRITE);
        let mut raw = vec![0; batch_bytes];
        let mut batch = next_batch(&mut source, &mut raw, len, len).await?;

        let reply =
            self.execute(COMMAND, true, &[Arg::Quoted(name.as_str()), Arg::Int(size)]).await.map_err(module_missing)?;
        upload_result(COMMAND, &reply)?;

        self.begin_data_phase();
        let mut remaining = len;
        let mut sent_lines = 0;
        let mut lines = Vec::with_capacity(batch_bytes.div_ceil(LINE_BYTES) * (LINE_BYTES / 3 * 4 + 1));
        while remaining > 0 {
            lines.clear();
            for chunk in raw[..batch].chunks(LINE_BYTES) {
                base64::encode(chunk, &mut lines);
                lines.push(b'\n');
            }
            self.write_data(COMMAND, &lines).await?;
            sent_lines += batch.div_ceil(LINE_BYTES);
            remaining -= batch as u64;
            if remaining > 0 {
                batch = match next_batch(&mut source, &mut raw, len, remaining).await {
                    Ok(batch) => batch,
                    Err(error) => {
                        self.mark_broken("the source of an upload failed after part of it was sent");
                        return Err(error);
                    }
                };
            }
        }
        let reply = self.read_reply(COMMAND, Some(self.data_timeout())).await?;
        let result = parse::code(COMMAND, &reply)?;
        if result == 0 {
            return Ok(());
        }
        // The module may have stopped reading before the end: Asterisk then took the
        // remaining data lines for commands and answers each with a 510. Drop those.
        self.begin_data_phase();
        let mut stray = 0usize;
        self.resynchronize(COMMAND, sent_lines + MAX_DROPPED_LINES, |_| stray += 1).await?;
        self.end_data_phase();
        if stray > 0 {
            tracing::debug!(stray, "lines dropped after a failed PUT SOUNDFILE");
        }
        Err(TransferError::Failed { result }.into())
    }

    /// `GET SOUNDFILE name`: downloads a file from the Asterisk host into memory.
    ///
    /// The vector grows with the data actually received, never with the announced
    /// size. For large files prefer [`get_sound_file_to`](Call::get_sound_file_to),
    /// which streams. Same results and rules; sent even after a hangup (the module
    /// decides).
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let recording = call.get_sound_file("/var/spool/asterisk/recording/msg42.wav").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_sound_file<'n>(&mut self, name: impl IntoRemoteFile<'n>) -> AgiResult<Vec<u8>> {
        let mut data = Vec::new();
        self.get_sound_file_to(name, &mut data).await?;
        Ok(data)
    }

    /// `GET SOUNDFILE name`: downloads a file from the Asterisk host into `destination`,
    /// in bounded memory; returns its size.
    ///
    /// Asterisk answers `200 result=0 size=<N>`, then sends base64 lines until `N` bytes;
    /// each line must arrive within [`data_timeout`](Call::data_timeout) (a stall or an
    /// early end of the connection breaks the call). Then the stream is put back in step
    /// with `GET FULL VARIABLE "<random token>"`, dropping any status line the module
    /// may send after the data, up to Asterisk's echo of the token. Results: `Ok(N)`, or
    /// [`AgiError::Transfer`] with [`ModuleNotLoaded`](TransferError::ModuleNotLoaded),
    /// [`Refused`](TransferError::Refused) (e.g. no such file),
    /// [`Aborted`](TransferError::Aborted) (less data than announced),
    /// [`TooMuchData`](TransferError::TooMuchData), [`BadData`](TransferError::BadData)
    /// or [`Destination`](TransferError::Destination); on error `destination` may hold
    /// part of the file. Sent even after a hangup (the module decides).
    ///
    /// ```
    /// # async fn demo<W>(call: &mut agi_runtime::Call, file: W) -> agi_runtime::AgiResult<()>
    /// # where W: tokio::io::AsyncWrite + Unpin {
    /// // `file`: any AsyncWrite, e.g. a `tokio::fs::File`.
    /// let size = call.get_sound_file_to("/var/spool/asterisk/recording/msg42.wav", file).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_sound_file_to<'n, W: AsyncWrite + Unpin>(
        &mut self,
        name: impl IntoRemoteFile<'n>,
        mut destination: W,
    ) -> AgiResult<u64> {
        const COMMAND: &str = "GET SOUNDFILE";
        let name = name.into_remote_file()?;
        let reply = self.execute(COMMAND, true, &[Arg::Quoted(name.as_str())]).await.map_err(module_missing)?;
        let result = parse::code(COMMAND, &reply)?;
        if result != 0 {
            return Err(TransferError::Refused { result }.into());
        }
        let Some(size) = reply.attribute("size").and_then(|size| size.parse::<u64>().ok()) else {
            // Data may follow, of unknown length: drop it all.
            let error = AgiError::unexpected(COMMAND, &reply);
            self.begin_data_phase();
            self.resynchronize(COMMAND, MAX_DROPPED_LINES, |_| {}).await?;
            self.end_data_phase();
            return Err(error);
        };
        self.begin_data_phase();

        let mut failure = None;
        let mut destination_error = None;
        let (mut received, mut line) = (0u64, 0u64);
        let mut out = Vec::with_capacity(DESTINATION_BATCH.min(usize::try_from(size).unwrap_or(usize::MAX)) + 64);
        while received < size && failure.is_none() {
            line += 1;
            match self.read_data_line(COMMAND, |text| data_line(text, &mut out)).await? {
                DataLine::Data(n) => {
                    received += n as u64;
                    if received > size {
                        out.truncate(out.len() - (received - size) as usize);
                        failure = Some(TransferError::TooMuchData { expected: size });
                    }
                }
                DataLine::Status(status) => {
                    failure = Some(TransferError::Aborted { expected: size, received, status });
                }
                DataLine::Invalid => failure = Some(TransferError::BadData { line }),
            }
            if out.len() >= DESTINATION_BATCH || received >= size || failure.is_some() {
                if destination_error.is_none()
                    && let Err(error) = destination.write_all(&out).await
                {
                    destination_error = Some(error);
                }
                out.clear();
            }
        }

        let mut extra_data = 0usize;
        self.resynchronize(COMMAND, MAX_DROPPED_LINES, |text| {
            if is_status(text) {
                tracing::debug!(line = %String::from_utf8_lossy(text), "status line after GET SOUNDFILE data");
            } else {
                extra_data += 1;
            }
        })
        .await?;
        self.end_data_phase();
        if failure.is_none() && extra_data > 0 {
            failure = Some(TransferError::TooMuchData { expected: size });
        }
        if destination_error.is_none()
            && let Err(error) = destination.flush().await
        {
            destination_error = Some(error);
        }
        match (failure, destination_error) {
            (Some(failure), _) => Err(failure.into()),
            (None, Some(error)) => Err(TransferError::Destination(error).into()),
            (None, None) => Ok(size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_told_from_data() {
        assert!(is_status(b"200 result=-1"));
        assert!(is_status(b"511 Command Not Permitted on a dead channel"));
        assert!(!is_status(b"2000"));
        assert!(!is_status(b"200result"));
        assert!(!is_status(b"QUJD"));
        let mut out = Vec::new();
        assert!(matches!(data_line(b"QUJD", &mut out), DataLine::Data(3)));
        assert!(matches!(data_line(b"200 result=-1", &mut out), DataLine::Status(_)));
        assert!(matches!(data_line(b"QUJ", &mut out), DataLine::Invalid));
        assert_eq!(out, b"ABC");
    }
}
