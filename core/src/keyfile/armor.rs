//! PEM-style armour as key files use it: `-----BEGIN LABEL-----`, optional RFC 1421 headers
//! (`Proc-Type:`, `DEK-Info:`) and a blank line, base64 lines, `-----END LABEL-----`. OpenSSL's
//! `EC PARAMETERS` block before an EC key is skipped. Decoded bytes are wiped when dropped.

use super::KeyFileError;
use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

/// One armoured block, decoded.
pub(super) struct Armored {
    /// What stands between `BEGIN ` and the closing dashes.
    pub(super) label: String,
    /// `Name: value` headers, in order (only the legacy encrypted PEM has them).
    pub(super) headers: Vec<(String, String)>,
    /// The base64 body, decoded.
    pub(super) body: Zeroizing<Vec<u8>>,
}

impl Armored {
    /// The value of header `name` (case-insensitive), if present.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The label of a `-----BEGIN LABEL-----` line.
fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

/// The first armoured block of `text` other than `EC PARAMETERS`, or `None` when the text has
/// no BEGIN line. A block without its END line is [`KeyFileError::Truncated`].
pub(super) fn first_block(text: &str) -> Result<Option<Armored>, KeyFileError> {
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = begin_label(line) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        if label == "EC PARAMETERS" {
            if !lines.any(|l| l == end) {
                return Err(KeyFileError::Truncated);
            }
            continue;
        }
        return read_block(label, &end, &mut lines, text.len()).map(Some);
    }
    Ok(None)
}

fn read_block<'a>(
    label: &str,
    end: &str,
    lines: &mut impl Iterator<Item = &'a str>,
    text_len: usize,
) -> Result<Armored, KeyFileError> {
    let mut headers = Vec::new();
    // At most the whole text: sized up front so it never reallocates, leaving no unwiped copy.
    let mut base64 = Zeroizing::new(String::with_capacity(text_len));
    let mut in_headers = true;
    for line in lines {
        if line == end {
            let body = Base64::decode_vec(&base64)
                .map(Zeroizing::new)
                .map_err(|_| KeyFileError::Malformed("base64"))?;
            return Ok(Armored {
                label: label.to_owned(),
                headers,
                body,
            });
        }
        if in_headers {
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
                continue;
            }
            in_headers = false;
            if line.is_empty() {
                continue;
            }
        }
        if line.starts_with("-----") {
            return Err(KeyFileError::Truncated);
        }
        base64.push_str(line);
    }
    Err(KeyFileError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_body() {
        let text = "x\n-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        let block = first_block(text).unwrap().unwrap();
        assert_eq!(block.label, "RSA PRIVATE KEY");
        assert_eq!(block.header("dek-info"), Some("AES-128-CBC,00"));
        assert_eq!(&block.body[..], &[0, 1, 2]);
    }

    #[test]
    fn missing_end_is_truncated_and_no_begin_is_none() {
        let text = "-----BEGIN PRIVATE KEY-----\nAAEC\n";
        assert!(matches!(first_block(text), Err(KeyFileError::Truncated)));
        assert!(first_block("ssh-ed25519 AAAA").unwrap().is_none());
    }

    #[test]
    fn ec_parameters_are_skipped() {
        let text = "-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nAAEC\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(first_block(text).unwrap().unwrap().label, "EC PRIVATE KEY");
    }
}
