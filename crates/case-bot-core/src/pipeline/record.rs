//! The record stage: the audit row of every message acted on, and the link of a case opened
//! from the chat to its conversation and opener. Written with the reply and the claim's end in
//! one [`Finish`](crate::store::Finish); writing the same claim's again (after a crash) adds
//! nothing: the stores keep one command row per claim key.

use std::borrow::Cow;

use super::execute::Executed;
use crate::event::Origin;
use crate::store::{AuditRecord, CaseLink, Claim};

/// What `command` came to, as the audit row (at the time the message was claimed) and, for a
/// created case, its link.
pub(crate) fn record(
    origin: &Origin,
    claim: &Claim,
    command: &'static str,
    executed: &Executed,
) -> (AuditRecord, Option<(String, CaseLink)>) {
    let link = match executed {
        Executed::Created { case_id, .. } => Some((
            case_id.to_string(),
            CaseLink {
                conversation_id: origin.conversation_id.clone(),
                conversation_title: origin.conversation_title.clone(),
                opener_staff_id: origin.staff_id.clone(),
                opener_nick: origin.nick.clone(),
                created_at_ms: claim.claimed_at_ms,
            },
        )),
        _ => None,
    };
    let audit = AuditRecord {
        at_ms: claim.claimed_at_ms,
        sender: origin.nick.clone(),
        sender_staff_id: origin.staff_id.clone(),
        conversation_id: origin.conversation_id.clone(),
        command: Cow::Borrowed(command),
        case_id: executed.case_id(),
        outcome: executed.result(),
        claim_key: Some(claim.key.clone()),
    };
    (audit, link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use support_commands::CaseId;

    fn origin() -> Origin {
        Origin {
            nick: "张三".into(),
            staff_id: Some("s1".into()),
            conversation_id: "cidOps".into(),
            conversation_title: Some("运维值班".into()),
            session: None,
        }
    }

    #[test]
    fn a_created_case_is_linked_to_its_conversation_and_opener_at_claim_time() {
        let claim = Claim::new("msg:m1", "{}", "t", 7, 1000);
        let created = Executed::Created {
            case_id: CaseId::new_unchecked("case-1"),
            display_id: Some("1".into()),
            subject: "s".into(),
            language_refused: None,
        };
        let (audit, link) = record(&origin(), &claim, "create", &created);
        let (case_id, link) = link.unwrap();
        assert_eq!(case_id, "case-1");
        assert_eq!(
            (
                link.conversation_id.as_str(),
                link.opener_staff_id.as_deref()
            ),
            ("cidOps", Some("s1"))
        );
        assert_eq!(
            (&*audit.command, &*audit.outcome, audit.at_ms),
            ("create", "ok", 7)
        );
        assert_eq!(audit.case_id.as_deref(), Some("case-1"));
        assert_eq!(audit.claim_key.as_deref(), Some("msg:m1"));
    }

    #[test]
    fn other_outcomes_are_audited_without_a_case_link() {
        let claim = Claim::new("msg:m2", "{}", "t", 0, 1000);
        let (audit, link) = record(&origin(), &claim, "invalid", &Executed::TimedOut);
        assert!(link.is_none());
        assert_eq!(&*audit.outcome, "timeout");
    }
}
