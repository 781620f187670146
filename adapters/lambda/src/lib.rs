//! The Lambda adapter for casebot; its binary and SAM template arrive with issue #6.
