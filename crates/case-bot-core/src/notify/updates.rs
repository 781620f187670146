//! A case's cursor (what a group was last told) and the updates newer than it. Pure: the
//! watcher fetches, this decides.

use serde::{Deserialize, Serialize};
use support_commands::{CaseDetails, CaseStatus, Communication, parse_iso8601};

/// The kind of cursor records: id the case id.
pub(crate) const CURSOR: &str = "cursor";

/// What was last seen of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CaseCursor {
    /// Its status (AWS's code); empty before the first look.
    pub(crate) status: String,
    /// The time of the newest communication handled, Unix ms.
    pub(crate) seen_ms: i64,
    /// Digests of the communications handled at exactly `seen_ms` (several can share a time).
    #[serde(default)]
    pub(crate) seen_edge: Vec<String>,
    /// Since when the case waits on the customer (the poll that saw it), Unix ms.
    #[serde(default)]
    pub(crate) waiting_since_ms: Option<i64>,
    /// Whether that wait was reminded of.
    #[serde(default)]
    pub(crate) reminded: bool,
    /// Since when the case is resolved (the look that saw it), Unix ms.
    #[serde(default)]
    pub(crate) resolved_since_ms: Option<i64>,
}

/// Something a group may be told about a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Update {
    /// A new communication (from AWS, or from a person outside this bot's group).
    Correspondence(Communication),
    /// The case moved to a status that needs people: waiting on the customer, resolved,
    /// reopened.
    Status { to: CaseStatus },
    /// The case has waited on the customer for this long.
    Reminder { waited_ms: i64 },
}

/// The updates of one look at a case, and the cursor after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diff {
    pub(crate) updates: Vec<Update>,
    pub(crate) next: CaseCursor,
}

/// A stable digest of a communication (FNV-1a, so it survives upgrades in stored cursors).
pub(crate) fn digest(c: &Communication) -> String {
    format!("{:016x}", fnv(&[&c.time_created, &c.submitted_by, &c.body]))
}

