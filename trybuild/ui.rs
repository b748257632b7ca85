//! Every accepted form of the macros compiles; every mistake gives its pinned message.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p agi-trybuild`
//! and read each one as a user would: the caret must sit on the mistake.

#[test]
fn macros() {
    let cases = trybuild::TestCases::new();
    cases.pass("agi_route/pass/*.rs");
    cases.compile_fail("agi_route/fail/*.rs");
    cases.pass("routes/pass/*.rs");
    cases.compile_fail("routes/fail/*.rs");
}
