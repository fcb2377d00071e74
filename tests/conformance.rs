//! AWS's conformance suite for durable SDKs judges `cairn serve`: its
//! requirements and its validator, unchanged, driven by
//! `tests/peers/conformance.py` against handlers written with Cairn's SDK
//! (`tests/conformance/SUITE`, one component per suite). Every requirement a
//! handler expresses must pass, but for the known failures each suite's
//! `gaps.yaml` names, which must still fail (so that a fix is noticed and
//! the list shrinks). tests/lambda.rs holds the same suite on the Lambda
//! host.

mod support;

#[test]
fn aws_conformance_suite_passes_on_cairn_serve() {
    support::conformance(&["--cairn".as_ref(), env!("CARGO_BIN_EXE_cairn").as_ref()]);
}
