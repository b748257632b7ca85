//! Who may start a call: a hook on the peer address and the environment block.
//!
//! FastAGI has no authentication and no encryption: anyone who can reach the port can
//! run handlers with any `agi_*` values they like. Deploy it on a private network,
//! firewall the port to the Asterisk hosts, and tunnel it (stunnel, WireGuard) when it
//! must cross an untrusted network; `docs/DEPLOYMENT.md` shows how. An admission policy
//! is the server's own last line: an [`IpAllowlist`] closes connections from anywhere
//! else before a byte is read, and a policy of your own can refuse calls by their
//! environment (a context, a channel technology).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::wire::AgiEnv;

/// What an [`AdmissionPolicy`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Let the call through.
    Allow,
    /// Refuse it; the reason goes to the log (and, for a call, to the dialplan with the
    /// `DENIED` status).
    Deny(Cow<'static, str>),
}

impl Admission {
    /// A refusal with a reason.
    pub fn deny(reason: impl Into<Cow<'static, str>>) -> Admission {
        Admission::Deny(reason.into())
    }
}

/// Decides which connections and calls the server accepts.
///
/// Both checks run on the accept path and must not block: look up what you need ahead
/// of time.
///
/// * [`check_peer`](AdmissionPolicy::check_peer) runs as soon as a connection is
///   accepted; a refused peer is closed without a byte read or written.
/// * [`check_call`](AdmissionPolicy::check_call) runs once the environment block has
///   arrived; a refused call is told `DENIED` (with the reason in the reason variable)
///   and closed, without running a handler.
///
/// ```
/// use agi_runtime::{Admission, AdmissionPolicy, AgiEnv, IpAllowlist};
/// use std::net::SocketAddr;
///
/// /// Only the `ivr` context may call in, and only from the PBX subnet.
/// struct IvrOnly;
///
/// impl AdmissionPolicy for IvrOnly {
///     fn check_call(&self, _peer: Option<SocketAddr>, env: &AgiEnv) -> Admission {
///         match env.context() {
///             Some("ivr") => Admission::Allow,
///             other => Admission::deny(format!("context {other:?} may not use this server")),
///         }
///     }
/// }
///
/// let policy = IpAllowlist::new(["10.0.0.0/24"]).unwrap().and(IvrOnly);
/// assert_eq!(policy.check_peer("10.0.0.7:40000".parse().unwrap()), Admission::Allow);
/// assert!(matches!(policy.check_peer("192.0.2.1:40000".parse().unwrap()), Admission::Deny(_)));
/// ```
pub trait AdmissionPolicy: Send + Sync + 'static {
    /// Whether a connection from `peer` may go on (default: yes).
    fn check_peer(&self, peer: SocketAddr) -> Admission {
        let _ = peer;
        Admission::Allow
    }

    /// Whether the call with this environment may run (default: yes). `peer` is `None`
    /// for sessions that do not run over TCP (the in-memory test harness).
    fn check_call(&self, peer: Option<SocketAddr>, env: &AgiEnv) -> Admission {
        let _ = (peer, env);
        Admission::Allow
    }

    /// Both policies: a connection or call must pass `self`, then `other`.
    fn and<P: AdmissionPolicy>(self, other: P) -> Both<Self, P>
    where
        Self: Sized,
    {
        Both(self, other)
    }
}

/// Two policies in a row, built by [`AdmissionPolicy::and`].
#[derive(Debug, Clone)]
pub struct Both<A, B>(A, B);

impl<A: AdmissionPolicy, B: AdmissionPolicy> AdmissionPolicy for Both<A, B> {
    fn check_peer(&self, peer: SocketAddr) -> Admission {
        match self.0.check_peer(peer) {
            Admission::Allow => self.1.check_peer(peer),
            deny => deny,
        }
    }

    fn check_call(&self, peer: Option<SocketAddr>, env: &AgiEnv) -> Admission {
        match self.0.check_call(peer, env) {
            Admission::Allow => self.1.check_call(peer, env),
            deny => deny,
        }
    }
}

/// A call check made of a closure, built by [`admit_fn`].
#[derive(Clone)]
pub struct AdmitFn<F>(F);

impl<F> fmt::Debug for AdmitFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdmitFn")
    }
}

/// A policy whose [`check_call`](AdmissionPolicy::check_call) is `f`.
///
/// ```
/// use agi_runtime::{admit_fn, Admission, Server};
///
/// fn configure(server: Server) -> Server {
///     server.admission(admit_fn(|_peer, env| match env.channel_type() {
///         Some("PJSIP") | Some("Local") => Admission::Allow,
///         other => Admission::deny(format!("channel type {other:?} is not served here")),
///     }))
/// }
/// ```
pub fn admit_fn<F>(f: F) -> AdmitFn<F>
where
    F: Fn(Option<SocketAddr>, &AgiEnv) -> Admission + Send + Sync + 'static,
{
    AdmitFn(f)
}

