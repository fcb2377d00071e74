//! Building a workflow crate for wasm32-wasip2, so `cairn run DIR` works.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A built workflow component.
pub struct Built {
    pub wasm: PathBuf,
    /// The crate's name, the workflow's default name.
    pub name: String,
}

/// Builds the crate in `dir` (release, wasm32-wasip2) with cargo and returns
/// its component. Cargo's progress goes to stderr.
pub fn build_crate(dir: &Path) -> Result<Built> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} is neither a component nor a crate directory (no Cargo.toml)",
            dir.display()
        );
    }
    let manifest = manifest.canonicalize()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    if !output.status.success() {
        // The compiler's messages are above, on stderr (cargo renders them
        // there, not as JSON): say which kind of failure it was, not guess.
        if !wasm_target_installed() {
            bail!(
                "cargo could not build {}: the wasm32-wasip2 target is not installed (`rustup target add wasm32-wasip2`)",
                dir.display()
            );
        }
        bail!(
            "cargo could not build {}: it does not compile (cargo's errors are above)",
            dir.display()
        );
    }
    for message in messages {
        if message["reason"] != "compiler-artifact"
            || message["manifest_path"].as_str().map(Path::new) != Some(manifest.as_path())
        {
            continue;
        }
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"));
        if let Some(wasm) = wasm {
            let name = message["target"]["name"]
                .as_str()
                .unwrap_or("workflow")
                .replace('_', "-");
            return Ok(Built {
                wasm: wasm.into(),
                name,
            });
        }
    }
    bail!(
        "cargo built {} but produced no .wasm component (is it a `cdylib`?)",
        dir.display()
    )
}

/// Whether rustup has the wasm32-wasip2 target (true without rustup:
/// then nothing can tell).
fn wasm_target_installed() -> bool {
    match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|line| line.trim() == "wasm32-wasip2"),
        _ => true,
    }
}

/// Builds workspace `packages` for wasm32-wasip2 with the workspace's `guest`
/// profile into `target_dir` (a directory of their own, so a cargo already
/// running tests or benches never holds its lock) and returns the folder of
/// the components. For Cairn's own tests and benches.
pub fn build_workspace_guests(
    workspace: &Path,
    packages: &[&str],
    target_dir: &Path,
) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "guest",
        ]);
    for package in packages {
        command.args(["-p", package]);
    }
    if !command.status().context("cannot run cargo")?.success() {
        bail!("cargo could not build {packages:?} for wasm32-wasip2");
    }
    Ok(target_dir.join("wasm32-wasip2/guest"))
}
