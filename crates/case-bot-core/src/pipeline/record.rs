//! The record stage: the audit row of every message acted on, and the link of a case opened
//! from the chat to its conversation and opener. Recording the same claim again (after a crash)
//! writes nothing new: the stores keep one command row per claim key.

use std::borrow::Cow;

use super::execute::Executed;
use crate::error::Error;
use crate::event::Origin;
use crate::store::{AuditRecord, AuditStore, CaseLink, CaseLinkStore, Claim};

/// Records what `command` came to, at the time the message was claimed.
///
/// # Errors
/// The store's.
pub(crate) async fn record<S>(
    store: &S,
    origin: &Origin,
    claim: &Claim,
    command: &'static str,
    executed: &Executed,
) -> Result<(), Error>
where
    S: AuditStore + CaseLinkStore + ?Sized,
{
    if let Executed::Created { case_id, .. } = executed {
        let link = CaseLink {
            conversation_id: origin.conversation_id.clone(),
            conversation_title: origin.conversation_title.clone(),
            opener_staff_id: origin.staff_id.clone(),
            opener_nick: origin.nick.clone(),
            created_at_ms: claim.claimed_at_ms,
        };
        store.put_case(case_id.as_str(), &link).await?;
    }
    store
        .audit(AuditRecord {
            at_ms: claim.claimed_at_ms,
            sender: origin.nick.clone(),
            sender_staff_id: origin.staff_id.clone(),
            conversation_id: origin.conversation_id.clone(),
            command: Cow::Borrowed(command),
            case_id: executed.case_id(),
            outcome: executed.result(),
            claim_key: Some(claim.key.clone()),
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
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

    #[tokio::test]
    async fn a_created_case_is_linked_to_its_conversation_and_opener_and_audited_once() {
        let store = MemoryStore::default();
        let claim = Claim::new("msg:m1", "{}", "t", 7, 1000);
        let created = Executed::Created {
            case_id: CaseId::new_unchecked("case-1"),
            display_id: Some("1".into()),
        };
        record(&store, &origin(), &claim, "create", &created)
            .await
            .unwrap();
        // After a crash the stage runs again for the same claim: still one row.
        record(&store, &origin(), &claim, "create", &created)
            .await
            .unwrap();
        let link = store.case("case-1").await.unwrap().unwrap();
        assert_eq!(
            (
                link.conversation_id.as_str(),
                link.opener_staff_id.as_deref()
            ),
            ("cidOps", Some("s1"))
        );
        let audit = store.recent_audit(5).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (&*audit[0].command, &*audit[0].outcome, audit[0].at_ms),
            ("create", "ok", 7)
        );
        assert_eq!(audit[0].case_id.as_deref(), Some("case-1"));
        assert_eq!(audit[0].claim_key.as_deref(), Some("msg:m1"));
    }

    #[tokio::test]
    async fn other_outcomes_are_audited_without_a_case_link() {
        let store = MemoryStore::default();
        let claim = Claim::new("msg:m2", "{}", "t", 0, 1000);
        record(&store, &origin(), &claim, "invalid", &Executed::TimedOut)
            .await
            .unwrap();
        let audit = store.recent_audit(5).await.unwrap();
        assert_eq!((audit.len(), &*audit[0].outcome), (1, "timeout"));
    }
}
