//! The helper process framework through the real binary (`agentry helper pkcs11`), on every OS
//! (under Wine for Windows): a load of a library that does not exist is answered with a failure
//! that names it, the helper keeps answering, and a stopped helper fails every later request at
//! once instead of hanging. Loading real tokens is tested in pkcs11.rs (Linux, SoftHSM2).

use agentry_core::proto::{HelperFailure, HelperReply, HelperRequest};
use agentry_platform::helper::{HelperCommand, HelperError, HelperKind, HelperProcess};
use std::time::Duration;
use zeroize::Zeroizing;

fn helper() -> HelperProcess {
    let command = HelperCommand::new(env!("CARGO_BIN_EXE_agentry"), vec!["helper".into()]);
    HelperProcess::start(&command, HelperKind::Pkcs11).expect("start the helper")
}

#[tokio::test]
async fn a_helper_answers_failures_and_a_stopped_one_fails_at_once() {
    let helper = helper();
    let missing = std::env::temp_dir().join("agentry-no-such-provider.dll");
    let load = HelperRequest::LoadPkcs11 {
        module: missing.to_str().unwrap().to_owned(),
        pin: Zeroizing::new(b"1234".to_vec()),
    };
    match helper.call(&load, Duration::from_secs(60)).await {
        Ok(HelperReply::Failure { reason, message }) => {
            assert_eq!(reason, HelperFailure::Other);
            assert!(message.contains("loading the module"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Still serving: a signature before any module loaded is refused, not fatal.
    let sign = HelperRequest::Sign {
        key_blob: b"k".to_vec(),
        data: b"d".to_vec(),
        flags: 0,
    };
    assert!(matches!(
        helper.call(&sign, Duration::from_secs(60)).await,
        Ok(HelperReply::Failure { .. })
    ));
    assert!(helper.is_alive());
    helper.stop();
    assert_eq!(
        helper.call(&sign, Duration::from_secs(60)).await,
        Err(HelperError::Dead)
    );
    assert!(!helper.is_alive());
}
