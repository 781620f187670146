//! `case-bot doctor`: the same flags as `serve`, and instead of serving, one run of
//! side-effect-free checks that say whether this deployment will work, each with ✅/❌ and the
//! fix. Exits 1 when a check failed.

use case_bot_core::{Check, SqliteStore, SupportBackend};
use clap::Args;

use crate::Failure;
use crate::prepare::{Prepared, Purpose, callback_url, prepare};
use crate::serve::ServeArgs;
use crate::stream::Mode;

/// Options of `case-bot doctor`: those of `serve`, and a group to send a test message to.
#[derive(Args, Debug)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// A conversation id (`我的信息` in the group shows it) to send one test message to
    /// through the OpenAPI, proving the robot is in the group and may send there.
    #[arg(long)]
    test_conversation: Option<String>,
}

/// Runs the checks and prints them; whether all passed.
pub(crate) async fn run(mut args: DoctorArgs) -> Result<bool, Failure> {
    let Prepared {
        bot,
        stream_client,
        table,
    } = prepare(&mut args.serve, Purpose::Doctor).await?;
    let config = bot.config();
    let serve = &args.serve;
    println!(
        "case-bot doctor: mode {}, support {}, partition {}, state {}",
        match serve.mode {
            Mode::Http => "http",
            Mode::Stream => "stream",
        },
        match config.support {
            SupportBackend::Aws => "aws",
            _ => "sandbox",
        },
        config.partition.signing_region(),
        serve.state.display()
    );
    // The sandbox's development secret talks to `case-bot say`, not to DingTalk.
    let development = config.support == SupportBackend::Sandbox
        && config.app_secret().is_none()
        && config.secrets_from(case_bot_core::SecretsFrom::Env) == case_bot_core::SecretsFrom::Env;
    let mut report = bot
        .doctor(args.test_conversation.as_deref(), !development)
        .await;
    match (serve.mode, stream_client) {
        (Mode::Stream, _) if development => report.push(Check::note(
            "Stream",
            "not checked with the development secret",
        )),
        (Mode::Stream, Some(client)) => report.push(match client.check_ticket().await {
            Ok(()) => Check::pass(
                "Stream",
                "DingTalk handed out a connection ticket (the app may connect in Stream mode)",
            ),
            Err(err) => Check::fail(
                "Stream",
                format!("no connection ticket: {err}"),
                "in the developer console, set the robot's message receiving mode to Stream and publish the app; check app_key and app_secret",
            ),
        }),
        (Mode::Stream, None) => report.push(Check::fail(
            "Stream",
            "no app key (or the secret could not be read), so no Stream connection",
            "set DINGTALK_APP_KEY or the secret's app_key to the app's Client ID, and see the secret check",
        )),
        (_, _) => report.push(match &serve.public_url {
            Some(public) => Check::pass(
                "callback URL",
                format!(
                    "paste {} as the robot's message receiving address (HTTP mode)",
                    callback_url(public)
                ),
            ),
            None => Check::note(
                "callback URL",
                "HTTP mode needs a public HTTPS address for DingTalk: give --public-url to see the URL to paste, or use --mode stream (no public address needed)",
            ),
        }),
    }
    report.push(state_check(&bot, serve, table.as_deref()).await);
    println!("{report}");
    Ok(report.healthy())
}

/// The state file or table: writable, with the schema version.
async fn state_check(
    bot: &case_bot_core::CaseBot,
    serve: &ServeArgs,
    table: Option<&str>,
) -> Check {
    if let Some(name) = table {
        return match bot.probe_store().await {
            Ok(()) => Check::pass("state", format!("DynamoDB table {name} is writable")),
            Err(err) => Check::fail(
                "state",
                format!("DynamoDB table {name}: {err}"),
                "create the table as adapters/lambda/template.yaml does (StateTable) and allow dynamodb:GetItem, PutItem, UpdateItem, DeleteItem, ConditionCheckItem and Query on it",
            ),
        };
    }
    let path = serve.state.display();
    match SqliteStore::inspect(&serve.state) {
        Ok(found) if found.exists => Check::pass(
            "state",
            format!(
                "{path} is writable, schema version {} (this build writes {})",
                found.schema_version.unwrap_or_default(),
                SqliteStore::SCHEMA_VERSION
            ),
        ),
        Ok(_) => Check::pass(
            "state",
            format!(
                "{path} does not exist yet; its directory is writable, so `serve` will create it"
            ),
        ),
        Err(err) => Check::fail(
            "state",
            format!("{path}: {err}"),
            "point --state at a writable file (the service user must own its directory), or restore it from a backup",
        ),
    }
}

#[cfg(test)]
mod tests {
    use case_bot_core::Report;

    use super::*;

    #[test]
    fn a_report_marks_each_check_and_counts_the_failures() {
        let mut report = Report::default();
        report.push(Check::pass("secret", "readable"));
        report.push(Check::fail("state", "read-only", "chmod it"));
        let text = report.to_string();
        assert!(
            text.contains(
                "✅ secret: readable\n❌ state: read-only\n   fix: chmod it\n1 of 2 checks failed"
            ),
            "{text}"
        );
    }
}
