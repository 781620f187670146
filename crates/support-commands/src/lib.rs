//! Chat grammar and AWS Support operations behind a trait; filled in by issue #4.
