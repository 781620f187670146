//! The baseline for `scripts/load`: a minimal hyper 1 "hello world" server, built and served
//! the same way as `case-bot serve` (tokio multi-thread, http1, one task per connection).
//! Run: `cargo run --release -p casebot-examples --bin hello-hyper` (prints its address).
use http_body_util::Full;
use hyper::{Response, server::conn::http1, service::service_fn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::var("HELLO_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("hello-hyper listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service_fn(|_request| async {
            Ok::<_, std::convert::Infallible>(Response::new(Full::new(&b"hello world"[..])))
        });
        tokio::spawn(
            http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service),
        );
    }
}
