//! The `graceful-shutdown` example built as a binary too, so that its test can run it as
//! a separate process and send it SIGTERM (Cargo hands tests the path of a package's
//! binaries, not of its examples).

#[path = "../graceful_shutdown.rs"]
mod example;

fn main() -> std::io::Result<()> {
    example::main()
}
