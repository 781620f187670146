//! What the fake DingTalk does with each post: DingTalk's checks, in DingTalk's order.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::callback::SessionKey;
use super::{Channel, FakeApp, FakeRobot, Received, Rejection};
use crate::signature::{DEFAULT_WINDOW, now_ms, sign};

/// What the fake has seen and how it is set.
#[derive(Default)]
pub(super) struct State {
    pub(super) robots: HashMap<String, FakeRobot>,
    /// Apps by app key, and the access tokens handed out (token → app key).
    pub(super) apps: HashMap<String, FakeApp>,
    pub(super) tokens: HashMap<String, String>,
    pub(super) received: Vec<Received>,
    pub(super) rejections: Vec<Rejection>,
    /// accepted-message times per channel (fake clock, ms)
    recent: HashMap<Channel, VecDeque<i64>>,
    blocked_until: HashMap<Channel, i64>,
    /// How far the fake's clock is ahead of the real one.
    pub(super) offset_ms: i64,
    /// Answer this many more posts with HTTP 500.
    pub(super) fail_next: usize,
}

/// The state and the fixed settings, shared by the fake's connections and its handle.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) arrived: Notify,
    pub(super) max_per_window: usize,
    pub(super) window: Duration,
    pub(super) block: Duration,
    pub(super) base_url: String,
    /// Signs and checks the session webhooks of the callbacks it builds.
    pub(super) sessions: SessionKey,
    /// The Stream gateway.
    #[cfg(feature = "stream")]
    pub(super) gateway: std::sync::Arc<super::gateway::Gateway>,
}

impl State {
    /// A fresh fake that knows these robots.
    pub(super) fn with_robots(robots: Vec<FakeRobot>, apps: Vec<FakeApp>) -> Self {
        Self {
            robots: robots
                .into_iter()
                .map(|r| (r.access_token.clone(), r))
                .collect(),
            apps: apps.into_iter().map(|a| (a.app_key.clone(), a)).collect(),
            ..Self::default()
        }
    }
}

pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn answer(errcode: i64, errmsg: &str) -> Response<Full<Bytes>> {
    let body = json!({ "errcode": errcode, "errmsg": errmsg }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// A query parameter, percent-decoded as a web server would.
fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == key).then_some(v))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// All string values inside a message's type object, for the keyword check.
pub(super) fn strings_in(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// Checks a message body's shape like DingTalk does; `Err((errcode, errmsg))` if refused.
pub(super) fn check_shape(body: &Value) -> Result<(), (i64, String)> {
    let msgtype = body["msgtype"].as_str().unwrap_or_default();
    let required: &[&str] = match msgtype {
        "text" => &["content"],
        "markdown" => &["title", "text"],
        "link" => &["title", "text", "messageUrl"],
        "actionCard" => &["title", "text"],
        "feedCard" => &["links"],
        "" => return Err((400_102, "miss param : msgtype".to_owned())),
        _ => return Err((400_105, "不支持的消息类型".to_owned())),
    };
    let Some(object) = body.get(msgtype).filter(|v| v.is_object()) else {
        return Err((400_401, format!("miss param : {msgtype}")));
    };
    for field in required {
        if object.get(*field).is_none_or(Value::is_null) {
            return Err((400_401, format!("miss param : {msgtype}.{field}")));
        }
    }
    Ok(())
}

impl Shared {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let token = req
            .headers()
            .get("x-acs-dingtalk-access-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if req.method() != http::Method::POST {
            let mut response = answer(405, "method not allowed");
            *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
            return response;
        }
        let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return answer(400_000, "body too large"),
        };
        {
            let mut state = self.lock();
            let send = matches!(
                path.as_str(),
                "/robot/send" | "/robot/sendBySession" | "/v1.0/robot/groupMessages/send"
            );
            if state.fail_next > 0 && send {
                state.fail_next -= 1;
                let mut response = answer(-1, "system busy");
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
        }
        let result = match path.as_str() {
            "/v1.0/oauth2/accessToken" => return self.access_token(&body),
            #[cfg(feature = "stream")]
            "/v1.0/gateway/connections/open" => {
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                let known = self
                    .lock()
                    .apps
                    .get(body["clientId"].as_str().unwrap_or_default())
                    .is_some_and(|app| {
                        Some(app.app_secret.as_str()) == body["clientSecret"].as_str()
                    });
                return self.gateway.open(known);
            }
            "/v1.0/robot/groupMessages/send" => return self.group_send(&token, &body),
            "/robot/send" => self.robot_send(&query, &body),
            "/robot/sendBySession" => self.session_send(&query, &body),
            _ => {
                let mut response = answer(404, "not found");
                *response.status_mut() = http::StatusCode::NOT_FOUND;
                return response;
            }
        };
        match result {
            Ok(()) => {
                self.arrived.notify_waiters();
                answer(0, "ok")
            }
            Err((code, msg)) => answer(code, &msg),
        }
    }

    /// Records a refusal and returns the answer for it.
    pub(super) fn reject(
        state: &mut State,
        channel: Channel,
        errcode: i64,
        errmsg: &str,
    ) -> (i64, String) {
        state.rejections.push(Rejection {
            channel,
            errcode,
            errmsg: errmsg.to_owned(),
        });
        (errcode, errmsg.to_owned())
    }

    fn robot_send(&self, query: &str, body: &[u8]) -> Result<(), (i64, String)> {
        let mut state = self.lock();
        let now = now_ms() + state.offset_ms;
        let token = query_param(query, "access_token").unwrap_or_default();
        let channel = Channel::Robot(token.clone());
        let Some(robot) = state.robots.get(&token).cloned() else {
            return Err(Self::reject(
                &mut state,
                channel,
                300_001,
                "token is not exist",
            ));
        };
        if let Some(secret) = &robot.secret {
            let (Some(timestamp), Some(signature)) =
                (query_param(query, "timestamp"), query_param(query, "sign"))
            else {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "sign not match, more: [sign or timestamp missing]",
                ));
            };
            let Ok(ts) = timestamp.parse::<i64>() else {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "invalid timestamp, more: [not a number]",
                ));
            };
            if (now - ts).abs() > duration_ms(DEFAULT_WINDOW) {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "invalid timestamp, more: [outside one hour]",
                ));
            }
            if signature != sign(secret, &timestamp) {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "sign not match, more: [see 加签 documentation]",
                ));
            }
        }
        let body = self.parse_body(&mut state, &channel, body)?;
        if !robot.keywords.is_empty() {
            let msgtype = body["msgtype"].as_str().unwrap_or_default();
            let mut text = String::new();
            strings_in(&body[msgtype], &mut text);
            if !robot.keywords.iter().any(|k| text.contains(k.as_str())) {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "keywords not in content, more: [security keywords]",
                ));
            }
        }
        self.accept(&mut state, channel, body, now)
    }

    fn session_send(&self, query: &str, body: &[u8]) -> Result<(), (i64, String)> {
        let mut state = self.lock();
        let now = now_ms() + state.offset_ms;
        let session = query_param(query, "session").unwrap_or_default();
        let channel = Channel::Session(session.clone());
        match self.sessions.expiry(&session) {
            None => {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    300_001,
                    "token is not exist",
                ));
            }
            Some(expires) if expires <= now => {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    300_001,
                    "session is expired",
                ));
            }
            Some(_) => {}
        }
        let body = self.parse_body(&mut state, &channel, body)?;
        self.accept(&mut state, channel, body, now)
    }

    fn parse_body(
        &self,
        state: &mut State,
        channel: &Channel,
        body: &[u8],
    ) -> Result<Value, (i64, String)> {
        let parsed = serde_json::from_slice::<Value>(body)
            .ok()
            .filter(Value::is_object);
        let Some(parsed) = parsed else {
            return Err(Self::reject(
                state,
                channel.clone(),
                400_101,
                "body is not a JSON object",
            ));
        };
        if let Err((code, msg)) = check_shape(&parsed) {
            return Err(Self::reject(state, channel.clone(), code, &msg));
        }
        Ok(parsed)
    }

    pub(super) fn accept(
        &self,
        state: &mut State,
        channel: Channel,
        body: Value,
        now: i64,
    ) -> Result<(), (i64, String)> {
        if state
            .blocked_until
            .get(&channel)
            .is_some_and(|&until| until > now)
        {
            return Err(Self::reject(
                state,
                channel,
                130_101,
                "send too fast, exceed 20 times per minute",
            ));
        }
        let window = duration_ms(self.window);
        let recent = state.recent.entry(channel.clone()).or_default();
        while recent.front().is_some_and(|&t| t <= now - window) {
            recent.pop_front();
        }
        if recent.len() >= self.max_per_window {
            let until = now + duration_ms(self.block);
            state.blocked_until.insert(channel.clone(), until);
            return Err(Self::reject(
                state,
                channel,
                130_101,
                "send too fast, exceed 20 times per minute",
            ));
        }
        recent.push_back(now);
        state.received.push(Received { channel, body });
        Ok(())
    }
}
