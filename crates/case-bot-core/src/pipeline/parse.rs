//! The parse stage: what a message asks for.

use support_commands::{Command, CommandKind, Error as SupportError};

use crate::event::Message;

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// A command (an empty message asks for the help).
    Command(Command),
    /// A picture, file or other message without text.
    Unsupported,
    /// Text that is not a valid command.
    Invalid(SupportError),
    /// Text that is no command; the command it most likely meant, if any.
    Unrecognised(Option<CommandKind>),
}

impl Request {
    /// The audit trail's name for what was asked.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Command(command) => command.kind().as_str(),
            Self::Unsupported => "message",
            Self::Invalid(_) => "invalid",
            Self::Unrecognised(_) => "help",
        }
    }
}

/// Reads the message's text as a command.
pub(crate) fn parse(message: &Message) -> Request {
    match &message.text {
        None if message.non_text => Request::Unsupported,
        None => Request::Command(Command::Help {
            unrecognised: false,
        }),
        Some(text) => match support_commands::parse(text) {
            Ok(Command::Help { unrecognised: true }) => {
                Request::Unrecognised(support_commands::closest_command(text))
            }
            Ok(command) => Request::Command(command),
            Err(err) => Request::Invalid(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    fn message(text: Option<&str>, non_text: bool) -> Message {
        Message {
            origin: Origin {
                nick: "张三".into(),
                staff_id: None,
                conversation_id: "cid".into(),
                conversation_title: None,
                session: None,
            },
            text: text.map(str::to_owned),
            non_text,
        }
    }

    #[test]
    fn text_that_is_no_command_is_unrecognised_with_the_command_it_nearly_is() {
        assert_eq!(
            parse(&message(Some("查询ServiceCode: redshift"), false)),
            Request::Unrecognised(Some(CommandKind::LookupService))
        );
        assert_eq!(
            parse(&message(Some("ec2"), false)),
            Request::Unrecognised(None)
        );
    }

    #[test]
    fn text_is_a_command_or_invalid_and_no_text_is_help_or_unsupported() {
        let lookup = parse(&message(Some("查找ServiceCode: ec2"), false));
        assert_eq!(
            lookup,
            Request::Command(Command::LookupService {
                query: "ec2".into()
            })
        );
        assert_eq!(lookup.name(), "lookup");
        let invalid = parse(&message(Some("释放case"), false));
        assert!(matches!(invalid, Request::Invalid(_)), "{invalid:?}");
        assert_eq!(invalid.name(), "invalid");
        let empty = parse(&message(None, false));
        assert_eq!(
            empty,
            Request::Command(Command::Help {
                unrecognised: false
            })
        );
        assert_eq!(empty.name(), "help");
        let picture = parse(&message(None, true));
        assert_eq!(picture, Request::Unsupported);
        assert_eq!(picture.name(), "message");
    }
}
