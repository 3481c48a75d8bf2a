//! agentry test support
