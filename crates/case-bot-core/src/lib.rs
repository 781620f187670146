//! The casebot core (auth, idempotency, secrets, state, rendering, one HTTP entry); filled in by issue #5.
