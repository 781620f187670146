//! Callback verification and webhook signing: DingTalk's published vectors, every error, and
//! property tests (sign→verify round trip, no panic on arbitrary header bytes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use dingtalk_robot::{AppSecret, CallbackVerifier, Error, Skew, WebhookSecret, sign, webhook_sign};
use proptest::prelude::*;

/// reference/dingtalk.md §7.1: (app secret, timestamp header, expected sign header).
const CALLBACK_VECTORS: [(&str, &str, &str); 3] = [
    (
        "testAppSecret",
        "1700000000000",
        "6eme9OZpsZ0xT14aKlxRPyaQRga1PwA6MpSWONOX6mQ=",
    ),
    (
        "GT-lsu-taDAxxxsTsxxxx",
        "1577262236757",
        "PPa5GnZk+aZpnXIshvi7SVq1rWDdy/D8ud6E+xsh9mA=",
    ),
    (
        "dGVzdF9hcHBfc2VjcmV0X2Zvcl9kaW5ndGFsaw",
        "1613630252678",
        "jp4wKPWOrKIvthVmZevktP/FrT43+EWM2Xs+Es8sI0g=",
    ),
];

/// reference/dingtalk.md §7.2: (secret, timestamp, Base64, URL-encoded sign).
const WEBHOOK_VECTORS: [(&str, i64, &str, &str); 3] = [
    (
        "SECtest0123456789abcdef",
        1_700_000_000_000,
        "/lfnxUUu80FwVTsIlv2F1cMGBb+PxEKAwYh/bsRxXcc=",
        "%2FlfnxUUu80FwVTsIlv2F1cMGBb%2BPxEKAwYh%2FbsRxXcc%3D",
    ),
    (
        "this is secret",
        1_577_262_236_757,
        "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=",
        "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D",
    ),
    (
        "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc",
        1_700_000_000_123,
        "8NuWT+x3H6YL0Irf2bisO4aH6d2/bHqX0ZW8iMZ00CE=",
        "8NuWT%2Bx3H6YL0Irf2bisO4aH6d2%2FbHqX0ZW8iMZ00CE%3D",
    ),
];

fn at(ts: &str) -> i64 {
    ts.parse().unwrap()
}

#[test]
fn sign_matches_published_callback_vectors() {
    for (secret, ts, expected) in CALLBACK_VECTORS {
        assert_eq!(sign(secret, ts), expected, "secret {secret:?}");
    }
}

#[test]
fn verify_accepts_published_callback_vectors_at_their_time() {
    for (secret, ts, expected) in CALLBACK_VECTORS {
        let verifier = CallbackVerifier::new(AppSecret::new(secret));
        verifier
            .verify_at(Some(ts), Some(expected), at(ts))
            .unwrap();
        // The injected clock is honoured by `verify` too.
        let now = at(ts) + 1_000;
        let clocked = CallbackVerifier::new(AppSecret::new(secret)).with_clock(move || now);
        clocked.verify(Some(ts), Some(expected)).unwrap();
    }
}

#[test]
fn webhook_sign_matches_published_vectors() {
    for (secret, ts, b64, encoded) in WEBHOOK_VECTORS {
        assert_eq!(sign(secret, &ts.to_string()), b64);
        let (timestamp, query_sign) = webhook_sign(&WebhookSecret::new(secret), ts);
        assert_eq!(timestamp, ts.to_string());
        assert_eq!(query_sign, encoded);
    }
}

#[test]
fn verify_rejects_missing_headers_naming_the_header() {
    let v = CallbackVerifier::new(AppSecret::new("testAppSecret"));
    assert_eq!(
        v.verify_at(None, Some("x"), 0),
        Err(Error::MissingHeader("timestamp"))
    );
    assert_eq!(
        v.verify_at(Some("1"), None, 0),
        Err(Error::MissingHeader("sign"))
    );
    assert_eq!(
        v.verify_headers(&http::HeaderMap::new()),
        Err(Error::MissingHeader("timestamp"))
    );
}

