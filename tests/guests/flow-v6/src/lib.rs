//! flow-v1 with its first step renamed "alpha" (a renamed call).
use cairn::{Context, Error};
use std::time::Duration;

fn flow(ctx: &mut Context, _input: serde::de::IgnoredAny) -> Result<String, Error> {
    let a = ctx.step("alpha", || Ok::<_, Error>("a".to_string()))?;
    ctx.wait("w", Duration::from_secs(5))?;
    let b = ctx.step("b", || Ok::<_, Error>("b".to_string()))?;
    Ok(format!("{a}{b}"))
}

cairn::workflow!(flow);
