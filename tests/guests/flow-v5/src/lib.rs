//! flow-v1 with its steps swapped: "b", the wait, then "a" (a reordered call).
use cairn::{Context, Error};
use std::time::Duration;

fn flow(ctx: &mut Context, _input: serde::de::IgnoredAny) -> Result<String, Error> {
    let b = ctx.step("b", || Ok::<_, Error>("b".to_string()))?;
    ctx.wait("w", Duration::from_secs(5))?;
    let a = ctx.step("a", || Ok::<_, Error>("a".to_string()))?;
    Ok(format!("{a}{b}"))
}

cairn::workflow!(flow);
