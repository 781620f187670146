//! The `bootstrap` binary of the casebot Lambda functions: configuration and clients are built
//! once at init, outside the handler; one JSON log line per request. `CASE_BOT_LAMBDA_ROLE=sweep`
//! makes it the scheduled sweep instead of the callback.

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
    // One binary, two functions (template.yaml): the callback, and the scheduled sweep.
    // The events function: schedules (sweep, reconcile) and Support case events.
    if matches!(
        std::env::var("CASE_BOT_LAMBDA_ROLE").as_deref(),
        Ok("events" | "sweep")
    ) {
        let events = lambda_http::lambda_runtime::service_fn(
            move |event: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>| {
                let bot = bot.clone();
                async move { case_bot_lambda::on_event(&bot, event.payload).await }
            },
        );
        return lambda_http::lambda_runtime::run(events).await;
    }
    lambda_http::run(case_bot_lambda::App::new(bot)).await
}
