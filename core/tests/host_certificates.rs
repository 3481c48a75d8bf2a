//! Host certificates on the forwarding path: a destination constraint naming a CA (`ssh-add -h`
//! with `@cert-authority` in known_hosts) admits a hop whose host key is a certificate that CA
//! signed for the constraint's host name, exactly as OpenSSH's `match_key_hop`; and known_hosts
//! names hops (plain, hashed, `@cert-authority`, `@revoked`).

mod common;

use agentry_core::known_hosts::KnownHosts;
use agentry_core::proto::{
    DestinationConstraint, Extension, Hop, HopKey, Request, Response, SessionBind,
};
use agentry_core::wire::Writer;
use agentry_core::{Agent, AgentOptions, Session};
use common::*;
use ed25519_dalek::Signer;
use ssh_key::certificate::{Builder, CertType};
use ssh_key::private::Ed25519Keypair;

const NOW: u64 = 1_900_000_000;

fn ca(seed: u8) -> ssh_key::PrivateKey {
    ssh_key::PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

fn blob(key: &ssh_key::public::KeyData) -> Vec<u8> {
    use ssh_encoding::Encode;
    key.encode_vec().unwrap()
}

struct CertHost {
    key: ed25519_dalek::SigningKey,
    cert: Vec<u8>,
}

/// A host with an Ed25519 key certified by `ca` with these principals and type.
fn cert_host(seed: u8, ca: &ssh_key::PrivateKey, principals: &[&str], kind: CertType) -> CertHost {
    cert_host_valid(seed, ca, principals, kind, (NOW - 60, NOW + 3600))
}

fn cert_host_valid(
    seed: u8,
    ca: &ssh_key::PrivateKey,
    principals: &[&str],
    kind: CertType,
    (after, before): (u64, u64),
) -> CertHost {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let public = ssh_key::public::Ed25519PublicKey(key.verifying_key().to_bytes());
    let mut builder = Builder::new([seed; 16], public, after, before).unwrap();
    builder.cert_type(kind).unwrap().key_id("test").unwrap();
    if principals.is_empty() {
        builder.all_principals_valid().unwrap();
    }
    for p in principals {
        builder.valid_principal(*p).unwrap();
    }
    let cert = builder.sign(ca).unwrap().to_bytes().unwrap();
    CertHost { key, cert }
}

impl CertHost {
    async fn bind(&self, agent: &Agent, session: &mut Session, sid: &[u8], fwd: bool) -> Response {
        let mut sig = Writer::new();
        sig.string(b"ssh-ed25519")
            .string(&self.key.sign(sid).to_bytes());
        let body = Request::Extension(Extension::SessionBind(SessionBind {
            host_key: self.cert.clone(),
            session_id: sid.to_vec(),
            signature: sig.into_bytes(),
            is_forwarding: fwd,
        }))
        .encode();
        call(agent, session, &body).await
    }

    fn userauth(&self, sid: &[u8], user: &str) -> Vec<u8> {
        hostbound_userauth(sid, user, &self.cert)
    }
}

struct FixedTime;
impl agentry_core::clock::Clock for FixedTime {
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }
    fn unix_time(&self) -> u64 {
        NOW
    }
}

fn ca_hop(hostname: &str, ca: &ssh_key::PrivateKey, is_ca: bool) -> Hop {
    Hop {
        user: String::new(),
        hostname: hostname.into(),
        keys: vec![HopKey {
            key_blob: blob(ca.public_key().key_data()),
            is_ca,
        }],
    }
}

async fn agent_restricted_to(dests: Vec<DestinationConstraint>) -> Agent {
    let agent = Agent::with_parts(AgentOptions::new(), None, std::sync::Arc::new(FixedTime));
    add_restricted_ed25519(&agent, dests).await;
    agent
}

fn origin_to(to: Hop) -> DestinationConstraint {
    DestinationConstraint {
        from: Hop::default(),
        to,
    }
}

/// Binds a fresh connection to `host` for authentication and asks for a user-auth signature.
async fn signs_at(agent: &Agent, host: &CertHost) -> bool {
    let mut s = session();
    if host.bind(agent, &mut s, &[7; 32], false).await != Response::Success {
        return false;
    }
    let body = sign_body(
        &public_blob("ed25519"),
        &host.userauth(&[7; 32], "alice"),
        0,
    );
    matches!(call(agent, &mut s, &body).await, Response::Signature(_))
}

