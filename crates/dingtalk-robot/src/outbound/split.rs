//! Splitting long `text` and `markdown` messages into parts DingTalk takes, at line
//! boundaries, without losing anything.

use super::{Body, MarkdownBody, OutboundMessage, TextBody};

/// Most characters one `text` or `markdown` part carries; longer content is split.
///
/// DingTalk documents no webhook size limit (its OpenAPI caps `msgParam` at 15,000 bytes), so
/// this stays well below: 4,000 characters and at most [`MAX_PART_BYTES`] UTF-8 bytes per part.
///
/// ```
/// let parts = dingtalk_robot::OutboundMessage::text("a".repeat(dingtalk_robot::MAX_PART_CHARS + 1)).split();
/// assert_eq!(parts.len(), 2);
/// ```
pub const MAX_PART_CHARS: usize = 4_000;
/// Most UTF-8 bytes one `text` or `markdown` part carries (see [`MAX_PART_CHARS`]).
///
/// ```
/// // 4,001 three-byte characters: over the character budget and over the byte budget.
/// let parts = dingtalk_robot::OutboundMessage::text("钉".repeat(4_001)).split();
/// assert_eq!(parts.len(), 2);
/// ```
pub const MAX_PART_BYTES: usize = 12_000;

impl OutboundMessage {
    /// Splits a long `text` or `markdown` message into parts of at most [`MAX_PART_CHARS`]
    /// characters and [`MAX_PART_BYTES`] bytes, at line boundaries (a single longer line is cut
    /// at a character boundary). Nothing is truncated: the parts of a `text` message concatenate
    /// to the original. Markdown parts get `(i/n)` after the title, and a code block cut in two
    /// is closed and reopened. Only the first part keeps the @-mentions. Other message types
    /// come back unchanged, as one part.
    ///
    /// ```
    /// use dingtalk_robot::{OutboundMessage, MAX_PART_CHARS};
    /// let long = "一行告警\n".repeat(2_000); // 10,000 characters
    /// let parts = OutboundMessage::text(long).split();
    /// assert_eq!(parts.len(), 3);
    /// ```
    #[must_use]
    pub fn split(self) -> Vec<Self> {
        self.split_with(MAX_PART_CHARS, MAX_PART_BYTES)
    }

    /// [`split`](Self::split) with an explicit budget (at least 64 characters and 256 bytes are
    /// used, whatever is passed, so that a part always has room for content).
    ///
    /// ```
    /// let parts = dingtalk_robot::OutboundMessage::text("a\n".repeat(100)).split_with(64, 256);
    /// assert_eq!(parts.len(), 4);
    /// ```
    #[must_use]
    pub fn split_with(self, max_chars: usize, max_bytes: usize) -> Vec<Self> {
        let budget = Budget {
            chars: max_chars.max(64),
            bytes: max_bytes.max(256),
        };
        // Fast path: content within the byte budget has no more characters than bytes.
        let short = match &self.body {
            Body::Text { text, .. } => text.content.len() <= budget.chars.min(budget.bytes),
            Body::Markdown { markdown, .. } => {
                markdown.text.len() <= budget.chars.min(budget.bytes)
            }
            _ => true,
        };
        if short {
            return vec![self];
        }
        match self.body {
            Body::Text { text, at } => {
                let parts = split_lines(&text.content, budget, false);
                let mut at = Some(at);
                parts
                    .into_iter()
                    .map(|content| Self {
                        body: Body::Text {
                            text: TextBody { content },
                            at: at.take().unwrap_or_default(),
                        },
                    })
                    .collect()
            }
            Body::Markdown { markdown, at } => {
                let parts = split_lines(&markdown.text, budget, true);
                let total = parts.len();
                let mut at = Some(at);
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let title = if total > 1 {
                            format!("{} ({}/{total})", markdown.title, i + 1)
                        } else {
                            markdown.title.clone()
                        };
                        Self {
                            body: Body::Markdown {
                                markdown: MarkdownBody { title, text },
                                at: at.take().unwrap_or_default(),
                            },
                        }
                    })
                    .collect()
            }
            body => vec![Self { body }],
        }
    }
}

#[derive(Clone, Copy)]
struct Budget {
    chars: usize,
    bytes: usize,
}

/// The running size of a part.
#[derive(Default, Clone, Copy)]
struct Size {
    chars: usize,
    bytes: usize,
}

