//! Group sends through the robot OpenAPI: the app's access token (cached until shortly before
//! it expires) and `POST /v1.0/robot/groupMessages/send`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::Sender;
use crate::error::Error;
use crate::openapi::{AppCredentials, MAX_MSG_PARAM_BYTES, RobotGroup, msg_param};
use crate::outbound::OutboundMessage;
use crate::secret::AccessToken;

/// A token is renewed this long before DingTalk says it expires.
const RENEW_EARLY: Duration = Duration::from_secs(300);

/// Access tokens by app key, with when each is to be renewed.
pub(super) type Tokens = tokio::sync::Mutex<HashMap<String, (AccessToken, Instant)>>;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expire_in: u64,
}

/// An OpenAPI error body: `{"code": "...", "message": "..."}`.
#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Whether an OpenAPI error code says the caller is going too fast.
fn throttled(status: u16, code: &str) -> bool {
    status == 429
        || code.contains("too.fast")
        || code.contains("QpsLimit")
        || code.contains("tooFast")
        || code.contains("Throttl")
}

impl Sender {
    /// Whether DingTalk gives this app an OpenAPI access token (a fresh one, cached for later
    /// sends): the app key and secret are right and the OpenAPI base is reachable. Sends
    /// nothing to any group.
    ///
    /// # Errors
    /// [`Error::AppCredentials`] when DingTalk refuses the key or secret (it names the key,
    /// never the secret); [`Error::Transport`] or [`Error::Http`] when it cannot be reached.
    ///
    /// ```no_run
    /// # use dingtalk_robot::{AppCredentials, AppSecret, Sender};
    /// # async fn f() -> Result<(), dingtalk_robot::Error> {
    /// let sender = Sender::builder().build()?;
    /// sender.check_app(&AppCredentials::new("dingxxxx", AppSecret::new("secret"))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn check_app(&self, app: &AppCredentials) -> Result<(), Error> {
        self.access_token(app, true).await.map(drop)
    }

    /// The app's access token, from the cache unless `fresh` or about to expire.
    async fn access_token(&self, app: &AppCredentials, fresh: bool) -> Result<AccessToken, Error> {
        let mut tokens = self.inner.tokens.lock().await;
        if !fresh
            && let Some((token, renew_at)) = tokens.get(app.app_key())
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let url = format!("{}/v1.0/oauth2/accessToken", self.inner.openapi_base);
        let body = serde_json::json!({
            "appKey": app.app_key(),
            "appSecret": app.app_secret.expose_secret(),
        });
        let (status, bytes) = self.exchange(self.inner.http.post(url).json(&body)).await?;
        if status >= 500 {
            return Err(Error::Http { status });
        }
        if !(200..300).contains(&status) {
            let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            if throttled(status, &err.code) {
                return Err(Error::RateLimited {
                    attempts: 1,
                    errmsg: format!("access token: {}: {}", err.code, err.message),
                });
            }
            return Err(Error::AppCredentials {
                app_key: app.app_key().to_owned(),
                status,
                code: err.code,
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|_| Error::InvalidResponse { status })?;
        // DingTalk says 7,200 s; an answer out of all proportion is held to a day.
        let lifetime = Duration::from_secs(answer.expire_in.clamp(60, 86_400));
        let renew_at = Instant::now() + lifetime.saturating_sub(RENEW_EARLY).max(lifetime / 2);
        let token = AccessToken::new(answer.access_token);
        tokens.insert(app.app_key().to_owned(), (token.clone(), renew_at));
        Ok(token)
    }

    /// One group send; a token DingTalk no longer takes is renewed once.
    pub(super) async fn post_group(
        &self,
        group: &RobotGroup,
        message: &OutboundMessage,
    ) -> Result<(), Error> {
        let wire = serde_json::to_value(message).map_err(|_| Error::Unsupported {
            msgtype: message.msgtype(),
        })?;
        let (msg_key, param) = msg_param(&wire).ok_or(Error::Unsupported {
            msgtype: message.msgtype(),
        })?;
        let param = param.to_string();
        if param.len() > MAX_MSG_PARAM_BYTES {
            return Err(Error::TooLarge {
                bytes: param.len(),
                max: MAX_MSG_PARAM_BYTES,
            });
        }
        let body = serde_json::json!({
            "robotCode": group.robot_code,
            "openConversationId": group.open_conversation_id,
            "msgKey": msg_key,
            "msgParam": param,
        });
        let token = self.access_token(&group.app, false).await?;
        match self.post_openapi(&token, &body).await {
            Err(Error::OpenApi { status: 401, .. }) => {
                let token = self.access_token(&group.app, true).await?;
                self.post_openapi(&token, &body).await
            }
            other => other,
        }
    }

    async fn post_openapi(
        &self,
        token: &AccessToken,
        body: &serde_json::Value,
    ) -> Result<(), Error> {
        let url = format!("{}/v1.0/robot/groupMessages/send", self.inner.openapi_base);
        let request = self
            .inner
            .http
            .post(url)
            .header("x-acs-dingtalk-access-token", token.expose_secret())
            .json(body);
        let (status, bytes) = self.exchange(request).await?;
        if (200..300).contains(&status) {
            let answer: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|_| Error::InvalidResponse { status })?;
            return match answer.get("processQueryKey") {
                Some(_) => Ok(()),
                None => Err(Error::InvalidResponse { status }),
            };
        }
        if status >= 500 {
            return Err(Error::Http { status });
        }
        let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
        if throttled(status, &err.code) {
            return Err(Error::RateLimited {
                attempts: 1,
                errmsg: format!("{}: {}", err.code, err.message),
            });
        }
        Err(Error::OpenApi {
            status,
            code: err.code,
            message: err.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::throttled;

    #[test]
    fn rate_limit_codes_and_http_429_count_as_throttling() {
        assert!(throttled(429, ""));
        assert!(throttled(403, "send.too.fast"));
        assert!(throttled(400, "Forbidden.AccessDenied.QpsLimitForApi"));
        assert!(!throttled(400, "invalidParameter.robotCode.empty"));
    }
}
