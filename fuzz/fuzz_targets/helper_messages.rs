//! The messages between the agent and its helper processes (`agentry helper pkcs11|sk`,
//! `agentry_core::proto::helper`): the input's first byte chooses the direction (even: a reply, as
//! the agent reads what a helper that loaded a third-party library sends back; odd: a request, as
//! the helper reads it), the rest is one message body. Nothing may panic, and whatever decodes
//! must survive an encode-decode round trip unchanged.

#![no_main]

use agentry_core::proto::{HelperReply, HelperRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&direction, body)) = data.split_first() else {
        return;
    };
    if direction % 2 == 0 {
        if let Ok(reply) = HelperReply::decode(body) {
            assert_eq!(HelperReply::decode(&reply.encode()), Ok(reply));
        }
    } else if let Ok(request) = HelperRequest::decode(body) {
        let again = HelperRequest::decode(&request.encode()).expect("re-encoded request decodes");
        assert_eq!(again.encode(), request.encode());
    }
});
