//! Standard wasi:http clients, used unchanged in a workflow: waki (blocking)
//! outside and inside a step, and wstd (async; it writes a request's body
//! after sending its head) outside one. Returns the three response bodies,
//! then those of two wstd POSTs made at once (joined) if `together` is set.

use cairn::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    /// A GET target answering text.
    get: String,
    /// A POST target echoing its body.
    echo: String,
    /// POST to `echo` twice at once, outside steps.
    #[serde(default)]
    together: bool,
}

/// Any client's error, as the workflow's.
fn fail(what: &'static str) -> impl Fn(String) -> Error {
    move |error| Error::new("Http", format!("{what}: {error}"))
}

fn shown(error: impl std::fmt::Debug) -> String {
    format!("{error:?}")
}

fn waki_get(url: &str) -> Result<String, String> {
    let response = waki::Client::new().get(url).send().map_err(shown)?;
    let body = response.body().map_err(shown)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn waki_post(url: &str, body: &str) -> Result<String, String> {
    let response = waki::Client::new()
        .post(url)
        .body(body.as_bytes().to_vec())
        .send()
        .map_err(shown)?;
    let body = response.body().map_err(shown)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn wstd_post(url: &str, body: &str) -> Result<String, String> {
    wstd::runtime::block_on(wstd_post_async(url.to_owned(), body.to_owned()))
}

async fn wstd_post_async(url: String, body: String) -> Result<String, String> {
    let request = wstd::http::Request::post(&url)
        .body(wstd::http::IntoBody::into_body(body))
        .map_err(shown)?;
    let response = wstd::http::Client::new()
        .send(request)
        .await
        .map_err(shown)?;
    let bytes = response.into_body().bytes().await.map_err(shown)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn fetch_std(ctx: &mut Context, input: Input) -> Result<Vec<String>, Error> {
    let got = waki_get(&input.get).map_err(fail("waki GET"))?;
    let streamed = wstd_post(&input.echo, "streamed by wstd").map_err(fail("wstd POST"))?;
    let stepped = ctx.step("post", || {
        waki_post(&input.echo, "sent by waki in a step").map_err(fail("waki POST"))
    })?;
    let mut bodies = vec![got, streamed, stepped];
    if input.together {
        let (a, b) = wstd::runtime::block_on(futures_lite::future::zip(
            wstd_post_async(input.echo.clone(), "first of two".into()),
            wstd_post_async(input.echo.clone(), "second of two".into()),
        ));
        bodies.push(a.map_err(fail("wstd POST a"))?);
        bodies.push(b.map_err(fail("wstd POST b"))?);
    }
    Ok(bodies)
}

cairn::workflow!(fetch_std);
