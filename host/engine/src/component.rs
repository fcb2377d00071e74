//! Loading workflow components: validation, the compiled-component cache
//! (memory and disk, keyed by the blake3 hash of the component's bytes) and
//! the wasmtime engine they run on.

use crate::imports;
use crate::invocation::HostState;
use crate::limits::{EPOCH_TICK, MAX_MEMORY_LIMIT, POOLED_INSTANCES};
use anyhow::{Context as _, Result, anyhow, bail};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasmtime::component::{Component, Linker};

use crate::bindings::WorkflowPre;

/// The blake3 hash of a component's bytes: its identity. Executions are
/// pinned to it.
pub type ComponentHash = [u8; 32];

/// A component ready to instantiate.
pub struct Workflow {
    pub hash: ComponentHash,
    pub(crate) pre: WorkflowPre<HostState>,
}

/// The wasmtime engine, the linker with Cairn's imports, and the cache of
/// compiled components.
pub struct Engine {
    pub(crate) engine: wasmtime::Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    loaded: Mutex<HashMap<ComponentHash, Arc<Workflow>>>,
    /// Names precompiled artifacts so that another wasmtime build or config
    /// never loads them.
    compatibility: u64,
}

/// The compile targets of Lambda functions, by architecture (the same for
/// glibc and musl hosts: the machine code is the same).
pub const LINUX_X86_64: &str = "x86_64-unknown-linux-gnu";
pub const LINUX_ARM64: &str = "aarch64-unknown-linux-gnu";

