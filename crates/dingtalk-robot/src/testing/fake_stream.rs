//! The fake DingTalk's handle on its Stream gateway (features `testing` and `stream`): push
//! frames, read ACKs, and play the gateway's faults.

use std::time::Duration;

use super::FakeDingTalk;

impl FakeDingTalk {
    /// Stream gateway: pushes a robot-message frame whose `data` is this callback's body to
    /// the newest connection; its `messageId`, or `None` with no connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.stream_push(&fake.callback("帮助").json()).is_none()); // nobody connected
    /// # }
    /// ```
    #[must_use]
    pub fn stream_push(&self, data: &serde_json::Value) -> Option<String> {
        self.state.gateway.push(data)
    }

    /// Stream gateway: pushes the same message to every connection, as at-least-once delivery
    /// may; how many connections got it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.stream_push_all(&fake.callback("帮助").json()), 0);
    /// # }
    /// ```
    pub fn stream_push_all(&self, data: &serde_json::Value) -> usize {
        self.state.gateway.push_all(data)
    }

    /// Stream gateway: pushes again every frame no ACK answered, as DingTalk's redelivery;
    /// how many.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.stream_redeliver_unacked(), 0);
    /// # }
    /// ```
    pub fn stream_redeliver_unacked(&self) -> usize {
        self.state.gateway.redeliver_unacked()
    }

    /// Stream gateway: a `ping` system frame with `opaque` to the newest connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(!fake.stream_ping("o1"));
    /// # }
    /// ```
    pub fn stream_ping(&self, opaque: &str) -> bool {
        self.state.gateway.ping(opaque)
    }

    /// Stream gateway: the ACKs received.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.stream_acks().is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn stream_acks(&self) -> Vec<super::StreamAckSeen> {
        self.state.gateway.acks()
    }

    /// Stream gateway: open connections.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.stream_connections(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn stream_connections(&self) -> usize {
        self.state.gateway.connections()
    }

    /// Stream gateway: tickets handed out.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.stream_tickets(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn stream_tickets(&self) -> usize {
        self.state.gateway.tickets_issued()
    }

    /// Stream gateway: waits until `check` holds (checked whenever a connection or an ACK
    /// arrives, and every 50 ms), or `timeout`; whether it held.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.stream_wait(|f| f.stream_connections() == 0, std::time::Duration::from_millis(10)).await);
    /// # }
    /// ```
    pub async fn stream_wait(&self, check: impl Fn(&Self) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            let changed = self.state.gateway.changed.notified();
            let tick = tokio::time::sleep(Duration::from_millis(50));
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::select! {
                () = changed => {}
                () = tick => {}
                () = tokio::time::sleep_until(deadline) => return check(self),
            }
        }
    }

    /// Stream gateway: sends `disconnect` to every connection and drops them `after` later.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.stream_disconnect(std::time::Duration::from_millis(100));
    /// # }
    /// ```
    pub fn stream_disconnect(&self, after: Duration) {
        self.state.gateway.disconnect(after);
    }

    /// Stream gateway: drops every connection at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.stream_drop();
    /// # }
    /// ```
    pub fn stream_drop(&self) {
        self.state.gateway.drop_all();
    }

    /// Stream gateway: while `down`, `connections/open` answers 503.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.stream_down(true);
    /// # }
    /// ```
    pub fn stream_down(&self, down: bool) {
        self.state.gateway.set_down(down);
    }

    /// Stream gateway: while muted, connections are not read, so pings go unanswered.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.stream_mute(true);
    /// # }
    /// ```
    pub fn stream_mute(&self, muted: bool) {
        self.state.gateway.mute(muted);
    }
}
