//! The claim stage: an event's key, its state and the event itself, in the store before the
//! bot answers it. A store that cannot take the claim stops the event here (fail closed).

use crate::error::Error;
use crate::store::{Claim, ClaimState, ClaimStore};

/// Whether an event is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// New: taken, and durable.
    Fresh(Claim),
    /// Another delivery of the same event holds the key, in this state: do nothing.
    Duplicate(ClaimState),
}

/// Takes `claim` in `store`.
///
/// # Errors
/// The store's: the event must then not be acted on (the transport answers 503).
pub(crate) async fn claim(store: &dyn ClaimStore, claim: Claim) -> Result<Claimed, Error> {
    Ok(match store.claim(&claim).await? {
        None => Claimed::Fresh(claim),
        Some(held) => Claimed::Duplicate(held),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_key_is_fresh_once_then_a_duplicate_in_the_holders_state() {
        let store = MemoryStore::default();
        let new = || Claim::new("msg:m1", "{}", "t1", 0, i64::MAX / 2);
        assert!(matches!(claim(&store, new()).await, Ok(Claimed::Fresh(_))));
        assert_eq!(
            claim(&store, new()).await.unwrap(),
            Claimed::Duplicate(ClaimState::Accepted)
        );
        assert!(
            store
                .advance("msg:m1", ClaimState::Accepted, ClaimState::Done)
                .await
                .unwrap()
        );
        assert_eq!(
            claim(&store, new()).await.unwrap(),
            Claimed::Duplicate(ClaimState::Done)
        );
    }
}