#[tokio::test]
async fn ca_constraint_admits_host_certificates_for_its_host_name_only() {
    let ca1 = ca(40);
    let d = cert_host(1, &ca1, &["d.test"], CertType::Host);
    let agent = agent_restricted_to(vec![origin_to(ca_hop("d.test", &ca1, true))]).await;
    assert!(signs_at(&agent, &d).await, "certificate for d.test");

    // OpenSSH's regress "agent restriction honours certificate principal".
    let e = cert_host(2, &ca1, &["e.test"], CertType::Host);
    assert!(!signs_at(&agent, &e).await, "certificate for another host");
    // Wildcard host names in the constraint are patterns over the principals.
    let any = agent_restricted_to(vec![origin_to(ca_hop("*.test", &ca1, true))]).await;
    assert!(signs_at(&any, &e).await, "*.test admits e.test");
    // A certificate without principals is valid for any host name.
    let golden = cert_host(3, &ca1, &[], CertType::Host);
    assert!(signs_at(&agent, &golden).await);
}

#[tokio::test]
async fn certificates_that_openssh_rejects_are_rejected() {
    let ca1 = ca(40);
    let other_ca = ca(41);
    let agent = agent_restricted_to(vec![origin_to(ca_hop("d.test", &ca1, true))]).await;
    let by_other = cert_host(1, &other_ca, &["d.test"], CertType::Host);
    assert!(!signs_at(&agent, &by_other).await, "signed by another CA");
    let user_cert = cert_host(1, &ca1, &["d.test"], CertType::User);
    assert!(!signs_at(&agent, &user_cert).await, "user certificate");
    let expired = cert_host_valid(1, &ca1, &["d.test"], CertType::Host, (0, NOW - 1));
    assert!(!signs_at(&agent, &expired).await, "expired");
    let future = cert_host_valid(1, &ca1, &["d.test"], CertType::Host, (NOW + 1, u64::MAX));
    assert!(!signs_at(&agent, &future).await, "not yet valid");

    // The CA key listed without the CA flag is a plain host key: certificates do not match it.
    let not_ca = agent_restricted_to(vec![origin_to(ca_hop("d.test", &ca1, false))]).await;
    let good = cert_host(1, &ca1, &["d.test"], CertType::Host);
    assert!(!signs_at(&not_ca, &good).await, "CA flag missing");

    // A certificate whose CA signature does not verify is refused at session-bind.
    let mut forged = cert_host(1, &ca1, &["d.test"], CertType::Host);
    let last = forged.cert.len() - 1;
    forged.cert[last] ^= 1;
    let mut s = session();
    assert_eq!(
        forged.bind(&agent, &mut s, &[7; 32], false).await,
        Response::ExtensionFailure
    );
}

#[tokio::test]
async fn ca_hop_works_as_the_from_side_of_a_forwarding_step() {
    let ca1 = ca(40);
    let d = cert_host(1, &ca1, &["d.test"], CertType::Host);
    let e = cert_host(2, &ca1, &["e.test"], CertType::Host);
    let agent = agent_restricted_to(vec![
        origin_to(ca_hop("d.test", &ca1, true)),
        DestinationConstraint {
            from: ca_hop("d.test", &ca1, true),
            to: ca_hop("e.test", &ca1, true),
        },
    ])
    .await;
    let mut via_d = session();
    assert_eq!(
        d.bind(&agent, &mut via_d, &[1; 32], true).await,
        Response::Success
    );
    assert!(
        matches!(call(&agent, &mut via_d, &[11]).await, Response::Identities(ids) if ids.len() == 1)
    );
    assert_eq!(
        e.bind(&agent, &mut via_d, &[2; 32], false).await,
        Response::Success
    );
    let body = sign_body(&public_blob("ed25519"), &e.userauth(&[2; 32], "alice"), 0);
    assert!(matches!(
        call(&agent, &mut via_d, &body).await,
        Response::Signature(_)
    ));
}

/// Made by `ssh-keygen -H` from `bastion.example,10.0.0.1 <tests/fixtures/keys/ed25519.pub>`.
const HASHED: &str = "|1|npMY8A3D1mP3gfIZ/wn1EkLyaQw=|79toCsojNpMd2J+ZFgelzeJB5ao= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXBn2TBKP97lFD03sdh/6fMwagywOGeUXHs/SjLmHF0\n\
|1|ukKKkrhe6dJgJtTlRiMs36yxMas=|8iLlo97TW4rAwaRi+ghD05HqP2k= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXBn2TBKP97lFD03sdh/6fMwagywOGeUXHs/SjLmHF0\n";

#[test]
fn known_hosts_names_plain_keys() {
    let key = key_file("ed25519.pub");
    let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let host = public_blob("ed25519");
    let named = |text: &str| KnownHosts::parse(text).name_for(&host, NOW);
    assert_eq!(
        named(&format!("bastion,10.0.0.1 {key}\n")).as_deref(),
        Some("bastion")
    );
    assert_eq!(
        named(&format!("!bad,*.corp,build.corp {key}\n")).as_deref(),
        Some("build.corp")
    );
    assert_eq!(
        named(&format!(
            "# comment\n\n[jump.corp]:2222\t  {key} a comment\n"
        ))
        .as_deref(),
        Some("[jump.corp]:2222")
    );
    assert_eq!(
        named("other ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOTHERKEYnotvalid\n"),
        None
    );
    assert_eq!(
        named(&format!("@cert-authority * {key}\n")),
        None,
        "a CA is not the host"
    );
    let revoked = named(&format!("bastion {key}\n@revoked * {key}\n")).unwrap();
    assert!(revoked.starts_with("REVOKED"), "{revoked}");
    // Hashed names hide the name: the host is known, shown by fingerprint.
    let hashed = named(HASHED).unwrap();
    assert!(hashed.starts_with("known host SHA256:"), "{hashed}");
}

