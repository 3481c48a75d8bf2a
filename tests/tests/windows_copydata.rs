//! Pageant's WM_COPYDATA window against bad input, as a hostile or broken client would send it:
//! wrong `dwData`, `cbData` 0, a name without NUL, an unknown mapping, a mapping owned by
//! another SID, lengths that do not fit the mapping (and 0, and 0xFFFFFFFF), a reply that does
//! not fit, a mapping whose pages are reserved but not committed. Each test then checks that the window still answers a normal request. Also: a
//! second window of the same name is refused.
#![cfg(windows)]

use agentry_core::frame::encode_frame;
use agentry_core::proto::msg;
use agentry_core::{Agent, AgentOptions};
use agentry_platform::windows::client::{copydata_call, send_copydata};
use agentry_platform::windows::copydata::{CopyDataWindow, AGENT_COPYDATA_ID};
use agentry_platform::windows::mapping::Mapping;
use agentry_platform::windows::privilege::enable_privilege;
use agentry_platform::windows::security::{current_user_sid, Sid};
use agentry_tests::fixtures;
use agentry_tests::tools::in_ci;
use agentry_tests::windows::{unique_name, WinTestAgent};

const FAILURE_FRAME: [u8; 5] = [0, 0, 0, 1, msg::FAILURE];
const EMPTY_LIST: [u8; 5] = [msg::IDENTITIES_ANSWER, 0, 0, 0, 0];

fn window(agent: &WinTestAgent) -> &str {
    agent.window().expect("test agent has a window")
}

/// A one-page mapping with a unique name holding `bytes` at offset 0.
fn mapping_with(bytes: &[u8], size: u32) -> (String, Mapping) {
    let name = unique_name();
    let mapping = Mapping::create(&name, size, &current_user_sid().unwrap()).expect("mapping");
    mapping.write(0, bytes);
    (name, mapping)
}

fn nul_terminated(name: &str) -> Vec<u8> {
    format!("{name}\0").into_bytes()
}

fn still_serves(agent: &WinTestAgent) {
    let reply = copydata_call(window(agent), &encode_frame(&[msg::REQUEST_IDENTITIES]))
        .expect("window still answers");
    assert_eq!(reply[..1], [msg::IDENTITIES_ANSWER]);
}

