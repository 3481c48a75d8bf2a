//! Just enough DER to turn what a PKCS#11 token stores into SSH public keys: an EC point
//! (`CKA_EC_POINT`, an OCTET STRING around the SEC1 point), a named curve (`CKA_EC_PARAMS`) and
//! the SubjectPublicKeyInfo of an X.509 certificate (`CKA_VALUE` of a certificate object).
//! Every read is bounded by its parent; anything unexpected is `None`.

/// DER of the OID prime256v1 (1.2.840.10045.3.1.7).
pub(super) const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the OID secp384r1 (1.3.132.0.34).
pub(super) const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// A public key read from DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SpkiKey {
    /// Modulus and public exponent (big-endian, as stored).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The curve's OID (DER, tag included) and the SEC1 point.
    Ec { curve: Vec<u8>, point: Vec<u8> },
}

/// One TLV: (tag, contents, the rest).
fn tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn expect(bytes: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = tlv(bytes)?;
    (t == tag).then_some((contents, rest))
}

/// The SEC1 point inside `CKA_EC_POINT` (DER OCTET STRING); some tokens store it bare (an
/// uncompressed P-256 or P-384 point: 65 or 97 bytes starting with 4).
pub(super) fn ec_point(stored: &[u8]) -> Option<Vec<u8>> {
    match expect(stored, 0x04) {
        Some((point, [])) if point.first() == Some(&0x04) => Some(point.to_vec()),
        _ if stored.first() == Some(&0x04) && matches!(stored.len(), 65 | 97) => {
            Some(stored.to_vec())
        }
        _ => None,
    }
}

/// The SubjectPublicKeyInfo of an X.509 certificate.
pub(super) fn certificate_key(cert: &[u8]) -> Option<SpkiKey> {
    let (cert, _) = expect(cert, 0x30)?;
    let (tbs, _) = expect(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2; // [0] version
    }
    for _ in 0..5 {
        rest = tlv(rest)?.2; // serial, signature, issuer, validity, subject
    }
    let (spki, _) = expect(rest, 0x30)?;
    spki_key(spki)
}

fn spki_key(spki: &[u8]) -> Option<SpkiKey> {
    let (algorithm, rest) = expect(spki, 0x30)?;
    let (bits, _) = expect(rest, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    let (oid, params) = expect(algorithm, 0x06)?;
    if oid == RSA_ENCRYPTION {
        let (rsa, _) = expect(key, 0x30)?;
        let (n, rest) = expect(rsa, 0x02)?;
        let (e, _) = expect(rest, 0x02)?;
        Some(SpkiKey::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    } else if oid == EC_PUBLIC_KEY {
        let (_, _, after) = tlv(params)?;
        Some(SpkiKey::Ec {
            curve: params[..params.len() - after.len()].to_vec(),
            point: key.to_vec(),
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_with_and_without_their_octet_string() {
        let mut point = vec![0x04];
        point.extend([7; 64]);
        let mut wrapped = vec![0x04, 65];
        wrapped.extend(&point);
        assert_eq!(ec_point(&wrapped), Some(point.clone()));
        assert_eq!(ec_point(&point), Some(point.clone()));
        assert_eq!(ec_point(&[0x04, 9, 0x04]), None);
        assert_eq!(ec_point(&[]), None);
    }

    #[test]
    fn truncated_and_long_lengths_are_refused() {
        assert_eq!(tlv(&[0x30, 0x82, 0x01]), None);
        assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x30, 3, 1]), None);
        assert_eq!(certificate_key(&[0x30, 0]), None);
    }
}
