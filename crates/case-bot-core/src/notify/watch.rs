//! The watcher: looks at followed cases (one DescribeCases per 100), works out what is new
//! since each case's cursor, and moves the cursor together with the outbox entries that tell
//! the groups. The server runs it every `--watch-interval`; the Lambda function on an
//! EventBridge event (one case) and on its schedule (all).

use std::collections::{BTreeMap, HashMap};

use support_commands::{
    CaseDetails, CaseFilter, CaseId, CaseStatus, Communication, Error as SupportError, SupportApi,
    WatchedCase,
};

use super::follows::{FOLLOW, Follow, GroupSettings, all_settings, follows_by_case};
use super::message::{Style, case_update, new_case};
use super::updates::{CURSOR, CaseCursor, Update, diff, fnv};
use crate::error::Error;
use crate::pipeline::Support;
use crate::store::{Destination, OutboxEntry, RecordSwap, Store, unix_ms};

/// Cases per DescribeCases (AWS's limit for `caseIdList`).
const BATCH: usize = 100;
/// Most pages of older communications read for one case in one look.
const MOST_PAGES: usize = 10;
/// Most pages of open cases walked for new-case notifications.
const MOST_CASE_PAGES: usize = 20;
/// A case resolved this long ago can no longer be reopened (AWS allows 14 days): its follows
/// end, so the followed list (and the DescribeCases calls) do not grow forever.
const FORGET_RESOLVED_MS: i64 = 15 * 86_400_000;
/// Most outbox entries written with one swap (DynamoDB takes 100 items in a transaction).
const MOST_ENTRIES: usize = 90;
/// The record of the open cases last walked.
const WALK: (&str, &str) = ("watch", "open-cases");

/// What one look at the followed cases came to.
///
/// ```
/// let report = case_bot_core::PollReport::default();
/// assert_eq!((report.cases, report.messages), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// Cases looked at.
    pub cases: usize,
    /// Messages enqueued for groups.
    pub messages: usize,
    /// Cases whose cursor another process moved first (their updates are its to tell).
    pub lost: usize,
}

/// What the watcher works with.
pub(crate) struct Watch<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) support: &'a Support,
    pub(crate) style: Style<'a>,
    /// The language code of DescribeCases.
    pub(crate) language: &'a str,
    pub(crate) remind_after_ms: Option<i64>,
}

/// The tag of a conversation in a request token: the bot's own communications carry it, so
/// they are not echoed to the group that wrote them.
pub(crate) fn group_tag(conversation: &str) -> u64 {
    fnv(&[conversation]) & 0xffff
}

/// Whether `body` was written by this bot from `conversation` (its attribution line holds a
/// token tagged with the conversation).
fn written_from(body: &str, conversation: &str) -> bool {
    let Some((_, after)) = body.rsplit_once("(casebot ref ") else {
        return false;
    };
    after
        .get(..4)
        .and_then(|tag| u64::from_str_radix(tag, 16).ok())
        .is_some_and(|tag| tag == group_tag(conversation))
}

