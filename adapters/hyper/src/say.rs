//! `case-bot say "<text>"`: talk to a running bot without DingTalk.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::{DEV_APP_SECRET, Failure};

/// Options of `case-bot say`.
#[derive(Args, Debug)]
pub(crate) struct SayArgs {
    /// What to say, as you would after @-mentioning the robot (use \n for new lines).
    text: String,
    /// The bot's callback URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/dingtalk/callback")]
    url: String,
    /// Sender's nickname.
    #[arg(long, default_value = "值班同学")]
    nick: String,
    /// Sender's staff id.
    #[arg(long, default_value = "dev-staff-1")]
    staff_id: String,
    /// Group conversation id.
    #[arg(long, default_value = "cidLocalDevGroup")]
    conversation: String,
    /// Group title.
    #[arg(long, default_value = "本地测试群")]
    group_title: String,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
    /// After the reply, wait this many seconds for what the bot pushes to the group (AWS's
    /// answers, status changes), playing DingTalk's OpenAPI on 127.0.0.1:8081 (the sandbox's
    /// push target), and print it.
    #[arg(long, default_value_t = 0)]
    wait: u64,
    /// The port `--wait` listens on for pushes (the sandbox server pushes to 8081; another
    /// needs `DINGTALK_OPENAPI_BASE=http://127.0.0.1:PORT`).
    #[arg(long, default_value_t = crate::local_dingtalk::PORT)]
    push_port: u16,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// The human-readable part of a DingTalk message.
fn readable(message: &Value) -> String {
    let msgtype = message["msgtype"].as_str().unwrap_or_default();
    let field = if msgtype == "text" { "content" } else { "text" };
    message[msgtype][field]
        .as_str()
        .map_or_else(|| message.to_string(), str::to_owned)
}

/// Starts a one-off session webhook on loopback; each posted message goes to the channel.
async fn session_listener() -> Result<(String, mpsc::UnboundedReceiver<Value>), Failure> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let listen_failed = |source| Failure::Listen {
        addr: loopback,
        source,
    };
    let listener = TcpListener::bind(loopback).await.map_err(listen_failed)?;
    let addr = listener.local_addr().map_err(listen_failed)?;
    let (tx, rx) = mpsc::unbounded_channel();
    crate::local_dingtalk::serve(listener, move |_, message| {
        if message.is_object() {
            let _ = tx.send(message);
        }
        json!({ "errcode": 0, "errmsg": "ok" })
    });
    Ok((
        format!(
            "http://{addr}/robot/sendBySession?session=casebot-say-{}",
            now_ms()
        ),
        rx,
    ))
}

/// Runs `case-bot say`.
pub(crate) async fn run(args: SayArgs) -> Result<(), Failure> {
    let secret = std::env::var("DINGTALK_APP_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEV_APP_SECRET.to_owned());
    let (session_url, mut replies) = session_listener().await?;
    let pushes = if args.wait > 0 {
        match crate::local_dingtalk::start(args.push_port).await {
            Ok(pushes) => Some(pushes),
            Err(err) => {
                eprintln!(
                    "cannot listen for pushes on 127.0.0.1:{} ({err}): is another `say --wait` running?",
                    args.push_port
                );
                None
            }
        }
    } else {
        None
    };
    let created = now_ms();
    let text = args.text.replace("\\n", "\n");
    let body = json!({
        "conversationId": args.conversation,
        "atUsers": [{ "dingtalkId": "$:LWCP_v1:$casebot" }],
        "chatbotCorpId": "dingLocalCorp",
        "chatbotUserId": "$:LWCP_v1:$casebot",
        "msgId": format!("msgCaseBotSay{created}{}", std::process::id()),
        "senderNick": args.nick,
        "isAdmin": false,
        "senderStaffId": args.staff_id,
        "sessionWebhookExpiredTime": created + 90 * 60 * 1000,
        "createAt": created,
        "senderCorpId": "dingLocalCorp",
        "conversationType": "2",
        "senderId": "$:LWCP_v1:$casebotsay",
        "conversationTitle": args.group_title,
        "isInAtList": true,
        "sessionWebhook": session_url,
        "text": { "content": format!(" {text}") },
        "robotCode": "dingLocalRobot",
        "msgtype": "text",
    });
    let timestamp = created.to_string();
    let sign = dingtalk_robot::sign(&secret, &timestamp);
    let unreachable = |source| Failure::Unreachable {
        url: args.url.clone(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .map_err(unreachable)?;
    let response = client
        .post(&args.url)
        .header("content-type", "application/json; charset=utf-8")
        .header("timestamp", timestamp)
        .header("sign", sign)
        .body(body.to_string())
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let answer = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        return Err(Failure::Refused {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&answer).into_owned(),
        });
    }
    // `--reply response`: the reply is the HTTP body.
    if let Ok(message) = serde_json::from_slice::<Value>(&answer)
        && message.get("msgtype").is_some()
    {
        println!("{}", readable(&message));
    }
    let first = tokio::time::timeout(Duration::from_secs(args.timeout), replies.recv()).await;
    match first {
        Ok(Some(message)) => println!("{}", readable(&message)),
        _ if answer.len() > 2 => return Ok(()),
        _ => return Err(Failure::NoReply(args.timeout)),
    }
    // Long replies arrive in several parts.
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), replies.recv()).await
    {
        println!("{}", readable(&message));
    }
    if let Some(pushes) = pushes {
        wait_for_pushes(pushes, &args.conversation, args.wait).await;
    }
    Ok(())
}

/// Prints what the bot pushes to `conversation` for `secs` seconds.
async fn wait_for_pushes(
    mut pushes: mpsc::UnboundedReceiver<crate::local_dingtalk::Pushed>,
    conversation: &str,
    secs: u64,
) {
    eprintln!("(waiting {secs} s for what the bot pushes to the group…)");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Some((group, text))) = tokio::time::timeout_at(deadline, pushes.recv()).await {
        if group == conversation {
            println!("── pushed to the group ──\n{text}");
        }
    }
}
