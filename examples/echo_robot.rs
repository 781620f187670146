//! A DingTalk echo robot on dingtalk-robot alone: verify, parse, reply via sessionWebhook.
//! Run: `DINGTALK_APP_SECRET=… cargo run -p casebot-examples --bin echo-robot` (listens on
//! `ECHO_LISTEN`, default 127.0.0.1:8090; `DINGTALK_API_BASE` overrides DingTalk's origin).
use dingtalk_robot::{
    AppSecret, CallbackVerifier, InboundMessage, OutboundMessage, Sender, SessionWebhook,
};
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};

async fn handle(
    req: Request<Incoming>,
    verifier: CallbackVerifier,
    sender: Sender,
) -> Response<Full<&'static [u8]>> {
    let reply = |status, body| {
        Response::builder()
            .status(status)
            .body(Full::new(body))
            .unwrap_or_default()
    };
    if let Err(err) = verifier.verify_headers(req.headers()) {
        eprintln!("rejected: {err}");
        return reply(StatusCode::UNAUTHORIZED, b"bad signature".as_slice());
    }
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, b"unreadable body");
    };
    let Ok(msg) = InboundMessage::from_json(&body) else {
        return reply(StatusCode::BAD_REQUEST, b"not a DingTalk callback");
    };
    if let (Some(hook), Some(text)) = (SessionWebhook::from_message(&msg), msg.command_string()) {
        tokio::spawn(async move {
            if let Err(err) = sender
                .send(&hook.into(), OutboundMessage::text(format!("echo: {text}")))
                .await
            {
                eprintln!("reply not delivered: {err}");
            }
        });
    }
    reply(StatusCode::OK, b"{}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(secret) = std::env::var("DINGTALK_APP_SECRET") else {
        return Err("set DINGTALK_APP_SECRET to the robot's app secret".into());
    };
    let verifier = CallbackVerifier::new(AppSecret::new(secret));
    let base = std::env::var("DINGTALK_API_BASE")
        .unwrap_or_else(|_| dingtalk_robot::DEFAULT_API_BASE.to_owned());
    let sender = Sender::builder().api_base(base).build()?;
    let listener = tokio::net::TcpListener::bind(
        std::env::var("ECHO_LISTEN").unwrap_or_else(|_| "127.0.0.1:8090".into()),
    )
    .await?;
    println!("echo robot listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let (verifier, sender) = (verifier.clone(), sender.clone());
        let service = service_fn(move |req| {
            let (v, s) = (verifier.clone(), sender.clone());
            async move { Ok::<_, std::convert::Infallible>(handle(req, v, s).await) }
        });
        tokio::spawn(
            http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service),
        );
    }
}
