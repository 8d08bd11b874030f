#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
    // Cluster mode's compile errors (serde types at `register`).
    #[cfg(feature = "cluster")]
    t.compile_fail("tests/ui/cluster/*.rs");
}
