//! One behaviour suite, run against every backend: the in-memory sandbox and the AWS backend
//! (aws-sdk-support over the wire) on moto with casebot's Support extension. If the sandbox
//! drifts from what the AWS backend does, a test here fails for one of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use casebot_testkit::MotoServer;
use support_commands::{
    AwsSupport, AwsSupportConfig, CaseFilter, CaseId, CaseRef, CaseStatus, Error, NewCase, Sandbox,
    Severity, SupportApi,
};

/// A backend under test, with a way to make "AWS" answer a case.
struct Backend {
    api: Arc<dyn SupportApi>,
    aws_answers: Box<dyn Fn(&CaseId) + Send + Sync>,
    _moto: Option<Arc<MotoServer>>,
}

async fn sandbox() -> Backend {
    let offset_ms = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&offset_ms);
    let sandbox = Sandbox::new().with_clock(move || {
        SystemTime::now() + Duration::from_millis(clock.load(Ordering::SeqCst))
    });
    Backend {
        api: Arc::new(sandbox),
        // The simulated engineer answers 30 s after the customer: move the clock past that.
        aws_answers: Box::new(move |_| {
            offset_ms.fetch_add(31_000, Ordering::SeqCst);
        }),
        _moto: None,
    }
}

async fn aws_on_moto() -> Backend {
    let moto = Arc::new(MotoServer::start());
    let config = AwsSupportConfig {
        max_attempts: Some(1),
        ..AwsSupportConfig::default()
    };
    let api = AwsSupport::from_sdk_config(&moto.sdk_config().await, config);
    let engineer = Arc::clone(&moto);
    Backend {
        api: Arc::new(api),
        aws_answers: Box::new(move |case| {
            engineer
                .engineer_reply(case.as_str(), "We are looking into it.")
                .unwrap()
        }),
        _moto: Some(moto),
    }
}

fn ec2_case(subject: &str) -> NewCase {
    NewCase::new(subject, "i-0abc 从 10:00 起 SSH 超时", Severity::High)
        .service("amazon-elastic-compute-cloud-linux", "instance-issue")
}

async fn create(b: &Backend, subject: &str) -> CaseId {
    b.api.create_case(&ec2_case(subject)).await.unwrap()
}

async fn status(b: &Backend, id: &CaseId) -> CaseStatus {
    b.api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap()
        .case
        .status
}

async fn created_case_is_opened_with_its_fields_and_ids_in_aws_format(b: Backend) {
    let mut case = ec2_case("EC2 实例无法连接");
    case.cc = vec!["ops@example.com".into()];
    let id = b.api.create_case(&case).await.unwrap();
    assert!(
        id.as_str().starts_with("case-") && CaseId::parse(id.as_str()).is_some(),
        "{id}"
    );
    let view = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap();
    let details = &view.case;
    assert_eq!(details.case_id, id);
    assert_eq!(details.status, CaseStatus::Opened);
    assert_eq!(details.subject, "EC2 实例无法连接");
    assert_eq!(details.severity, Some(Severity::High));
    assert_eq!(
        details.service_code.as_deref(),
        Some("amazon-elastic-compute-cloud-linux")
    );
    assert_eq!(details.category_code.as_deref(), Some("instance-issue"));
    assert_eq!(details.language.as_deref(), Some("zh"));
    assert_eq!(details.cc, ["ops@example.com"]);
    let display = details.display_id.clone().unwrap();
    assert!(
        display.len() >= 6 && display.bytes().all(|b| b.is_ascii_digit()),
        "{display}"
    );
    assert_eq!(view.communications.len(), 1);
    assert_eq!(view.communications[0].body, "i-0abc 从 10:00 起 SSH 超时");
    assert!(!view.communications[0].is_from_aws());
}

async fn case_is_found_by_display_id(b: Backend) {
    create(&b, "first").await;
    let id = create(&b, "second").await;
    let display = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap()
        .case
        .display_id
        .unwrap();
    let by_display = b
        .api
        .describe_case(&CaseRef::DisplayId(display), None)
        .await
        .unwrap();
    assert_eq!(by_display.case.case_id, id);
    assert_eq!(by_display.case.subject, "second");
}

