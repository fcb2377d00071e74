// Shared by the flow-v* guests, which differ only in their constants.
use cairn::{Context, Error};
use std::time::Duration;

fn flow(ctx: &mut Context, _input: serde::de::IgnoredAny) -> Result<String, Error> {
    if PANIC_FIRST {
        panic!("this version is broken");
    }
    let a = ctx.step("a", || Ok::<_, Error>("a".to_string()))?;
    ctx.wait("w", Duration::from_secs(WAIT_SECONDS))?;
    let b = ctx.step("b", || Ok::<_, Error>("b".to_string()))?;
    Ok(format!("{a}{SEPARATOR}{b}"))
}

cairn::workflow!(flow);
