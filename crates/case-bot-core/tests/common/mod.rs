//! Shared test code of the case-bot-core test binaries.
#![allow(clippy::unwrap_used, dead_code)]

use case_bot_core::Store;

/// What every `Store` must do: claims (held, expired and free again), case links, audit order.
/// `audit_base_ms` is the time of the first audit record (DynamoDB partitions audit by day).
pub(crate) async fn store_contract(store: &dyn Store, audit_base_ms: i64) {
    assert!(store.claim("msg:a", 60_000).await.unwrap());
    assert!(!store.claim("msg:a", 60_000).await.unwrap(), "held");
    assert!(store.claim("msg:expired", -1).await.unwrap());
    assert!(
        store.claim("msg:expired", 60_000).await.unwrap(),
        "an expired claim is free again"
    );
    let link = case_bot_core::CaseLink {
        conversation_id: "cid".into(),
        conversation_title: Some("运维值班".into()),
        opener_staff_id: Some("staff-1".into()),
        opener_nick: "张三".into(),
        created_at_ms: 1,
    };
    store.put_case("case-1", &link).await.unwrap();
    assert_eq!(store.case("case-1").await.unwrap(), Some(link));
    assert_eq!(store.case("case-2").await.unwrap(), None);
    for i in 0..3 {
        let record = case_bot_core::AuditRecord {
            at_ms: audit_base_ms + i,
            sender: "张三".into(),
            sender_staff_id: None,
            conversation_id: "cid".into(),
            command: format!("c{i}").into(),
            case_id: None,
            outcome: "ok".into(),
            claim_key: Some(format!("msg:c{i}")),
        };
        store.audit(record).await.unwrap();
    }
    let recent: Vec<String> = store
        .recent_audit(2)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.command.into_owned())
        .collect();
    assert_eq!(recent, ["c2", "c1"]);
}
