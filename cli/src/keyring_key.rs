//! Keys the configuration names by OS keyring entry (`[[key]] keyring = "NAME"`): the one place
//! `agentry start` reads such a key. Keyring support is not built into this tree yet; this
//! function is where the OS keyring store plugs in.

use agentry_core::keys::PrivateKey;

/// The private key stored in the OS keyring under `name`, with its comment. Errors are one line
/// for the user (the caller adds the config line).
pub(crate) fn load_keyring_key(name: &str) -> Result<(PrivateKey, String), String> {
    let _ = name;
    Err("keyring support is not built into this agentry yet".to_owned())
}
