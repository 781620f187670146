//! One claimed event through the stages:
//!
//! - **plan**: authorize and parse;
//! - **execute** (unless the conversation's replies are backed up). A write (create, reply,
//!   resolve) first moves its claim `accepted → executing` (one process wins), so a crash is
//!   reconciled rather than run blind; a read is simply run again after a crash. The command runs
//!   in a task of its own: at the deadline a read is given up, but a write keeps running. Its
//!   outcome is unknown, so the group is told "AWS is slow", and the real outcome is reported
//!   when it comes;
//! - **finish** (`finish.rs`): render, and in one [`Finish`](crate::store::Finish) the audit
//!   row, the case link, the reply's outbox entries and the claim done.

use std::sync::PoisonError;

use support_commands::{CaseRef, Command, Error as SupportError, SupportApi as _};
use tokio::task::JoinHandle;

use super::{CaseBot, digest};
use crate::config::{CrashPoint, ReplyMode};
use crate::error::Error;
use crate::event::{Admission, Event, Message, Origin, Outcome};
use crate::pipeline::execute::{Action, Deps, Executed, execute, token_mark};
use crate::pipeline::parse::{Request, parse};
use crate::pipeline::render;
use crate::policy::Actor;
use crate::store::{Claim, ClaimState};

/// What authorize and parse came to.
pub(super) enum Plan {
    /// The outcome, without running anything (refused, not a command, invalid).
    Now(Executed),
    /// A command to run, for this actor.
    Run(Actor, Command),
}

