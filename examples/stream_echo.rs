//! A DingTalk echo robot over Stream mode, on dingtalk-robot alone: no public URL, no
//! signature to check (the connection is authenticated with the app key and secret); each
//! message is echoed through its sessionWebhook. Run:
//! `DINGTALK_APP_KEY=… DINGTALK_APP_SECRET=… cargo run -p casebot-examples --bin stream-echo`
//! (`DINGTALK_OPENAPI_BASE` and `DINGTALK_API_BASE` override DingTalk's origins).
use dingtalk_robot::{
    AppCredentials, AppSecret, OutboundMessage, Sender, SessionWebhook, StreamAck, StreamClient,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (Ok(key), Ok(secret)) = (
        std::env::var("DINGTALK_APP_KEY"),
        std::env::var("DINGTALK_APP_SECRET"),
    ) else {
        return Err(
            "set DINGTALK_APP_KEY and DINGTALK_APP_SECRET to the app's key and secret".into(),
        );
    };
    let openapi = std::env::var("DINGTALK_OPENAPI_BASE")
        .unwrap_or_else(|_| dingtalk_robot::DEFAULT_OPENAPI_BASE.to_owned());
    let api = std::env::var("DINGTALK_API_BASE")
        .unwrap_or_else(|_| dingtalk_robot::DEFAULT_API_BASE.to_owned());
    let sender = Sender::builder().api_base(api).build()?;
    let client =
        StreamClient::new(AppCredentials::new(key, AppSecret::new(secret))).openapi_base(openapi);
    println!("stream echo robot connecting");
    client
        .run(
            move |delivered| {
                let sender = sender.clone();
                async move {
                    let message = delivered.message;
                    if let (Some(hook), Some(text)) = (
                        SessionWebhook::from_message(&message),
                        message.command_string(),
                    ) {
                        // The ACK does not wait for the reply.
                        tokio::spawn(async move {
                            let echo = OutboundMessage::text(format!("echo: {text}"));
                            if let Err(err) = sender.send(&hook.into(), echo).await {
                                eprintln!("reply not delivered: {err}");
                            }
                        });
                    }
                    StreamAck::Ack
                }
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await?;
    Ok(())
}
