//! The mux framing between `agentry bridge` and `agentry relay --mux`: arbitrary bytes are
//! split into frames with `agentry_core::mux::decode_mux_frame` exactly as the relay and the
//! bridge do with their input. Nothing may panic, every frame that decodes must encode back to
//! the very bytes it came from, and `NeedMore` must never ask for nothing.

#![no_main]

use agentry_core::mux::{decode_mux_frame, MuxStatus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while pos < data.len() {
        let buf = &data[pos..];
        match decode_mux_frame(buf) {
            Ok(MuxStatus::Complete { frame, used }) => {
                assert!(used <= buf.len(), "Complete frame longer than the buffer");
                assert_eq!(
                    &frame.encode()[..],
                    &buf[..used],
                    "frame does not re-encode"
                );
                pos += used;
            }
            Ok(MuxStatus::NeedMore(n)) => {
                assert!(n > 0, "NeedMore(0)");
                break;
            }
            Err(_) => break, // the mux ends
        }
    }
});
