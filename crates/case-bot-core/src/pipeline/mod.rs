//! The pipeline an event goes through, one stage per module, each taking its inputs
//! explicitly:
//!
//! 1. [`claim`]: the idempotency key, so a redelivery does nothing;
//! 2. authorize ([`crate::policy`]): the allow-list and who the sender is;
//! 3. [`parse`]: what the message asks for;
//! 4. [`execute`]: the command against AWS Support;
//! 5. [`render`]: the reply as a DingTalk message;
//! 6. [`record`]: the audit row and the case link;
//! 7. [`deliver`]: the reply to the group (or to the transport, to answer with).
//!
//! [`CaseBot`](crate::CaseBot) runs them in this order.

pub(crate) mod claim;
mod create;
pub(crate) mod deliver;
pub(crate) mod execute;
pub(crate) mod notices;
pub(crate) mod parse;
pub(crate) mod record;
pub(crate) mod render;

use std::sync::Arc;

use support_commands::{Cached, SupportApi};

/// The Support backend as the pipeline holds it: cached catalogue, severity levels and
/// service index (AWS throttles DescribeServices), every other call straight through.
pub(crate) type Support = Cached<Arc<dyn SupportApi>>;