/// What the execute stage came to.
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
    /// An event for a transport that answers only after the command (`--reply response`,
    /// Lambda, [`CaseBot::on_event`]): a write is claimed first, durably, as always; a read
    /// (or a refusal, help, an invalid command) is run and its claim taken with its outcome, in
    /// one store call. Nothing has been answered before that call, so nothing accepted is lost;
    /// a read run by two deliveries at once is answered once.
    ///
    /// # Errors
    /// The store's, when it cannot take the claim (answer 503; the sender is asked to send
    /// the message again).
    pub(crate) async fn answer(&self, event: Event) -> Result<Outcome, Error> {
        let Event::Message(msg) = &event;
        let message = Message::from(msg.clone());
        let (command, plan) = self.plan(&message);
        let read = match plan {
            Plan::Run(_, ref request) if write_action(request).is_some() => None,
            plan => Some(plan),
        };
        let Some(plan) = read else {
            return Ok(match self.admit(event).await? {
                Admission::Fresh(admitted) => self.process(admitted).await,
                Admission::Duplicate => Outcome::duplicate(),
            });
        };
        self.start();
        // With its event: a store that writes the claim before the rest (DynamoDB) finishes
        // it again after a crash. SQLite writes it done, in one commit, and keeps no event.
        let claim = self.new_claim(&event);
        let _active = self.activate(&claim.key);
        let _turn = self.inner.commands.acquire().await.ok();
        let executed = match plan {
            Plan::Now(executed) => executed,
            Plan::Run(actor, request) => {
                match self.backlog(&message.origin.conversation_id).await {
                    Some(pending) => Executed::Behind { pending },
                    None => match self.execute(&message.origin, actor, request, &claim).await {
                        Decided::Now(executed) => executed,
                        // Only writes outlive the deadline, and this is a read.
                        Decided::Later(action, _) => Executed::Unconfirmed { action },
                    },
                }
            }
        };
        // The claim is taken in this call: if the store cannot write, nothing is accepted, so
        // the answer is 503, as for a claim taken first.
        let outcome = match self
            .try_finish(&message, &claim, command, executed, None)
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => {
                self.ask_to_send_again(msg);
                return Err(err);
            }
        };
        let span = tracing::Span::current();
        span.record("outcome", &*outcome.result);
        Ok(outcome)
    }

    /// Runs a claimed event: plans, starts a write (only one process can), executes, finishes.
    pub(super) async fn run(&self, event: Event, claim: Claim) -> Outcome {
        let Event::Message(msg) = event;
        let message = Message::from(msg);
        let _active = self.activate(&claim.key);
        self.crash_point(CrashPoint::AfterClaim);
        // The semaphore is never closed: without a turn the command would still run.
        let _turn = self.inner.commands.acquire().await.ok();
        let (command, plan) = self.plan(&message);
        let (actor, request) = match plan {
            Plan::Now(executed) => {
                return self
                    .finish(
                        &message,
                        &claim,
                        command,
                        executed,
                        Some(ClaimState::Accepted),
                    )
                    .await;
            }
            Plan::Run(actor, request) => (actor, request),
        };
        if let Some(pending) = self.backlog(&message.origin.conversation_id).await {
            let behind = Executed::Behind { pending };
            return self
                .finish(
                    &message,
                    &claim,
                    command,
                    behind,
                    Some(ClaimState::Accepted),
                )
                .await;
        }
        let mut from = ClaimState::Accepted;
        if write_action(&request).is_some() {
            match self
                .inner
                .store
                .advance(&claim.key, ClaimState::Accepted, ClaimState::Executing)
                .await
            {
                Ok(true) => from = ClaimState::Executing,
                // Another process (a recovery, a shared store's other server) started it.
                Ok(false) => return Outcome::duplicate(),
                Err(err) => {
                    // Left `accepted`: run once the store takes writes again.
                    self.store_failed(&err);
                    return Outcome::unavailable(command, err);
                }
            }
        }
        match self.execute(&message.origin, actor, request, &claim).await {
            Decided::Now(executed) => {
                self.finish(&message, &claim, command, executed, Some(from))
                    .await
            }
            Decided::Later(action, running) => {
                self.later(message, claim, command, action, running).await
            }
        }
    }

    /// Authorize and parse: what was asked (the audit trail's name), and what to do.
    pub(super) fn plan(&self, message: &Message) -> (&'static str, Plan) {
        // `我的信息` gives ids only, and is answered anywhere: it is how an operator learns the
        // conversation id for the allow-list.
        if let Request::Command(Command::WhoAmI) = parse(message) {
            tracing::Span::current().record("command", "whoami");
            let ids = Executed::WhoAmI {
                staff_id: message.origin.staff_id.clone(),
                conversation_id: message.origin.conversation_id.clone(),
            };
            return ("whoami", Plan::Now(ids));
        }
        let actor = match self.inner.policy.authorize(&message.origin) {
            Ok(actor) => actor,
            Err(refusal) => {
                let refused = Executed::Refused {
                    refusal,
                    case_id: None,
                };
                return ("any", Plan::Now(refused));
            }
        };
        let request = parse(message);
        let name = request.name();
        tracing::Span::current().record("command", name);
        let plan = match request {
            Request::Command(command) => Plan::Run(actor, command),
            Request::Unsupported => Plan::Now(Executed::Unsupported),
            Request::Invalid(err) => Plan::Now(Executed::Invalid(err)),
            Request::Unrecognised(suggestion) => Plan::Now(Executed::Unrecognised { suggestion }),
        };
        (name, plan)
    }

    /// The conversation's pending replies, when they are at the backlog limit. In `response`
    /// mode a reply rides on the HTTP answer rather than the outbox, so there is no backlog to
    /// bound.
    async fn backlog(&self, conversation: &str) -> Option<usize> {
        if self.inner.config.reply == ReplyMode::Response {
            return None;
        }
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
    pub(super) async fn execute(
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
        let deadline = self.inner.config.command_deadline;
        if write.is_none() {
            // A read is simply given up at the deadline: it runs here.
            let read = self.execute_now(origin, &actor, command, &claim.token);
            return Decided::Now(
                tokio::time::timeout(deadline, read)
                    .await
                    .unwrap_or(Executed::TimedOut),
            );
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
        match tokio::time::timeout(deadline, &mut running).await {
            Ok(done) => {
                Decided::Now(done.unwrap_or_else(|err| Executed::Unavailable(Error::internal(err))))
            }
            // A write keeps running: its outcome is reported when AWS answers.
            Err(_) => match write {
                Some(action) => Decided::Later(action, running),
                None => Decided::Now(Executed::TimedOut),
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
            records: &*inner.store,
            policy: &inner.policy,
            lang: inner.config.lang,
            time_zone_minutes: inner.config.notify.time_zone_minutes,
            case_language: &inner.config.case_language,
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
                let details = support
                    .case_details(&CaseRef::CaseId(found.clone()))
                    .await
                    .ok();
                Executed::Created {
                    case_id: found,
                    display_id: details.as_ref().and_then(|d| d.display_id.clone()),
                    subject: details.map(|d| d.subject).unwrap_or_default(),
                    language_refused: None,
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
            .enqueue(&message.origin, &claim, notice, command, 0)
            .await;
        let bot = self.clone();
        self.inner.tasks.spawn(async move {
            let _active = bot.activate(&claim.key);
            let executed = running
                .await
                .unwrap_or_else(|err| Executed::Unavailable(Error::internal(err)));
            bot.finish(
                &message,
                &claim,
                command,
                executed,
                Some(ClaimState::Executing),
            )
            .await;
        });
        Outcome {
            command,
            result: Executed::Slow { action }.result(),
            case_id: None,
            delivery,
        }
    }

    /// Test only (`--test-crash-at`): dies here, as `kill -9` would.
    pub(super) fn crash_point(&self, at: CrashPoint) {
        if self.inner.config.test_crash_at == Some(at) {
            eprintln!("case-bot: --test-crash-at {at:?}: aborting");
            std::process::abort();
        }
    }
}
