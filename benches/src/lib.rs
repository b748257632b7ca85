//! The benchmark suite of agi-runtime (see `BENCHMARKS.md` at the repository root).
//!
//! * `bench-framework`: the benchmark call written with `#[agi_route]`;
//! * `bench-reference`: the same call written by hand with tokio, the yardstick;
//! * `agi-load`: a load generator playing Asterisk, and the results table;
//! * `benches/hot_paths.rs`: criterion micro-benchmarks of the hot paths.
//!
//! This library holds what those programs share: the scenario, the counting allocator,
//! the server plumbing, the load generator and the report.

pub mod alloc;
pub mod hist;
pub mod load;
pub mod procfs;
pub mod report;
pub mod scenario;
pub mod serve;
