//! `cairn package`: a zip for a Lambda function (custom runtime
//! `provided.al2023`): the `bootstrap` host, the component, and its
//! precompiled artifact where this machine can compile for the target.

use anyhow::{Context as _, Result, bail};
use cairn_engine::Engine;
use cairn_engine::limits::AllowedHost;
use std::io::Write as _;
use std::path::Path;

/// The function's architecture.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// As Lambda spells it (`x86-64` is accepted too).
    #[value(name = "x86_64", alias = "x86-64")]
    X86_64,
    Arm64,
}

impl Arch {
    /// The ELF machine of a binary for it.
    fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Arm64 => 183,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    fn target(self) -> &'static str {
        match self {
            Arch::X86_64 => cairn_engine::component::LINUX_X86_64,
            Arch::Arm64 => cairn_engine::component::LINUX_ARM64,
        }
    }
}

/// The newest glibc Amazon Linux 2023 (Lambda's `provided.al2023`) has.
const AL2023_GLIBC_MINOR: u32 = 34;

/// What the zip holds; says what it left out.
pub struct Packaged {
    pub artifact: Option<String>,
}

/// The file beside `component.wasm` that lists the hosts the function's
/// HTTP requests may reach, one `HOST[:PORT]` a line (the bootstrap reads it).
pub const ALLOW_HTTP_FILE: &str = "allow-http";

pub fn package(
    component: &Path,
    bootstrap: &Path,
    arch: Arch,
    allow_http: &[AllowedHost],
    output: &Path,
) -> Result<Packaged> {
    let host = std::fs::read(bootstrap)
        .with_context(|| format!("cannot read the bootstrap {}", bootstrap.display()))?;
    check_bootstrap(&host, arch)
        .with_context(|| format!("{} cannot be the function's bootstrap", bootstrap.display()))?;
    let wasm =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    // Compiled as the function's host compiles: for the architecture's
    // baseline CPU, so the artifact loads on whatever machine Lambda picks.
    let engine = Engine::for_target(None, Some(arch.target()))?;
    let artifact = Some(engine.precompile(&wasm)?);
    Engine::new(None)?.load(&wasm)?; // and refuse what could never run
    let file = std::fs::File::create(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("bootstrap", options.unix_permissions(0o755))?;
    zip.write_all(&host)?;
    zip.start_file("component.wasm", options.unix_permissions(0o644))?;
    zip.write_all(&wasm)?;
    if !allow_http.is_empty() {
        zip.start_file(ALLOW_HTTP_FILE, options.unix_permissions(0o644))?;
        for host in allow_http {
            writeln!(zip, "{host}")?;
        }
    }
    if let Some((name, bytes)) = &artifact {
        zip.start_file(format!("cache/{name}"), options.unix_permissions(0o644))?;
        zip.write_all(bytes)?;
    }
    zip.finish()?;
    Ok(Packaged {
        artifact: artifact.map(|(name, _)| name),
    })
}

/// The bootstrap must be an ELF executable for `arch` that runs on Amazon
/// Linux 2023: statically linked, or needing glibc 2.34 at most (judged by
/// the `GLIBC_2.N` version names it carries).
fn check_bootstrap(binary: &[u8], arch: Arch) -> Result<()> {
    if binary.len() < 20 || &binary[..4] != b"\x7fELF" {
        bail!("it is not an ELF executable (Lambda runs Linux binaries)");
    }
    let machine = u16::from_le_bytes([binary[18], binary[19]]);
    if machine != arch.elf_machine() {
        let built = [Arch::X86_64, Arch::Arm64]
            .into_iter()
            .find(|other| other.elf_machine() == machine)
            .map_or_else(
                || format!("ELF machine {machine}"),
                |other| other.name().to_owned(),
            );
        bail!(
            "it is built for {built}, not {} (pass --arch {built}, or build it for {})",
            arch.name(),
            arch.name()
        );
    }
    let needed = glibc_minor_needed(binary);
    if let Some(minor) = needed.filter(|minor| *minor > AL2023_GLIBC_MINOR) {
        bail!(
            "it needs glibc 2.{minor}, and Amazon Linux 2023 has 2.{AL2023_GLIBC_MINOR}: build it on an older system, or statically with musl (`cargo build --release --target x86_64-unknown-linux-musl -p cairn-lambda`)"
        );
    }
    Ok(())
}

/// The highest `GLIBC_2.N` a binary names, if any.
fn glibc_minor_needed(binary: &[u8]) -> Option<u32> {
    const TAG: &[u8] = b"GLIBC_2.";
    binary
        .windows(TAG.len())
        .enumerate()
        .filter(|(_, window)| *window == TAG)
        .filter_map(|(at, _)| {
            let digits: Vec<u8> = binary[at + TAG.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            std::str::from_utf8(&digits).ok()?.parse().ok()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_are_read_from_their_names() {
        let binary = b"\x7fELF....GLIBC_2.17\0GLIBC_2.34\0GLIBC_2.2.5\0";
        assert_eq!(glibc_minor_needed(binary), Some(34));
        assert_eq!(glibc_minor_needed(b"static"), None);
    }
}
