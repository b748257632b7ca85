//! A small recorder that renders the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use super::{ALL, MetricKind};

/// Upper bounds of the histogram buckets, in seconds: AGI commands range from a
/// sub-millisecond `SET VARIABLE` to a `Dial` lasting an hour.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0];

/// A recorder for the `metrics` facade that keeps every series in memory and renders
/// them in the Prometheus text format, for a `/metrics` endpoint of your own.
///
/// Counters and gauges are atomics; a histogram observation is a few atomic adds. The
/// map of series is locked only when a series is first registered and when rendering.
///
/// ```
/// use agi_runtime::metrics::PrometheusRecorder;
///
/// let recorder = PrometheusRecorder::new();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("agi_hangups_total").increment(2);
///     metrics::gauge!("agi_calls_active", "route" => "/ivr").set(3.0);
/// });
/// let text = recorder.render();
/// assert!(text.contains("# TYPE agi_hangups_total counter\nagi_hangups_total 2\n"));
/// assert!(text.contains("agi_calls_active{route=\"/ivr\"} 3\n"));
/// ```
///
/// Install it for the whole program with
/// `metrics::set_global_recorder(recorder.clone())`; clones share the same series.
#[derive(Debug, Clone, Default)]
pub struct PrometheusRecorder {
    series: Arc<Mutex<BTreeMap<String, Family>>>,
}

/// Every series of one metric name.
#[derive(Debug)]
struct Family {
    kind: MetricKind,
    help: Option<String>,
    /// Rendered label sets (`{route="/x"}` or empty) to their value.
    series: BTreeMap<String, Series>,
}

#[derive(Debug, Clone)]
enum Series {
    Counter(Arc<AtomicU64>),
    /// An `f64` stored as its bits.
    Gauge(Arc<AtomicU64>),
    Histogram(Arc<Buckets>),
}

/// A histogram with fixed buckets.
#[derive(Debug, Default)]
struct Buckets {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in nanoseconds-like fixed point (value × 1e9), so it can be an atomic add.
    sum_nanos: AtomicU64,
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        let value = if value.is_finite() { value.max(0.0) } else { 0.0 };
        if let Some(bucket) = BUCKETS.iter().position(|bound| value <= *bound) {
            self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add((value * 1e9) as u64, Ordering::Relaxed);
    }
}

impl PrometheusRecorder {
    /// An empty recorder that knows the help texts of the server's metrics.
    pub fn new() -> PrometheusRecorder {
        let recorder = PrometheusRecorder::default();
        {
            let mut families = recorder.lock();
            for (name, kind, help) in ALL {
                families.insert(name.to_owned(), Family { kind, help: Some(help.to_owned()), series: BTreeMap::new() });
            }
        }
        recorder
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Family>> {
        // A panic elsewhere while holding the lock leaves the map consistent: keep going.
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, key: &Key, kind: MetricKind) -> Series {
        let mut families = self.lock();
        let family = families.entry(key.name().to_owned()).or_insert_with(|| Family {
            kind,
            help: None,
            series: BTreeMap::new(),
        });
        family
            .series
            .entry(render_labels(key))
            .or_insert_with(|| match kind {
                MetricKind::Counter => Series::Counter(Arc::default()),
                MetricKind::Gauge => Series::Gauge(Arc::default()),
                MetricKind::Histogram => Series::Histogram(Arc::default()),
            })
            .clone()
    }

    fn describe(&self, name: KeyName, kind: MetricKind, description: SharedString) {
        let mut families = self.lock();
        let family = families.entry(name.as_str().to_owned()).or_insert_with(|| Family {
            kind,
            help: None,
            series: BTreeMap::new(),
        });
        family.help = Some(description.into_owned());
    }

    /// Every series, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let families = self.lock();
        let mut out = String::new();
        for (name, family) in families.iter() {
            if let Some(help) = &family.help {
                let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
            }
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for (labels, series) in &family.series {
                match series {
                    Series::Counter(value) => {
                        let _ = writeln!(out, "{name}{labels} {}", value.load(Ordering::Relaxed));
                    }
                    Series::Gauge(bits) => {
                        let _ = writeln!(out, "{name}{labels} {}", f64::from_bits(bits.load(Ordering::Relaxed)));
                    }
                    Series::Histogram(buckets) => render_histogram(&mut out, name, labels, buckets),
                }
            }
        }
        out
    }
}

fn render_histogram(out: &mut String, name: &str, labels: &str, buckets: &Buckets) {
    let with_le = |le: &str| match labels.strip_suffix('}') {
        Some(open) => format!("{open},le=\"{le}\"}}"),
        None => format!("{{le=\"{le}\"}}"),
    };
    let mut cumulative = 0;
    for (bound, count) in BUCKETS.iter().zip(&buckets.counts) {
        cumulative += count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{} {cumulative}", with_le(&bound.to_string()));
    }
    let count = buckets.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{} {count}", with_le("+Inf"));
    let _ = writeln!(out, "{name}_sum{labels} {}", buckets.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9);
    let _ = writeln!(out, "{name}_count{labels} {count}");
}

/// `{a="x",b="y"}` with values escaped as the text format requires, or `""` for none.
fn render_labels(key: &Key) -> String {
    let mut labels: Vec<_> = key.labels().map(|l| (l.key(), l.value())).collect();
    labels.sort_unstable();
    if labels.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (index, (name, value)) in labels.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

impl Recorder for PrometheusRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, MetricKind::Counter, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, MetricKind::Gauge, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, MetricKind::Histogram, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        match self.register(key, MetricKind::Counter) {
            Series::Counter(value) => Counter::from_arc(value),
            _ => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        match self.register(key, MetricKind::Gauge) {
            Series::Gauge(value) => Gauge::from_arc(value),
            _ => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        match self.register(key, MetricKind::Histogram) {
            Series::Histogram(buckets) => Histogram::from_arc(buckets),
            _ => Histogram::noop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histograms_with_cumulative_buckets_and_escaped_labels() {
        let recorder = PrometheusRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            let histogram = metrics::histogram!("agi_command_duration_seconds", "command" => "SAY \"X\"");
            histogram.record(0.002);
            histogram.record(0.002);
            histogram.record(1000.0);
            metrics::gauge!("agi_calls_active", "route" => "/a").increment(2.0);
            metrics::gauge!("agi_calls_active", "route" => "/a").decrement(1.0);
        });
        let text = recorder.render();
        let labels = "command=\"SAY \\\"X\\\"\"";
        assert!(text.contains(&format!("agi_command_duration_seconds_bucket{{{labels},le=\"0.001\"}} 0\n")), "{text}");
        assert!(text.contains(&format!("agi_command_duration_seconds_bucket{{{labels},le=\"0.0025\"}} 2\n")));
        assert!(text.contains(&format!("agi_command_duration_seconds_bucket{{{labels},le=\"300\"}} 2\n")));
        assert!(text.contains(&format!("agi_command_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3\n")));
        assert!(text.contains(&format!("agi_command_duration_seconds_count{{{labels}}} 3\n")));
        assert!(text.contains(&format!("agi_command_duration_seconds_sum{{{labels}}} 1000.004\n")));
        assert!(text.contains("agi_calls_active{route=\"/a\"} 1\n"));
        assert!(
            text.contains(
                "# HELP agi_hangups_total Calls that learned of a hangup.\n# TYPE agi_hangups_total counter\n"
            )
        );
    }
}
