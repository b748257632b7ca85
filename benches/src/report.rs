//! The results table: the runs of one sitting, framework against reference, with the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// One result file: `key=value` lines written by `agi-load run` or `agi-load hold`.
pub type Keys = BTreeMap<String, String>;

/// Parses `key=value` lines (others are ignored).
pub fn parse_keys(text: &str) -> Keys {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The label of the framework's runs, of the reference's, of the framework with the
/// default status report, and of the reference decoding the query by hand.
pub const FRAMEWORK: &str = "framework";
/// See [`FRAMEWORK`].
pub const REFERENCE: &str = "reference";
/// See [`FRAMEWORK`].
pub const FRAMEWORK_STATUS: &str = "framework-status";
/// See [`FRAMEWORK`].
pub const REFERENCE_HAND_QUERY: &str = "reference-hand-query";

/// A target: a ratio framework/reference, or a bound on the framework's own figure.
#[derive(Debug, Clone, Copy)]
enum Target {
    RatioAtMost(f64),
    RatioAtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::RatioAtMost(r) => format!("ratio <= {r}"),
            Target::RatioAtLeast(r) => format!("ratio >= {r}"),
            Target::AtMost(v) => format!("<= {v}"),
        }
    }

    fn met(self, framework: f64, ratio: f64) -> bool {
        match self {
            Target::RatioAtMost(r) => ratio <= r,
            Target::RatioAtLeast(r) => ratio >= r,
            Target::AtMost(v) => framework <= v,
        }
    }
}

/// The rows of the load table: key in the result files, what it is, its target.
const RUN_ROWS: &[(&str, &str, Option<Target>)] = &[
    ("sessions_per_s", "sessions/s", Some(Target::RatioAtLeast(0.97))),
    ("server_cpu_us_per_session", "server CPU per session (us)", Some(Target::RatioAtMost(1.03))),
    ("server_user_us_per_session", "  of which user space (us)", None),
    ("server_system_us_per_session", "  of which kernel (us)", None),
    ("server_cpu_pct", "server CPU use (% of its core)", None),
    ("round_trips_per_s", "command round trips/s", None),
    ("commands_per_session", "commands per session", None),
    ("rtt_p50_us", "round trip p50 (us)", None),
    ("rtt_p99_us", "round trip p99 (us)", Some(Target::RatioAtMost(1.2))),
    ("rtt_max_us", "round trip max (us)", None),
    ("session_p50_us", "session p50 (us)", None),
    ("session_p99_us", "session p99 (us)", None),
    ("allocs_per_session", "allocations per session", None),
    ("alloc_bytes_per_session", "bytes allocated per session", None),
    ("server_rss_rest_kib", "server RSS at rest (KiB)", None),
    ("server_rss_peak_kib", "server RSS peak (KiB)", None),
    ("errors", "failed sessions", Some(Target::AtMost(0.0))),
    ("loadgen_cpu_pct", "load generator CPU (% of its core)", None),
];

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

fn number(keys: &Keys, key: &str) -> Option<f64> {
    keys.get(key)?.parse().ok()
}

fn format_value(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// One line of the table.
fn row(out: &mut String, cells: [&str; 6]) {
    let [name, framework, reference, ratio, target, verdict] = cells;
    let _ = writeln!(out, "{name:<36} {framework:>11} {reference:>11} {ratio:>7}  {target:<12} {verdict}");
}

/// Reads every `*.txt` result file of a folder.
pub fn read_results(dir: &Path) -> io::Result<Vec<Keys>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files.into_iter().map(|path| Ok(parse_keys(&std::fs::read_to_string(path)?))).collect()
}

