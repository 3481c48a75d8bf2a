//! OpenSSH's software FIDO authenticator, `sk-dummy.so`, for the security-key tests: built by
//! `scripts/sk-dummy` from Debian's openssh source and cached as `target/sk-dummy/sk-dummy.so`
//! (`AGENTRY_SK_DUMMY` names another copy). A test that cannot get it fails in CI and is
//! skipped, loudly, elsewhere. Also makes keys with it through the real `ssh-keygen`.

use crate::tools::{command_without_agent, describe, in_ci, require_tool, run};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace's root (this crate is `tests/`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// `sk-dummy.so`'s resolved path, building it with `scripts/sk-dummy` the first time; `None`
/// (after saying why) when it cannot be had outside CI. In CI that is a failure.
pub fn sk_dummy() -> Option<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        if let Some(path) = std::env::var_os("AGENTRY_SK_DUMMY") {
            let path = PathBuf::from(path);
            return path
                .canonicalize()
                .map_err(|e| format!("AGENTRY_SK_DUMMY={}: {e}", path.display()));
        }
        let cached = workspace_root().join("target/sk-dummy/sk-dummy.so");
        if !cached.is_file() {
            let out = run(&mut std::process::Command::new(
                workspace_root().join("scripts/sk-dummy"),
            ));
            if !out.status.success() {
                return Err(format!("scripts/sk-dummy failed: {}", describe(&out)));
            }
        }
        cached
            .canonicalize()
            .map_err(|e| format!("{}: {e}", cached.display()))
    });
    match found {
        Ok(path) => Some(path.clone()),
        Err(why) if in_ci() => panic!("this test needs sk-dummy.so: {why}"),
        Err(why) => {
            eprintln!("SKIPPED: this test needs sk-dummy.so (run scripts/sk-dummy): {why}");
            None
        }
    }
}

/// The allow-list pattern that admits `sk_dummy` (its directory), for `agentry start -P` and
/// `ssh-agent -P`.
pub fn allow_pattern(sk_dummy: &Path) -> String {
    format!(
        "{}/*",
        sk_dummy
            .parent()
            .expect("sk-dummy.so has a directory")
            .display()
    )
}

/// Security-key types `ssh-keygen -t` makes.
pub const SK_TYPES: [&str; 2] = ["ed25519-sk", "ecdsa-sk"];

/// Makes an unencrypted security key of `kind` (`ed25519-sk`, `ecdsa-sk`) at `dir/name` with
/// `ssh-keygen -w sk_dummy`, with `options` (`-O no-touch-required`, …); returns its path.
pub fn make_key(sk_dummy: &Path, dir: &Path, name: &str, kind: &str, options: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut keygen = command_without_agent(require_tool("ssh-keygen", "openssh-client"));
    keygen
        .args(["-q", "-t", kind, "-N", "", "-C", name, "-w"])
        .arg(sk_dummy);
    for option in options {
        keygen.args(["-O", option]);
    }
    let out = run(keygen.arg("-f").arg(&path));
    assert!(
        out.status.success(),
        "ssh-keygen -t {kind}: {}",
        describe(&out)
    );
    path
}
