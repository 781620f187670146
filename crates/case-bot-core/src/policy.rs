//! Who may do what: the conversation allow-list, the admins, and who may resolve a case.
//! (Roles and approvals will live here.)

use crate::config::{Config, ResolvePolicy};
use crate::event::Origin;
use crate::store::CaseLink;

/// The rules, read once from the configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    /// Conversations allowed to use the bot; empty: any.
    allowed: Vec<String>,
    admins: Vec<String>,
    resolve: ResolvePolicy,
}

/// The sender of a message that may use the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    pub(crate) staff_id: Option<String>,
    pub(crate) admin: bool,
}

/// Why something was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The conversation is not on the allow-list.
    Conversation,
    /// Only an admin or the case's opener may resolve it.
    Resolve,
}

impl Policy {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            allowed: config
                .allowed_conversations()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            admins: config.admins().into_iter().map(str::to_owned).collect(),
            resolve: config.resolve_policy,
        }
    }

    /// Whether any conversation may use the bot (worth a warning at start-up).
    /// Whether any admin is configured.
    pub(crate) fn has_admins(&self) -> bool {
        !self.admins.is_empty()
    }

    pub(crate) fn is_open_to_all(&self) -> bool {
        self.allowed.is_empty()
    }

    /// The authorize stage: may the sender use the bot in this conversation, and as whom?
    pub(crate) fn authorize(&self, origin: &Origin) -> Result<Actor, Refusal> {
        if !self.allowed.is_empty() && !self.allowed.contains(&origin.conversation_id) {
            return Err(Refusal::Conversation);
        }
        Ok(Actor {
            admin: origin
                .staff_id
                .as_ref()
                .is_some_and(|id| self.admins.contains(id)),
            staff_id: origin.staff_id.clone(),
        })
    }

    /// May `actor` resolve a case whose link is `link` (`None`: not opened through the bot)?
    pub(crate) fn may_resolve(&self, actor: &Actor, link: Option<&CaseLink>) -> bool {
        match self.resolve {
            ResolvePolicy::Anyone => true,
            ResolvePolicy::AdminsOnly => actor.admin,
            ResolvePolicy::AdminsOrOpener => {
                actor.admin
                    || link.is_some_and(|link| {
                        link.opener_staff_id.is_some() && link.opener_staff_id == actor.staff_id
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(conversation: &str, staff: Option<&str>) -> Origin {
        Origin {
            nick: "张三".into(),
            staff_id: staff.map(str::to_owned),
            conversation_id: conversation.into(),
            conversation_title: None,
            session: None,
        }
    }

    fn policy(allowed: &[&str], admins: &[&str], resolve: ResolvePolicy) -> Policy {
        Policy::new(&Config {
            allowed_conversations: allowed.iter().map(|s| (*s).to_owned()).collect(),
            admins: admins.iter().map(|s| (*s).to_owned()).collect(),
            resolve_policy: resolve,
            ..Config::default()
        })
    }

    fn link(opener: Option<&str>) -> CaseLink {
        CaseLink {
            conversation_id: "cid".into(),
            conversation_title: None,
            opener_staff_id: opener.map(str::to_owned),
            opener_nick: "李四".into(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn an_empty_allow_list_admits_every_conversation_and_a_list_only_its_own() {
        let open = policy(&[], &[], ResolvePolicy::default());
        assert!(open.is_open_to_all());
        assert!(open.authorize(&origin("cidAny", None)).is_ok());
        let closed = policy(&["cidOps"], &[], ResolvePolicy::default());
        assert!(closed.authorize(&origin("cidOps", None)).is_ok());
        assert_eq!(
            closed.authorize(&origin("cidOther", Some("m1"))),
            Err(Refusal::Conversation)
        );
    }

    #[test]
    fn admins_are_recognised_by_staff_id_and_a_missing_staff_id_is_no_admin() {
        let policy = policy(&[], &["m1"], ResolvePolicy::default());
        assert!(policy.authorize(&origin("c", Some("m1"))).unwrap().admin);
        assert!(!policy.authorize(&origin("c", Some("m2"))).unwrap().admin);
        assert!(!policy.authorize(&origin("c", None)).unwrap().admin);
    }

    #[test]
    fn resolve_policy_admins_or_opener_admins_only_and_anyone() {
        let actor = |staff: Option<&str>, admin| Actor {
            staff_id: staff.map(str::to_owned),
            admin,
        };
        let default = policy(&[], &[], ResolvePolicy::AdminsOrOpener);
        assert!(default.may_resolve(&actor(Some("s1"), false), Some(&link(Some("s1")))));
        assert!(!default.may_resolve(&actor(Some("s2"), false), Some(&link(Some("s1")))));
        assert!(
            !default.may_resolve(&actor(None, false), Some(&link(None))),
            "no staff ids"
        );
        assert!(!default.may_resolve(&actor(Some("s1"), false), None));
        assert!(default.may_resolve(&actor(Some("m"), true), None));
        let admins = policy(&[], &[], ResolvePolicy::AdminsOnly);
        assert!(!admins.may_resolve(&actor(Some("s1"), false), Some(&link(Some("s1")))));
        assert!(admins.may_resolve(&actor(Some("m"), true), None));
        let anyone = policy(&[], &[], ResolvePolicy::Anyone);
        assert!(anyone.may_resolve(&actor(None, false), None));
    }
}
