//! What a simulated call looks like to the server: its environment block.

use std::fmt::Write as _;

/// The environment of a simulated call, with the defaults Asterisk 22 sends.
///
/// ```
/// use agi_runtime::testing::CallSpec;
///
/// let spec = CallSpec::new("/GetCallerRecord?extension=100&lang=es")
///     .arg("foo")
///     .caller_id("5551212", "Alice");
/// let block = spec.env_block();
/// assert!(block.starts_with("agi_network: yes\nagi_network_script: GetCallerRecord?extension=100&lang=es\n"));
/// assert!(block.contains("agi_callerid: 5551212\nagi_calleridname: Alice\n"));
/// assert!(block.ends_with("agi_arg_1: foo\n\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    script: String,
    host: String,
    channel: String,
    language: String,
    channel_type: String,
    uniqueid: String,
    version: String,
    caller_id: Option<(String, String)>,
    dnid: Option<String>,
    rdnis: Option<String>,
    context: String,
    extension: String,
    priority: String,
    account_code: String,
    args: Vec<String>,
    extra: Vec<(String, String)>,
}

impl CallSpec {
    /// A call to `script`: the URL part after the host, with or without its leading `/`
    /// (`"/GetCallerRecord?extension=100"`). An empty script omits `agi_network_script`,
    /// as Asterisk does for `agi://host`.
    pub fn new(script: impl AsRef<str>) -> CallSpec {
        let script = script.as_ref();
        CallSpec {
            script: script.strip_prefix('/').unwrap_or(script).to_owned(),
            host: "127.0.0.1:4573".to_owned(),
            channel: "PJSIP/alice-00000001".to_owned(),
            language: "en".to_owned(),
            channel_type: "PJSIP".to_owned(),
            uniqueid: "1795871406.5".to_owned(),
            version: "22.10.1".to_owned(),
            caller_id: None,
            dnid: None,
            rdnis: None,
            context: "default".to_owned(),
            extension: "s".to_owned(),
            priority: "1".to_owned(),
            account_code: String::new(),
            args: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// The `host[:port]` of `agi_request` (default `127.0.0.1:4573`), as the dialplan's
    /// `AGI(agi://host:port/…)` wrote it.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Adds the next `agi_arg_N`.
    pub fn arg(mut self, value: impl Into<String>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Sets every `agi_arg_N`.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
        self.args = values.into_iter().map(Into::into).collect();
        self
    }

    /// The caller's number and name (default: `unknown`, presentation 67).
    pub fn caller_id(mut self, number: impl Into<String>, name: impl Into<String>) -> Self {
        self.caller_id = Some((number.into(), name.into()));
        self
    }

    /// The channel name (and, from its prefix, `agi_type`).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        if let Some((tech, _)) = self.channel.split_once('/') {
            self.channel_type = tech.to_owned();
        }
        self
    }

    /// The dialplan context that runs `AGI()`.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = context.into();
        self
    }

    /// The extension that runs `AGI()`.
    pub fn extension(mut self, extension: impl Into<String>) -> Self {
        self.extension = extension.into();
        self
    }

    /// The priority that runs `AGI()`.
    pub fn priority(mut self, priority: impl Into<String>) -> Self {
        self.priority = priority.into();
        self
    }

    /// The channel language.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    /// The channel's unique id.
    pub fn uniqueid(mut self, uniqueid: impl Into<String>) -> Self {
        self.uniqueid = uniqueid.into();
        self
    }

    /// The dialed number.
    pub fn dnid(mut self, dnid: impl Into<String>) -> Self {
        self.dnid = Some(dnid.into());
        self
    }

    /// The Asterisk version string.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// An extra variable appended after the standard ones (before the arguments).
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The script, without its leading `/`, as `agi_network_script` carries it.
    pub fn script(&self) -> &str {
        &self.script
    }

    /// The environment block exactly as Asterisk 22 writes it, empty line included.
    pub fn env_block(&self) -> String {
        let mut block = String::with_capacity(700);
        let mut line = |name: &str, value: &str| {
            let _ = writeln!(block, "{name}: {value}");
        };
        line("agi_network", "yes");
        if !self.script.is_empty() {
            line("agi_network_script", &self.script);
        }
        let request = if self.script.is_empty() {
            format!("agi://{}", self.host)
        } else {
            format!("agi://{}/{}", self.host, self.script)
        };
        line("agi_request", &request);
        line("agi_channel", &self.channel);
        line("agi_language", &self.language);
        line("agi_type", &self.channel_type);
        line("agi_uniqueid", &self.uniqueid);
        line("agi_version", &self.version);
        let (number, name, pres) = match &self.caller_id {
            Some((number, name)) => (number.as_str(), name.as_str(), "0"),
            None => ("unknown", "unknown", "67"),
        };
        line("agi_callerid", number);
        line("agi_calleridname", name);
        line("agi_callingpres", pres);
        line("agi_callingani2", "0");
        line("agi_callington", "0");
        line("agi_callingtns", "0");
        line("agi_dnid", self.dnid.as_deref().unwrap_or("unknown"));
        line("agi_rdnis", self.rdnis.as_deref().unwrap_or("unknown"));
        line("agi_context", &self.context);
        line("agi_extension", &self.extension);
        line("agi_priority", &self.priority);
        line("agi_enhanced", "0.0");
        line("agi_accountcode", &self.account_code);
        line("agi_threadid", "140119749211840");
        for (name, value) in &self.extra {
            line(name, value);
        }
        for (i, arg) in self.args.iter().enumerate() {
            line(&format!("agi_arg_{}", i + 1), arg);
        }
        block.push('\n');
        block
    }
}
