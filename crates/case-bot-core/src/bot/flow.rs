//! One claimed event through the stages, with its claim's state moving
//! `accepted → executing → done`:
//!
//! - **decide**: authorize, parse, and (unless the conversation's replies are backed up)
//!   execute. The command runs in a task of its own: at the deadline a read is given up, but a
//!   write (create, reply, resolve) keeps running. Its outcome is unknown, so the group is told
//!   "AWS is slow", and the real outcome is reported when it comes;
//! - **finish**: render, record (audit row, case link), and the reply into the outbox, then
//!   the claim is done. Each step is idempotent, so finishing again after a crash adds nothing.

use std::sync::PoisonError;

use support_commands::{CaseRef, Command, Error as SupportError, SupportApi as _};
use tokio::task::JoinHandle;

use super::{CaseBot, digest};
use crate::config::CrashPoint;
use crate::error::Error;
use crate::event::{Delivery, Event, Message, Origin, Outcome};
use crate::pipeline::deliver::{ANSWER, Route, letters};
use crate::pipeline::execute::{Action, Deps, Executed, execute, token_mark};
use crate::pipeline::parse::{Request, parse};
use crate::pipeline::record::record;
use crate::pipeline::render;
use crate::policy::Actor;
use crate::store::{Claim, ClaimState};

/// What the decide stage came to.
pub(super) enum Decided {
    /// The outcome.
    Now(Executed),
    /// A write still running at its deadline.
    Later(Action, JoinHandle<Executed>),
}

/// The action of a write, whose outcome must never be guessed.
fn write_action(command: &Command) -> Option<Action> {
    match command {
        Command::CreateCase(_) => Some(Action::Create),
        Command::Reply { .. } => Some(Action::Reply),
        Command::Resolve { .. } => Some(Action::Resolve),
        _ => None,
    }
}

impl CaseBot {
    /// Runs a claimed event: starts it (only one process can), decides, finishes.
    pub(super) async fn run(&self, event: Event, claim: Claim) -> Outcome {
        let Event::Message(msg) = event;
        let message = Message::from(msg);
        let _active = self.activate(&claim.key);
        self.crash_point(CrashPoint::AfterClaim);
        // A closed semaphore is never closed here; without a turn the command still runs.
        let _turn = self.inner.commands.acquire().await.ok();
        match self
            .inner
            .store
            .advance(&claim.key, ClaimState::Accepted, ClaimState::Executing)
            .await
        {
            Ok(true) => {}
            // Another process (a recovery, a shared store's other server) started it.
            Ok(false) => return Outcome::duplicate(),
            Err(err) => {
                // Left `accepted`: recovered once the store takes writes again.
                self.store_failed(&err);
                return Outcome::unavailable("any", err);
            }
        }
        let (command, decided) = self.decide(&message, &claim).await;
        match decided {
            Decided::Now(executed) => self.finish(&message, &claim, command, executed).await,
            Decided::Later(action, running) => {
                self.later(message, claim, command, action, running).await
            }
        }
    }

    /// Authorize, parse and execute: what was asked (the audit trail's name) and what it came
    /// to.
    pub(super) async fn decide(&self, message: &Message, claim: &Claim) -> (&'static str, Decided) {
        let inner = &*self.inner;
        let actor = match inner.policy.authorize(&message.origin) {
            Ok(actor) => actor,
            Err(refusal) => {
                let refused = Executed::Refused {
                    refusal,
                    case_id: None,
                };
                return ("any", Decided::Now(refused));
            }
        };
        let request = parse(message);
        let name = request.name();
        tracing::Span::current().record("command", name);
        let command = match request {
            Request::Command(command) => command,
            Request::Unsupported => return (name, Decided::Now(Executed::Unsupported)),
            Request::Invalid(err) => return (name, Decided::Now(Executed::Invalid(err))),
        };
        if let Some(pending) = self.backlog(&message.origin.conversation_id).await {
            return (name, Decided::Now(Executed::Behind { pending }));
        }
        (
            name,
            self.execute(&message.origin, actor, command, claim).await,
        )
    }

