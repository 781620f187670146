//! The fake's OpenAPI: access tokens for known apps, and group sends by their robots, with
//! DingTalk's checks (token, robot code, `msgKey`, `msgParam` size) and the same pace limit
//! as webhooks, per group.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{Value, json};

use super::Channel;
use super::server::{Shared, check_shape};
use crate::openapi::MAX_MSG_PARAM_BYTES;
use crate::signature::now_ms;

fn reply(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

fn error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        &json!({ "code": code, "message": message, "requestid": "fake" }),
    )
}

/// The webhook message a `msgKey`/`msgParam` pair stands for, so recorded group sends read like
/// webhook posts (`Received::text`).
fn as_webhook(msg_key: &str, param: Value) -> Option<Value> {
    let msgtype = match msg_key {
        "sampleText" => "text",
        "sampleMarkdown" => "markdown",
        "sampleLink" => "link",
        "sampleActionCard" => "actionCard",
        _ => return None,
    };
    Some(json!({ "msgtype": msgtype, msgtype: param }))
}

impl Shared {
    pub(super) fn access_token(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let key = body["appKey"].as_str().unwrap_or_default();
        let secret = body["appSecret"].as_str().unwrap_or_default();
        let mut state = self.lock();
        let known = state
            .apps
            .get(key)
            .is_some_and(|app| app.app_secret == secret);
        if !known {
            return error(
                400,
                "invalidClientIdOrSecret",
                "无效的clientId或者clientSecret",
            );
        }
        let token = format!("fake-token-{}-{}", state.tokens.len(), now_ms());
        state.tokens.insert(token.clone(), key.to_owned());
        reply(200, &json!({ "accessToken": token, "expireIn": 7200 }))
    }

    pub(super) fn group_send(&self, token: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let mut state = self.lock();
        let now = now_ms() + state.offset_ms;
        let Some(app) = state
            .tokens
            .get(token)
            .and_then(|key| state.apps.get(key))
            .cloned()
        else {
            return error(401, "InvalidAuthentication", "不合法的access_token");
        };
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let conversation = body["openConversationId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let channel = Channel::Group(conversation.clone());
        let mut refuse = |status: u16, code: &str, message: &str| {
            let _ = Self::reject(
                &mut state,
                channel.clone(),
                0,
                &format!("{code}: {message}"),
            );
            error(status, code, message)
        };
        if body["robotCode"].as_str() != Some(app.robot_code.as_str()) {
            return refuse(400, "robot.notExist", "机器人权限校验不通过");
        }
        if conversation.is_empty() {
            return refuse(
                400,
                "invalidParameter.openConversationId.empty",
                "openConversationId is empty",
            );
        }
        let param = body["msgParam"].as_str().unwrap_or_default();
        if param.len() > MAX_MSG_PARAM_BYTES {
            return refuse(
                400,
                "invalidParameter.msgParam.invalid",
                "msgParam too long",
            );
        }
        let msg_key = body["msgKey"].as_str().unwrap_or_default();
        let message = serde_json::from_str::<Value>(param)
            .ok()
            .and_then(|param| as_webhook(msg_key, param))
            .filter(|m| check_shape(m).is_ok());
        let Some(message) = message else {
            return refuse(
                400,
                "invalidParameter.msgKey.invalid",
                "msgKey or msgParam invalid",
            );
        };
        match self.accept(&mut state, channel, message, now) {
            Ok(()) => {
                drop(state);
                self.arrived.notify_waiters();
                reply(200, &json!({ "processQueryKey": format!("fake-{now}") }))
            }
            Err((_, message)) => error(403, "send.too.fast", &message),
        }
    }
}
