//! Signed callback requests shaped like DingTalk's, with a session webhook that points back at
//! the fake.
//!
//! Building a callback changes nothing anywhere: the session webhook it carries is signed with
//! the fake's [`SessionKey`] and names its own expiry, so the fake recognises it later without
//! having been told about it.

use std::fmt;
use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

use super::server::duration_ms;
use crate::secret::AppSecret;
use crate::signature::sign;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Builds one signed callback request (see [`FakeDingTalk::callback`](super::FakeDingTalk::callback)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
/// let request = fake
///     .callback("查找ServiceCode: ec2")
///     .sender("王五", "staff-5")
///     .group("cidOps", "运维值班")
///     .msg_id("msg-fixed-1")
///     .build("http://127.0.0.1:8080/dingtalk/callback", &dingtalk_robot::AppSecret::new("s"));
/// assert_eq!(request.method(), http::Method::POST);
/// assert!(request.headers().contains_key("sign"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CallbackBuilder {
    base_url: String,
    sessions: SessionKey,
    text: String,
    msg_id: String,
    sender_nick: String,
    sender_staff_id: Option<String>,
    conversation_id: String,
    conversation_title: Option<String>,
    group: bool,
    is_admin: bool,
    created_at: i64,
    session_ttl: Duration,
}

impl CallbackBuilder {
    /// A text message sent at `now` (the fake's clock) from the default sender and group,
    /// with a fresh random `msgId`.
    pub(super) fn new(text: String, now: i64, base_url: String, sessions: SessionKey) -> Self {
        let random = RandomState::new().hash_one(now);
        Self {
            base_url,
            sessions,
            text,
            msg_id: format!("msgFake{random:016x}{now}"),
            sender_nick: "张三".to_owned(),
            sender_staff_id: Some("staff-1".to_owned()),
            conversation_id: "cidFakeGroup001".to_owned(),
            conversation_title: Some("运维值班".to_owned()),
            group: true,
            is_admin: false,
            created_at: now,
            session_ttl: Duration::from_secs(90 * 60),
        }
    }

    /// Sets the sender's nickname and staff id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").sender("李四", "staff-2").json();
    /// assert_eq!(body["senderStaffId"], "staff-2");
    /// # }
    /// ```
    #[must_use]
    pub fn sender(mut self, nick: impl Into<String>, staff_id: impl Into<String>) -> Self {
        self.sender_nick = nick.into();
        self.sender_staff_id = Some(staff_id.into());
        self
    }

    /// Sends from a group with this conversation id and title (the default is a group).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").group("cid9", "值班").json();
    /// assert_eq!(body["conversationTitle"], "值班");
    /// # }
    /// ```
    #[must_use]
    pub fn group(mut self, conversation_id: impl Into<String>, title: impl Into<String>) -> Self {
        self.group = true;
        self.conversation_id = conversation_id.into();
        self.conversation_title = Some(title.into());
        self
    }

    /// Sends from a one-to-one chat with the robot.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").one_to_one().json();
    /// assert!(body.get("conversationTitle").is_none());
    /// # }
    /// ```
    #[must_use]
    pub fn one_to_one(mut self) -> Self {
        self.group = false;
        self.conversation_id = "cidFakeSingle001".to_owned();
        self.conversation_title = None;
        self
    }

