//! The moto harness works end to end: the real aws-sdk-rust client reaches the server through
//! the endpoint override, each server is independent, and it is gone after drop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use casebot_testkit::MotoServer;

#[tokio::test]
async fn secrets_manager_round_trip_reaches_moto_through_endpoint_override() {
    let moto = MotoServer::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    client
        .create_secret()
        .name("dingding-outgoing-robot-env")
        .secret_string(r#"{"app_secret":"s3cr3t","access_token":"tok"}"#)
        .send()
        .await
        .expect("create_secret on moto");
    let value = client
        .get_secret_value()
        .secret_id("dingding-outgoing-robot-env")
        .send()
        .await
        .expect("get_secret_value on moto");
    assert_eq!(
        value.secret_string(),
        Some(r#"{"app_secret":"s3cr3t","access_token":"tok"}"#)
    );
}

#[tokio::test]
async fn two_servers_are_isolated_and_reset_wipes_state() {
    let a = MotoServer::start();
    let b = MotoServer::start();
    assert_ne!(a.endpoint_url(), b.endpoint_url());
    let client_a = aws_sdk_secretsmanager::Client::new(&a.sdk_config().await);
    let client_b = aws_sdk_secretsmanager::Client::new(&b.sdk_config().await);
    client_a
        .create_secret()
        .name("only-in-a")
        .secret_string("x")
        .send()
        .await
        .unwrap();
    let missing = client_b
        .get_secret_value()
        .secret_id("only-in-a")
        .send()
        .await;
    assert!(missing.is_err(), "server b must not see server a's secret");

    a.reset().unwrap();
    let after_reset = client_a
        .get_secret_value()
        .secret_id("only-in-a")
        .send()
        .await;
    assert!(after_reset.is_err(), "reset must wipe the secret");
}

#[tokio::test]
async fn unimplemented_operation_fails_after_exactly_one_attempt() {
    let moto = MotoServer::start();
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    // moto does not implement ValidateResourcePolicy and answers HTTP 500, which the SDK
    // would retry (3 attempts) under its default retry policy.
    let err = client
        .validate_resource_policy()
        .resource_policy("{}")
        .send()
        .await;
    assert!(err.is_err());
    let log = moto.log();
    let failed = log.lines().filter(|l| l.contains("\" 500 ")).count();
    assert_eq!(failed, 1, "expected exactly one attempt, moto log:\n{log}");
}

#[test]
fn dropping_the_server_stops_it() {
    let moto = MotoServer::start();
    let url = moto.endpoint_url();
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    drop(moto);
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "moto still listens on {addr} after drop"
    );
}

#[test]
fn env_points_child_processes_at_moto_with_one_attempt() {
    let moto = MotoServer::start();
    let env = moto.env();
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("AWS_ENDPOINT_URL"), Some(moto.endpoint_url()));
    assert_eq!(get("AWS_MAX_ATTEMPTS").as_deref(), Some("1"));
    assert_eq!(get("AWS_REGION").as_deref(), Some("us-east-1"));
}

#[test]
fn missing_moto_fails_with_install_instructions() {
    // A Python without moto: the harness refuses (so a test that needs moto fails), naming the fix.
    let err = MotoServer::try_start_with_python("/bin/false").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("moto is not installed"), "{text}");
    assert!(text.contains("scripts/test"), "{text}");
}
