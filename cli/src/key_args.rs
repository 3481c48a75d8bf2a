//! Key arguments as commands take them (`remove`, `reencrypt`): a fingerprint (`SHA256:…`,
//! `MD5:…`) matched against the agent's identities, or a key file whose public key (and the
//! certificate next to it) names the identities.

use crate::agent_state::refusal;
use crate::client::{identities, Client};
use crate::public_files::{self, FingerprintHash};
use crate::Failure;
use ssh_encoding::Encode;
use std::path::PathBuf;

/// The identity blobs a key argument names: a fingerprint matched against the agent's
/// identities, or a key file's public key (and its certificate, if one lies next to it).
pub(crate) fn resolve_blobs(client: &mut Client, key: &str) -> Result<Vec<Vec<u8>>, Failure> {
    let blobs: Vec<Vec<u8>> = if let Some(hash) = fingerprint_kind(key) {
        let held = identities(client)?;
        let found: Vec<Vec<u8>> = held
            .into_iter()
            .filter(|id| public_files::fingerprint(&id.key_blob, hash).as_deref() == Some(key))
            .map(|id| id.key_blob)
            .collect();
        if found.is_empty() {
            return Err(refusal(
                client,
                &format!("find {key}"),
                "the agent holds no identity with that fingerprint",
            ));
        }
        found
    } else {
        let path = PathBuf::from(key);
        let public = public_files::read_public_key(&path).map_err(Failure::new)?;
        let mut blobs = vec![public
            .key_data()
            .encode_vec()
            .map_err(|e| Failure::new(format!("{key}: {e}")))?];
        if let Some((_, cert)) = public_files::read_certificate_for(&path) {
            blobs.extend(cert.to_bytes().ok());
        }
        blobs
    };
    Ok(blobs)
}

fn fingerprint_kind(key: &str) -> Option<FingerprintHash> {
    if key.starts_with("SHA256:") {
        Some(FingerprintHash::Sha256)
    } else if key.starts_with("MD5:") {
        Some(FingerprintHash::Md5)
    } else {
        None
    }
}
