//! The sound files on the simulated Asterisk host: what the playback commands find,
//! what `RECORD FILE` writes, and what the sound-file transfer commands move.

use std::collections::{BTreeMap, BTreeSet};

/// A prompt's length when nobody said otherwise: one second at 8 kHz.
pub(crate) const DEFAULT_SAMPLES: u64 = 8000;

#[derive(Debug, Clone)]
struct SoundFile {
    samples: u64,
    bytes: Option<Vec<u8>>,
}

/// The files, keyed by name as given (`prompts/welcome` or `prompts/welcome.gsm`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sounds {
    files: BTreeMap<String, SoundFile>,
    missing: BTreeSet<String>,
    /// Only files added to the store play (default: every prompt plays).
    pub(crate) strict: bool,
    /// Directories where nothing can be written (`RECORD FILE` → `(writefile)`).
    pub(crate) unwritable: Vec<String>,
}

/// Bytes per sample in a format, for sizes and lengths (a GSM frame is 33 bytes for
/// 160 samples; signed linear is 2 bytes; µ-law, A-law and the rest 1).
fn size_of(format: &str, samples: u64) -> u64 {
    match format {
        "gsm" => samples.div_ceil(160) * 33,
        "sln" | "wav" | "sln16" | "raw" => samples * 2,
        _ => samples,
    }
}

fn samples_of(format: &str, bytes: u64) -> u64 {
    match format {
        "gsm" => bytes / 33 * 160,
        "sln" | "wav" | "sln16" | "raw" => bytes / 2,
        _ => bytes,
    }
}

fn extension(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.rsplit_once('.').map_or("", |(_, ext)| ext)
}

impl Sounds {
    /// Adds a prompt of `samples` samples.
    pub(crate) fn add(&mut self, name: &str, samples: u64) {
        self.missing.remove(name);
        self.files.insert(name.to_owned(), SoundFile { samples, bytes: None });
    }

    /// Adds a file with its bytes (its length follows from its format).
    pub(crate) fn add_bytes(&mut self, name: &str, bytes: Vec<u8>) {
        self.missing.remove(name);
        let samples = samples_of(extension(name), bytes.len() as u64);
        self.files.insert(name.to_owned(), SoundFile { samples, bytes: Some(bytes) });
    }

    pub(crate) fn mark_missing(&mut self, name: &str) {
        self.files.remove(name);
        self.missing.insert(name.to_owned());
    }

    /// The length of the prompt `name` (no extension) if it can be played.
    pub(crate) fn playable(&self, name: &str) -> Option<u64> {
        if self.missing.contains(name) {
            return None;
        }
        let with_format = |key: &String| {
            key.strip_prefix(name).and_then(|rest| rest.strip_prefix('.')).is_some_and(|ext| !ext.contains('/'))
        };
        if let Some(file) =
            self.files.get(name).or_else(|| self.files.iter().find(|(k, _)| with_format(k)).map(|e| e.1))
        {
            return Some(file.samples);
        }
        (!self.strict).then_some(DEFAULT_SAMPLES)
    }

    /// Whether every file of `names` plays (the `SAY` commands).
    pub(crate) fn all_playable<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> bool {
        names.into_iter().all(|name| self.playable(name).is_some())
    }

    /// `ISEXISTING SOUNDFILE`: only files in the store (given, uploaded or recorded).
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// `GET SOUNDFILE`: the bytes of a file in the store (silence of its length when
    /// it was added without bytes).
    pub(crate) fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        let file = self.files.get(name)?;
        Some(match &file.bytes {
            Some(bytes) => bytes.clone(),
            None => vec![0; size_of(extension(name), file.samples) as usize],
        })
    }

    /// Whether a file may be created at `path`.
    pub(crate) fn writable(&self, path: &str) -> bool {
        !self.unwritable.iter().any(|dir| path.starts_with(dir.as_str()))
    }

    /// `RECORD FILE file format`: stores `samples` of silence as `file.format`.
    pub(crate) fn record(&mut self, file: &str, format: &str, samples: u64) {
        let name = format!("{file}.{format}");
        self.missing.remove(file);
        self.files.insert(name, SoundFile { samples, bytes: Some(vec![0; size_of(format, samples) as usize]) });
    }

    /// Every file in the store with its size in bytes.
    pub(crate) fn listing(&self) -> impl Iterator<Item = (&str, u64)> {
        self.files.iter().map(|(name, file)| {
            let size = file.bytes.as_ref().map_or_else(|| size_of(extension(name), file.samples), |b| b.len() as u64);
            (name.as_str(), size)
        })
    }
}

/// The files `SAY DIGITS` plays.
pub(crate) fn digit_files(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(format!("digits/{c}")),
            '*' => Some("digits/star".to_owned()),
            '#' => Some("digits/pound".to_owned()),
            '-' => Some("digits/minus".to_owned()),
            c if c.is_ascii_alphabetic() => Some(format!("letters/{}", c.to_ascii_lowercase())),
            _ => None,
        })
        .collect()
}

/// The files `SAY NUMBER` plays, in English.
pub(crate) fn number_files(n: i64) -> Vec<String> {
    let mut files = Vec::new();
    if n < 0 {
        files.push("digits/minus".to_owned());
    }
    let n = n.unsigned_abs();
    if n == 0 {
        files.push("digits/0".to_owned());
    }
    push_number(&mut files, n);
    files
}

