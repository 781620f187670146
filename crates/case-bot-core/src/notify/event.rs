//! EventBridge "Support Case Update" events (`source: aws.support`): they carry only ids, so
//! an event only says which case to look at.

/// A "Support Case Update" event.
///
/// ```
/// let event = serde_json::json!({
///     "source": "aws.support", "detail-type": "Support Case Update",
///     "detail": {"case-id": "case-1", "display-id": "123", "communication-id": "",
///                "event-name": "AddCommunicationToCase", "origin": "AWS"}
/// });
/// let event = case_bot_core::CaseEvent::from_json(&event).unwrap();
/// assert_eq!((event.case_id.as_str(), event.event_name.as_str()), ("case-1", "AddCommunicationToCase"));
/// assert!(case_bot_core::CaseEvent::from_json(&serde_json::json!({"source": "aws.events"})).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaseEvent {
    /// The case id.
    pub case_id: String,
    /// The display id, if given.
    pub display_id: Option<String>,
    /// `CreateCase`, `AddCommunicationToCase`, `ResolveCase` or `ReopenCase`.
    pub event_name: String,
    /// `AWS` or `CUSTOMER`, for `AddCommunicationToCase` only.
    pub origin: Option<String>,
}

impl CaseEvent {
    /// The event in an EventBridge envelope; `None` for anything else.
    ///
    /// ```
    /// assert!(case_bot_core::CaseEvent::from_json(&serde_json::json!({})).is_none());
    /// ```
    #[must_use]
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        if value.get("source")?.as_str()? != "aws.support"
            || value.get("detail-type")?.as_str()? != "Support Case Update"
        {
            return None;
        }
        let detail = value.get("detail")?;
        let text = |key: &str| {
            detail
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Some(Self {
            case_id: text("case-id")?,
            display_id: text("display-id"),
            event_name: text("event-name").unwrap_or_default(),
            origin: text("origin"),
        })
    }

    /// Whether the event may concern groups that asked for every new or reopened case.
    pub(crate) fn is_new_or_reopened(&self) -> bool {
        matches!(self.event_name.as_str(), "CreateCase" | "ReopenCase")
    }
}