async fn case_details_are_those_of_describe_case_by_either_id(b: Backend) {
    let id = create(&b, "details").await;
    let view = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap();
    let by_id = b
        .api
        .case_details(&CaseRef::CaseId(id.clone()))
        .await
        .unwrap();
    assert_eq!(by_id, view.case);
    let display = by_id.display_id.clone().unwrap();
    let by_display = b
        .api
        .case_details(&CaseRef::DisplayId(display))
        .await
        .unwrap();
    assert_eq!(by_display, view.case);
    let ghost = CaseId::parse("case-123456789012-muzh-2026-0000000000000000").unwrap();
    assert!(matches!(
        b.api.case_details(&CaseRef::CaseId(ghost)).await,
        Err(Error::CaseNotFound(_))
    ));
}

async fn unknown_case_is_case_not_found_for_every_operation(b: Backend) {
    let ghost = CaseId::parse("case-123456789012-muzh-2026-0000000000000000").unwrap();
    let not_found = |r: Result<(), Error>| matches!(r, Err(Error::CaseNotFound(_)));
    assert!(not_found(
        b.api
            .describe_case(&CaseRef::CaseId(ghost.clone()), None)
            .await
            .map(drop)
    ));
    assert!(not_found(
        b.api
            .describe_case(&CaseRef::DisplayId("9999999999".into()), None)
            .await
            .map(drop)
    ));
    assert!(not_found(b.api.resolve_case(&ghost).await.map(drop)));
    assert!(not_found(
        b.api
            .add_communication(&ghost, "hello", &[])
            .await
            .map(drop)
    ));
}

async fn resolve_stores_resolved_and_reports_the_status_before(b: Backend) {
    let id = create(&b, "to resolve").await;
    let first = b.api.resolve_case(&id).await.unwrap();
    assert_eq!(
        (first.initial, first.final_status),
        (CaseStatus::Opened, CaseStatus::Resolved)
    );
    assert_eq!(status(&b, &id).await, CaseStatus::Resolved);
    assert_eq!(
        status(&b, &id).await,
        CaseStatus::Resolved,
        "reading does not change the status"
    );
    let again = b.api.resolve_case(&id).await.unwrap();
    assert_eq!(again.initial, CaseStatus::Resolved);
}

async fn replies_are_newest_first_and_a_reply_to_a_resolved_case_reopens_it(b: Backend) {
    let id = create(&b, "reply").await;
    let outcome = b
        .api
        .add_communication(&id, "first reply", &[])
        .await
        .unwrap();
    assert!(!outcome.reopened);
    let view = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap();
    assert_eq!(view.communications[0].body, "first reply");
    assert_eq!(view.communications.len(), 2);

    b.api.resolve_case(&id).await.unwrap();
    let outcome = b
        .api
        .add_communication(&id, "still broken", &["ops@example.com".into()])
        .await
        .unwrap();
    assert!(outcome.reopened);
    assert_eq!(status(&b, &id).await, CaseStatus::Reopened);
}

async fn aws_answer_waits_for_customer_and_customer_reply_completes_the_action(b: Backend) {
    let id = create(&b, "engineer").await;
    (b.aws_answers)(&id);
    let view = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap();
    assert_eq!(view.case.status, CaseStatus::PendingCustomerAction);
    assert!(
        view.communications[0].is_from_aws(),
        "{:?}",
        view.communications[0]
    );
    b.api
        .add_communication(&id, "here are the logs", &[])
        .await
        .unwrap();
    assert_eq!(status(&b, &id).await, CaseStatus::CustomerActionCompleted);
}

async fn communications_page_newest_first_with_a_next_page(b: Backend) {
    let id = create(&b, "paging").await;
    for i in 0..12 {
        b.api
            .add_communication(&id, &format!("reply {i:02}"), &[])
            .await
            .unwrap();
    }
    let first = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), None)
        .await
        .unwrap();
    assert_eq!(first.communications.len(), 10);
    assert_eq!(first.communications[0].body, "reply 11");
    assert_eq!(first.communications[9].body, "reply 02");
    let token = first.next_page.clone().expect("a second page");
    let second = b
        .api
        .describe_case(&CaseRef::CaseId(id.clone()), Some(&token))
        .await
        .unwrap();
    let bodies: Vec<&str> = second
        .communications
        .iter()
        .map(|c| c.body.as_str())
        .collect();
    assert_eq!(
        bodies,
        ["reply 01", "reply 00", "i-0abc 从 10:00 起 SSH 超时"]
    );
    assert_eq!(second.next_page, None);
}

