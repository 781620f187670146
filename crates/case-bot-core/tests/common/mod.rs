//! Shared test code of the case-bot-core test binaries.
#![allow(clippy::unwrap_used, dead_code)]

use case_bot_core::{
    AuditRecord, CaseLink, Claim, ClaimState, Destination, OutboxEntry, RecordSwap, Settlement,
    Store,
};

/// Unix ms now.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Takes `key` for a minute: whether it was free.
pub(crate) async fn take(store: &dyn Store, key: &str) -> bool {
    let claim = Claim::new(key, "{}", "t", now_ms(), 60_000);
    store.claim(&claim).await.unwrap().is_none()
}

fn audit(at_ms: i64, command: &str, outcome: &str, key: &str) -> AuditRecord {
    AuditRecord {
        at_ms,
        sender: "张三".into(),
        sender_staff_id: None,
        conversation_id: "cid".into(),
        command: command.to_owned().into(),
        case_id: None,
        outcome: outcome.to_owned().into(),
        claim_key: Some(key.into()),
    }
}

fn entry(conversation: &str, text: &str, at: i64) -> OutboxEntry {
    OutboxEntry::new(
        conversation,
        Destination::Session {
            url: "https://oapi.dingtalk.com/robot/sendBySession?session=s".into(),
            expires_at_ms: Some(at + 3_600_000),
        },
        format!(r#"{{"msgtype":"text","text":{{"content":"{text}"}}}}"#),
        at,
    )
}

/// What every `Store` must do. `base_ms` is "now" for the audit records (DynamoDB partitions
/// audit by day).
pub(crate) async fn store_contract(store: &dyn Store, base_ms: i64) {
    claims(store).await;
    let link = CaseLink {
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
        store
            .audit(audit(
                base_ms + i,
                &format!("c{i}"),
                "ok",
                &format!("msg:c{i}"),
            ))
            .await
            .unwrap();
    }
    // Written again after a crash: nothing new. An undelivered reply is a row of its own.
    store
        .audit(audit(base_ms + 1, "c1", "ok", "msg:c1"))
        .await
        .unwrap();
    store
        .audit(audit(base_ms + 5, "c1", "undelivered", "msg:c1"))
        .await
        .unwrap();
    store
        .audit(audit(base_ms + 5, "c1", "undelivered", "msg:c1"))
        .await
        .unwrap();
    let recent: Vec<(String, String)> = store
        .recent_audit(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.command.into_owned(), r.outcome.into_owned()))
        .collect();
    let expected = [
        ("c1", "undelivered"),
        ("c2", "ok"),
        ("c1", "ok"),
        ("c0", "ok"),
    ]
    .map(|(c, o)| (c.to_owned(), o.to_owned()));
    assert_eq!(recent, expected);
    outbox(store, base_ms).await;
    records(store, base_ms).await;
    store.probe().await.unwrap();
}

/// Versioned records: compare-and-set, removal, listing by kind, and a swap's entries enqueued
/// only when it wins.
async fn records(store: &dyn Store, base_ms: i64) {
    let put = |id: &str, expected: u64, value: &str| RecordSwap::put("group", id, expected, value);
    assert!(store.swap_record(&put("cid1", 0, "a")).await.unwrap());
    assert!(
        !store.swap_record(&put("cid1", 0, "b")).await.unwrap(),
        "exists"
    );
    assert!(store.swap_record(&put("cid1", 1, "b")).await.unwrap());
    assert!(
        !store.swap_record(&put("cid1", 1, "c")).await.unwrap(),
        "stale"
    );
    let record = store.record("group", "cid1").await.unwrap().unwrap();
    assert_eq!((record.version, record.value.as_str()), (2, "b"));
    assert!(store.swap_record(&put("cid2", 0, "x")).await.unwrap());
    let other = RecordSwap::put("cursor", "cid1", 0, "y");
    assert!(store.swap_record(&other).await.unwrap());
    let ids: Vec<String> = store
        .records("group")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["cid1", "cid2"]);
    assert!(
        !store
            .swap_record(&RecordSwap::remove("group", "cid2", 5))
            .await
            .unwrap()
    );
    assert!(
        store
            .swap_record(&RecordSwap::remove("group", "cid2", 1))
            .await
            .unwrap()
    );
    assert!(store.record("group", "cid2").await.unwrap().is_none());
    // The winner's entries are enqueued; the loser's are not.
    let pending_before = store.pending(Some("conv-rec")).await.unwrap();
    let entry = |id: &str| {
        let mut entry = OutboxEntry::new("conv-rec", Destination::Group, "{}", base_ms);
        entry.id = id.to_owned();
        entry
    };
    let win = RecordSwap::put("cursor", "case-r", 0, "v1").with_entries(vec![entry("rec-1")]);
    assert!(store.swap_record(&win).await.unwrap());
    let lose = RecordSwap::put("cursor", "case-r", 0, "v1").with_entries(vec![entry("rec-2")]);
    assert!(!store.swap_record(&lose).await.unwrap());
    assert_eq!(
        store.pending(Some("conv-rec")).await.unwrap(),
        pending_before + 1
    );
}

