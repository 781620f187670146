//! `case-bot healthcheck`: `GET /healthz` of a running bot, exit 0 when it answers 200 and 1
//! otherwise (Docker reserves 2 in health checks). For container health checks in images
//! without curl (the distroless image of `./Dockerfile`) and for monitoring scripts.

use std::time::Duration;

use clap::Args;

use crate::Failure;

/// Options of `case-bot healthcheck`.
#[derive(Args, Debug)]
pub(crate) struct HealthArgs {
    /// The URL to ask (`/readyz` for readiness instead of liveness).
    #[arg(
        long,
        env = "CASE_BOT_HEALTH_URL",
        default_value = "http://127.0.0.1:8080/healthz"
    )]
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

/// Asks once; `Ok(true)` for a 200, `Ok(false)` (exit 1) for anything else, unreachable too.
pub(crate) async fn run(args: HealthArgs) -> Result<bool, Failure> {
    match ask(&args).await {
        Ok(healthy) => Ok(healthy),
        Err(failure) => {
            eprintln!("case-bot: {failure}");
            Ok(false)
        }
    }
}

/// One `GET`; whether it answered 200.
async fn ask(args: &HealthArgs) -> Result<bool, Failure> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .build()
        .map_err(|source| Failure::Unreachable {
            url: args.url.clone(),
            source,
        })?;
    let response = client
        .get(&args.url)
        .send()
        .await
        .map_err(|source| Failure::Unreachable {
            url: args.url.clone(),
            source,
        })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    println!("{} {status} {body}", args.url);
    Ok(status.is_success())
}
