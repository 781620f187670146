//! Service lookup: abbreviations, Chinese names, full names, typos, ranking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use support_commands::{Category, Service, ServiceIndex, catalogue};

fn top(index: &ServiceIndex, query: &str) -> String {
    index
        .search(query, 1)
        .first()
        .map(|m| m.service.code.clone())
        .unwrap_or_default()
}

#[test]
fn common_abbreviations_find_their_service_first() {
    let index = ServiceIndex::new(catalogue());
    let table = [
        ("ec2", "amazon-elastic-compute-cloud-linux"),
        ("EC2", "amazon-elastic-compute-cloud-linux"),
        ("s3", "amazon-simple-storage-service"),
        ("rds", "amazon-relational-database-service-aurora"),
        ("eks", "amazon-elastic-kubernetes-service"),
        ("ecs", "amazon-elastic-container-service"),
        ("elb", "elastic-load-balancing"),
        ("alb", "elastic-load-balancing"),
        ("vpc", "amazon-virtual-private-cloud"),
        ("iam", "aws-identity-and-access-management"),
        ("cloudfront", "amazon-cloudfront"),
        ("lambda", "aws-lambda"),
        ("dynamodb", "amazon-dynamodb"),
        ("route53", "amazon-route53"),
        ("kms", "aws-key-management-service"),
        ("redis", "amazon-elasticache"),
    ];
    for (query, code) in table {
        assert_eq!(top(&index, query), code, "{query}");
    }
}

#[test]
fn chinese_names_and_phrases_find_their_service() {
    let index = ServiceIndex::new(catalogue());
    assert_eq!(top(&index, "负载均衡"), "elastic-load-balancing");
    assert_eq!(
        top(&index, "负载均衡器"),
        "elastic-load-balancing",
        "a phrase containing an alias"
    );
    assert_eq!(top(&index, "对象存储"), "amazon-simple-storage-service");
    assert_eq!(
        top(&index, "云服务器"),
        "amazon-elastic-compute-cloud-linux"
    );
    let databases = index.search("数据库", 5);
    assert_eq!(databases.len(), 5);
    assert!(databases.iter().all(|m| {
        m.service.aliases.iter().any(|a| a == "数据库")
            || m.service
                .name_zh
                .as_deref()
                .unwrap_or_default()
                .contains("数据库")
    }));
}

#[test]
fn full_names_codes_and_prefixes_match() {
    let index = ServiceIndex::new(catalogue());
    assert_eq!(
        top(&index, "Elastic Load Balancing"),
        "elastic-load-balancing"
    );
    assert_eq!(
        top(&index, "elastic load balancing"),
        "elastic-load-balancing"
    );
    assert_eq!(
        top(&index, "amazon-simple-queue-service"),
        "amazon-simple-queue-service"
    );
    assert_eq!(top(&index, "simple queue"), "amazon-simple-queue-service");
    assert_eq!(
        top(&index, "Kubernetes"),
        "amazon-elastic-kubernetes-service"
    );
    assert_eq!(
        top(&index, "elastic comp"),
        "amazon-elastic-compute-cloud-linux"
    );
}

#[test]
fn old_bots_first_substring_mistake_is_not_repeated() {
    // The old bot returned "EC2 Image Builder" for ec2; with that service in the catalogue,
    // plain EC2 must still rank first.
    let mut services = (*catalogue()).clone();
    services.insert(
        0,
        Service::new(
            "ec2-image-builder",
            "EC2 Image Builder",
            vec![Category {
                code: "general-guidance".into(),
                name: "General Guidance".into(),
            }],
        ),
    );
    let index = ServiceIndex::new(Arc::new(services));
    assert_eq!(top(&index, "ec2"), "amazon-elastic-compute-cloud-linux");
}

#[test]
fn live_catalogue_without_aliases_borrows_them_from_the_snapshot() {
    // DescribeServices returns codes, names and categories only.
    let live: Vec<Service> = catalogue()
        .iter()
        .map(|s| Service::new(s.code.clone(), s.name.clone(), s.categories.clone()))
        .collect();
    let index = ServiceIndex::new(Arc::new(live));
    assert_eq!(top(&index, "ec2"), "amazon-elastic-compute-cloud-linux");
    assert_eq!(top(&index, "负载均衡"), "elastic-load-balancing");
}

#[test]
fn results_carry_category_codes_and_respect_the_limit() {
    let index = ServiceIndex::new(catalogue());
    let hits = index.search("ec2", 3);
    assert!(hits.len() <= 3 && !hits.is_empty());
    assert!(
        hits[0]
            .service
            .categories
            .iter()
            .any(|c| c.code == "instance-issue")
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "ranked");
    assert!(index.search("ec2", 0).is_empty());
}

#[test]
fn nonsense_and_empty_queries_find_nothing() {
    let index = ServiceIndex::new(catalogue());
    assert!(index.search("", 5).is_empty());
    assert!(index.search("   ", 5).is_empty());
    assert!(index.search("zzzzqqqq", 5).is_empty());
    assert!(
        index.search("x", 5).iter().all(|m| m.score >= 500),
        "one letter matches only exact names/aliases"
    );
}

#[test]
fn catalogue_snapshot_is_well_formed() {
    let services = catalogue();
    assert!(services.len() >= 60, "{}", services.len());
    let mut codes: Vec<&str> = services.iter().map(|s| s.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), services.len(), "no duplicate codes");
    for service in services.iter() {
        assert!(
            service
                .code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}",
            service.code
        );
        assert!(!service.categories.is_empty(), "{}", service.code);
        assert!(service.name_zh.is_some(), "{}", service.code);
    }
}

proptest! {
    #[test]
    fn search_never_panics(query in "\\PC{0,60}") {
        let index = ServiceIndex::new(catalogue());
        let hits = index.search(&query, 5);
        prop_assert!(hits.len() <= 5);
    }
}