#[test]
fn a_normal_request_is_answered_in_the_mapping() {
    let agent = WinTestAgent::start();
    let (name, mapping) = mapping_with(&encode_frame(&[msg::REQUEST_IDENTITIES]), 4096);
    assert_eq!(
        send_copydata(window(&agent), AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap(),
        1
    );
    assert_eq!(mapping.read(0, 9), [0, 0, 0, 5, 12, 0, 0, 0, 0]);
    assert_eq!(mapping.read(4, 5), EMPTY_LIST);
}

#[test]
fn refused_messages_leave_the_mapping_alone() {
    let agent = WinTestAgent::start();
    let request = encode_frame(&[msg::REQUEST_IDENTITIES]);
    let (name, mapping) = mapping_with(&request, 4096);
    let w = window(&agent);
    assert_eq!(
        send_copydata(w, 0x1234_5678, &nul_terminated(&name)).unwrap(),
        0,
        "wrong dwData"
    );
    assert_eq!(
        send_copydata(w, AGENT_COPYDATA_ID, &[]).unwrap(),
        0,
        "cbData 0"
    );
    assert_eq!(
        send_copydata(w, AGENT_COPYDATA_ID, name.as_bytes()).unwrap(),
        0,
        "no NUL"
    );
    assert_eq!(
        send_copydata(w, AGENT_COPYDATA_ID, b"agentry-no-such-mapping\0").unwrap(),
        0,
        "unknown mapping"
    );
    assert_eq!(
        mapping.read(0, request.len()),
        request,
        "mapping was touched"
    );
    still_serves(&agent);
}

#[test]
fn lengths_that_do_not_fit_get_failure_in_place() {
    let agent = WinTestAgent::start();
    // A 4-byte mapping still maps a whole page: the region VirtualQuery reports is 4096.
    for (announced, size) in [
        (5000u32, 4096u32),
        (u32::MAX, 4096),
        (0, 4096),
        (4093, 4),
        (u32::MAX, 4),
    ] {
        let mut frame = announced.to_be_bytes().to_vec();
        frame.push(msg::REQUEST_IDENTITIES);
        let (name, mapping) = mapping_with(&frame, size);
        let answer =
            send_copydata(window(&agent), AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap();
        assert_eq!(answer, 1, "length {announced} in {size} bytes");
        assert_eq!(
            mapping.read(0, 5),
            FAILURE_FRAME,
            "length {announced} in {size} bytes"
        );
    }
    still_serves(&agent);
}

#[test]
fn a_reply_that_does_not_fit_is_failure() {
    let agent = WinTestAgent::start();
    // ssh-add's ed25519 request with its comment replaced by 5,000 bytes.
    let mut add = fixtures::request("ssh-add-ed25519");
    let comment = b"agentry-test-ed25519";
    assert!(add.ends_with(comment));
    add.truncate(add.len() - comment.len() - 4);
    add.extend_from_slice(&5000u32.to_be_bytes());
    add.extend_from_slice(&[b'c'; 5000]);
    assert_eq!(
        copydata_call(window(&agent), &encode_frame(&add)).unwrap(),
        [msg::SUCCESS]
    );
    // The listing (> 5,000 bytes) does not fit a one-page mapping...
    let (name, mapping) = mapping_with(&encode_frame(&[msg::REQUEST_IDENTITIES]), 4096);
    assert_eq!(
        send_copydata(window(&agent), AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap(),
        1
    );
    assert_eq!(mapping.read(0, 5), FAILURE_FRAME);
    // ...and does fit a full-size one.
    let reply = copydata_call(window(&agent), &encode_frame(&[msg::REQUEST_IDENTITIES])).unwrap();
    assert_eq!(reply[..5], [msg::IDENTITIES_ANSWER, 0, 0, 0, 1]);
}

#[test]
fn a_mapping_owned_by_another_sid_is_refused() {
    let agent = WinTestAgent::start();
    let name = unique_name();
    // Owner: LocalSystem. Windows lets a caller set another owner only with SeRestorePrivilege
    // (an administrator holds it, disabled: enable it); Wine lets anyone.
    let privileged = enable_privilege("SeRestorePrivilege");
    let mapping = Mapping::create(&name, 4096, &system_sid())
        .ok()
        .filter(|m| m.owner().ok() == Some(system_sid()));
    let Some(mapping) = mapping else {
        // Only outside CI may this test have nothing to test (not an administrator).
        assert!(
            !in_ci(),
            "cannot create a mapping owned by SYSTEM (SeRestorePrivilege: {privileged:?})"
        );
        eprintln!("cannot create a mapping owned by SYSTEM here ({privileged:?}): nothing to test");
        return;
    };
    let request = encode_frame(&[msg::REQUEST_IDENTITIES]);
    mapping.write(0, &request);
    assert_eq!(
        send_copydata(window(&agent), AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap(),
        0
    );
    assert_eq!(mapping.read(0, request.len()), request);
    still_serves(&agent);
}

fn system_sid() -> Sid {
    Sid::from_string_sid("S-1-5-18").expect("SYSTEM SID")
}

#[test]
fn a_second_window_of_the_same_name_is_refused() {
    let agent = WinTestAgent::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let second = runtime
        .block_on(async { CopyDataWindow::start(window(&agent), Agent::new(AgentOptions::new())) });
    let error = second.expect_err("second window started");
    assert!(error.to_string().contains("already exists"), "{error}");
    still_serves(&agent);
}

#[test]
fn a_mapping_with_no_committed_pages_is_refused_without_a_fault() {
    let agent = WinTestAgent::start();
    let name = unique_name();
    let mapping =
        Mapping::create_reserved(&name, 64 * 1024, &current_user_sid().unwrap()).expect("mapping");
    // Reading any byte of it faults: the agent must not touch it (before the fix, the agent's
    // process died here of an access violation).
    assert_eq!(
        send_copydata(window(&agent), AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap(),
        0
    );
    drop(mapping);
    still_serves(&agent);
}

#[test]
fn only_the_committed_pages_of_a_mapping_are_used() {
    let agent = WinTestAgent::start();
    let name = unique_name();
    let mut mapping =
        Mapping::create_reserved(&name, 64 * 1024, &current_user_sid().unwrap()).expect("mapping");
    mapping.commit(4096).expect("commit one page");
    // A length reaching into the uncommitted pages does not fit: FAILURE in place.
    let mut frame = 5000u32.to_be_bytes().to_vec();
    frame.push(msg::REQUEST_IDENTITIES);
    mapping.write(0, &frame);
    let w = window(&agent);
    assert_eq!(
        send_copydata(w, AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap(),
        1
    );
    assert_eq!(mapping.read(0, 5), FAILURE_FRAME);
    // A request inside the committed page is answered.
    mapping.write(0, &encode_frame(&[msg::REQUEST_IDENTITIES]));
    assert_eq!(
        send_copydata(w, AGENT_COPYDATA_ID, &nul_terminated(&name)).unwrap(),
        1
    );
    assert_eq!(mapping.read(4, 5), EMPTY_LIST);
    still_serves(&agent);
}