impl<F> AdmissionPolicy for AdmitFn<F>
where
    F: Fn(Option<SocketAddr>, &AgiEnv) -> Admission + Send + Sync + 'static,
{
    fn check_call(&self, peer: Option<SocketAddr>, env: &AgiEnv) -> Admission {
        (self.0)(peer, env)
    }
}

/// One network of an [`IpAllowlist`]: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A network in an [`IpAllowlist`] could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an IP address or network (`10.0.0.5`, `10.0.0.0/24`, `fd00::/8`): {reason}")]
pub struct InvalidNetwork {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for Network {
    type Err = InvalidNetwork;

    fn from_str(input: &str) -> Result<Network, InvalidNetwork> {
        let invalid = |reason| InvalidNetwork { input: input.to_owned(), reason };
        let (addr, prefix) = match input.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (input.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid("not an IP address"))?;
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => {
                prefix.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(|| invalid("bad prefix length"))?
            }
        };
        Ok(Network { addr, prefix })
    }
}

/// Accepts connections only from the listed addresses and networks.
///
/// IPv4 peers reaching a dual-stack (`[::]`) listener as `::ffff:a.b.c.d` match the
/// IPv4 entries. A refused peer is closed before anything is read, and logged once per
/// connection at `info` level.
///
/// ```
/// use agi_runtime::{Admission, AdmissionPolicy, IpAllowlist};
///
/// let allow = IpAllowlist::new(["10.1.0.0/16", "192.0.2.10", "fd00::/8"]).unwrap();
/// assert_eq!(allow.check_peer("10.1.200.3:5000".parse().unwrap()), Admission::Allow);
/// assert_eq!(allow.check_peer("[::ffff:192.0.2.10]:5000".parse().unwrap()), Admission::Allow);
/// assert_ne!(allow.check_peer("10.2.0.1:5000".parse().unwrap()), Admission::Allow);
/// assert!(IpAllowlist::new(["10.0.0.0/33"]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAllowlist {
    networks: Vec<Network>,
}

impl IpAllowlist {
    /// An allowlist of addresses (`10.0.0.5`) and networks (`10.0.0.0/24`, `fd00::/8`).
    pub fn new<I, S>(networks: I) -> Result<IpAllowlist, InvalidNetwork>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let networks = networks.into_iter().map(|n| n.as_ref().parse()).collect::<Result<_, _>>()?;
        Ok(IpAllowlist { networks })
    }

    /// Whether `ip` is on the list.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|n| n.contains(ip))
    }
}

impl AdmissionPolicy for IpAllowlist {
    fn check_peer(&self, peer: SocketAddr) -> Admission {
        if self.allows(peer.ip()) {
            Admission::Allow
        } else {
            Admission::deny(format!("{} is not on the IP allowlist", peer.ip()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_networks_only() {
        let list = IpAllowlist::new(["10.0.0.0/8", "192.168.1.1", "::1", "0.0.0.0/0"]).unwrap();
        assert!(list.allows("10.255.1.2".parse().unwrap()));
        assert!(list.allows("8.8.8.8".parse().unwrap()), "0.0.0.0/0 is every IPv4 address");
        assert!(list.allows("::1".parse().unwrap()));
        assert!(!list.allows("::2".parse().unwrap()));
        let list = IpAllowlist::new(["10.0.0.0/8"]).unwrap();
        assert!(!list.allows("11.0.0.1".parse().unwrap()));
        assert!(!list.allows("::ffff:11.0.0.1".parse().unwrap()));
        assert!(list.allows("::ffff:10.0.0.1".parse().unwrap()));
        let list = IpAllowlist::new(["fe80::/10"]).unwrap();
        assert!(list.allows("fe80::1".parse().unwrap()));
        assert!(!list.allows("fec0::1".parse().unwrap()));
        assert!(!list.allows("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_entries_are_named() {
        let err = IpAllowlist::new(["10.0.0.0/8", "nonsense"]).unwrap_err();
        assert_eq!(err.input, "nonsense");
        assert!(IpAllowlist::new(["::/129"]).is_err());
        assert!(IpAllowlist::new(["10.0.0.0/x"]).is_err());
        assert!(IpAllowlist::new(["10.0.0.0/32", "::/128", "::/0"]).is_ok());
    }
}
