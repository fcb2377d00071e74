// Shared by flow-v1 and flow-v2, which differ only in WAIT_SECONDS.
use cairn::{Context, Error};
use std::time::Duration;

fn flow(ctx: &mut Context, _input: serde::de::IgnoredAny) -> Result<String, Error> {
    let a = ctx.step("a", || Ok::<_, Error>("a".to_string()))?;
    ctx.wait("w", Duration::from_secs(WAIT_SECONDS))?;
    let b = ctx.step("b", || Ok::<_, Error>("b".to_string()))?;
    Ok(format!("{a}{b}"))
}

cairn::workflow!(flow);
