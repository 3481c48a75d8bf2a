//! Keys added exactly as OpenSSH's `ssh-add` sends them sign data that verifies with the public
//! key: Ed25519, ECDSA P-256/384/521, RSA 2048/3072/4096 with SHA-256 and SHA-512, and
//! certificates. Legacy SHA-1 is refused unless enabled; P-521 nonces use the full width.

mod common;

use agentry_core::proto::Response;
use agentry_core::{Agent, AgentOptions};
use common::*;
use ssh_encoding::Decode;
use ssh_key::public::KeyData;

fn verify(key_blob: &[u8], data: &[u8], sig: &[u8]) -> Result<String, String> {
    let key = KeyData::decode(&mut &key_blob[..]).map_err(|e| e.to_string())?;
    let sig_parsed = ssh_key::Signature::decode(&mut &sig[..]).map_err(|e| e.to_string())?;
    let alg = sig_parsed.algorithm().as_str().to_owned();
    match &key {
        KeyData::Rsa(rsa) => {
            use ring::signature as rs;
            let params: &rs::RsaParameters = match alg.as_str() {
                "rsa-sha2-256" => &rs::RSA_PKCS1_2048_8192_SHA256,
                "rsa-sha2-512" => &rs::RSA_PKCS1_2048_8192_SHA512,
                "ssh-rsa" => &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                other => return Err(format!("unexpected RSA signature {other}")),
            };
            rs::RsaPublicKeyComponents {
                n: rsa.n().as_positive_bytes().unwrap(),
                e: rsa.e().as_positive_bytes().unwrap(),
            }
            .verify(params, data, sig_parsed.as_bytes())
            .map_err(|_| "RSA signature does not verify".to_owned())?;
        }
        _ => signature::Verifier::verify(&key, data, &sig_parsed).map_err(|e| e.to_string())?,
    }
    Ok(alg)
}

async fn sign(agent: &Agent, blob: &[u8], data: &[u8], flags: u32) -> Response {
    call(agent, &mut session(), &sign_body(blob, data, flags)).await
}

