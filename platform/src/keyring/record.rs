//! The stored form of a private key: a payload (`string comment`, then the key exactly as
//! `SSH_AGENTC_ADD_IDENTITY` carries it, [`PrivateKey::encode_wire`]) split into entries of at
//! most [`MAX_ENTRY_BYTES`]. The first entry starts with a two-byte header, `byte format` (1) and
//! `byte parts`; parts 2 … n follow in their own entries. An RSA-4096 key with an ordinary comment
//! fits in one entry (about 1.9 KB); longer comments or larger keys are split.

use super::backend::MAX_ENTRY_BYTES;
use super::KeyringError;
use agentry_core::keys::PrivateKey;
use agentry_core::wire::{Reader, Writer};
use zeroize::Zeroizing;

/// The layout version in the first header byte.
pub(super) const FORMAT: u8 = 1;
/// At most this many entries per key (20 KB: far above an RSA-16384 key with a long comment).
pub(super) const MAX_PARTS: usize = 8;
/// The longest comment stored with a key.
pub const MAX_COMMENT_BYTES: usize = 1024;
const HEADER: usize = 2;

/// The payload of a key record: the comment, then the key.
pub(super) fn encode_payload(key: &PrivateKey, comment: &str) -> Zeroizing<Vec<u8>> {
    // One allocation large enough for any supported key, so no partial copy is left behind.
    let mut w = Writer::with_capacity(16 * 1024);
    w.string(comment.as_bytes());
    key.encode_wire(&mut w);
    Zeroizing::new(w.into_bytes())
}

/// Reads a payload back; errors name `entry`.
pub(super) fn decode_payload(
    entry: &str,
    payload: &[u8],
) -> Result<(PrivateKey, String), KeyringError> {
    let corrupt = |reason: String| KeyringError::Corrupt {
        entry: entry.to_owned(),
        reason,
    };
    let mut r = Reader::new(payload);
    let comment = r
        .utf8("comment")
        .map_err(|e| corrupt(format!("comment: {e}")))?
        .to_owned();
    let key = PrivateKey::decode_wire(&mut r).map_err(|e| corrupt(format!("key: {e}")))?;
    r.finish().map_err(|e| corrupt(format!("key: {e}")))?;
    Ok((key, comment))
}

/// The entry values for `payload`: the first with the header. `None` when it needs more than
/// [`MAX_PARTS`] entries.
pub(super) fn split(payload: &[u8]) -> Option<Vec<Zeroizing<Vec<u8>>>> {
    let first = payload.len().min(MAX_ENTRY_BYTES - HEADER);
    let rest = &payload[first..];
    let parts = 1 + rest.len().div_ceil(MAX_ENTRY_BYTES);
    if parts > MAX_PARTS {
        return None;
    }
    let mut head = Zeroizing::new(Vec::with_capacity(HEADER + first));
    head.extend_from_slice(&[FORMAT, parts as u8]);
    head.extend_from_slice(&payload[..first]);
    let mut values = vec![head];
    values.extend(
        rest.chunks(MAX_ENTRY_BYTES)
            .map(|c| Zeroizing::new(c.to_vec())),
    );
    Some(values)
}

/// The number of parts the first entry announces, and its share of the payload.
pub(super) fn parse_head<'a>(
    entry: &str,
    value: &'a [u8],
) -> Result<(usize, &'a [u8]), KeyringError> {
    let corrupt = |reason: String| KeyringError::Corrupt {
        entry: entry.to_owned(),
        reason,
    };
    match value {
        [FORMAT, parts, rest @ ..] if (1..=MAX_PARTS).contains(&usize::from(*parts)) => {
            Ok((usize::from(*parts), rest))
        }
        [FORMAT, parts, ..] => Err(corrupt(format!("{parts} parts announced"))),
        [format, ..] => Err(corrupt(format!("unknown format {format}"))),
        [] => Err(corrupt("empty".into())),
    }
}
