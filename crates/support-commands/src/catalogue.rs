//! The embedded service catalogue snapshot (`data/services.json`).

use std::sync::{Arc, OnceLock};

use crate::model::Service;

/// The raw snapshot file, shared with the moto Support extension in `tests/moto`.
///
/// ```
/// assert!(support_commands::SNAPSHOT_JSON.contains("\"snapshot\""));
/// ```
pub const SNAPSHOT_JSON: &str = include_str!("../data/services.json");

#[derive(serde::Deserialize)]
struct Snapshot {
    services: Vec<Service>,
}

/// The service catalogue the sandbox serves: a snapshot of DescribeServices for the most used
/// services, with casebot's Chinese names and aliases. Parsed once.
///
/// ```
/// let services = support_commands::catalogue();
/// assert!(services.len() >= 60);
/// assert!(services.iter().any(|s| s.code == "amazon-elastic-compute-cloud-linux"));
/// ```
#[must_use]
pub fn catalogue() -> Arc<Vec<Service>> {
    static CATALOGUE: OnceLock<Arc<Vec<Service>>> = OnceLock::new();
    Arc::clone(CATALOGUE.get_or_init(|| {
        // The file is part of the crate and checked by a test; an unreadable one yields an
        // empty catalogue rather than a panic.
        Arc::new(
            serde_json::from_str::<Snapshot>(SNAPSHOT_JSON)
                .map(|s| s.services)
                .unwrap_or_default(),
        )
    }))
}
