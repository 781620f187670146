//! The DingTalk of the sandbox round trip: `case-bot say --wait` plays the robot OpenAPI on
//! 127.0.0.1 (an access token for anyone, and group sends), so what the bot pushes to the
//! group (AWS's answers, status changes) is printed in the terminal.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The port `case-bot serve` pushes to in the sandbox, and `say --wait` listens on.
pub(crate) const PORT: u16 = 8081;
/// The app key of the sandbox's robot.
pub(crate) const APP_KEY: &str = "dingLocalSandbox";

/// A pushed message: its group and its text.
pub(crate) type Pushed = (String, String);

/// Answers every JSON post on `listener` with `answer(path, body)`.
pub(crate) fn serve<F>(listener: TcpListener, answer: F)
where
    F: Fn(&str, Value) -> Value + Clone + Send + Sync + 'static,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let answer = answer.clone();
                async move {
                    let path = request.uri().path().to_owned();
                    let body = Limited::new(request.into_body(), 1 << 20)
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let reply = answer(&path, body).to_string();
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        reply,
                    ))))
                }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
}

/// Listens on 127.0.0.1:`port`; every group send comes out of the receiver.
pub(crate) async fn start(port: u16) -> std::io::Result<mpsc::UnboundedReceiver<Pushed>> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    serve(listener, move |path, body| match path {
        "/v1.0/oauth2/accessToken" => json!({ "accessToken": "local-sandbox", "expireIn": 7200 }),
        "/v1.0/robot/groupMessages/send" => {
            let group = body["openConversationId"].as_str().unwrap_or_default();
            let param: Value = body["msgParam"]
                .as_str()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            let text = param["text"]
                .as_str()
                .or_else(|| param["content"].as_str())
                .unwrap_or_default();
            let _ = tx.send((group.to_owned(), text.to_owned()));
            json!({ "processQueryKey": "local-sandbox" })
        }
        _ => json!({ "code": "notFound", "message": "not a DingTalk path" }),
    });
    Ok(rx)
}