    /// The conversation's pending replies, when they are at the backlog limit.
    async fn backlog(&self, conversation: &str) -> Option<usize> {
        let limit = usize::try_from(self.inner.config.backlog_limit).unwrap_or(usize::MAX);
        match self.inner.store.pending(Some(conversation)).await {
            Ok(pending) if pending >= limit => Some(pending),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(error = %err, "cannot count the conversation's backlog");
                None
            }
        }
    }

    /// Runs `command` in a task of its own, within the command deadline.
    async fn execute(
        &self,
        origin: &Origin,
        actor: Actor,
        command: Command,
        claim: &Claim,
    ) -> Decided {
        let write = write_action(&command);
        // A repeat of a create still running (same conversation, subject and body) makes no
        // second case.
        let create = match &command {
            Command::CreateCase(case) => Some(digest(&(
                origin.conversation_id.as_str(),
                case.subject.as_str(),
                case.body.as_str(),
            ))),
            _ => None,
        };
        if let Some(key) = create {
            let fresh = self
                .inner
                .creating
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key);
            if !fresh {
                return Decided::Now(Executed::StillCreating);
            }
        }
        let bot = self.clone();
        let origin = origin.clone();
        let token = claim.token.clone();
        let mut running = tokio::spawn(async move {
            let executed = bot.execute_now(&origin, &actor, command, &token).await;
            if let Some(key) = create {
                bot.inner
                    .creating
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
            }
            executed
        });
        match tokio::time::timeout(self.inner.config.command_deadline, &mut running).await {
            Ok(done) => {
                Decided::Now(done.unwrap_or_else(|err| Executed::Unavailable(Error::internal(err))))
            }
            Err(_) => match write {
                Some(action) => Decided::Later(action, running),
                None => {
                    running.abort();
                    Decided::Now(Executed::TimedOut)
                }
            },
        }
    }

    /// The execute stage; a write whose answer was lost (a timeout, a broken connection) is
    /// looked up by its token before it is called failed.
    pub(super) async fn execute_now(
        &self,
        origin: &Origin,
        actor: &Actor,
        command: Command,
        token: &str,
    ) -> Executed {
        let inner = &*self.inner;
        let deps = Deps {
            support: &inner.support,
            store: &*inner.store,
            policy: &inner.policy,
            lang: inner.config.lang,
        };
        let reply_case = match &command {
            Command::Reply { case, .. } => Some(case.clone()),
            _ => None,
        };
        let executed = execute(&deps, origin, actor, command, token).await;
        match executed {
            Executed::Failed {
                action: action @ (Action::Create | Action::Reply),
                error: SupportError::Timeout | SupportError::Transport(_),
                ..
            } => match self.look_up(action, token, reply_case.as_ref()).await {
                Some(found) => found,
                None => executed,
            },
            other => other,
        }
    }

    /// A create or reply found at AWS by its token; `None` when not found (or AWS cannot say).
    pub(super) async fn look_up(
        &self,
        action: Action,
        token: &str,
        case: Option<&CaseRef>,
    ) -> Option<Executed> {
        let support = &self.inner.support;
        let found = match support.find_token(&token_mark(token), case).await {
            Ok(found) => found?,
            Err(err) => {
                tracing::warn!(error = %err, "cannot look a write up by its token");
                return None;
            }
        };
        Some(match action {
            Action::Create => {
                let display_id = support
                    .case_details(&CaseRef::CaseId(found.clone()))
                    .await
                    .ok()
                    .and_then(|details| details.display_id);
                Executed::Created {
                    case_id: found,
                    display_id,
                }
            }
            _ => Executed::Replied {
                case_id: found,
                reopened: false,
            },
        })
    }

    /// A write past its deadline: "AWS is slow" now (part 0 of the reply), the outcome when
    /// the call returns.
    async fn later(
        &self,
        message: Message,
        claim: Claim,
        command: &'static str,
        action: Action,
        running: JoinHandle<Executed>,
    ) -> Outcome {
        let notice = render::reply(self.inner.config.lang, &Executed::Slow { action });
        let delivery = self
            .enqueue(&message.origin, &claim, notice, command, None, 0)
            .await;
        let bot = self.clone();
        self.inner.tasks.spawn(async move {
            let _active = bot.activate(&claim.key);
            let executed = running
                .await
                .unwrap_or_else(|err| Executed::Unavailable(Error::internal(err)));
            bot.finish(&message, &claim, command, executed).await;
        });
        Outcome {
            command,
            result: Executed::Slow { action }.result(),
            case_id: None,
            delivery,
        }
    }

    /// Render, record, the reply into the outbox, and the claim done. When the store fails,
    /// the claim stays `executing` and is finished by the recovery.
    pub(super) async fn finish(
        &self,
        message: &Message,
        claim: &Claim,
        command: &'static str,
        executed: Executed,
    ) -> Outcome {
        self.crash_point(CrashPoint::AfterAws);
        let origin = &message.origin;
        let case_id = executed.case_id();
        let outcome = |delivery| Outcome {
            command,
            result: executed.result(),
            case_id: case_id.clone(),
            delivery,
        };
        if let Err(err) = record(&*self.inner.store, origin, claim, command, &executed).await {
            self.store_failed(&err);
            return outcome(Delivery::Failed(err));
        }
        // Over the backlog limit only the first refusal is answered: answering every one
        // would grow the queue the answer is about.
        let limit = usize::try_from(self.inner.config.backlog_limit).unwrap_or(usize::MAX);
        let delivery = match &executed {
            Executed::Behind { pending } if *pending > limit => {
                tracing::warn!(
                    pending,
                    "the conversation is behind: command not run, not answered"
                );
                Delivery::Queued { parts: 0 }
            }
            _ => {
                let reply = render::reply(self.inner.config.lang, &executed);
                self.enqueue(origin, claim, reply, command, case_id.clone(), ANSWER)
                    .await
            }
        };
        if matches!(&delivery, Delivery::Failed(Error::Store { .. })) {
            return outcome(delivery);
        }
        self.crash_point(CrashPoint::AfterOutbox);
        if let Err(err) = self
            .inner
            .store
            .advance(&claim.key, ClaimState::Executing, ClaimState::Done)
            .await
        {
            self.store_failed(&err);
        }
        outcome(delivery)
    }

    /// `reply` into the outbox, from part `first_part`, for the courier.
    async fn enqueue(
        &self,
        origin: &Origin,
        claim: &Claim,
        reply: dingtalk_robot::OutboundMessage,
        command: &'static str,
        case_id: Option<String>,
        first_part: usize,
    ) -> Delivery {
        let robot = self
            .keys()
            .await
            .is_ok_and(|keys| keys.secrets.access_token.is_some());
        let route = Route {
            mode: self.inner.config.reply,
            conversation: &origin.conversation_id,
            session: origin.session.as_ref(),
            robot,
            robot_conversation: self.inner.config.robot_conversation.as_deref(),
        };
        let content = serde_json::to_string(&reply).unwrap_or_default();
        let letters = match letters(&route, claim, reply, command, case_id.clone(), first_part) {
            Ok(letters) => letters,
            Err(err) => {
                tracing::error!(error = %err, case_id = case_id.as_deref().unwrap_or("-"),
                    content = %content, "reply undelivered: it has nowhere to go");
                return Delivery::Failed(err);
            }
        };
        let parts = letters.entries.len();
        if let Err(err) = self.inner.store.enqueue(&letters.entries).await {
            self.store_failed(&err);
            return Delivery::Failed(err);
        }
        self.inner.courier.wake();
        match letters.inline {
            Some(first) => Delivery::Inline {
                first,
                rest: Ok(parts),
            },
            None => Delivery::Queued { parts },
        }
    }

    /// Test only (`--test-crash-at`): dies here, as `kill -9` would.
    fn crash_point(&self, at: CrashPoint) {
        if self.inner.config.test_crash_at == Some(at) {
            eprintln!("case-bot: --test-crash-at {at:?}: aborting");
            std::process::abort();
        }
    }
}
