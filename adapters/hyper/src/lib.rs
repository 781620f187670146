//! The hyper adapter for casebot; its `case-bot` binary arrives with issue #5.