async fn list_excludes_resolved_unless_asked_and_is_newest_first(b: Backend) {
    let old = create(&b, "old").await;
    let done = create(&b, "done").await;
    let new = create(&b, "new").await;
    b.api.resolve_case(&done).await.unwrap();
    let open = b
        .api
        .list_cases(&CaseFilter::default(), None)
        .await
        .unwrap();
    let ids: Vec<&CaseId> = open.cases.iter().map(|c| &c.case_id).collect();
    assert_eq!(ids, [&new, &old]);
    let all = b
        .api
        .list_cases(
            &CaseFilter {
                include_resolved: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let ids: Vec<&CaseId> = all.cases.iter().map(|c| &c.case_id).collect();
    assert_eq!(ids, [&new, &done, &old]);
}

async fn list_pages_with_a_next_token(b: Backend) {
    for i in 0..12 {
        create(&b, &format!("case {i:02}")).await;
    }
    let filter = CaseFilter {
        include_resolved: false,
        page_size: Some(10),
    };
    let first = b.api.list_cases(&filter, None).await.unwrap();
    assert_eq!(first.cases.len(), 10);
    assert_eq!(first.cases[0].subject, "case 11");
    let second = b
        .api
        .list_cases(&filter, first.next_page.as_deref())
        .await
        .unwrap();
    let subjects: Vec<&str> = second.cases.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["case 01", "case 00"]);
    assert_eq!(second.next_page, None);
}

async fn catalogue_and_severity_levels_have_aws_shapes(b: Backend) {
    let services = b.api.describe_services("zh").await.unwrap();
    assert!(services.len() >= 60, "{}", services.len());
    let ec2 = services
        .iter()
        .find(|s| s.code == "amazon-elastic-compute-cloud-linux")
        .unwrap();
    assert!(ec2.categories.iter().any(|c| c.code == "instance-issue"));
    let levels = b.api.describe_severity_levels("zh").await.unwrap();
    let codes: Vec<&str> = levels.iter().map(|l| l.code.as_str()).collect();
    assert_eq!(codes, ["low", "normal", "high", "urgent", "critical"]);
    assert!(levels.iter().all(|l| !l.name.is_empty()));
}

async fn invalid_codes_and_limits_are_invalid_parameter(b: Backend) {
    let invalid = |r: Result<CaseId, Error>| matches!(r, Err(Error::InvalidParameter(_)));
    let bad_service =
        NewCase::new("s", "b", Severity::Low).service("amazon-ec2", "general-guidance");
    assert!(invalid(b.api.create_case(&bad_service).await));
    let bad_category =
        NewCase::new("s", "b", Severity::Low).service("aws-lambda", "no-such-category");
    assert!(invalid(b.api.create_case(&bad_category).await));
    let too_long = NewCase::new("s", "x".repeat(8001), Severity::Low);
    assert!(invalid(b.api.create_case(&too_long).await));
    let mut too_many_cc = NewCase::new("s", "b", Severity::Low);
    too_many_cc.cc = (0..11).map(|i| format!("u{i}@example.com")).collect();
    assert!(invalid(b.api.create_case(&too_many_cc).await));
    let id = create(&b, "limits").await;
    assert!(matches!(
        b.api.add_communication(&id, &"y".repeat(8001), &[]).await,
        Err(Error::InvalidParameter(_))
    ));
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sandbox {
            $(#[tokio::test] async fn $name() { super::$name(super::sandbox().await).await; })*
        }
        mod aws_on_moto {
            $(#[tokio::test] async fn $name() { super::$name(super::aws_on_moto().await).await; })*
        }
    };
}

conformance!(
    created_case_is_opened_with_its_fields_and_ids_in_aws_format,
    case_is_found_by_display_id,
    case_details_are_those_of_describe_case_by_either_id,
    unknown_case_is_case_not_found_for_every_operation,
    resolve_stores_resolved_and_reports_the_status_before,
    replies_are_newest_first_and_a_reply_to_a_resolved_case_reopens_it,
    aws_answer_waits_for_customer_and_customer_reply_completes_the_action,
    communications_page_newest_first_with_a_next_page,
    list_excludes_resolved_unless_asked_and_is_newest_first,
    list_pages_with_a_next_token,
    catalogue_and_severity_levels_have_aws_shapes,
    invalid_codes_and_limits_are_invalid_parameter,
);
