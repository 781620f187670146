//! The checks the bot makes itself for `case-bot doctor`: the secret, the Support API and its
//! permissions, DingTalk.

use dingtalk_robot::{AppCredentials, OutboundMessage, RobotGroup, Target};
use support_commands::{Error as SupportError, Operation, Permission, SupportApi};

use super::CaseBot;
use crate::config::{ReplyMode, SupportBackend};
use crate::doctor::{Check, Report};
use crate::notify::PushVia;

/// The fix for a Support API failure.
fn support_fix(err: &SupportError, partition: &str) -> String {
    match err {
        SupportError::SubscriptionRequired => "upgrade the account to Business, Enterprise On-Ramp or Enterprise Support (Basic and Developer plans cannot use the Support API), or use --support sandbox to try the bot".to_owned(),
        SupportError::AccessDenied(_) => "allow the bot's role the support: actions listed in docs/deploy-server.md, section 2 (AWS access)".to_owned(),
        _ => format!("check the network path to the Support endpoint of partition {partition} (a proxy, a VPC without NAT or endpoint), the AWS credentials, and --partition"),
    }
}

impl CaseBot {
    /// Runs the checks the bot can make itself, without changing anything (except sending
    /// one test message to `test_conversation`, when given):
    /// - the secret is readable and has the keys this configuration needs;
    /// - the Support API answers DescribeSeverityLevels in this partition, which also shows
    ///   the support plan (`SubscriptionRequiredException` on Basic and Developer);
    /// - each Support operation the bot uses is allowed, asked with `dryRun`;
    /// - when `check_dingtalk` (not for a sandbox on its development secret, whose DingTalk is
    ///   played locally): DingTalk's API is reachable, the app key and secret get an OpenAPI
    ///   token, and the robot can send to `test_conversation`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use case_bot_core::{CaseBot, Secrets, StaticSecrets};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"s"}"#).unwrap());
    /// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets))
    ///     .build()
    ///     .unwrap();
    /// let report = bot.doctor(None, false).await;
    /// assert!(report.checks().iter().any(|c| c.name == "secret"));
    /// # }
    /// ```
    pub async fn doctor(&self, test_conversation: Option<&str>, check_dingtalk: bool) -> Report {
        let mut report = Report::default();
        let config = self.config();
        let secrets = match self.inner.secrets.get().await {
            Ok(keys) => {
                report.push(secret_check(self, &keys.secrets));
                Some(keys.secrets.clone())
            }
            Err(err) => {
                report.push(Check::fail(
                    "secret",
                    format!("cannot be read: {err}"),
                    "create the secret with the keys app_secret (and app_key, robot_code, access_token as your mode needs), or give DINGTALK_APP_SECRET with --secrets env",
                ));
                None
            }
        };
        let partition = match config.partition {
            support_commands::Partition::AwsCn => "aws-cn (support.cn-north-1.amazonaws.com.cn)",
            _ => "aws (support.us-east-1.amazonaws.com)",
        };
        if config.support == SupportBackend::Sandbox {
            report.push(Check::note(
                "Support API",
                "sandbox backend: simulated cases, no AWS account used (--support aws for the real API)",
            ));
        } else {
            // Past the cache: the plan or the policy may have changed since the last look.
            support_checks(
                &mut report,
                self.inner.support.inner().as_ref(),
                partition,
                config.lang,
            )
            .await;
        }
        if check_dingtalk {
            dingtalk_checks(&mut report, self, secrets.as_ref(), test_conversation).await;
        } else {
            report.push(Check::note(
                "DingTalk",
                "not checked: the sandbox's development secret talks to the local DingTalk of `case-bot say`; set DINGTALK_APP_SECRET (and DINGTALK_APP_KEY) to check the real one",
            ));
        }
        report
    }
}

impl CaseBot {
    /// One small write to the state store (as `/readyz` makes): whether it takes writes.
    ///
    /// # Errors
    /// The store's [`Error`](crate::Error).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use case_bot_core::{CaseBot, Secrets, StaticSecrets};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"s"}"#).unwrap());
    /// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets))
    ///     .build()
    ///     .unwrap();
    /// assert!(bot.probe_store().await.is_ok());
    /// # }
    /// ```
    pub async fn probe_store(&self) -> Result<(), crate::Error> {
        self.inner.store.probe().await
    }
}

/// The secret has the keys this configuration needs.
fn secret_check(bot: &CaseBot, secrets: &crate::secrets::Secrets) -> Check {
    let config = bot.config();
    let mut present = vec!["app_secret"];
    let app_key = secrets.app_key.is_some() || config.notify.app_key.is_some();
    if secrets.app_key.is_some() {
        present.push("app_key");
    }
    if secrets.robot_code.is_some() {
        present.push("robot_code");
    }
    if secrets.access_token.is_some() {
        present.push("access_token");
    }
    if secrets.webhook_secret.is_some() {
        present.push("webhook_secret");
    }
    let found = format!("readable; keys present: {}", present.join(", "));
    if config.reply == ReplyMode::Webhook && secrets.access_token.is_none() {
        return Check::fail(
            "secret",
            format!("{found}; --reply webhook needs access_token"),
            "add access_token (the custom robot's webhook token) to the secret, or use --reply session",
        );
    }
    if config.notify.push_via == PushVia::OpenApi && !app_key {
        return Check::fail(
            "secret",
            format!("{found}; --push-via openapi needs app_key"),
            "add app_key (the app's Client ID) to the secret or set DINGTALK_APP_KEY",
        );
    }
    Check::pass("secret", found)
}

