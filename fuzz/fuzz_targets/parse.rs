//! Coverage-guided fuzzing of the chat grammar: any text either parses or yields an error whose
//! rendered help starts with `AWS-`; service lookup never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use support_commands::{Lang, ServiceIndex, catalogue, parse};

fuzz_target!(|text: &str| {
    match parse(text) {
        Ok(command) => {
            let _ = command.kind();
        }
        Err(err) => {
            assert!(err.chat_text(Lang::Zh).starts_with("AWS-["));
            assert!(err.chat_text(Lang::En).starts_with("AWS-["));
        }
    }
    thread_local! {
        static INDEX: ServiceIndex = ServiceIndex::new(catalogue());
    }
    INDEX.with(|index| assert!(index.search(text, 5).len() <= 5));
});