#[tokio::test]
async fn every_key_type_added_by_ssh_add_signs_verifiably() {
    let agent = Agent::new(AgentOptions::new());
    let cases: &[(&str, u32, &str)] = &[
        ("ed25519", 0, "ssh-ed25519"),
        ("ecdsa-p256", 0, "ecdsa-sha2-nistp256"),
        ("ecdsa-p384", 0, "ecdsa-sha2-nistp384"),
        ("ecdsa-p521", 0, "ecdsa-sha2-nistp521"),
        ("rsa-2048", 2, "rsa-sha2-256"),
        ("rsa-2048", 4, "rsa-sha2-512"),
        ("rsa-3072", 4, "rsa-sha2-512"),
        ("rsa-4096", 2, "rsa-sha2-256"),
    ];
    for (name, flags, expected_alg) in cases {
        add_fixture(&agent, &format!("ssh-add-{name}.bin")).await;
        let blob = public_blob(name);
        let data = format!("data signed by {name}").into_bytes();
        match sign(&agent, &blob, &data, *flags).await {
            Response::Signature(sig) => {
                let alg = verify(&blob, &data, &sig).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(&alg, expected_alg, "{name} flags {flags}");
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    assert_eq!(identities(&agent).await.len(), 7);
}

#[tokio::test]
async fn certificates_are_listed_as_certificates_and_sign() {
    let agent = Agent::new(AgentOptions::new());
    for name in ["ed25519", "ecdsa-p256", "rsa-2048"] {
        add_fixture(&agent, &format!("ssh-add-{name}-cert.bin")).await;
        let cert_text = key_file(&format!("{name}-cert.pub"));
        let cert = ssh_key::Certificate::from_openssh(cert_text.trim()).unwrap();
        let cert_blob = cert.to_bytes().unwrap();
        assert!(identities(&agent).await.contains(&cert_blob), "{name}");
        let reply = sign(&agent, &cert_blob, b"cert data", 4).await;
        let Response::Signature(sig) = reply else {
            panic!("{name}: {reply:?}")
        };
        verify(&public_blob(name), b"cert data", &sig).unwrap();
    }
}

#[tokio::test]
async fn legacy_sha1_is_refused_by_default_and_made_when_allowed() {
    let data = b"legacy";
    let blob = public_blob("rsa-2048");

    let strict = Agent::new(AgentOptions::new());
    add_fixture(&strict, "ssh-add-rsa-2048.bin").await;
    assert_eq!(sign(&strict, &blob, data, 0).await, Response::Failure);
    // The captured `ssh-add -T` request for RSA asks for SHA-1 (flags 0).
    let captured = request_bytes("ssh-add-T-rsa-2048.bin");
    assert_eq!(
        call(&strict, &mut session(), &captured).await,
        Response::Failure
    );

    let lenient = Agent::new(AgentOptions::new().allow_ssh_rsa_sha1(true));
    add_fixture(&lenient, "ssh-add-rsa-2048.bin").await;
    let Response::Signature(sig) = sign(&lenient, &blob, data, 0).await else {
        panic!("SHA-1 signature not made")
    };
    assert_eq!(verify(&blob, data, &sig).unwrap(), "ssh-rsa");
}

#[tokio::test]
async fn rsa_below_2048_bits_is_refused() {
    let agent = Agent::new(AgentOptions::new());
    let reply = call(
        &agent,
        &mut session(),
        &request_bytes("ssh-add-rsa-1024.bin"),
    )
    .await;
    assert_eq!(reply, Response::Failure);
    assert!(identities(&agent).await.is_empty());
}

#[tokio::test]
async fn unknown_key_and_wrong_flags_do_not_sign() {
    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-ed25519.bin").await;
    assert_eq!(
        sign(&agent, &public_blob("ecdsa-p256"), b"x", 0).await,
        Response::Failure
    );
    // Flags that do not apply to the key type are ignored, as OpenSSH does.
    let Response::Signature(sig) = sign(&agent, &public_blob("ed25519"), b"x", 6).await else {
        panic!("ed25519 with RSA flags")
    };
    verify(&public_blob("ed25519"), b"x", &sig).unwrap();
}

/// CVE-2024-31497: PuTTY's P-521 nonces had their top 9 bits zero, which leaks the key after
/// about 60 signatures. Recover each nonce k = s⁻¹(z + r·d) and check that k uses the full width.
#[tokio::test]
async fn p521_nonces_use_the_full_width() {
    use p521::elliptic_curve::ff::PrimeField;
    use sha2::Digest;

    let agent = Agent::new(AgentOptions::new());
    add_fixture(&agent, "ssh-add-ecdsa-p521.bin").await;
    let blob = public_blob("ecdsa-p521");
    let private = ssh_key::PrivateKey::from_openssh(key_file("ecdsa-p521")).unwrap();
    let d_bytes = private
        .key_data()
        .ecdsa()
        .unwrap()
        .private_key_bytes()
        .to_vec();
    let scalar = |bytes: &[u8]| {
        let mut repr = p521::FieldBytes::default();
        let start = repr.len() - bytes.len();
        repr[start..].copy_from_slice(bytes);
        Option::<p521::Scalar>::from(p521::Scalar::from_repr(repr)).expect("scalar in range")
    };
    let d = scalar(&d_bytes);

    let mut widest = 0u32;
    let mut above_512 = 0;
    for i in 0..64u32 {
        let data = format!("nonce probe {i}").into_bytes();
        let Response::Signature(sig) = sign(&agent, &blob, &data, 0).await else {
            panic!("P-521 signing failed")
        };
        let parsed = ssh_key::Signature::decode(&mut &sig[..]).unwrap();
        let mut inner = parsed.as_bytes();
        let r = ssh_encoding::Mpint::decode(&mut inner).unwrap();
        let s = ssh_encoding::Mpint::decode(&mut inner).unwrap();
        let r = scalar(r.as_positive_bytes().unwrap());
        let s = scalar(s.as_positive_bytes().unwrap());
        let z = scalar(&sha2::Sha512::digest(&data));
        let k = Option::<p521::Scalar>::from(s.invert()).unwrap() * (z + r * d);
        let repr = k.to_repr();
        let leading: u32 = repr
            .iter()
            .position(|b| *b != 0)
            .map(|i| i as u32 * 8 + repr[i].leading_zeros())
            .unwrap_or(528);
        let bits = 528 - leading;
        widest = widest.max(bits);
        if bits > 512 {
            above_512 += 1;
        }
    }
    assert!(widest >= 519, "widest nonce only {widest} bits");
    assert!(above_512 >= 50, "only {above_512}/64 nonces above 512 bits");
}

fn add_ppk_body(file: &str) -> Vec<u8> {
    let ppk = std::fs::read(fixtures().join("keys/ppk").join(file)).unwrap();
    agentry_core::proto::Request::Extension(agentry_core::proto::Extension::AddPpk {
        ppk: zeroize::Zeroizing::new(ppk),
        constraints: Vec::new(),
    })
    .encode()
    .to_vec()
}

/// PuTTY's `add-ppk` with files written by the real `puttygen`: each holds the same key material
/// as its OpenSSH twin, so it must list under the same public blob and sign (RSA too, v2 and v3).
#[tokio::test]
async fn puttygen_ppk_files_added_with_add_ppk_sign() {
    let agent = Agent::new(AgentOptions::new());
    for (file, twin, flags) in [
        ("ed25519.ppk", "ed25519", 0),
        ("ecdsa-p256.ppk", "ecdsa-p256", 0),
        ("rsa-2048.ppk", "rsa-2048", 2),
        ("rsa-2048-v2.ppk", "rsa-2048", 4),
    ] {
        let reply = call(&agent, &mut session(), &add_ppk_body(file)).await;
        assert_eq!(reply, Response::Success, "{file}");
        let blob = public_blob(twin);
        assert!(identities(&agent).await.contains(&blob), "{file}");
        let Response::Signature(sig) = sign(&agent, &blob, b"ppk", flags).await else {
            panic!("{file}: no signature")
        };
        verify(&blob, b"ppk", &sig).unwrap();
    }
    // Encrypted PPK files need deferred decryption (not implemented yet): refused, not hung.
    let reply = call(
        &agent,
        &mut session(),
        &add_ppk_body("ed25519-encrypted.ppk"),
    )
    .await;
    assert_eq!(reply, Response::ExtensionFailure);
}

/// Regression (found by the frame_decoder fuzzer): OpenSSH sends an ECDSA private scalar as a
/// minimal mpint, so a P-256 key whose scalar starts with a zero byte arrives as 31 bytes. It
/// must be accepted, sign, and re-encode byte for byte.
#[tokio::test]
async fn ecdsa_scalar_with_leading_zero_byte_is_accepted() {
    let mut scalar = [0x42u8; 32];
    scalar[0] = 0;
    let sk = p256::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    let point = sk.verifying_key().to_sec1_bytes();
    let mut w = agentry_core::wire::Writer::new();
    w.u8(17)
        .string(b"ecdsa-sha2-nistp256")
        .string(b"nistp256")
        .string(&point)
        .string(&scalar[1..])
        .string(b"short scalar");
    let body = w.into_bytes();
    let request = agentry_core::proto::Request::decode(&body).expect("decodes");
    assert_eq!(request.encode().as_slice(), body.as_slice());

    let agent = Agent::new(AgentOptions::new());
    assert_eq!(call(&agent, &mut session(), &body).await, Response::Success);
    let mut blob = agentry_core::wire::Writer::new();
    blob.string(b"ecdsa-sha2-nistp256")
        .string(b"nistp256")
        .string(&point);
    let blob = blob.into_bytes();
    let Response::Signature(sig) = sign(&agent, &blob, b"z", 0).await else {
        panic!("no signature")
    };
    verify(&blob, b"z", &sig).unwrap();
}
