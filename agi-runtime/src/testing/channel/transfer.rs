//! The sound-file transfer extension (AGI-PROTOCOL.md §6), as §6.3 point 8 assumes the
//! module behaves: `PUT SOUNDFILE` answers `200 result=0`, reads ⌈size/57⌉ base64
//! lines and answers `200 result=0`; `GET SOUNDFILE` answers `200 result=0 size=N`
//! followed by the base64 lines and no trailer; `ISEXISTING SOUNDFILE` answers `0` or `-1`.

use super::{Channel, Data, Reply, base64, leading_int};

/// Raw bytes per data line: 57 bytes make 76 base64 characters.
pub(crate) const CHUNK: usize = 57;

impl Channel {
    pub(super) fn put_soundfile(&mut self, file: &str, size: &str) -> Option<Reply> {
        let size = usize::try_from(leading_int(size)?).ok()?;
        if !self.sounds.writable(file) {
            return Some(Reply::ok(-10));
        }
        let mut reply = Reply::ok(0);
        reply.data = Data::Upload { file: file.to_owned(), size, lines: size.div_ceil(CHUNK) };
        Some(reply)
    }

    /// The end of an upload: the data lines decoded and stored, or why not.
    pub(crate) fn finish_upload(&mut self, file: &str, size: usize, lines: &[String]) -> Result<Reply, String> {
        let mut bytes = Vec::with_capacity(size);
        for (i, line) in lines.iter().enumerate() {
            match base64::decode(line) {
                Some(chunk) => bytes.extend_from_slice(&chunk),
                None => return Err(format!("data line {} of `PUT SOUNDFILE {file}` is not base64", i + 1)),
            }
        }
        if bytes.len() != size {
            return Err(format!("`PUT SOUNDFILE {file} {size}` sent {} bytes", bytes.len()));
        }
        self.sounds.add_bytes(file, bytes);
        Ok(Reply::ok(0))
    }

    pub(super) fn get_soundfile(&mut self, file: &str) -> Reply {
        let Some(bytes) = self.sounds.bytes(file) else {
            return Reply::ok(-1);
        };
        let mut reply = Reply::ok(format!("0 size={}", bytes.len()));
        reply.data = Data::Download(bytes.chunks(CHUNK).map(base64::encode).collect());
        reply
    }
}
