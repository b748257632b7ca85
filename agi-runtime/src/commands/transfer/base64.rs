//! Standard base64 (RFC 4648 alphabet, `=` padding), for the data lines of the
//! sound-file transfer: each line carries one independently padded chunk.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the base64 text of `data` to `out`.
pub(crate) fn encode(data: &[u8], out: &mut Vec<u8>) {
    for group in data.chunks(3) {
        let byte = |i: usize| u32::from(group.get(i).copied().unwrap_or(0));
        let bits = byte(0) << 16 | byte(1) << 8 | byte(2);
        let sextet = |shift: u32| ALPHABET[(bits >> shift & 63) as usize];
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if group.len() > 1 { sextet(6) } else { b'=' });
        out.push(if group.len() > 2 { sextet(0) } else { b'=' });
    }
}

/// A line that is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidBase64;

fn sextet(c: u8) -> Result<u32, InvalidBase64> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return Err(InvalidBase64),
    };
    Ok(u32::from(value))
}

/// Appends the bytes `line` encodes to `out`, returning how many; on invalid input
/// `out` is left as it was.
pub(crate) fn decode(line: &[u8], out: &mut Vec<u8>) -> Result<usize, InvalidBase64> {
    let start = out.len();
    let result = decode_into(line, out);
    if result.is_err() {
        out.truncate(start);
    }
    result.map(|()| out.len() - start)
}

fn decode_into(line: &[u8], out: &mut Vec<u8>) -> Result<(), InvalidBase64> {
    if !line.len().is_multiple_of(4) {
        return Err(InvalidBase64);
    }
    let quads = line.len() / 4;
    for (i, quad) in line.chunks_exact(4).enumerate() {
        let padding = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && i + 1 != quads) {
            return Err(InvalidBase64);
        }
        let mut bits = 0;
        for &c in &quad[..4 - padding] {
            bits = bits << 6 | sextet(c)?;
        }
        bits <<= 6 * padding;
        out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8][..3 - padding]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(data: &[u8]) -> String {
        let mut out = Vec::new();
        encode(data, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_the_rfc_4648_vectors() {
        for (plain, text) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encoded(plain.as_bytes()), text);
            let mut out = b"keep".to_vec();
            assert_eq!(decode(text.as_bytes(), &mut out), Ok(plain.len()));
            assert_eq!(out, [b"keep", plain.as_bytes()].concat());
        }
    }

    #[test]
    fn round_trips_every_byte_value_and_57_byte_lines() {
        let data: Vec<u8> = (0..=255).collect();
        for chunk in data.chunks(57) {
            let text = encoded(chunk);
            assert!(text.len() <= 76);
            let mut out = Vec::new();
            assert_eq!(decode(text.as_bytes(), &mut out), Ok(chunk.len()));
            assert_eq!(out, chunk);
        }
        assert_eq!(encoded(&data[..57]).len(), 76);
    }

    #[test]
    fn refuses_what_is_not_base64_and_leaves_the_output_alone() {
        for bad in ["Zg=", "Zg===", "Z===", "Zg==Zg==", "Zm9v!A==", "A=AA", "HANGUP", "200 result=0", "Zm 9"] {
            let mut out = b"keep".to_vec();
            assert_eq!(decode(bad.as_bytes(), &mut out), Err(InvalidBase64), "{bad}");
            assert_eq!(out, b"keep");
        }
    }
}
