//! The deliver stage: the reply to the group, or to the transport to answer with.

use dingtalk_robot::{CustomRobot, OutboundMessage, Sender, SessionWebhook, Target};

use crate::config::ReplyMode;
use crate::error::Error;
use crate::event::Delivery;
use crate::secrets::Secrets;

/// Where a reply may go.
#[derive(Debug)]
pub(crate) struct Route<'a> {
    pub(crate) mode: ReplyMode,
    /// The message's session webhook.
    pub(crate) session: Option<&'a SessionWebhook>,
    /// The robot's secrets, if they could be read (for the custom robot).
    pub(crate) secrets: Option<&'a Secrets>,
}

impl Route<'_> {
    /// The custom robot, if an access token is configured.
    fn robot(&self) -> Option<Target> {
        let secrets = self.secrets?;
        let robot = CustomRobot::new(secrets.access_token.clone()?);
        Some(Target::from(match &secrets.webhook_secret {
            Some(secret) => robot.with_secret(secret.clone()),
            None => robot,
        }))
    }

    /// The session webhook first (the custom robot first in `webhook` mode), the other as the
    /// fallback.
    fn target(&self) -> Option<Target> {
        let session = || self.session.cloned().map(Target::from);
        match self.mode {
            ReplyMode::Webhook => self.robot().or_else(session),
            _ => session().or_else(|| self.robot()),
        }
    }
}

/// Posts `messages` in order; an undelivered reply is logged whole, so an operator can still
/// pass it on.
async fn post(
    sender: &Sender,
    route: &Route<'_>,
    messages: Vec<OutboundMessage>,
) -> Result<usize, Error> {
    let Some(target) = route.target() else {
        let undelivered: Vec<String> = messages
            .iter()
            .filter_map(|m| serde_json::to_string(m).ok())
            .collect();
        tracing::error!(reply = ?undelivered, "reply not delivered: {}", Error::NoReplyTarget);
        return Err(Error::NoReplyTarget);
    };
    let mut parts = 0;
    for message in messages {
        let undelivered = serde_json::to_string(&message).unwrap_or_default();
        match sender.send(&target, message).await {
            Ok(sent) => parts += sent,
            Err(err) => {
                tracing::error!(error = %err, reply = %undelivered, "reply not delivered after retries");
                return Err(err.into());
            }
        }
    }
    Ok(parts)
}

/// Delivers `reply` along `route`. In `response` mode the first DingTalk message is handed
/// back for the transport to answer with, and only the rest is posted.
pub(crate) async fn deliver(sender: &Sender, route: Route<'_>, reply: OutboundMessage) -> Delivery {
    if route.mode == ReplyMode::Response {
        let mut parts = reply.split().into_iter();
        let first = parts.next().unwrap_or_else(|| OutboundMessage::text(""));
        let rest: Vec<OutboundMessage> = parts.collect();
        let rest = if rest.is_empty() {
            Ok(0)
        } else {
            post(sender, &route, rest).await
        };
        return Delivery::Inline { first, rest };
    }
    match post(sender, &route, vec![reply]).await {
        Ok(parts) => Delivery::Sent { parts },
        Err(err) => Delivery::Failed(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dingtalk_robot::testing::FakeDingTalk;

    fn secrets(token: Option<&str>) -> Secrets {
        Secrets {
            app_secret: "app".into(),
            access_token: token.map(Into::into),
            webhook_secret: None,
        }
    }

    #[test]
    fn the_session_is_preferred_unless_webhook_mode_and_each_falls_back_to_the_other() {
        let hook = SessionWebhook::new(
            "https://oapi.dingtalk.com/robot/sendBySession?session=s",
            None,
        );
        let with_token = secrets(Some("tok"));
        let without = secrets(None);
        let route = |mode, session, secrets| Route {
            mode,
            session,
            secrets,
        };
        let is_session = |t: Option<Target>| matches!(t, Some(Target::Session(_)));
        let is_robot = |t: Option<Target>| matches!(t, Some(Target::Robot(_)));
        assert!(is_session(
            route(ReplyMode::Session, Some(&hook), Some(&with_token)).target()
        ));
        assert!(is_robot(
            route(ReplyMode::Webhook, Some(&hook), Some(&with_token)).target()
        ));
        assert!(is_robot(
            route(ReplyMode::Session, None, Some(&with_token)).target()
        ));
        assert!(is_session(
            route(ReplyMode::Webhook, Some(&hook), Some(&without)).target()
        ));
        assert!(is_session(
            route(ReplyMode::Webhook, Some(&hook), None).target()
        ));
        assert!(
            route(ReplyMode::Session, None, Some(&without))
                .target()
                .is_none()
        );
    }

    #[tokio::test]
    async fn response_mode_hands_back_the_first_part_and_posts_the_rest() {
        let fake = FakeDingTalk::start().await.unwrap();
        let sender = Sender::builder().api_base(fake.base_url()).build().unwrap();
        let callback = dingtalk_robot::InboundMessage::from_json(
            &serde_json::to_vec(&fake.callback("x").json()).unwrap(),
        )
        .unwrap();
        let hook = SessionWebhook::from_message(&callback).unwrap();
        let long = OutboundMessage::text("一行\n".repeat(3_000));
        let parts = long.clone().split().len();
        assert!(parts > 1);
        let route = Route {
            mode: ReplyMode::Response,
            session: Some(&hook),
            secrets: None,
        };
        let Delivery::Inline { first, rest } = deliver(&sender, route, long).await else {
            panic!("inline")
        };
        assert!(serde_json::to_string(&first).unwrap().contains("一行"));
        assert_eq!(rest.unwrap(), parts - 1);
        assert_eq!(
            fake.messages().len(),
            parts - 1,
            "the other parts were posted"
        );
    }

    #[tokio::test]
    async fn a_reply_with_nowhere_to_go_fails_with_no_reply_target() {
        let sender = Sender::builder().build().unwrap();
        let route = Route {
            mode: ReplyMode::Session,
            session: None,
            secrets: None,
        };
        let delivery = deliver(&sender, route, OutboundMessage::text("AWS")).await;
        assert!(
            matches!(delivery, Delivery::Failed(Error::NoReplyTarget)),
            "{delivery:?}"
        );
    }
}
