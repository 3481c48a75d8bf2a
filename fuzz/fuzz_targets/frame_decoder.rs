//! Transport-level decoding: arbitrary bytes are split into frames with
//! `agentry_core::frame::decode_frame` exactly as a transport does with its receive buffer, and
//! every complete body goes to `Request::decode` (and `Response::decode`, which agentry's own
//! client uses on the agent's replies). Nothing may panic, and every request that decodes must
//! survive `encode` → `decode` unchanged.

#![no_main]

use agentry_core::frame::{
    body_len_from_header, decode_frame, encode_frame, FrameStatus, HEADER_LEN,
};
use agentry_core::proto::{Request, Response};
use agentry_core::MAX_MESSAGE_LEN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while pos < data.len() {
        let buf = &data[pos..];
        match decode_frame(buf) {
            Ok(FrameStatus::Complete { body_len }) => {
                assert!(body_len > 0 && body_len <= MAX_MESSAGE_LEN);
                let end = HEADER_LEN + body_len;
                assert!(end <= buf.len(), "Complete frame longer than the buffer");
                let body = &buf[HEADER_LEN..end];
                assert_eq!(encode_frame(body), &buf[..end]);
                check_body(body);
                pos += end;
            }
            Ok(FrameStatus::NeedMore(n)) => {
                assert!(n > 0, "NeedMore(0)");
                if buf.len() >= HEADER_LEN {
                    let announced = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                    let body_len =
                        body_len_from_header(announced).expect("NeedMore for a bad header");
                    assert_eq!(buf.len() - HEADER_LEN + n, body_len);
                } else {
                    assert_eq!(buf.len() + n, HEADER_LEN);
                }
                // A transport would wait for more bytes; a fuzz input has no more.
                break;
            }
            Err(_) => break, // the transport closes the connection
        }
    }
});

fn check_body(body: &[u8]) {
    if let Ok(req) = Request::decode(body) {
        let encoded = req.encode();
        let again = Request::decode(&encoded);
        assert_eq!(again, Ok(req), "request does not survive encode -> decode");
    }
    let _ = Response::decode(body);
}