    /// Marks the sender as a DingTalk admin.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.callback("x").admin().json()["isAdmin"], true);
    /// # }
    /// ```
    #[must_use]
    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    /// Fixes the `msgId` (to test de-duplication).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.callback("x").msg_id("m1").json()["msgId"], "m1");
    /// # }
    /// ```
    #[must_use]
    pub fn msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = msg_id.into();
        self
    }

    /// Sets `createAt` (Unix ms); the `timestamp` header and the session expiry follow it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.callback("x").created_at(1_700_000_000_000).json()["createAt"], 1_700_000_000_000_i64);
    /// # }
    /// ```
    #[must_use]
    pub fn created_at(mut self, ms: i64) -> Self {
        self.created_at = ms;
        self
    }

    /// How long the session webhook stays valid (DingTalk: 90 minutes).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").created_at(0).session_ttl(std::time::Duration::from_secs(1)).json();
    /// assert_eq!(body["sessionWebhookExpiredTime"], 1000);
    /// # }
    /// ```
    #[must_use]
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// The callback body, shaped like DingTalk's, with a session webhook on the fake that
    /// expires `session_ttl` after `createAt`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("帮助").json();
    /// assert!(body["sessionWebhook"].as_str().unwrap().starts_with(&fake.base_url()));
    /// # }
    /// ```
    #[must_use]
    pub fn json(&self) -> Value {
        let expires = self.created_at + duration_ms(self.session_ttl);
        let session = self.sessions.issue(&self.msg_id, self.created_at, expires);
        let mut body = json!({
            "conversationId": self.conversation_id,
            "atUsers": [{ "dingtalkId": "$:LWCP_v1:$fakeRobot" }],
            "chatbotCorpId": "dingFakeCorp",
            "chatbotUserId": "$:LWCP_v1:$fakeRobot",
            "msgId": self.msg_id,
            "senderNick": self.sender_nick,
            "isAdmin": self.is_admin,
            "sessionWebhookExpiredTime": expires,
            "createAt": self.created_at,
            "senderCorpId": "dingFakeCorp",
            "conversationType": if self.group { "2" } else { "1" },
            "senderId": format!("$:LWCP_v1:${}", self.sender_nick),
            "sessionWebhook": format!("{}/robot/sendBySession?session={session}", self.base_url),
            "text": { "content": format!(" {}", self.text) },
            "robotCode": "dingFakeRobotCode",
            "msgtype": "text",
            "isInAtList": true,
            "senderPlatform": "Mac",
        });
        if let Some(map) = body.as_object_mut() {
            if let Some(staff) = &self.sender_staff_id {
                map.insert("senderStaffId".to_owned(), json!(staff));
            }
            if let Some(title) = &self.conversation_title {
                map.insert("conversationTitle".to_owned(), json!(title));
            }
        }
        body
    }

    /// A POST to `url` signed as DingTalk signs callbacks (`timestamp` = `createAt`, `sign`
    /// with the app secret).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let req = fake.callback("x").build("http://127.0.0.1:1/cb", &dingtalk_robot::AppSecret::new("s"));
    /// assert_eq!(req.headers()["content-type"], "application/json; charset=utf-8");
    /// # }
    /// ```
    #[must_use]
    pub fn build(&self, url: &str, secret: &AppSecret) -> http::Request<Vec<u8>> {
        let body = self.json().to_string().into_bytes();
        let timestamp = self.created_at.to_string();
        let signature = sign(secret.expose_secret(), &timestamp);
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        if let Ok(uri) = url.parse() {
            *request.uri_mut() = uri;
        }
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in [("timestamp", timestamp), ("sign", signature)] {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        request
    }
}

/// Signs the session webhooks of a fake's callbacks, so the fake can tell its own (and their
/// expiry) from made-up ones without keeping a list.
#[derive(Clone)]
pub(super) struct SessionKey(HmacSha256);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// The first 16 bytes of a MAC, as 32 hex characters (the length of DingTalk's session ids).
fn hex16(mac: HmacSha256) -> String {
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SessionKey {
    /// A key of its own for one fake.
    pub(super) fn random() -> Self {
        let state = RandomState::new();
        let key: Vec<u8> = (0..4_u8)
            .flat_map(|i| state.hash_one(i).to_le_bytes())
            .collect();
        // HMAC takes a key of any length, so the fallback is never taken.
        Self(match HmacSha256::new_from_slice(&key) {
            Ok(mac) => mac,
            Err(_) => HmacSha256::new(&Default::default()),
        })
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
            mac.update(b"\n");
        }
        hex16(mac)
    }

    /// The session value of the callback `msg_id` made at `created_at`, valid until `expires`:
    /// `<id>-<expires>-<mac>`, where the id is unique per callback.
    pub(super) fn issue(&self, msg_id: &str, created_at: i64, expires: i64) -> String {
        let id = self.mac(&[msg_id.as_bytes(), &created_at.to_le_bytes()]);
        let expires = expires.to_string();
        let mac = self.mac(&[id.as_bytes(), expires.as_bytes()]);
        format!("{id}-{expires}-{mac}")
    }

    /// When a session value this key issued expires (Unix ms); `None` if this key did not
    /// issue it.
    pub(super) fn expiry(&self, session: &str) -> Option<i64> {
        let mut parts = session.split('-');
        let (id, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || self.mac(&[id.as_bytes(), expires.as_bytes()]) != mac {
            return None;
        }
        expires.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::SessionKey;

    #[test]
    fn a_session_is_recognised_only_by_the_key_that_issued_it_and_carries_its_expiry() {
        let key = SessionKey::random();
        let session = key.issue("msg-1", 10, 5_400_010);
        assert_eq!(key.expiry(&session), Some(5_400_010));
        assert_eq!(SessionKey::random().expiry(&session), None, "another fake");
        let forged = session.replace("5400010", "9999999999");
        assert_eq!(key.expiry(&forged), None, "a changed expiry");
        assert_eq!(key.expiry("abc"), None);
        assert_ne!(
            session,
            key.issue("msg-2", 10, 5_400_010),
            "unique per callback"
        );
    }
}