/// The Support API, the plan, and every operation's permission.
async fn support_checks(
    report: &mut Report,
    support: &dyn SupportApi,
    partition: &str,
    lang: support_commands::Lang,
) {
    let code = match lang {
        support_commands::Lang::En => "en",
        _ => "zh",
    };
    match support.describe_severity_levels(code).await {
        Ok(levels) => {
            let codes: Vec<&str> = levels.iter().map(|l| l.code.as_str()).collect();
            report.push(Check::pass(
                "Support API",
                format!(
                    "answers in partition {partition}; the support plan allows severities {}",
                    codes.join(", ")
                ),
            ));
        }
        Err(err) => {
            let detail = match &err {
                SupportError::SubscriptionRequired => "SubscriptionRequiredException: this account's support plan (Basic or Developer) cannot use the Support API".to_owned(),
                other => format!("DescribeSeverityLevels failed in partition {partition}: {other}"),
            };
            report.push(Check::fail(
                "Support API",
                detail,
                support_fix(&err, partition),
            ));
            // Without a plan or a path to AWS the permission checks would only repeat this
            // failure; one action denied says nothing about the others.
            if !matches!(err, SupportError::AccessDenied(_)) {
                return;
            }
        }
    }
    for operation in Operation::ALL {
        let name = format!("IAM support:{}", operation.name());
        report.push(match support.may_call(operation).await {
            Ok(Permission::Allowed) => Check::pass(name, "allowed (dryRun)"),
            Ok(Permission::Inferred(code)) => Check::pass(
                name,
                format!("allowed (inferred: AWS answered {code} after authorizing the dry run)"),
            ),
            Ok(Permission::Unconfirmed(code)) => Check::note(
                name,
                format!("not confirmed: AWS answered {code}, which it may give before it looks at permissions"),
            ),
            Ok(_) => Check::note(name, "not checked (no IAM on this backend)"),
            Err(SupportError::AccessDenied(message)) => Check::fail(
                name,
                format!("denied: {message}"),
                format!(
                    "add \"support:{}\" to the Allow statement of the bot's role policy",
                    operation.name()
                ),
            ),
            Err(err) => Check::fail(
                name,
                format!("cannot tell: {err}"),
                support_fix(&err, partition),
            ),
        });
    }
}

/// DingTalk: reachable, the app's token, a test send.
async fn dingtalk_checks(
    report: &mut Report,
    bot: &CaseBot,
    secrets: Option<&crate::secrets::Secrets>,
    test_conversation: Option<&str>,
) {
    let config = bot.config();
    let sender = &bot.inner.sender;
    report.push(match sender.check_reachable().await {
        Ok(()) => Check::pass("DingTalk API", format!("{} answers", config.dingtalk_api_base)),
        Err(err) => Check::fail(
            "DingTalk API",
            format!("{} cannot be reached: {err}", config.dingtalk_api_base),
            "allow outbound HTTPS to oapi.dingtalk.com (a proxy or firewall), or fix --dingtalk-api-base",
        ),
    });
    let Some(secrets) = secrets else {
        return;
    };
    let Some(app_key) = secrets
        .app_key
        .clone()
        .or_else(|| config.notify.app_key.clone())
    else {
        report.push(Check::note(
            "DingTalk app",
            "no app key: pushes go only through the custom robot to its own group, and Stream mode is not possible (set app_key to use the OpenAPI)",
        ));
        return;
    };
    let app = AppCredentials::new(app_key.clone(), secrets.app_secret.clone());
    match sender.check_app(&app).await {
        Ok(()) => report.push(Check::pass(
            "DingTalk app",
            format!(
                "{} gave app {app_key} an access token",
                config.notify.dingtalk_openapi_base
            ),
        )),
        Err(err) => {
            report.push(Check::fail(
                "DingTalk app",
                format!("no access token for app {app_key}: {err}"),
                "check app_key (Client ID) and app_secret (Client Secret) on the app's page in the DingTalk developer console, and outbound HTTPS to api.dingtalk.com",
            ));
            return;
        }
    }
    let Some(conversation) = test_conversation else {
        return;
    };
    let code = secrets
        .robot_code
        .clone()
        .or_else(|| config.notify.robot_code.clone())
        .unwrap_or_else(|| app_key.clone());
    let target: Target = RobotGroup::new(app, code, conversation).into();
    let message = OutboundMessage::text(format!(
        "{} casebot doctor: the robot can send to this group.",
        config.notify.keyword
    ));
    report.push(match sender.send(&target, message).await {
        Ok(_) => Check::pass("test message", format!("sent to {conversation}")),
        Err(err) => Check::fail(
            "test message",
            format!("not sent to {conversation}: {err}"),
            "add the robot to the group, publish the app's version, and grant the app the permission qyapi_robot_sendmsg; the id comes from `我的信息` in that group",
        ),
    });
}
