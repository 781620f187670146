//! The claim stage: an event's idempotency key, taken in the store before anything is done.

use std::time::Duration;

use crate::store::Store;

/// Whether an event is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// New (or without a key): go on. `key` is what the audit row names.
    Fresh { key: Option<String> },
    /// Another delivery of the same event holds the key: do nothing.
    Duplicate,
}

/// Claims `key` for `ttl`.
///
/// When the store cannot answer, a duplicate cannot be recognised; the event is handled
/// anyway, because answering is better than dropping it.
pub(crate) async fn claim(store: &dyn Store, key: Option<String>, ttl: Duration) -> Claim {
    let Some(key) = key else {
        return Claim::Fresh { key: None };
    };
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    match store.claim(&key, ttl_ms).await {
        Ok(true) => Claim::Fresh { key: Some(key) },
        Ok(false) => Claim::Duplicate,
        Err(err) => {
            tracing::warn!(error = %err, "idempotency check failed; handling the message anyway");
            Claim::Fresh { key: Some(key) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_key_is_fresh_once_then_a_duplicate_and_no_key_is_always_fresh() {
        let store = MemoryStore::default();
        let ttl = Duration::from_secs(60);
        let key = || Some("msg:m1".to_owned());
        assert_eq!(claim(&store, key(), ttl).await, Claim::Fresh { key: key() });
        assert_eq!(claim(&store, key(), ttl).await, Claim::Duplicate);
        assert_eq!(claim(&store, None, ttl).await, Claim::Fresh { key: None });
        assert_eq!(claim(&store, None, ttl).await, Claim::Fresh { key: None });
    }
}
