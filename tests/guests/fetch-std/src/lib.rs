//! Standard wasi:http clients, used unchanged in a workflow: waki (blocking)
//! outside and inside a step, and wstd (async; it writes a request's body
//! after sending its head) outside one. Returns the three response bodies.

use cairn::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    /// A GET target answering text.
    get: String,
    /// A POST target echoing its body.
    echo: String,
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
    let (url, body) = (url.to_owned(), body.to_owned());
    wstd::runtime::block_on(async move {
        let request = wstd::http::Request::post(&url)
            .body(wstd::http::IntoBody::into_body(body))
            .map_err(shown)?;
        let response = wstd::http::Client::new()
            .send(request)
            .await
            .map_err(shown)?;
        let bytes = response.into_body().bytes().await.map_err(shown)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    })
}

fn fetch_std(ctx: &mut Context, input: Input) -> Result<Vec<String>, Error> {
    let got = waki_get(&input.get).map_err(fail("waki GET"))?;
    let streamed = wstd_post(&input.echo, "streamed by wstd").map_err(fail("wstd POST"))?;
    let stepped = ctx.step("post", || {
        waki_post(&input.echo, "sent by waki in a step").map_err(fail("waki POST"))
    })?;
    Ok(vec![got, streamed, stepped])
}

cairn::workflow!(fetch_std);
