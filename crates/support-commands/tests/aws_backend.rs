//! AWS-backend specifics: partition pinning and endpoints, timeouts, transport failures, and
//! AWS error codes mapped to typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use aws_sdk_support::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use support_commands::{AwsSupport, AwsSupportConfig, Error, Lang, Partition, SupportApi};

async fn resolved_url(region: &str) -> String {
    let params = Params::builder().region(region).build().unwrap();
    DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .unwrap()
        .url()
        .to_owned()
}

#[tokio::test]
async fn partitions_pin_the_signing_region_their_endpoint_rules_expect() {
    // Whatever region the deployment runs in, the client signs for the partition's Support region,
    // and that region resolves to the documented endpoint.
    assert_eq!(Partition::Aws.signing_region(), "us-east-1");
    assert_eq!(Partition::AwsCn.signing_region(), "cn-north-1");
    assert_eq!(
        resolved_url(Partition::Aws.signing_region()).await,
        "https://support.us-east-1.amazonaws.com"
    );
    assert_eq!(
        resolved_url(Partition::AwsCn.signing_region()).await,
        "https://support.cn-north-1.amazonaws.com.cn"
    );
    // Ningxia goes to Beijing's endpoint too, and other global regions to us-east-1.
    assert_eq!(
        resolved_url("cn-northwest-1").await,
        "https://support.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(
        resolved_url("ap-southeast-1").await,
        "https://support.us-east-1.amazonaws.com"
    );

    for (partition, expected) in [
        (Partition::Aws, "us-east-1"),
        (Partition::AwsCn, "cn-north-1"),
    ] {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("ap-southeast-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let api = AwsSupport::from_sdk_config(
            &sdk,
            AwsSupportConfig {
                partition,
                ..Default::default()
            },
        );
        assert_eq!(api.region(), Some(expected));
    }
}

fn client_for(endpoint: &str, timeout: Duration) -> AwsSupport {
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_support::config::SharedCredentialsProvider::new(
            aws_sdk_support::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    AwsSupport::from_sdk_config(
        &sdk,
        AwsSupportConfig {
            operation_timeout: timeout,
            max_attempts: Some(3),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn silent_server_times_out_within_the_operation_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // Accept connections and never answer.
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let api = client_for(&endpoint, Duration::from_millis(400));
    let started = Instant::now();
    let err = api.describe_severity_levels("zh").await.unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn closed_port_is_a_transport_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let err = client_for(&endpoint, Duration::from_secs(5))
        .describe_severity_levels("zh")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[test]
fn aws_error_codes_map_to_typed_errors_with_advice() {
    let cases = [
        ("CaseIdNotFound", Error::CaseNotFound("m".into())),
        ("SubscriptionRequiredException", Error::SubscriptionRequired),
        (
            "CaseCreationLimitExceeded",
            Error::CaseCreationLimitExceeded("m".into()),
        ),
        ("ThrottlingException", Error::Throttled("m".into())),
        ("TooManyRequestsException", Error::Throttled("m".into())),
        (
            "InvalidParameterValueException",
            Error::InvalidParameter("m".into()),
        ),
        ("AccessDeniedException", Error::AccessDenied("m".into())),
        (
            "InternalServerError",
            Error::Service {
                code: "InternalServerError".into(),
                message: "m".into(),
            },
        ),
    ];
    for (code, expected) in cases {
        let err = Error::from_code(code, "m");
        assert_eq!(err, expected, "{code}");
        for lang in [Lang::Zh, Lang::En] {
            assert!(!err.chat_text(lang).is_empty());
        }
    }
    assert!(
        Error::SubscriptionRequired
            .chat_text(Lang::Zh)
            .contains("Enterprise")
    );
    assert!(Error::from_code("InternalServerError", "m").is_transient());
}
