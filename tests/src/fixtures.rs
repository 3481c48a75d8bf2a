//! The real-tool fixtures in `tests/fixtures`: captured request bodies, key files, and private
//! key copies with mode 0600 (git drops file modes, and ssh-add refuses other modes).

use std::path::{Path, PathBuf};

/// `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `tests/fixtures/keys/NAME`.
pub fn key_path(name: &str) -> PathBuf {
    fixtures_dir().join("keys").join(name)
}

/// The body of a captured request, `tests/fixtures/requests/NAME.bin`.
pub fn request(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join("requests").join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The public key blob of fixture key `name` (from `NAME.pub`).
pub fn public_blob(name: &str) -> Vec<u8> {
    use ssh_encoding::Encode;
    public_key(name)
        .key_data()
        .encode_vec()
        .expect("encode public key")
}

/// Fixture key `name`'s public key.
pub fn public_key(name: &str) -> ssh_key::PublicKey {
    let path = key_path(&format!("{name}.pub"));
    ssh_key::PublicKey::read_openssh_file(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Copies fixture key `name` (and its `.pub`) into `dir` with mode 0600; returns the private path.
#[cfg(unix)]
pub fn private_key_copy(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", ".pub"] {
        let from = key_path(&format!("{name}{suffix}"));
        let to = dir.join(format!("{name}{suffix}"));
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir.join(name)
}

/// The fixture keys the agent must accept, as named in `requests/ssh-add-NAME.bin`.
pub const ACCEPTED_KEYS: &[&str] = &[
    "ed25519",
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
];
