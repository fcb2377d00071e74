//! `cairn package`: a zip that Lambda runs as it is. The packaged bootstrap
//! serves the order example under AWS's emulators from the unzipped
//! package (Lambda's task root), loading the precompiled artifact.

mod lambda_lab;
mod support;

use lambda_lab::{Function, Lab};
use serde_json::json;
use std::path::{Path, PathBuf};
use support::{Cairn, guest};

const ORDER: &str = r#"{"customer":"ada","items":[{"sku":"tea","quantity":2,"unit_cents":450}]}"#;

/// The Lambda host built beside `cairn` (the workspace's `cargo test`
/// builds it for cairn-lambda's own tests).
fn bootstrap() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_cairn")).with_file_name("bootstrap");
    assert!(
        path.exists(),
        "no {}: build the workspace (`cargo test` at its root builds cairn-lambda)",
        path.display()
    );
    path
}

#[test]
fn a_packaged_function_runs_from_its_zip() {
    let cairn = Cairn::new();
    let order = guest("order");
    let zip_path = cairn.db().with_file_name("function.zip");
    let packed = cairn.run(&[
        "package",
        order.to_str().unwrap(),
        "--arch",
        "x86_64", // as Lambda spells it
        "--bootstrap",
        bootstrap().to_str().unwrap(),
        "-o",
        zip_path.to_str().unwrap(),
    ]);
    assert_eq!(packed.code, 0, "{}", packed.stderr);

    let root = tempfile::tempdir().unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "bootstrap");
    assert!(
        names[1].starts_with("cache/") && names[1].ends_with(".cwasm"),
        "{names:?}"
    );
    assert_eq!(names[2], "component.wasm");
    assert_eq!(
        archive
            .by_name("bootstrap")
            .unwrap()
            .unix_mode()
            .map(|m| m & 0o777),
        Some(0o755)
    );
    archive.extract(root.path()).unwrap();
    let artifact = root.path().join(&names[1]);
    let written = std::fs::metadata(&artifact).unwrap().modified().unwrap();

    let lab = Lab::start(&[Function {
        name: "order".into(),
        bootstrap: root.path().join("bootstrap"),
        env: vec![(
            "LAMBDA_TASK_ROOT".into(),
            root.path().to_string_lossy().into_owned(),
        )],
    }]);
    let done = lab.run(json!([{ "function": "order", "input": ORDER, "name": "p1" }]));
    assert_eq!(done["p1"]["status"], "SUCCEEDED", "{}", lab.logs());
    let log = std::fs::read_to_string(lab.dir.path().join("order.log")).unwrap();
    assert!(log.contains("(precompiled artifact)"), "{log}");
    assert_eq!(
        std::fs::metadata(&artifact).unwrap().modified().unwrap(),
        written,
        "the artifact was loaded, not rebuilt"
    );
    // The cold start, for the record (README): not asserted.
    for line in log.lines().filter(|l| l.contains(" us after start")) {
        eprintln!("packaged bootstrap: {line}");
    }

    // A bootstrap for another architecture, or not a Linux binary, is refused.
    let arm = cairn.run(&[
        "package",
        order.to_str().unwrap(),
        "--arch",
        "arm64",
        "--bootstrap",
        bootstrap().to_str().unwrap(),
        "-o",
        zip_path.to_str().unwrap(),
    ]);
    assert_eq!(arm.code, 2);
    assert!(
        arm.stderr.contains("it is built for x86_64, not arm64"),
        "{}",
        arm.stderr
    );
    // An arm64 package gets an artifact Cranelift compiled for aarch64 here
    // (the bootstrap is an ELF header standing in: no arm64 build here).
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[18..20].copy_from_slice(&183u16.to_le_bytes());
    let arm_bootstrap = cairn.db().with_file_name("arm64-bootstrap");
    std::fs::write(&arm_bootstrap, header).unwrap();
    let arm_zip = cairn.db().with_file_name("arm64.zip");
    let arm = cairn.run(&[
        "package",
        order.to_str().unwrap(),
        "--arch",
        "arm64",
        "--bootstrap",
        arm_bootstrap.to_str().unwrap(),
        "-o",
        arm_zip.to_str().unwrap(),
    ]);
    assert_eq!(arm.code, 0, "{}", arm.stderr);
    let arm_archive = zip::ZipArchive::new(std::fs::File::open(&arm_zip).unwrap()).unwrap();
    let arm_artifact = arm_archive
        .file_names()
        .find(|n| n.starts_with("cache/"))
        .expect("an arm64 artifact")
        .to_owned();
    assert_ne!(arm_artifact, names[1], "compiled for another engine target");
    let not_elf = cairn.run(&[
        "package",
        order.to_str().unwrap(),
        "--bootstrap",
        order.to_str().unwrap(),
        "-o",
        zip_path.to_str().unwrap(),
    ]);
    assert_eq!(not_elf.code, 2);
    assert!(
        not_elf.stderr.contains("not an ELF executable"),
        "{}",
        not_elf.stderr
    );
}

#[test]
fn a_package_carries_its_http_allowlist() {
    let service = support::HttpService::start();
    let cairn = Cairn::new();
    let fetch = guest("fetch");
    let zip_path = cairn.db().with_file_name("fetch.zip");
    let packed = cairn.run(&[
        "package",
        fetch.to_str().unwrap(),
        "--bootstrap",
        bootstrap().to_str().unwrap(),
        "--allow-http",
        &service.authority(),
        "-o",
        zip_path.to_str().unwrap(),
    ]);
    assert_eq!(packed.code, 0, "{}", packed.stderr);
    let root = tempfile::tempdir().unwrap();
    zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap())
        .unwrap()
        .extract(root.path())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("allow-http")).unwrap(),
        format!("{}\n", service.authority())
    );
    let lab = Lab::start(&[Function {
        name: "fetch".into(),
        bootstrap: root.path().join("bootstrap"),
        env: vec![(
            "LAMBDA_TASK_ROOT".into(),
            root.path().to_string_lossy().into_owned(),
        )],
    }]);
    let input = json!({ "calls": [
        { "url": service.url("/echo/packed") },
        { "url": format!("http://localhost:{}/echo/elsewhere", service.port) },
    ]})
    .to_string();
    let done = lab.run(json!([{ "function": "fetch", "input": input, "name": "f1" }]));
    assert_eq!(done["f1"]["status"], "SUCCEEDED", "{}", lab.logs());
    let outcomes: serde_json::Value =
        serde_json::from_str(done["f1"]["result"].as_str().unwrap()).unwrap();
    assert_eq!(outcomes[0], json!({ "status": 200, "body": "packed" }));
    assert_eq!(outcomes[1]["error_type"], "Http.HttpRequestDenied");
    assert_eq!(service.count("/echo/packed"), 1);
    assert_eq!(service.count("/echo/elsewhere"), 0);
}