/// The table of a sitting and whether every target was met.
pub fn table(results: &[Keys]) -> (String, bool) {
    let runs = |label: &str| -> Vec<&Keys> {
        results
            .iter()
            .filter(|k| {
                k.get("kind").map(String::as_str) == Some("run") && k.get("label").map(String::as_str) == Some(label)
            })
            .collect()
    };
    let (framework, reference, with_status) = (runs(FRAMEWORK), runs(REFERENCE), runs(FRAMEWORK_STATUS));
    let hand_query = runs(REFERENCE_HAND_QUERY);
    let med = |set: &[&Keys], key: &str| median(set.iter().filter_map(|k| number(k, key)).collect());
    let mut out = String::new();
    let mut all_met = true;

    let _ = writeln!(
        out,
        "load: {} framework and {} reference runs (rounds), each round in turns; medians of the rounds",
        framework.len(),
        reference.len()
    );
    row(&mut out, ["metric", "framework", "reference", "ratio", "target", ""]);
    for &(key, name, target) in RUN_ROWS {
        let (f, r) = (med(&framework, key), med(&reference, key));
        let ratio = f.zip(r).and_then(|(f, r)| (r != 0.0).then(|| f / r));
        let (target_text, verdict) = match target {
            None => (String::new(), ""),
            Some(target) => {
                let met = match (f, ratio, target) {
                    (Some(f), _, Target::AtMost(_)) => target.met(f, 0.0) && r.is_none_or(|r| r == 0.0),
                    (Some(f), Some(ratio), _) => target.met(f, ratio),
                    _ => false,
                };
                all_met &= met;
                (target.describe(), if met { "PASS" } else { "MISS" })
            }
        };
        let ratio_text = ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
        row(&mut out, [name, &format_value(f), &format_value(r), &ratio_text, &target_text, verdict]);
    }

    // The same sitting, round by round: how much the ratios move.
    let mut per_round = String::new();
    for (f, r) in framework.iter().zip(&reference) {
        if let (Some(f), Some(r)) = (number(f, "server_cpu_us_per_session"), number(r, "server_cpu_us_per_session")) {
            let _ = write!(per_round, " {:.3}", f / r);
        }
    }
    if !per_round.is_empty() {
        let _ = writeln!(out, "CPU-per-session ratio, round by round:{per_round}");
    }
    // Interference from other work on the machine only adds time: the least disturbed
    // round of each server is shown too (the targets are judged on the medians).
    let best = |set: &[&Keys]| set.iter().filter_map(|k| number(k, "server_cpu_us_per_session")).min_by(f64::total_cmp);
    if let (Some(f), Some(r)) = (best(&framework), best(&reference)) {
        let _ = writeln!(out, "CPU per session, best round of each: {f:.2} us and {r:.2} us, ratio {:.3}", f / r);
    }
    if let (Some(cpu), Some(reference_cpu)) =
        (med(&with_status, "server_cpu_us_per_session"), med(&reference, "server_cpu_us_per_session"))
    {
        let _ = writeln!(
            out,
            "framework with the default status report ({} commands per session): {:.2} us CPU per session, {:.3}x the reference; {} sessions/s",
            format_value(med(&with_status, "commands_per_session")),
            cpu,
            cpu / reference_cpu,
            format_value(med(&with_status, "sessions_per_s")),
        );
    }

    // The stricter yardstick: the query decoded by hand rather than by the decoder the
    // DSL specifies. Reported, not judged.
    if let (Some(cpu), Some(hand_cpu)) =
        (med(&framework, "server_cpu_us_per_session"), med(&hand_query, "server_cpu_us_per_session"))
    {
        let _ = writeln!(
            out,
            "reference with the query decoded by hand (--hand-query): {hand_cpu:.2} us CPU per session; the framework is {:.3}x it",
            cpu / hand_cpu,
        );
    }

    let holds = |label: &str| {
        results.iter().find(|k| {
            k.get("kind").map(String::as_str) == Some("hold") && k.get("label").map(String::as_str) == Some(label)
        })
    };
    let _ = writeln!(out);
    row(&mut out, ["hold", "framework", "reference", "", "target", ""]);
    let (fh, rh) = (holds(FRAMEWORK), holds(REFERENCE));
    let field = |keys: Option<&Keys>, key: &str| keys.and_then(|k| number(k, key));
    for (key, name) in [
        ("held", "sessions held"),
        ("rss_idle_kib", "server RSS idle (KiB)"),
        ("rss_held_kib", "server RSS holding (KiB)"),
    ] {
        row(&mut out, [name, &format_value(field(fh, key)), &format_value(field(rh, key)), "", "", ""]);
    }
    let memory_target = Target::AtMost(4.0);
    let (per, errors) = (field(fh, "kib_per_held_session"), field(fh, "errors"));
    let met = per.is_some_and(|p| memory_target.met(p, 0.0)) && errors == Some(0.0);
    all_met &= met;
    let verdict = if met { "PASS" } else { "MISS" };
    let reference_per = format_value(field(rh, "kib_per_held_session"));
    row(
        &mut out,
        ["RSS per held session (KiB)", &format_value(per), &reference_per, "", &memory_target.describe(), verdict],
    );
    let held_errors = Target::AtMost(0.0);
    let met = errors == Some(0.0);
    all_met &= met;
    let verdict = if met { "PASS" } else { "MISS" };
    let reference_errors = format_value(field(rh, "errors"));
    row(
        &mut out,
        ["sessions not held (errors)", &format_value(errors), &reference_errors, "", &held_errors.describe(), verdict],
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", if all_met { "ALL TARGETS MET" } else { "SOME TARGETS MISSED" });
    (out, all_met)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, cpu: f64, rate: f64, p99: f64) -> Keys {
        parse_keys(&format!(
            "kind=run\nlabel={label}\nserver_cpu_us_per_session={cpu}\nsessions_per_s={rate}\nrtt_p99_us={p99}\nerrors=0\n"
        ))
    }

    fn hold(label: &str, per: f64) -> Keys {
        parse_keys(&format!("kind=hold\nlabel={label}\nheld=19000\nerrors=0\nkib_per_held_session={per}\n"))
    }

    #[test]
    fn targets_are_judged_on_the_medians() {
        let results = vec![
            run(FRAMEWORK, 56.0, 14000.0, 100.0),
            run(REFERENCE, 55.0, 14100.0, 95.0),
            run(FRAMEWORK, 80.0, 9000.0, 300.0), // one disturbed round does not decide
            run(REFERENCE, 55.5, 14000.0, 96.0),
            run(FRAMEWORK, 56.5, 14050.0, 101.0),
            run(REFERENCE, 54.5, 14200.0, 94.0),
            hold(FRAMEWORK, 3.5),
            hold(REFERENCE, 2.5),
        ];
        let (text, met) = table(&results);
        assert!(met, "{text}");
        assert!(text.contains("ALL TARGETS MET"));
        assert!(!text.contains("--hand-query"), "{text}");

        // The hand-decoding reference is reported beside the targets, never judged.
        let mut with_hand = results.clone();
        with_hand.push(run(REFERENCE_HAND_QUERY, 50.0, 15000.0, 90.0));
        let (text, met) = table(&with_hand);
        assert!(met, "{text}");
        assert!(text.contains("(--hand-query): 50.00 us CPU per session; the framework is 1.130x it"), "{text}");

        let mut worse = results.clone();
        worse.push(hold(FRAMEWORK, 4.5));
        worse.retain(|k| !(k.get("kind").unwrap() == "hold" && k.get("kib_per_held_session").unwrap() == "3.5"));
        let (text, met) = table(&worse);
        assert!(!met && text.contains("MISS"), "{text}");
    }
}