impl Size {
    fn of(s: &str) -> Self {
        Self {
            chars: s.chars().count(),
            bytes: s.len(),
        }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            chars: self.chars + other.chars,
            bytes: self.bytes + other.bytes,
        }
    }

    fn fits(self, budget: Budget) -> bool {
        self.chars <= budget.chars && self.bytes <= budget.bytes
    }
}

/// The code fence a reopened part starts with: the opening line when short (```` ```json ````),
/// else a bare fence, so reopening never fills a part on its own.
fn reopening(fence_line: &str) -> String {
    let line = fence_line.trim_end();
    if line.chars().count() <= 16 {
        format!("{line}\n")
    } else {
        "```\n".to_owned()
    }
}

/// Parts being filled: the finished ones, the current one, and the markdown code block the
/// current one is inside, if any.
#[derive(Default)]
struct Parts {
    done: Vec<String>,
    current: String,
    fence: Option<String>,
}

impl Parts {
    /// Whether `piece` fits in the current part, leaving room to close a code block that is
    /// open (or that `opens_fence` is about to open).
    fn fits(&self, piece: &str, budget: Budget, opens_fence: bool) -> bool {
        let closing = if self.fence.is_some() || opens_fence {
            "\n```".len()
        } else {
            0
        };
        let room = Budget {
            chars: budget.chars.saturating_sub(closing),
            bytes: budget.bytes.saturating_sub(closing),
        };
        Size::of(&self.current).plus(Size::of(piece)).fits(room)
    }

    /// Ends the current part, closing an open code block, and starts the next one (reopening
    /// the block).
    fn flush(&mut self) {
        if self.fence.is_some() {
            if !self.current.ends_with('\n') {
                self.current.push('\n');
            }
            self.current.push_str("```");
        }
        self.done.push(std::mem::take(&mut self.current));
        if let Some(open) = &self.fence {
            self.current.push_str(open);
        }
    }
}

/// Splits `content` into parts within `budget`, at line ends where possible.
fn split_lines(content: &str, budget: Budget, markdown: bool) -> Vec<String> {
    let mut parts = Parts::default();
    for line in content.split_inclusive('\n') {
        let is_fence = markdown && line.trim_start().starts_with("```");
        let opens = is_fence && parts.fence.is_none();
        if !parts.fits(line, budget, opens) && !parts.current.is_empty() {
            parts.flush();
        }
        if parts.fits(line, budget, opens) {
            parts.current.push_str(line);
        } else {
            // One line longer than a whole part: cut it at character boundaries.
            for ch in line.chars() {
                let mut buf = [0_u8; 4];
                let piece = ch.encode_utf8(&mut buf);
                if !parts.fits(piece, budget, opens) && !parts.current.is_empty() {
                    parts.flush();
                }
                parts.current.push(ch);
            }
        }
        if is_fence {
            parts.fence = match parts.fence {
                Some(_) => None,
                None => Some(reopening(line)),
            };
        }
    }
    if !parts.current.is_empty() || parts.done.is_empty() {
        parts.done.push(parts.current);
    }
    parts.done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(chars: usize, bytes: usize) -> Budget {
        Budget { chars, bytes }
    }

    #[test]
    fn split_lines_prefers_line_boundaries() {
        let parts = split_lines("aaaa\nbbbb\ncccc\n", budget(10, 100), false);
        assert_eq!(parts, ["aaaa\nbbbb\n", "cccc\n"]);
    }

    #[test]
    fn split_lines_cuts_overlong_line_at_char_boundary() {
        let parts = split_lines("钉钉钉钉钉", budget(2, 100), false);
        assert_eq!(parts, ["钉钉", "钉钉", "钉"]);
        let parts = split_lines("钉钉钉钉钉", budget(100, 7), false);
        assert_eq!(parts, ["钉钉", "钉钉", "钉"]);
    }

    #[test]
    fn split_lines_closes_and_reopens_markdown_code_block() {
        let text = "intro\n```json\n{\"a\": 1}\n{\"b\": 2}\n```\nend\n";
        let parts = split_lines(text, budget(30, 1000), true);
        assert!(parts.len() > 1, "{parts:?}");
        for part in &parts {
            assert_eq!(
                part.matches("```").count() % 2,
                0,
                "unbalanced fence in {part:?}"
            );
            assert!(part.chars().count() <= 30, "{part:?}");
        }
        assert!(
            parts.iter().skip(1).any(|p| p.starts_with("```json\n")),
            "{parts:?}"
        );
    }

    #[test]
    fn split_of_empty_text_is_one_empty_part() {
        assert_eq!(split_lines("", budget(10, 10), false), [""]);
    }
}
