//! The private-key file check on Windows (Win32-OpenSSH's rule), against real file security
//! descriptors: a file written private passes; one whose DACL also lets Everyone read it fails
//! with the culprit named. Under Wine in scripts/test (Wine keeps a file's DACL as its Unix
//! mode: owner and Everyone only) and natively on the Windows runner.
#![cfg(windows)]

use agentry_platform::windows::file_access::{check_private_file, write_private_file};
use agentry_platform::windows::security::{current_user_sid, SecurityDescriptor};

#[test]
fn a_file_written_private_is_private_and_one_everyone_may_read_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("id_private");
    write_private_file(&private, b"not really a key").unwrap();
    assert_eq!(
        check_private_file(&std::fs::File::open(&private).unwrap()),
        Ok(())
    );

    let me = current_user_sid().unwrap().to_string_sid().unwrap();
    let shared = dir.path().join("id_shared");
    SecurityDescriptor::from_sddl(&format!("D:P(A;;FA;;;{me})(A;;FR;;;WD)"))
        .unwrap()
        .create_file(&shared)
        .unwrap();
    assert_eq!(
        check_private_file(&std::fs::File::open(&shared).unwrap()),
        Err("Everyone (S-1-1-0) may open it".to_owned())
    );
}
