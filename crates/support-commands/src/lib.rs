//! The chat grammar of the casebot DingTalk robot and the AWS Support case lifecycle behind
//! one trait. No DingTalk in here: any chat front end can use it.
//!
//! ```
//! use support_commands::{parse, Command, Sandbox, SupportApi};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let command = parse("提工单\nsubject:EC2 实例无法连接\nbody:SSH 超时\nseverityCode:high\n\
//!     serviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:instance-issue").unwrap();
//! let Command::CreateCase(case) = command else { unreachable!() };
//! let api = Sandbox::new(); // or the AWS backend (feature `aws`)
//! let id = api.create_case(&case).await.unwrap();
//! assert!(id.as_str().starts_with("case-"));
//! # }
//! ```
//!
//! | item | what | feature |
//! |---|---|---|
//! | [`parse`], [`Command`], [`Error`], [`help_text`] | the grammar, legacy forms included | always |
//! | [`SupportApi`], [`Cached`] | the operations; catalogue and severity caching | always |
//! | [`Sandbox`] | in-memory backend that behaves like AWS | always |
//! | [`ServiceIndex`], [`catalogue`] | ranked service lookup over the snapshot or a live catalogue | always |
//! | [`Partition`] | global AWS or AWS China | always (`clap`: a `ValueEnum`) |
//! | `AwsSupport` | the real backend on aws-sdk-support (global and China partitions) | `aws` |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
mod aws;
mod catalogue;
mod command;
mod error;
mod explain;
mod help;
mod lang;
mod lookup;
mod model;
mod parse;
mod partition;
mod permissions;
mod sandbox;

pub use api::{CacheTtl, Cached, SupportApi};
#[cfg(feature = "aws")]
pub use aws::{AwsSupport, AwsSupportConfig};
pub use catalogue::{SNAPSHOT_JSON, catalogue};
pub use command::{Command, CommandKind, NotifyChange, NotifyLevel, parse_utc_offset};
pub use error::Error;
pub use help::{
    COMMANDS, CommandSpec, Keyword, closest_command, command_name, help_text, spec, usage,
};
pub use lang::Lang;
pub use lookup::{DEFAULT_MATCHES, Match, ServiceIndex};
pub use model::{
    CaseDetails, CaseFilter, CaseId, CasePage, CaseRef, CaseStatus, CaseView, Category,
    Communication, IssueType, NewCase, ReplyOutcome, Resolution, Service, Severity, SeverityLevel,
    WatchedCase,
};
pub use parse::{LANGUAGES, MAX_BODY_CHARS, MAX_CC, MAX_QUERY_CHARS, MAX_SUBJECT_CHARS, parse};
pub use partition::Partition;
pub use permissions::{Operation, Permission};
pub use sandbox::{
    COMMUNICATIONS_PAGE, SIMULATED_REPLY, Sandbox, SandboxClock, SandboxConfig, SandboxSaver,
    iso8601, parse_iso8601,
};
