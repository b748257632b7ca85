//! Crate-private hot paths, reachable by the benchmark suite (`benches/`). Not a public
//! API: it may change at any release.

use crate::router::{RouteTable, Router};
use crate::wire::{Arg, CommandError};

/// Encodes one command line into `buf`, exactly as a typed command does.
pub fn encode_command(
    buf: &mut Vec<u8>,
    keywords: &str,
    args: &[Arg<'_>],
    max_line: usize,
) -> Result<(), CommandError> {
    crate::wire::encode::encode_command(buf, keywords, args, max_line)
}

/// A router frozen for serving, as the server looks routes up.
pub struct RouteLookup(RouteTable);

impl RouteLookup {
    /// Freezes `router`.
    pub fn new(router: Router) -> RouteLookup {
        RouteLookup(RouteTable::new(router))
    }

    /// The pattern of the route serving `path`, and the number of captures.
    pub fn find(&self, path: &str) -> Option<(&str, usize)> {
        self.0.find(path).map(|m| (&*m.entry.info.pattern, m.captures.len()))
    }
}
