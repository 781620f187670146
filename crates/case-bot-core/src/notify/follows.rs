//! Which cases each group follows, and each group's settings, as versioned records.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use support_commands::NotifyLevel;

use crate::error::Error;
use crate::event::Origin;
use crate::pipeline::execute::Executed;
use crate::store::{Claim, RecordStore, RecordSwap};

use super::updates::{CURSOR, CaseCursor};

/// The kind of follow records: id `<conversation> <case id>`.
pub(crate) const FOLLOW: &str = "follow";
/// The kind of group settings: id the conversation.
pub(crate) const GROUP: &str = "group";

/// A group follows a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Follow {
    pub(crate) conversation: String,
    pub(crate) case_id: String,
    #[serde(default)]
    pub(crate) display_id: Option<String>,
    #[serde(default)]
    pub(crate) subject: String,
    /// Who opened the case from this group (their staff id), to @-mention.
    #[serde(default)]
    pub(crate) opener_staff_id: Option<String>,
    /// When the group began to follow, Unix ms.
    pub(crate) since_ms: i64,
}

impl Follow {
    pub(crate) fn id(&self) -> String {
        follow_id(&self.conversation, &self.case_id)
    }

    /// Its record, written only if the group does not follow the case yet.
    pub(crate) fn swap(&self) -> Result<RecordSwap, Error> {
        let value = serde_json::to_string(self).map_err(|e| Error::store("follow", e))?;
        Ok(RecordSwap::put(FOLLOW, self.id(), 0, value))
    }
}

/// The records of a case opened from a group: the group follows it, and its cursor starts at
/// the claim (what AWS writes after is new). Written with the command's finish.
pub(crate) fn opened_here(
    origin: &Origin,
    claim: &Claim,
    executed: &Executed,
) -> Result<Vec<RecordSwap>, Error> {
    let Executed::Created {
        case_id,
        display_id,
        subject,
        ..
    } = executed
    else {
        return Ok(Vec::new());
    };
    // A 1:1 chat cannot be pushed to: only groups follow.
    if origin.conversation_title.is_none() {
        return Ok(Vec::new());
    }
    let follow = Follow {
        conversation: origin.conversation_id.clone(),
        case_id: case_id.to_string(),
        display_id: display_id.clone(),
        subject: subject.clone(),
        opener_staff_id: origin.staff_id.clone(),
        since_ms: claim.claimed_at_ms,
    };
    let cursor = CaseCursor::starting(&support_commands::CaseStatus::Opened, claim.claimed_at_ms);
    let cursor = serde_json::to_string(&cursor).map_err(|e| Error::store("cursor", e))?;
    Ok(vec![
        follow.swap()?,
        RecordSwap::put(CURSOR, case_id.as_str(), 0, cursor),
    ])
}

pub(crate) fn follow_id(conversation: &str, case_id: &str) -> String {
    format!("{conversation} {case_id}")
}

/// What a group is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupSettings {
    pub(crate) level: NotifyLevel,
    pub(crate) replies: bool,
    pub(crate) status: bool,
    pub(crate) new_cases: bool,
    /// The group's own time zone (minutes east of UTC), if it set one.
    #[serde(default)]
    pub(crate) time_zone_minutes: Option<i32>,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self {
            level: NotifyLevel::All,
            replies: true,
            status: true,
            new_cases: false,
            time_zone_minutes: None,
        }
    }
}

/// Every follow, by case id.
pub(crate) async fn follows_by_case(
    store: &dyn RecordStore,
) -> Result<HashMap<String, Vec<Follow>>, Error> {
    let mut by_case: HashMap<String, Vec<Follow>> = HashMap::new();
    for record in store.records(FOLLOW).await? {
        match serde_json::from_str::<Follow>(&record.value) {
            Ok(follow) => by_case
                .entry(follow.case_id.clone())
                .or_default()
                .push(follow),
            Err(err) => tracing::error!(id = %record.id, error = %err, "unreadable follow record"),
        }
    }
    Ok(by_case)
}

/// The follows of one group, oldest first.
pub(crate) async fn follows_of(
    store: &dyn RecordStore,
    conversation: &str,
) -> Result<Vec<Follow>, Error> {
    let prefix = format!("{conversation} ");
    let mut follows: Vec<Follow> = store
        .records(FOLLOW)
        .await?
        .into_iter()
        .filter(|r| r.id.starts_with(&prefix))
        .filter_map(|r| serde_json::from_str(&r.value).ok())
        .collect();
    follows.sort_by_key(|f| f.since_ms);
    Ok(follows)
}

/// A group's settings and their record's version (0: never changed).
pub(crate) async fn settings_of(
    store: &dyn RecordStore,
    conversation: &str,
) -> Result<(GroupSettings, u64), Error> {
    Ok(match store.record(GROUP, conversation).await? {
        Some(record) => (
            serde_json::from_str(&record.value).unwrap_or_default(),
            record.version,
        ),
        None => (GroupSettings::default(), 0),
    })
}

/// Every group's settings that were changed, by conversation.
pub(crate) async fn all_settings(
    store: &dyn RecordStore,
) -> Result<HashMap<String, GroupSettings>, Error> {
    Ok(store
        .records(GROUP)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.id, serde_json::from_str(&r.value).ok()?)))
        .collect())
}
