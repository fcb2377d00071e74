//! The README's code blocks, kept true: every Rust block is a verbatim
//! excerpt of code the build compiles and the tests run (an example, a
//! test), in parts separated by `// ...` lines; the Python block (boto3
//! against `cairn serve`) runs against a real server. The shell blocks are
//! the two commands (`.ci/run` runs the second) and the Lambda recipe,
//! which tests/lambda.rs follows with the same emulators.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Cairn, guest, workspace};

/// The README's fenced blocks of `language`, in order.
fn blocks(language: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match &mut current {
            None if line.trim_end() == format!("```{language}") => current = Some(String::new()),
            Some(block) if line.trim_end() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Every `.rs` file of the repository's own code.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != ".git" && name != "fuzz" {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Lines without their indentation, blank ones left out.
fn trimmed(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn every_rust_block_is_an_excerpt_of_compiled_and_tested_code() {
    let mut files = Vec::new();
    sources(&workspace(), &mut files);
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    let rust = blocks("rust");
    assert!(rust.len() >= 3, "the README's Rust blocks: {rust:?}");
    for block in &rust {
        for part in block.split("// ...\n") {
            let part = trimmed(part);
            let found = texts.iter().any(|(_, text)| {
                let lines = trimmed(text);
                lines
                    .windows(part.len())
                    .any(|window| window == part.as_slice())
            });
            assert!(
                found,
                "this README block is not an excerpt of the repository's code:\n{}",
                part.join("\n")
            );
        }
    }
}

#[test]
fn the_python_block_runs_against_the_server() {
    let python = blocks("python");
    assert_eq!(python.len(), 1, "{python:?}");
    let cairn = Cairn::new();
    let server = cairn.serve(&[]);
    let deploy = cairn.run(&[
        "--server",
        &server.url,
        "deploy",
        "approval",
        guest("approval").to_str().unwrap(),
    ]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    // As the block says to run it, on this server's port.
    let script = python[0].replace("http://127.0.0.1:9000", &server.url);
    assert_ne!(script, python[0], "the block names the server's URL");
    let output = Command::new("python3")
        .args(["-c", &script])
        .env("AWS_SHARED_CREDENTIALS_FILE", &server.credentials)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("python3 runs (scripts/test installs boto3)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "RUNNING");
    // It started the execution it named.
    assert_eq!(cairn.get("a1")["DurableExecutionName"], "a1");
}