#[test]
fn verify_rejects_non_numeric_timestamp() {
    let v = CallbackVerifier::new(AppSecret::new("testAppSecret"));
    for bad in [
        "",
        "abc",
        "17e11",
        "1700000000000.0",
        " 1700000000000",
        "-1",
    ] {
        assert!(
            matches!(
                v.verify_at(Some(bad), Some("x"), 0),
                Err(Error::InvalidTimestamp { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn verify_rejects_timestamp_older_than_window_saying_too_old() {
    let (secret, ts, sig) = CALLBACK_VECTORS[0];
    let v = CallbackVerifier::new(AppSecret::new(secret));
    let hour = 3_600_000;
    assert!(
        v.verify_at(Some(ts), Some(sig), at(ts) + hour).is_ok(),
        "exactly one hour is accepted"
    );
    assert_eq!(
        v.verify_at(Some(ts), Some(sig), at(ts) + hour + 1),
        Err(Error::OutsideWindow {
            direction: Skew::TooOld,
            skew_ms: 3_600_001,
            window_ms: 3_600_000
        })
    );
}

#[test]
fn verify_rejects_timestamp_in_future_beyond_window_saying_in_future() {
    let (secret, ts, sig) = CALLBACK_VECTORS[0];
    let v = CallbackVerifier::new(AppSecret::new(secret));
    let err = v
        .verify_at(Some(ts), Some(sig), at(ts) - 3_600_001)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutsideWindow {
                direction: Skew::InFuture,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("in the future"), "{err}");
}

#[test]
fn verify_window_is_configurable() {
    let (secret, ts, sig) = CALLBACK_VECTORS[0];
    let v = CallbackVerifier::new(AppSecret::new(secret)).with_window(Duration::from_secs(60));
    assert!(v.verify_at(Some(ts), Some(sig), at(ts) + 60_000).is_ok());
    assert!(matches!(
        v.verify_at(Some(ts), Some(sig), at(ts) + 60_001),
        Err(Error::OutsideWindow {
            window_ms: 60_000,
            ..
        })
    ));
}

#[test]
fn verify_rejects_wrong_secret_tampered_timestamp_and_non_base64_sign() {
    let (secret, ts, sig) = CALLBACK_VECTORS[0];
    let now = at(ts);
    let wrong = CallbackVerifier::new(AppSecret::new("not the secret"));
    assert!(matches!(
        wrong.verify_at(Some(ts), Some(sig), now),
        Err(Error::SignatureMismatch { .. })
    ));

    let v = CallbackVerifier::new(AppSecret::new(secret));
    assert!(matches!(
        v.verify_at(Some("1700000000001"), Some(sig), now),
        Err(Error::SignatureMismatch { .. })
    ));
    for bad in [
        "",
        "!!!not base64!!!",
        "6eme9OZpsZ0xT14a",
        &sig[..sig.len() - 2],
    ] {
        assert!(
            matches!(
                v.verify_at(Some(ts), Some(bad), now),
                Err(Error::SignatureMismatch { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn verify_headers_reads_timestamp_and_sign_headers() {
    let (secret, ts, sig) = CALLBACK_VECTORS[1];
    let mut headers = http::HeaderMap::new();
    headers.insert("timestamp", ts.parse().unwrap());
    headers.insert("sign", sig.parse().unwrap());
    let now = at(ts);
    let v = CallbackVerifier::new(AppSecret::new(secret)).with_clock(move || now);
    assert_eq!(v.verify_headers(&headers), Ok(()));
}

#[test]
fn verify_errors_never_contain_the_secret_or_the_expected_signature() {
    let (secret, ts, sig) = CALLBACK_VECTORS[0];
    let v = CallbackVerifier::new(AppSecret::new(secret));
    let errors = [
        v.verify_at(Some(ts), Some("AAAA"), at(ts)).unwrap_err(),
        v.verify_at(Some(ts), Some(sig), at(ts) + 99_999_999)
            .unwrap_err(),
        v.verify_at(Some("x"), Some(sig), 0).unwrap_err(),
    ];
    for err in errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(secret) && !text.contains(sig), "{text}");
        }
    }
    assert!(!format!("{v:?}").contains(secret));
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(secret in ".{0,64}", ts in 0_i64..4_102_444_800_000, skew in -3_600_000_i64..=3_600_000) {
        let timestamp = ts.to_string();
        let signature = sign(&secret, &timestamp);
        let v = CallbackVerifier::new(AppSecret::new(secret.clone()));
        prop_assert_eq!(v.verify_at(Some(&timestamp), Some(&signature), ts + skew), Ok(()));
        // Any other secret fails.
        let other = CallbackVerifier::new(AppSecret::new(format!("{secret}x")));
        let mismatch = matches!(other.verify_at(Some(&timestamp), Some(&signature), ts), Err(Error::SignatureMismatch { .. }));
        prop_assert!(mismatch);
    }

    #[test]
    fn verify_never_panics_on_arbitrary_header_bytes(
        ts in proptest::collection::vec(any::<u8>(), 0..40),
        sig in proptest::collection::vec(any::<u8>(), 0..80),
        now in any::<i64>(),
    ) {
        let v = CallbackVerifier::new(AppSecret::new("testAppSecret")).with_clock(move || now);
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_bytes(&ts) {
            headers.insert("timestamp", value);
        }
        if let Ok(value) = http::HeaderValue::from_bytes(&sig) {
            headers.insert("sign", value);
        }
        let _ = v.verify_headers(&headers);
        let (ts, sig) = (String::from_utf8_lossy(&ts), String::from_utf8_lossy(&sig));
        let _ = v.verify_at(Some(&ts), Some(&sig), now);
    }

    #[test]
    fn verify_never_panics_on_extreme_numbers(ts in any::<i64>(), now in any::<i64>()) {
        let v = CallbackVerifier::new(AppSecret::new("k"));
        let timestamp = ts.to_string();
        let _ = v.verify_at(Some(&timestamp), Some(&sign("k", &timestamp)), now);
    }
}