impl Engine {
    /// An engine that keeps precompiled components in `cache_dir`, if given.
    /// It compiles for this machine, using every CPU feature it has.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self> {
        Engine::for_target(cache_dir, None)
    }

    /// An engine that compiles for `target` (a triple such as
    /// `aarch64-unknown-linux-gnu`) with that architecture's baseline CPU
    /// features only: its artifacts load on any machine of the
    /// architecture whose engine is made the same way (what a Lambda
    /// package and its host need).
    pub fn for_target(cache_dir: Option<PathBuf>, target: Option<&str>) -> Result<Self> {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(POOLED_INSTANCES)
            .total_core_instances(POOLED_INSTANCES * 4)
            .total_memories(POOLED_INSTANCES * 2)
            .total_tables(POOLED_INSTANCES * 4)
            .total_stacks(POOLED_INSTANCES)
            .max_memory_size(MAX_MEMORY_LIMIT);
        let mut config = wasmtime::Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        if let Some(target) = target {
            config
                .target(target)
                .map_err(|e| anyhow!("wasmtime cannot compile for {target}: {e}"))?;
        }
        let engine = wasmtime::Engine::new(&config)
            .map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))?;
        start_epoch_ticker(&engine);
        let linker = imports::linker(&engine)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Engine {
            engine,
            linker,
            cache_dir,
            loaded: Mutex::new(HashMap::new()),
            compatibility: hasher.finish(),
        })
    }

    /// Loads the component at `path`, checking that it is a Cairn workflow.
    pub fn load_file(&self, path: &Path) -> Result<Arc<Workflow>> {
        Ok(self.read_file(path)?.1)
    }

    /// [`Engine::load_file`], with the bytes (to keep or upload them).
    pub fn read_file(&self, path: &Path) -> Result<(Vec<u8>, Arc<Workflow>)> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        let workflow = self
            .load(&bytes)
            .with_context(|| format!("cannot load {}", path.display()))?;
        Ok((bytes, workflow))
    }

    /// The component whose hash is `hash`: from memory if loaded, else
    /// from `path`, which may hold another build by now (the caller
    /// compares hashes: an execution is pinned to its own).
    pub fn load_pinned(&self, hash: &ComponentHash, path: &Path) -> Result<Arc<Workflow>> {
        if let Some(workflow) = self.loaded.lock().unwrap().get(hash) {
            return Ok(workflow.clone());
        }
        self.load_file(path)
    }

    /// The component deployed from `path` with `hash` (unknown for older
    /// deploys): the one in memory, or the file, if it has not changed.
    pub fn load_deployed(
        &self,
        path: &Path,
        hash: Option<&ComponentHash>,
    ) -> Result<Arc<Workflow>> {
        let Some(hash) = hash else {
            return self.load_file(path);
        };
        let workflow = self.load_pinned(hash, path)?;
        if workflow.hash != *hash {
            bail!(
                "{} has changed since it was deployed (it was {}, it is {}): deploy it again",
                path.display(),
                &hex(hash)[..16],
                &hex(&workflow.hash)[..16]
            );
        }
        Ok(workflow)
    }

    /// Loads a component from its bytes, checking that it is a Cairn workflow.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<Workflow>> {
        let hash = *blake3::hash(bytes).as_bytes();
        if let Some(workflow) = self.loaded.lock().unwrap().get(&hash) {
            return Ok(workflow.clone());
        }
        check_is_component(bytes)?;
        let component = self.compile(&hash, bytes)?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            anyhow!("the component does not target the cairn:workflow@0.1.0 world: {e}")
        })?;
        let pre = WorkflowPre::new(instance_pre).map_err(|e| {
            anyhow!("the component does not target the cairn:workflow@0.1.0 world: {e}")
        })?;
        let workflow = Arc::new(Workflow { hash, pre });
        self.loaded.lock().unwrap().insert(hash, workflow.clone());
        Ok(workflow)
    }

    /// Compiles a component ahead of time for this engine: the artifact's
    /// file name (as the cache names it) and its bytes. An engine with a
    /// cache directory holding that file loads it instead of compiling.
    pub fn precompile(&self, bytes: &[u8]) -> Result<(String, Vec<u8>)> {
        check_is_component(bytes)?;
        let hash = *blake3::hash(bytes).as_bytes();
        // Compiled only (not loaded): the target may be another machine's.
        let artifact = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| anyhow!("not a valid component: {e:?}"))?;
        Ok((self.artifact_name(&hash), artifact))
    }

    /// The cache's file name for the compiled `bytes` (whether or not it exists).
    pub fn artifact_name_for(&self, bytes: &[u8]) -> String {
        self.artifact_name(blake3::hash(bytes).as_bytes())
    }

    fn artifact_name(&self, hash: &ComponentHash) -> String {
        format!("{}-{:016x}.cwasm", hex(hash), self.compatibility)
    }

    /// Compiles `bytes`, or loads the artifact compiled earlier for them.
    fn compile(&self, hash: &ComponentHash, bytes: &[u8]) -> Result<Component> {
        let artifact = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(self.artifact_name(hash)));
        if let Some(path) = &artifact
            && path.exists()
        {
            // SAFETY: the artifact was written by `Component::serialize` below,
            // under a name that pins both the component's hash and this
            // engine's compatibility hash.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(component) => return Ok(component),
                Err(_) => {
                    let _ = std::fs::remove_file(path); // stale or torn: rebuild it
                }
            }
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| anyhow!("not a valid component: {e:?}"))?;
        if let Some(path) = &artifact
            && let Ok(serialized) = component.serialize()
        {
            // Best effort: a cache that cannot be written only costs compile time.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::create_dir_all(path.parent().unwrap()).is_ok()
                && std::fs::write(&tmp, serialized).is_ok()
            {
                let _ = std::fs::rename(&tmp, path);
            }
        }
        Ok(component)
    }
}

/// Keeps a copy of a component's bytes in `dir`, named by their hash
/// (`HASH.wasm`), and returns its path. Executions and deployed workflows
/// point there, never at the file a user builds into: rebuilding that in
/// place strands nothing. Written to a temporary name, synced, then
/// renamed, so a crash leaves no torn copy under the real name.
pub fn keep(dir: &Path, bytes: &[u8], hash: &ComponentHash) -> Result<PathBuf> {
    let path = kept_path(dir, hash);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(error)
            .with_context(|| format!("cannot keep the component in {}", dir.display()));
    }
    Ok(path)
}

/// Where [`keep`] keeps the component whose hash is `hash`.
pub fn kept_path(dir: &Path, hash: &ComponentHash) -> PathBuf {
    dir.join(format!("{}.wasm", hex(hash)))
}

/// Rejects what is not a component with a message that says what it is.
fn check_is_component(bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        bail!("not a WebAssembly component: the file does not start with the wasm magic bytes");
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => bail!(
            "a core WebAssembly module, not a component: build the workflow for the wasm32-wasip2 target"
        ),
        [_, _, 1, 0] => Ok(()),
        _ => bail!("not a WebAssembly component: unknown binary version or layer"),
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so time budgets trip.
fn start_epoch_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("cairn-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn the epoch ticker");
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
