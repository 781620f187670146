//! The record stage: the audit row of every message acted on, and the link of a case opened
//! from the chat to its conversation and opener.

use std::borrow::Cow;

use super::execute::Executed;
use crate::event::Origin;
use crate::store::{AuditRecord, CaseLink, Store, unix_ms};

/// Records what `command` came to. A store failure is logged, not fatal: the reply still goes
/// out.
pub(crate) async fn record(
    store: &dyn Store,
    origin: &Origin,
    claim_key: Option<String>,
    command: &'static str,
    executed: &Executed,
) {
    let now = unix_ms();
    if let Executed::Created { case_id, .. } = executed {
        let link = CaseLink {
            conversation_id: origin.conversation_id.clone(),
            conversation_title: origin.conversation_title.clone(),
            opener_staff_id: origin.staff_id.clone(),
            opener_nick: origin.nick.clone(),
            created_at_ms: now,
        };
        if let Err(err) = store.put_case(case_id.as_str(), &link).await {
            tracing::error!(case_id = case_id.as_str(), error = %err, "case link not stored");
        }
    }
    let record = AuditRecord {
        at_ms: now,
        sender: origin.nick.clone(),
        sender_staff_id: origin.staff_id.clone(),
        conversation_id: origin.conversation_id.clone(),
        command: Cow::Borrowed(command),
        case_id: executed.case_id(),
        outcome: executed.result(),
        claim_key,
    };
    if let Err(err) = store.audit(record).await {
        tracing::error!(error = %err, command, "audit record not written");
    }
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
    async fn a_created_case_is_linked_to_its_conversation_and_opener_and_audited() {
        let store = MemoryStore::default();
        let case_id = CaseId::new_unchecked("case-1");
        let created = Executed::Created {
            case_id,
            display_id: Some("1".into()),
        };
        record(&store, &origin(), Some("msg:m1".into()), "create", &created).await;
        let link = store.case("case-1").await.unwrap().unwrap();
        assert_eq!(
            (
                link.conversation_id.as_str(),
                link.opener_staff_id.as_deref()
            ),
            ("cidOps", Some("s1"))
        );
        let audit = store.recent_audit(1).await.unwrap();
        assert_eq!(audit[0].command, "create");
        assert_eq!(audit[0].outcome, "ok");
        assert_eq!(audit[0].case_id.as_deref(), Some("case-1"));
        assert_eq!(audit[0].claim_key.as_deref(), Some("msg:m1"));
    }

    #[tokio::test]
    async fn other_outcomes_are_audited_without_a_case_link() {
        let store = MemoryStore::default();
        record(&store, &origin(), None, "invalid", &Executed::TimedOut).await;
        let audit = store.recent_audit(5).await.unwrap();
        assert_eq!((audit.len(), &*audit[0].outcome), (1, "timeout"));
        assert_eq!(audit[0].claim_key, None);
    }
}
