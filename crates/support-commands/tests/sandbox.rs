//! Sandbox-only behaviour (the simulated engineer's delay, plan limits) and the cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use support_commands::{
    CacheTtl, Cached, CaseFilter, CaseId, CasePage, CaseRef, CaseStatus, CaseView, Error, NewCase,
    ReplyOutcome, Resolution, SIMULATED_REPLY, Sandbox, SandboxConfig, Service, Severity,
    SeverityLevel, SupportApi,
};

fn clocked(config: SandboxConfig) -> (Sandbox, Arc<AtomicU64>) {
    let offset = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&offset);
    let sandbox = Sandbox::with_config(config).with_clock(move || {
        SystemTime::now() + Duration::from_millis(clock.load(Ordering::SeqCst))
    });
    (sandbox, offset)
}

#[tokio::test]
async fn simulated_engineer_answers_only_after_the_configured_delay() {
    let config = SandboxConfig {
        engineer_reply_after: Duration::from_secs(120),
        ..SandboxConfig::default()
    };
    let (sandbox, offset) = clocked(config);
    let id = sandbox
        .create_case(&NewCase::new("s", "b", Severity::Low))
        .await
        .unwrap();
    let case = CaseRef::CaseId(id.clone());

    offset.store(119_000, Ordering::SeqCst);
    let before = sandbox.describe_case(&case, None).await.unwrap();
    assert_eq!(before.case.status, CaseStatus::Opened);
    assert_eq!(before.communications.len(), 1);

    offset.store(120_000, Ordering::SeqCst);
    let after = sandbox.describe_case(&case, None).await.unwrap();
    assert_eq!(after.case.status, CaseStatus::PendingCustomerAction);
    assert_eq!(after.communications[0].body, SIMULATED_REPLY);
    assert!(after.communications[0].is_from_aws());

    // The customer answers; the engineer answers again after another delay.
    sandbox
        .add_communication(&id, "logs attached", &[])
        .await
        .unwrap();
    offset.store(240_000, Ordering::SeqCst);
    let again = sandbox.describe_case(&case, None).await.unwrap();
    assert_eq!(again.communications.len(), 4);
    assert_eq!(again.case.status, CaseStatus::PendingCustomerAction);
}

#[tokio::test]
async fn resolved_cases_get_no_simulated_answer() {
    let (sandbox, offset) = clocked(SandboxConfig::default());
    let id = sandbox
        .create_case(&NewCase::new("s", "b", Severity::Low))
        .await
        .unwrap();
    sandbox.resolve_case(&id).await.unwrap();
    offset.store(3_600_000, Ordering::SeqCst);
    let view = sandbox
        .describe_case(&CaseRef::CaseId(id), None)
        .await
        .unwrap();
    assert_eq!(view.case.status, CaseStatus::Resolved);
    assert_eq!(view.communications.len(), 1);
}

