//! flow-v1 with its last step renamed "b2": executions still waiting before
//! it resume cleanly; finished ones diverge.
use cairn::{Context, Error};
use std::time::Duration;

fn flow(ctx: &mut Context, _input: serde::de::IgnoredAny) -> Result<String, Error> {
    let a = ctx.step("a", || Ok::<_, Error>("a".to_string()))?;
    ctx.wait("w", Duration::from_secs(5))?;
    let b = ctx.step("b2", || Ok::<_, Error>("b".to_string()))?;
    Ok(format!("{a}{b}"))
}

cairn::workflow!(flow);