async fn claims(store: &dyn Store) {
    let now = now_ms();
    assert!(take(store, "msg:a").await);
    let again = Claim::new("msg:a", "{}", "t2", now, 60_000);
    assert_eq!(
        store.claim(&again).await.unwrap(),
        Some(ClaimState::Accepted),
        "held"
    );
    // Only one of two starts wins.
    assert!(
        store
            .advance("msg:a", ClaimState::Accepted, ClaimState::Executing)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance("msg:a", ClaimState::Accepted, ClaimState::Executing)
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim(&again).await.unwrap(),
        Some(ClaimState::Executing)
    );
    // An unfinished claim is held past its expiry, with its event and token.
    let crashed = Claim::new(
        "msg:crashed",
        r#"{"msgId":"crashed"}"#,
        "tok-1",
        now - 10,
        -5,
    );
    assert_eq!(store.claim(&crashed).await.unwrap(), None);
    let retry = Claim::new("msg:crashed", "{}", "tok-2", now, 60_000);
    assert_eq!(
        store.claim(&retry).await.unwrap(),
        Some(ClaimState::Accepted)
    );
    let unfinished = store.unfinished_claims().await.unwrap();
    let keys: Vec<&str> = unfinished.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["msg:crashed", "msg:a"], "oldest first");
    assert_eq!(
        (unfinished[0].event.as_str(), unfinished[0].token.as_str()),
        (r#"{"msgId":"crashed"}"#, "tok-1")
    );
    // Done and expired: free again, and no longer unfinished.
    assert!(
        store
            .advance("msg:crashed", ClaimState::Accepted, ClaimState::Done)
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim(&retry).await.unwrap(),
        None,
        "an expired done claim is free"
    );
    assert!(
        store
            .advance("msg:crashed", ClaimState::Accepted, ClaimState::Done)
            .await
            .unwrap()
    );
    assert!(
        store
            .advance("msg:a", ClaimState::Executing, ClaimState::Done)
            .await
            .unwrap()
    );
    assert_eq!(store.claim(&again).await.unwrap(), Some(ClaimState::Done));
    assert!(store.unfinished_claims().await.unwrap().is_empty());
    assert!(
        !store
            .advance("msg:none", ClaimState::Accepted, ClaimState::Done)
            .await
            .unwrap()
    );
}

async fn outbox(store: &dyn Store, base_ms: i64) {
    let now = now_ms();
    let a1 = entry("cidA", "a1", now);
    let a2 = entry("cidA", "a2", now);
    let b1 = entry("cidB", "b1", now);
    store
        .enqueue(&[a1.clone(), a2.clone(), b1.clone()])
        .await
        .unwrap();
    // Enqueued again (after a crash): nothing new.
    store.enqueue(std::slice::from_ref(&a1)).await.unwrap();
    assert_eq!(store.pending(None).await.unwrap(), 3);
    assert_eq!(store.pending(Some("cidA")).await.unwrap(), 2);
    // Of each conversation its oldest entry only; leased, so another worker gets none.
    let lease = now + 60_000;
    let mut first: Vec<String> = store
        .lease_due(now, "w1", lease, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    first.sort();
    let mut expected = vec![a1.id.clone(), b1.id.clone()];
    expected.sort();
    assert_eq!(first, expected);
    assert!(
        store
            .lease_due(now, "w2", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A lease that ran out is another worker's to take.
    let taken = store
        .lease_due(lease + 1, "w2", lease + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    store.settle(&a1.id, Settlement::Sent).await.unwrap();
    store
        .settle(
            &b1.id,
            Settlement::Retry {
                next_attempt_ms: now + 30_000,
            },
        )
        .await
        .unwrap();
    // a2 is next in its conversation; b1 waits for its retry.
    let next = store.lease_due(now, "w1", lease, 10).await.unwrap();
    assert_eq!(
        next.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [a2.id.as_str()]
    );
    let retried = store
        .lease_due(now + 30_000, "w3", lease + 30_000, 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].id.as_str(), retried[0].attempts),
        (b1.id.as_str(), 1)
    );
    store.settle(&a2.id, Settlement::Undelivered).await.unwrap();
    store.settle(&b1.id, Settlement::Sent).await.unwrap();
    assert_eq!(store.pending(None).await.unwrap(), 0);
    assert_eq!(store.undelivered().await.unwrap(), 1);
    // Retention: sent entries and old audit rows go; the store still works.
    store.prune(now + 1, base_ms - 1).await.unwrap();
    assert_eq!(
        store.recent_audit(10).await.unwrap().len(),
        4,
        "newer audit kept"
    );
}
