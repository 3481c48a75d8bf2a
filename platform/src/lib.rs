//! agentry platform