impl Watch<'_> {
    /// Looks at every followed case (or only `only`), and tells the groups what is new.
    pub(crate) async fn poll(&self, only: Option<&str>) -> Result<PollReport, Error> {
        let mut follows = follows_by_case(self.store).await?;
        if let Some(case) = only {
            follows.retain(|id, _| id == case);
        }
        let settings = all_settings(self.store).await?;
        let cursors: HashMap<String, (u64, CaseCursor)> = self
            .store
            .records(CURSOR)
            .await?
            .into_iter()
            .filter(|r| follows.contains_key(&r.id))
            .map(|r| {
                let cursor = serde_json::from_str(&r.value).unwrap_or_default();
                (r.id, (r.version, cursor))
            })
            .collect();
        let ids: Vec<CaseId> = follows
            .keys()
            .map(|id| CaseId::new_unchecked(id.clone()))
            .collect();
        let mut report = PollReport::default();
        let mut batches: Vec<Vec<CaseId>> = ids.chunks(BATCH).map(<[_]>::to_vec).collect();
        while let Some(batch) = batches.pop() {
            let watched = match self.support.watch_cases(&batch, self.language).await {
                Ok(watched) => watched,
                // One unknown case fails its whole batch: halve it to find the case.
                Err(SupportError::CaseNotFound(_)) if batch.len() > 1 => {
                    let (a, b) = batch.split_at(batch.len() / 2);
                    batches.push(a.to_vec());
                    batches.push(b.to_vec());
                    continue;
                }
                Err(SupportError::CaseNotFound(id)) => {
                    tracing::warn!(case_id = %id, "a followed case is not found at AWS: skipped");
                    continue;
                }
                Err(err) => return Err(Error::Support(err)),
            };
            for case in watched {
                let id = case.case.case_id.to_string();
                let (version, cursor) = cursors.get(&id).cloned().unwrap_or_default();
                let groups = follows.get(&id).map(Vec::as_slice).unwrap_or_default();
                report.cases += 1;
                match self.look(case, version, &cursor, groups, &settings).await? {
                    Some(messages) => report.messages += messages,
                    None => report.lost += 1,
                }
            }
        }
        Ok(report)
    }

    /// One case: its updates told to `groups` and its cursor moved, in one swap. `None` when
    /// another process moved the cursor first.
    async fn look(
        &self,
        watched: WatchedCase,
        version: u64,
        cursor: &CaseCursor,
        groups: &[Follow],
        settings: &HashMap<String, GroupSettings>,
    ) -> Result<Option<usize>, Error> {
        let WatchedCase {
            case, recent, more, ..
        } = watched;
        let communications = if cursor.needs_older(&recent, more) {
            self.older(&case.case_id, cursor).await?
        } else {
            recent
        };
        let now = unix_ms();
        let diff = diff(cursor, &case, &communications, now, self.remind_after_ms);
        if diff
            .next
            .resolved_since_ms
            .is_some_and(|since| now.saturating_sub(since) > FORGET_RESOLVED_MS)
        {
            self.forget(groups).await?;
            let forgotten = RecordSwap::remove(CURSOR, case.case_id.as_str(), version);
            self.store.swap_record(&forgotten).await?;
            return Ok(Some(0));
        }
        if diff.next == *cursor && version > 0 {
            return Ok(Some(0));
        }
        let mut entries = Vec::new();
        for follow in groups {
            let group = settings
                .get(&follow.conversation)
                .copied()
                .unwrap_or_default();
            if let Some(message) = self.message_for(&case, &diff.updates, follow, &group) {
                entries.push(entry(&follow.conversation, &case, version, message, now)?);
            }
        }
        let value = serde_json::to_string(&diff.next).map_err(|e| Error::store("cursor", e))?;
        let count = entries.len();
        let swap =
            RecordSwap::put(CURSOR, case.case_id.as_str(), version, value).with_entries(entries);
        Ok(self.store.swap_record(&swap).await?.then_some(count))
    }

    /// Ends the follows of a case resolved for good.
    async fn forget(&self, groups: &[Follow]) -> Result<(), Error> {
        for follow in groups {
            let id = follow.id();
            if let Some(record) = self.store.record(FOLLOW, &id).await? {
                self.store
                    .swap_record(&RecordSwap::remove(FOLLOW, &id, record.version))
                    .await?;
                tracing::info!(case_id = %follow.case_id, conversation = %follow.conversation,
                    "no longer following a case resolved more than 15 days ago");
            }
        }
        Ok(())
    }

    /// The message for one group, if any of the updates are for it.
    fn message_for(
        &self,
        case: &CaseDetails,
        updates: &[Update],
        follow: &Follow,
        group: &GroupSettings,
    ) -> Option<dingtalk_robot::OutboundMessage> {
        if !group.level.includes(case.severity.as_ref()) {
            return None;
        }
        let wanted: Vec<&Update> = updates
            .iter()
            .filter(|u| match u {
                Update::Correspondence(c) => {
                    group.replies && !written_from(&c.body, &follow.conversation)
                }
                Update::Status { .. } | Update::Reminder { .. } => group.status,
            })
            .collect();
        let style = Style {
            time_zone_minutes: group
                .time_zone_minutes
                .unwrap_or(self.style.time_zone_minutes),
            ..self.style
        };
        (!wanted.is_empty())
            .then(|| case_update(&style, case, &wanted, follow.opener_staff_id.as_deref()))
    }

    /// A case's communications back to the cursor (DescribeCommunications, newest first).
    async fn older(&self, case: &CaseId, cursor: &CaseCursor) -> Result<Vec<Communication>, Error> {
        let mut all = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MOST_PAGES {
            let (batch, next) = self
                .support
                .communications(case, page.as_deref())
                .await
                .map_err(Error::Support)?;
            let reached = !cursor.needs_older(&batch, true);
            all.extend(batch);
            match next {
                Some(next) if !reached => page = Some(next),
                _ => break,
            }
        }
        Ok(all)
    }

    /// Walks the open cases and tells the groups that asked for them about new and reopened
    /// ones. The first walk only takes note.
    pub(crate) async fn walk(&self) -> Result<usize, Error> {
        let settings = all_settings(self.store).await?;
        let groups: Vec<(&String, &GroupSettings)> =
            settings.iter().filter(|(_, s)| s.new_cases).collect();
        let (kind, id) = WALK;
        let previous = self.store.record(kind, id).await?;
        if groups.is_empty() {
            // Nobody asks: the note of open cases goes, so asking again later starts afresh
            // instead of announcing every case opened meanwhile.
            if let Some(previous) = previous {
                self.store
                    .swap_record(&RecordSwap::remove(kind, id, previous.version))
                    .await?;
            }
            return Ok(0);
        }
        let mut open: BTreeMap<String, CaseDetails> = BTreeMap::new();
        let filter = CaseFilter {
            include_resolved: false,
            page_size: Some(100),
        };
        let mut page: Option<String> = None;
        for _ in 0..MOST_CASE_PAGES {
            let found = self
                .support
                .list_cases(&filter, page.as_deref())
                .await
                .map_err(Error::Support)?;
            open.extend(found.cases.into_iter().map(|c| (c.case_id.to_string(), c)));
            match found.next_page {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        let known: BTreeMap<String, String> = previous
            .as_ref()
            .and_then(|r| serde_json::from_str(&r.value).ok())
            .unwrap_or_default();
        let now = unix_ms();
        let version = previous.as_ref().map_or(0, |r| r.version);
        let mut entries = Vec::new();
        let mut deferred: Vec<String> = Vec::new();
        if previous.is_some() {
            for (case_id, case) in &open {
                if known.contains_key(case_id) {
                    continue;
                }
                // One swap is one DynamoDB transaction (at most 100 items): cases beyond it
                // are left out of the note and announced by the next walk.
                if entries.len() + groups.len() >= MOST_ENTRIES {
                    deferred.push(case_id.clone());
                    continue;
                }
                let reopened = case.status == CaseStatus::Reopened;
                for (conversation, group) in &groups {
                    if group.level.includes(case.severity.as_ref()) {
                        let message = new_case(&self.style, case, reopened);
                        entries.push(entry(conversation, case, version, message, now)?);
                    }
                }
            }
        }
        let current: BTreeMap<&String, &str> = open
            .iter()
            .filter(|(id, _)| !deferred.contains(id))
            .map(|(id, c)| (id, c.status.as_str()))
            .collect();
        let value = serde_json::to_string(&current).map_err(|e| Error::store("walk", e))?;
        let count = entries.len();
        let swap = RecordSwap::put(kind, id, version, value).with_entries(entries);
        Ok(if self.store.swap_record(&swap).await? {
            count
        } else {
            0
        })
    }
}

/// The outbox entry of a pushed message: to the group itself, with an id of its own per
/// (group, case, cursor version), in time order.
fn entry(
    conversation: &str,
    case: &CaseDetails,
    version: u64,
    message: dingtalk_robot::OutboundMessage,
    now: i64,
) -> Result<OutboxEntry, Error> {
    let json = serde_json::to_string(&message).map_err(|e| Error::store("outbox", e))?;
    let mut entry = OutboxEntry::new(conversation, Destination::Group, json, now).answering(
        "notify",
        Some(case.case_id.to_string()),
        None,
    );
    let key = fnv(&[conversation, case.case_id.as_str(), &version.to_string()]);
    entry.id = format!("{:013}-n{key:016x}", now.max(0));
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use support_commands::{Cached, Lang, NewCase, Partition, Sandbox, Severity};

    use super::*;
    use crate::store::{MemoryStore, RecordStore};

    #[tokio::test]
    async fn a_case_resolved_for_good_is_no_longer_followed() {
        let sandbox = Arc::new(Sandbox::new());
        let case = sandbox
            .create_case(&NewCase::new("s", "b", Severity::Low))
            .await
            .unwrap();
        sandbox.resolve_case(&case).await.unwrap();
        let store = MemoryStore::default();
        let follow = Follow {
            conversation: "cidA".into(),
            case_id: case.to_string(),
            display_id: None,
            subject: "s".into(),
            opener_staff_id: None,
            since_ms: 0,
        };
        store.swap_record(&follow.swap().unwrap()).await.unwrap();
        let sixteen_days_ago = unix_ms() - 16 * 86_400_000;
        let cursor = CaseCursor {
            status: "resolved".into(),
            resolved_since_ms: Some(sixteen_days_ago),
            ..CaseCursor::default()
        };
        let value = serde_json::to_string(&cursor).unwrap();
        store
            .swap_record(&RecordSwap::put(CURSOR, case.as_str(), 0, value))
            .await
            .unwrap();
        let support: Support = Cached::new(sandbox);
        let watch = Watch {
            store: &store,
            support: &support,
            style: Style {
                lang: Lang::Zh,
                keyword: "AWS",
                time_zone_minutes: 480,
                partition: Partition::Aws,
            },
            language: "zh",
            remind_after_ms: None,
        };
        assert_eq!(watch.poll(None).await.unwrap().cases, 1);
        assert!(store.records(FOLLOW).await.unwrap().is_empty());
        assert!(store.records(CURSOR).await.unwrap().is_empty());
        assert_eq!(
            watch.poll(None).await.unwrap().cases,
            0,
            "no longer looked at"
        );
    }

    #[test]
    fn the_bots_own_reply_is_recognised_only_for_the_group_that_wrote_it() {
        let tag = group_tag("cidA");
        let body = format!("看一下\n\n— 张三 通过钉钉群「运维」提交 (casebot ref {tag:04x}abcdef)");
        assert!(written_from(&body, "cidA"));
        let other = (0..)
            .map(|i| format!("cid{i}"))
            .find(|c| group_tag(c) != tag)
            .unwrap();
        assert!(!written_from(&body, &other));
        assert!(!written_from("plain text", "cidA"));
    }
}
