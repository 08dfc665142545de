//! Compile-time behaviour of `#[trace]`: what must compile, and the errors misuse gives.
// A test's failed expectation is its failure: unwrap, expect and panic say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn trace_attribute_compiles_valid_uses_and_rejects_misuse() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
