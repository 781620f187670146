//! The `bootstrap` binary of the casebot Lambda function: configuration and clients are built
//! once at init, outside the handler; one JSON log line per request.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CASE_BOT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .without_time()
        .init();
    let bot = case_bot_lambda::bot_from_env().await?;
    lambda_http::run(case_bot_lambda::App::new(bot)).await
}
