//! What the server measures, through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! Enabled by the `metrics` feature (off by default: without it, none of this is
//! compiled and the server records nothing). The server then records into whatever
//! recorder the program installs: `metrics-exporter-prometheus`, a StatsD exporter,
//! or the small [`PrometheusRecorder`] here, which renders the Prometheus text format
//! without an HTTP stack of its own (the `prometheus` example serves it).
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `agi_calls_active` | gauge | `route` | handlers running now |
//! | `agi_calls_accepted_total` | counter | `route` | calls admitted to their handler |
//! | `agi_calls_completed_total` | counter | `route`, `status` | admitted calls that ended, by [`CallStatus`](crate::CallStatus) |
//! | `agi_calls_refused_total` | counter | `route`, `reason` | connections and calls turned away (reasons below) |
//! | `agi_command_duration_seconds` | histogram | `command` | from sending a command to its final reply |
//! | `agi_hangups_total` | counter | | calls that learned of a hangup (line, `511` or closed connection) |
//! | `agi_protocol_errors_total` | counter | `phase` | peers that sent something that is not AGI (`environment` or `call`) |
//! | `agi_timeouts_total` | counter | `phase` | `environment` (no block within the env timeout), `command` (no reply within the command timeout), `hangup_grace` (a handler overran it), `shutdown` (cut at the end of the shutdown grace) |
//! | `agi_command_rejections_total` | counter | `command`, `reason` | commands the encoder refused to send: `forbidden_byte` (LF, CR, NUL: an injection attempt or a bug) or `line_too_long` |
//!
//! Refusal reasons: `peer_denied` (admission policy, by address), `handshake_limit`
//! (too many connections still sending their environment), `denied` (admission policy,
//! by environment), `not_found` (no route), `overloaded` (the server's call limit),
//! `route_limit` (the route's call limit), `responders_busy` (refused and not even told
//! why, because every overload responder was busy).
//!
//! `route` is the route pattern (`/customer/{id}`), never the requested path, so its
//! values are bounded by the route table; it is empty before a route is known.
//! `command` is the command's keywords (`STREAM FILE`); for raw commands, the first word
//! if it is a plain upper-case word, else `OTHER`.

mod prometheus;

pub use prometheus::PrometheusRecorder;

/// The kind of a metric, as Prometheus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of observed values.
    Histogram,
}

impl MetricKind {
    /// The Prometheus `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// `agi_calls_active`.
pub const CALLS_ACTIVE: &str = "agi_calls_active";
/// `agi_calls_accepted_total`.
pub const CALLS_ACCEPTED: &str = "agi_calls_accepted_total";
/// `agi_calls_completed_total`.
pub const CALLS_COMPLETED: &str = "agi_calls_completed_total";
/// `agi_calls_refused_total`.
pub const CALLS_REFUSED: &str = "agi_calls_refused_total";
/// `agi_command_duration_seconds`.
pub const COMMAND_DURATION: &str = "agi_command_duration_seconds";
/// `agi_hangups_total`.
pub const HANGUPS: &str = "agi_hangups_total";
/// `agi_protocol_errors_total`.
pub const PROTOCOL_ERRORS: &str = "agi_protocol_errors_total";
/// `agi_timeouts_total`.
pub const TIMEOUTS: &str = "agi_timeouts_total";
/// `agi_command_rejections_total`.
pub const COMMAND_REJECTIONS: &str = "agi_command_rejections_total";

/// Every metric the server records: name, kind and help text.
pub const ALL: [(&str, MetricKind, &str); 9] = [
    (CALLS_ACTIVE, MetricKind::Gauge, "Handlers running now."),
    (CALLS_ACCEPTED, MetricKind::Counter, "Calls admitted to their handler."),
    (CALLS_COMPLETED, MetricKind::Counter, "Admitted calls that ended, by status."),
    (CALLS_REFUSED, MetricKind::Counter, "Connections and calls turned away, by reason."),
    (COMMAND_DURATION, MetricKind::Histogram, "Time from sending a command to its final reply."),
    (HANGUPS, MetricKind::Counter, "Calls that learned of a hangup."),
    (PROTOCOL_ERRORS, MetricKind::Counter, "Peers that sent something that is not AGI."),
    (TIMEOUTS, MetricKind::Counter, "Deadlines that expired, by phase."),
    (COMMAND_REJECTIONS, MetricKind::Counter, "Commands the encoder refused to send."),
];

/// Describes every metric to the installed recorder (help texts and units), for
/// exporters that print them. Call it once after installing a recorder;
/// [`PrometheusRecorder`] knows them already.
pub fn describe() {
    for (name, kind, help) in ALL {
        match kind {
            MetricKind::Counter => metrics::describe_counter!(name, help),
            MetricKind::Gauge => metrics::describe_gauge!(name, help),
            MetricKind::Histogram => metrics::describe_histogram!(name, metrics::Unit::Seconds, help),
        }
    }
}
