//! The agent protocol's typed messages (draft-miller-ssh-agent, OpenSSH's PROTOCOL.agent and
//! PuTTY's extensions): [`Request`] decoded from a message body, [`Response`] encoded to one.
//! Each message family lives in its own file; the message numbers and flags are in [`msg`].

mod constraint;
mod destination;
mod extension;
mod extension_reply;
mod helper;
pub mod msg;
mod request;
mod response;
mod smartcard;

pub use constraint::{AssociatedCerts, Constraint, MAX_DEST_CONSTRAINTS, MAX_EXT_CERTS};
pub use destination::{DestinationConstraint, Hop, HopKey, MAX_HOP_KEYS, MAX_USERNAME_LEN};
pub use extension::{Extension, SessionBind, EXTENSION_NAMES};
pub use extension_reply::{
    KeyFlags, ListExtendedReply, ListedKey, QueryReply, ReencryptAllReply, StatusReply,
};
pub use helper::{HelperFailure, HelperKey, HelperReply, HelperRequest};
pub use request::{AddIdentity, Request, SignRequest, SignRequestRef};
pub use response::{Identity, Response};
pub use smartcard::{SmartcardAdd, SmartcardRemove};

pub use msg::{SIGN_FLAG_RSA_SHA2_256, SIGN_FLAG_RSA_SHA2_512};
