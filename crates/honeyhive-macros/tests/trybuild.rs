//! Compile-time behaviour of `#[trace]`: what must compile, and the errors misuse gives.

#[test]
fn trace_attribute_compiles_valid_uses_and_rejects_misuse() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