fn push_number(files: &mut Vec<String>, n: u64) {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand")];
    let mut n = n;
    for (size, word) in UNITS {
        if n >= size {
            push_number(files, n / size);
            files.push(format!("digits/{word}"));
            n %= size;
        }
    }
    if n >= 100 {
        files.push(format!("digits/{}", n / 100));
        files.push("digits/hundred".to_owned());
        n %= 100;
    }
    if n >= 20 {
        files.push(format!("digits/{}", n / 10 * 10));
        n %= 10;
    }
    if n > 0 {
        files.push(format!("digits/{n}"));
    }
}

/// The calendar date and time of a Unix time, in UTC: (year, month 0-11, day of the
/// month, day of the week 0-6 from Sunday, hour, minute).
fn calendar(epoch: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (days, seconds) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let weekday = (days + 4).rem_euclid(7);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 2 } else { mp - 10 };
    let year = yoe + era * 400 + i64::from(month <= 1);
    (year, month, day, weekday, seconds / 3600, seconds % 3600 / 60)
}

/// The files `SAY DATE` plays, in English (the channel's time zone taken as UTC).
pub(crate) fn date_files(epoch: i64) -> Vec<String> {
    let (year, month, day, weekday, _, _) = calendar(epoch);
    let mut files = vec![format!("digits/day-{weekday}"), format!("digits/mon-{month}")];
    files.extend(number_files(day));
    files.extend(number_files(year));
    files
}

/// The files `SAY TIME` plays, in English (UTC).
pub(crate) fn time_files(epoch: i64) -> Vec<String> {
    let (_, _, _, _, hour, minute) = calendar(epoch);
    let twelve = match hour % 12 {
        0 => 12,
        h => h,
    };
    let mut files = number_files(twelve);
    if minute > 0 && minute < 10 {
        files.push("digits/oh".to_owned());
    }
    if minute > 0 {
        files.extend(number_files(minute));
    }
    files.push(if hour < 12 { "digits/a-m" } else { "digits/p-m" }.to_owned());
    files
}

/// The files `SAY ALPHA` plays.
pub(crate) fn alpha_files(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| {
            Some(match c {
                'a'..='z' | 'A'..='Z' => format!("letters/{}", c.to_ascii_lowercase()),
                '0'..='9' => format!("digits/{c}"),
                ' ' => "letters/space".to_owned(),
                '.' => "letters/dot".to_owned(),
                '@' => "letters/at".to_owned(),
                '-' => "letters/dash".to_owned(),
                '$' => "letters/dollar".to_owned(),
                '=' => "letters/equals".to_owned(),
                '+' => "letters/plus".to_owned(),
                '/' => "letters/slash".to_owned(),
                '*' => "letters/asterisk".to_owned(),
                _ => return None,
            })
        })
        .collect()
}

/// The files `SAY PHONETIC` plays.
pub(crate) fn phonetic_files(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| match c {
            'a'..='z' | 'A'..='Z' => Some(format!("phonetic/{}_p", c.to_ascii_lowercase())),
            '0'..='9' => Some(format!("digits/{c}")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_said_in_english() {
        assert_eq!(number_files(42), ["digits/40", "digits/2"]);
        assert_eq!(number_files(7), ["digits/7"]);
        assert_eq!(number_files(0), ["digits/0"]);
        assert_eq!(
            number_files(-1_215),
            ["digits/minus", "digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/15"]
        );
        assert_eq!(digit_files("1*#"), ["digits/1", "digits/star", "digits/pound"]);
        assert_eq!(alpha_files("aB1"), ["letters/a", "letters/b", "digits/1"]);
        // 1970-01-01 00:00 UTC was a Thursday.
        assert_eq!(date_files(0)[..3], ["digits/day-4", "digits/mon-0", "digits/1"]);
        assert_eq!(time_files(0), ["digits/12", "digits/a-m"]);
        // 2024-02-29 13:05 UTC.
        assert_eq!(calendar(1_709_211_900), (2024, 1, 29, 4, 13, 5));
        assert_eq!(time_files(1_709_211_900), ["digits/1", "digits/oh", "digits/5", "digits/p-m"]);
    }

    #[test]
    fn playback_finds_files_with_or_without_a_format() {
        let mut sounds = Sounds::default();
        sounds.add_bytes("prompts/welcome.gsm", vec![0; 330]);
        assert_eq!(sounds.playable("prompts/welcome"), Some(1600));
        assert_eq!(sounds.playable("anything"), Some(DEFAULT_SAMPLES));
        sounds.mark_missing("digits/7");
        assert_eq!(sounds.playable("digits/7"), None);
        sounds.strict = true;
        assert_eq!(sounds.playable("anything"), None);
        assert_eq!(sounds.playable("prompts"), None);
        assert!(sounds.exists("prompts/welcome.gsm"));
        assert!(!sounds.exists("prompts/welcome"));
        sounds.record("/tmp/rec", "wav", 100);
        assert_eq!(sounds.bytes("/tmp/rec.wav").map(|b| b.len()), Some(200));
    }
}