#[test]
fn hashed_entries_match_the_names_they_hash() {
    use ssh_key::known_hosts::KnownHosts as Lines;
    let entries: Vec<_> = Lines::new(HASHED).map(Result::unwrap).collect();
    let hosts = entries[0].host_patterns();
    assert!(agentry_core::known_hosts::host_matches(
        hosts,
        "bastion.example"
    ));
    assert!(agentry_core::known_hosts::host_matches(
        hosts,
        "BASTION.example"
    ));
    assert!(!agentry_core::known_hosts::host_matches(hosts, "10.0.0.1"));
    assert!(agentry_core::known_hosts::host_matches(
        entries[1].host_patterns(),
        "10.0.0.1"
    ));
}

#[test]
fn known_hosts_names_certified_hosts_by_principal() {
    let ca1 = ca(40);
    let ca_line = ca1.public_key().to_openssh().unwrap();
    let d = cert_host(1, &ca1, &["nothere", "host_d"], CertType::Host);
    let kh = KnownHosts::parse(&format!("@cert-authority host_*,!host_x {ca_line}\n"));
    assert_eq!(kh.name_for(&d.cert, NOW).as_deref(), Some("host_d"));
    let x = cert_host(2, &ca1, &["host_x"], CertType::Host);
    assert_eq!(kh.name_for(&x.cert, NOW), None, "negated pattern");
    let expired = cert_host_valid(3, &ca1, &["host_d"], CertType::Host, (0, 10));
    assert_eq!(kh.name_for(&expired.cert, NOW), None);
    // Hashed @cert-authority lines match a principal by hash.
    let mut hashed = HASHED
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    hashed = format!("@cert-authority {hashed} {ca_line}\n");
    let b = cert_host(4, &ca1, &["bastion.example"], CertType::Host);
    assert_eq!(
        KnownHosts::parse(&hashed).name_for(&b.cert, NOW).as_deref(),
        Some("bastion.example")
    );
}

#[test]
fn wildcards_match_like_openssh() {
    use agentry_core::known_hosts::host_matches;
    use ssh_key::known_hosts::HostPatterns;
    let p = |s: &str| HostPatterns::Patterns(s.split(',').map(String::from).collect());
    assert!(host_matches(&p("*"), "anyone"));
    assert!(host_matches(&p("dep?oy"), "deploy"));
    assert!(host_matches(&p("a*z"), "abcz"));
    assert!(!host_matches(&p("a*z"), "abc"));
    assert!(!host_matches(&p("root"), "roots"));
    assert!(host_matches(&p("*a*b"), "xaxxab"));
    assert!(!host_matches(&p("*,!bad"), "bad"));
    let hostile = "*a".repeat(200);
    assert!(
        !host_matches(&p(&hostile), &"a".repeat(150)),
        "bounded work"
    );
}

#[test]
fn hop_keys_are_the_keys_known_hosts_lists_for_a_name() {
    let key = key_file("ed25519.pub");
    let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let host = public_blob("ed25519");
    let ca_key = ca(41).public_key().to_openssh().unwrap();
    let ca_blob = ssh_encoding::Encode::encode_vec(ca(41).public_key().key_data()).unwrap();
    let kh = KnownHosts::parse(&format!(
        "bastion,10.0.0.1 {key}\n\
         other {ca_key}\n\
         @cert-authority *.corp {ca_key}\n\
         @revoked * {ca_key}\n\
         BASTION {key}\n"
    ));
    let plain = HopKey {
        key_blob: host.clone(),
        is_ca: false,
    };
    assert_eq!(
        kh.hop_keys("bastion"),
        vec![plain.clone()],
        "once, any case"
    );
    assert_eq!(kh.hop_keys("10.0.0.1"), vec![plain]);
    assert_eq!(
        kh.hop_keys("build.corp"),
        vec![HopKey {
            key_blob: ca_blob,
            is_ca: true,
        }],
        "@cert-authority is a CA key; @revoked is no key"
    );
    assert!(kh.hop_keys("nowhere").is_empty());
    // Hashed names are found by the name they hash.
    let hashed = KnownHosts::parse(HASHED);
    assert_eq!(hashed.hop_keys("bastion.example").len(), 1);
    assert!(hashed.hop_keys("bastion").is_empty());
}