#[tokio::test]
async fn severities_outside_the_plan_and_too_many_open_cases_are_refused() {
    let config = SandboxConfig {
        severity_levels: vec![Severity::Low, Severity::Normal],
        max_open_cases: 2,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::with_config(config);
    assert_eq!(
        sandbox.describe_severity_levels("en").await.unwrap().len(),
        2
    );
    let high = sandbox
        .create_case(&NewCase::new("s", "b", Severity::High))
        .await;
    assert!(matches!(high, Err(Error::InvalidParameter(_))), "{high:?}");
    sandbox
        .create_case(&NewCase::new("a", "b", Severity::Low))
        .await
        .unwrap();
    let second = sandbox
        .create_case(&NewCase::new("b", "b", Severity::Low))
        .await
        .unwrap();
    let third = sandbox
        .create_case(&NewCase::new("c", "b", Severity::Low))
        .await;
    assert!(
        matches!(third, Err(Error::CaseCreationLimitExceeded(_))),
        "{third:?}"
    );
    sandbox.resolve_case(&second).await.unwrap();
    sandbox
        .create_case(&NewCase::new("c", "b", Severity::Low))
        .await
        .unwrap();
}

#[tokio::test]
async fn invalid_page_token_is_invalid_parameter() {
    let sandbox = Sandbox::new();
    let err = sandbox
        .list_cases(&CaseFilter::default(), Some("garbage"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter(_)));
}

/// Counts catalogue and severity calls; fails the first call of each when asked.
#[derive(Default)]
struct Counting {
    inner: Sandbox,
    services: AtomicUsize,
    severity: AtomicUsize,
    fail_first: bool,
}

#[async_trait]
impl SupportApi for Counting {
    async fn describe_services(&self, language: &str) -> Result<Arc<Vec<Service>>, Error> {
        if self.services.fetch_add(1, Ordering::SeqCst) == 0 && self.fail_first {
            return Err(Error::Throttled("first call".into()));
        }
        self.inner.describe_services(language).await
    }
    async fn describe_severity_levels(&self, language: &str) -> Result<Vec<SeverityLevel>, Error> {
        self.severity.fetch_add(1, Ordering::SeqCst);
        self.inner.describe_severity_levels(language).await
    }
    async fn create_case(&self, case: &NewCase) -> Result<CaseId, Error> {
        self.inner.create_case(case).await
    }
    async fn describe_case(&self, case: &CaseRef, page: Option<&str>) -> Result<CaseView, Error> {
        self.inner.describe_case(case, page).await
    }
    async fn list_cases(&self, filter: &CaseFilter, page: Option<&str>) -> Result<CasePage, Error> {
        self.inner.list_cases(filter, page).await
    }
    async fn add_communication(
        &self,
        case: &CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<ReplyOutcome, Error> {
        self.inner.add_communication(case, body, cc).await
    }
    async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, Error> {
        self.inner.resolve_case(case).await
    }
}

#[tokio::test]
async fn catalogue_and_severity_levels_are_cached_per_language_but_errors_are_not() {
    let cached = Cached::new(Counting {
        fail_first: true,
        ..Counting::default()
    });
    assert!(cached.describe_services("zh").await.is_err());
    let a = cached.describe_services("zh").await.unwrap();
    let b = cached.describe_services("zh").await.unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    cached.describe_services("en").await.unwrap();
    assert_eq!(
        cached.inner().services.load(Ordering::SeqCst),
        3,
        "error, zh once, en once"
    );
    for _ in 0..5 {
        cached.describe_severity_levels("zh").await.unwrap();
    }
    assert_eq!(cached.inner().severity.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn expired_cache_entries_are_fetched_again() {
    let ttl = CacheTtl {
        services: Duration::ZERO,
        severity_levels: Duration::ZERO,
    };
    let cached = Cached::with_ttl(Counting::default(), ttl);
    cached.describe_services("zh").await.unwrap();
    cached.describe_services("zh").await.unwrap();
    assert_eq!(cached.inner().services.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cases_opened_a_millisecond_apart_get_distinct_case_and_display_ids() {
    use std::collections::HashSet;
    use std::time::UNIX_EPOCH;
    // The clock moves 1 ms per case from a time with t % 4 == 1: the old id formula,
    // mix(n ^ t), gave cases 1 and 2 the same id there.
    let tick = Arc::new(AtomicU64::new(1_800_000_000_001));
    let clock = Arc::clone(&tick);
    let sandbox = Sandbox::with_config(SandboxConfig {
        max_open_cases: 1000,
        ..SandboxConfig::default()
    })
    .with_clock(move || UNIX_EPOCH + Duration::from_millis(clock.fetch_add(1, Ordering::SeqCst)));
    let mut ids = Vec::new();
    for i in 0..200 {
        let case = NewCase::new(format!("case {i}"), "b", Severity::Low);
        ids.push(sandbox.create_case(&case).await.unwrap());
    }
    let (mut seen, mut displays) = (HashSet::new(), HashSet::new());
    for (i, id) in ids.into_iter().enumerate() {
        let view = sandbox
            .describe_case(&CaseRef::CaseId(id.clone()), None)
            .await
            .unwrap();
        assert_eq!(
            view.case.subject,
            format!("case {i}"),
            "found by its own id"
        );
        let display = view.case.display_id.unwrap();
        assert_eq!(display.len(), 10, "{display}");
        assert!(seen.insert(id), "case id repeated at case {i}");
        assert!(displays.insert(display), "display id repeated at case {i}");
    }
}