/// FNV-1a 64 over `parts`, each followed by a zero byte.
pub(crate) fn fnv(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

impl CaseCursor {
    /// The cursor of a case followed from `since_ms` on, in `status`: communications from then
    /// on are new.
    pub(crate) fn starting(status: &CaseStatus, since_ms: i64) -> Self {
        Self {
            status: status.as_str().to_owned(),
            seen_ms: since_ms,
            resolved_since_ms: (*status == CaseStatus::Resolved).then_some(since_ms),
            waiting_since_ms: (*status == CaseStatus::PendingCustomerAction).then_some(since_ms),
            ..Self::default()
        }
    }

    fn is_new(&self, at_ms: i64, digest: &str) -> bool {
        at_ms > self.seen_ms
            || (at_ms == self.seen_ms && !self.seen_edge.iter().any(|d| d == digest))
    }

    /// Whether the newest communications (`recent`, newest first) may hide new ones beyond
    /// them: all of them are new and the case has older ones.
    pub(crate) fn needs_older(&self, recent: &[Communication], more: bool) -> bool {
        more && recent.last().is_some_and(|oldest| {
            parse_iso8601(&oldest.time_created).is_some_and(|ms| self.is_new(ms, &digest(oldest)))
        })
    }
}

/// Whether a move to `status` needs people.
fn needs_people(status: &CaseStatus) -> bool {
    matches!(
        status,
        CaseStatus::PendingCustomerAction | CaseStatus::Resolved | CaseStatus::Reopened
    )
}

/// What is new in `case` (with `newest_first` communications) since `cursor`, at `now_ms`.
/// A cursor never seen before (empty status) takes the case as it is: nothing is new.
pub(crate) fn diff(
    cursor: &CaseCursor,
    case: &CaseDetails,
    newest_first: &[Communication],
    now_ms: i64,
    remind_after_ms: Option<i64>,
) -> Diff {
    let mut next = cursor.clone();
    let mut updates = Vec::new();
    let first_look = cursor.status.is_empty();
    let mut fresh: Vec<(i64, String, &Communication)> = newest_first
        .iter()
        .rev()
        .filter_map(|c| {
            let at = parse_iso8601(&c.time_created)?;
            let d = digest(c);
            cursor.is_new(at, &d).then_some((at, d, c))
        })
        .collect();
    fresh.sort_by_key(|(at, _, _)| *at);
    for (at, d, c) in fresh {
        if !first_look {
            updates.push(Update::Correspondence(c.clone()));
        }
        if at > next.seen_ms {
            next.seen_ms = at;
            next.seen_edge.clear();
        }
        next.seen_edge.push(d);
    }
    if case.status.as_str() != cursor.status {
        if !first_look && needs_people(&case.status) {
            updates.push(Update::Status {
                to: case.status.clone(),
            });
        }
        next.status = case.status.as_str().to_owned();
        next.waiting_since_ms =
            (case.status == CaseStatus::PendingCustomerAction).then_some(now_ms);
        next.resolved_since_ms = (case.status == CaseStatus::Resolved).then_some(now_ms);
        next.reminded = false;
    }
    if let (Some(after), Some(since)) = (remind_after_ms, next.waiting_since_ms)
        && !next.reminded
        && now_ms.saturating_sub(since) >= after
    {
        updates.push(Update::Reminder {
            waited_ms: now_ms.saturating_sub(since),
        });
        next.reminded = true;
    }
    Diff { updates, next }
}

#[cfg(test)]
mod tests {
    use support_commands::iso8601;

    use super::*;

    fn comm(body: &str, ms: i64) -> Communication {
        Communication::new(
            body,
            "Amazon Web Services",
            iso8601(u64::try_from(ms).unwrap()),
        )
    }

    fn case(status: CaseStatus) -> CaseDetails {
        CaseDetails::for_tests("case-1", "1", status)
    }

    #[test]
    fn a_reply_after_the_cursor_is_new_once_and_moves_the_cursor() {
        let cursor = CaseCursor::starting(&CaseStatus::Opened, 1_000);
        let comms = [comm("answer", 2_000), comm("opening", 900)];
        let first = diff(&cursor, &case(CaseStatus::Opened), &comms, 3_000, None);
        assert_eq!(
            first.updates,
            [Update::Correspondence(comm("answer", 2_000))]
        );
        assert_eq!(first.next.seen_ms, 2_000);
        let again = diff(&first.next, &case(CaseStatus::Opened), &comms, 4_000, None);
        assert!(again.updates.is_empty());
        assert_eq!(again.next, first.next);
    }

    #[test]
    fn two_replies_at_the_same_millisecond_are_both_told_and_neither_twice() {
        let cursor = CaseCursor::starting(&CaseStatus::Opened, 1_000);
        let one = [comm("a", 2_000)];
        let first = diff(&cursor, &case(CaseStatus::Opened), &one, 3_000, None);
        let both = [comm("b", 2_000), comm("a", 2_000)];
        let second = diff(&first.next, &case(CaseStatus::Opened), &both, 3_000, None);
        assert_eq!(second.updates, [Update::Correspondence(comm("b", 2_000))]);
    }

    #[test]
    fn only_status_moves_that_need_people_are_told_and_a_first_look_tells_nothing() {
        let new = CaseCursor::default();
        let seen = diff(&new, &case(CaseStatus::Resolved), &[comm("x", 5)], 10, None);
        assert!(seen.updates.is_empty());
        assert_eq!(seen.next.status, "resolved");
        let cursor = CaseCursor::starting(&CaseStatus::Opened, 0);
        let work = diff(&cursor, &case(CaseStatus::WorkInProgress), &[], 10, None);
        assert!(work.updates.is_empty());
        let waiting = diff(
            &work.next,
            &case(CaseStatus::PendingCustomerAction),
            &[],
            20,
            None,
        );
        assert_eq!(
            waiting.updates,
            [Update::Status {
                to: CaseStatus::PendingCustomerAction
            }]
        );
        assert_eq!(waiting.next.waiting_since_ms, Some(20));
        let reopened = diff(&waiting.next, &case(CaseStatus::Reopened), &[], 30, None);
        assert_eq!(
            reopened.updates,
            [Update::Status {
                to: CaseStatus::Reopened
            }]
        );
    }

    #[test]
    fn a_reminder_comes_once_after_the_wait_and_not_when_off() {
        let cursor = CaseCursor::starting(&CaseStatus::Opened, 0);
        let waiting = diff(
            &cursor,
            &case(CaseStatus::PendingCustomerAction),
            &[],
            1_000,
            Some(500),
        );
        assert_eq!(waiting.updates.len(), 1, "the status only");
        let later = diff(
            &waiting.next,
            &case(CaseStatus::PendingCustomerAction),
            &[],
            1_600,
            Some(500),
        );
        assert_eq!(later.updates, [Update::Reminder { waited_ms: 600 }]);
        let again = diff(
            &later.next,
            &case(CaseStatus::PendingCustomerAction),
            &[],
            9_000,
            Some(500),
        );
        assert!(again.updates.is_empty());
        let off = diff(
            &waiting.next,
            &case(CaseStatus::PendingCustomerAction),
            &[],
            9_000,
            None,
        );
        assert!(off.updates.is_empty());
    }

    #[test]
    fn older_pages_are_needed_only_when_every_recent_communication_is_new() {
        let cursor = CaseCursor::starting(&CaseStatus::Opened, 1_000);
        let all_new = [comm("c", 4_000), comm("b", 3_000)];
        assert!(cursor.needs_older(&all_new, true));
        assert!(!cursor.needs_older(&all_new, false));
        let reaches_back = [comm("c", 4_000), comm("a", 500)];
        assert!(!cursor.needs_older(&reaches_back, true));
    }
}
