//! Destination restrictions (`ssh-add -h`) enforced as OpenSSH's ssh-agent does in
//! `identity_permitted`: the chain of `session-bind@openssh.com` records on a connection is
//! walked hop by hop, and each hop must be allowed by one of the key's constraints. A restricted
//! key is listed only where it may be used, never signs on an unbound connection, never signs on
//! a forwarding hop, and the user name is checked at the last hop. A hop whose host key is a
//! certificate matches a constraint key marked as a CA when that CA signed a valid host
//! certificate for the constraint's host name (OpenSSH's `match_key_hop`).

use super::keystore::Entry;
use crate::keys::{is_certificate_blob, HostCertificate};
use crate::pattern::match_pattern;
use crate::proto::{DestinationConstraint, Hop};
use crate::session::Session;
use crate::wire::Reader;

/// Why a restricted key may not be used here.
pub(crate) type Denied = &'static str;

/// OpenSSH's `identity_permitted`. `user` is the user name from the signed data (sign requests
/// only), `now` the time in Unix seconds (for host certificates). On success returns the host
/// names the constraints give to each hop, nearest first.
pub(crate) fn identity_permitted(
    entry: &Entry,
    session: &Session,
    user: Option<&str>,
    now: u64,
) -> Result<Vec<String>, Denied> {
    if entry.destinations.is_empty() {
        return Ok(Vec::new());
    }
    if session.bind_failed() && session.binds().is_empty() {
        return Err("a session bind failed on this connection");
    }
    let binds = session.binds();
    let Some(last) = binds.last() else {
        return Ok(Vec::new()); // local use on a connection that was never bound
    };
    let mut names = Vec::new();
    let mut from: Option<&[u8]> = None;
    for (i, bind) in binds.iter().enumerate() {
        let is_last = i + 1 == binds.len();
        let test_user = if is_last {
            if bind.is_forwarding && user.is_some() {
                return Err("tried to sign on a forwarding hop");
            }
            user
        } else {
            if !bind.is_forwarding {
                return Err("tried to forward through a signing bind");
            }
            None
        };
        let host = permitted_by(
            &entry.destinations,
            from,
            Some(&bind.host_key),
            test_user,
            now,
        )
        .ok_or("no destination constraint permits this hop")?;
        names.push(host);
        from = Some(&bind.host_key);
    }
    if last.is_forwarding
        && user.is_none()
        && permitted_by(&entry.destinations, Some(&last.host_key), None, None, now).is_none()
    {
        return Err("key may be used at the last host but not beyond it");
    }
    Ok(names)
}

/// OpenSSH's `permitted_by_dest_constraints`: the first constraint matching the hop, giving its
/// destination host name.
fn permitted_by(
    constraints: &[DestinationConstraint],
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    user: Option<&str>,
    now: u64,
) -> Option<String> {
    let from_cert = from.and_then(HostCertificate::parse);
    let to_cert = to.and_then(HostCertificate::parse);
    constraints.iter().find_map(|d| {
        let from_ok = match from {
            None => d.from.hostname.is_empty() && d.from.keys.is_empty(),
            Some(key) => matches_hop(key, from_cert.as_ref(), &d.from, now),
        };
        let to_ok = to.is_none_or(|key| matches_hop(key, to_cert.as_ref(), &d.to, now));
        let user_ok = match (user, d.to.user.as_str()) {
            (Some(u), pattern) if !pattern.is_empty() => {
                match_pattern(pattern.as_bytes(), u.as_bytes())
            }
            _ => true,
        };
        (from_ok && to_ok && user_ok).then(|| d.to.hostname.clone())
    })
}

/// OpenSSH's `match_key_hop`: a plain host key matches one of the hop's plain keys; a host
/// certificate (`cert`, already parsed from `key` with its CA signature verified) matches a key
/// marked as a CA that signed it, when the certificate is valid for the hop's host name.
fn matches_hop(key: &[u8], cert: Option<&HostCertificate>, hop: &Hop, now: u64) -> bool {
    let hostname = if hop.hostname.is_empty() {
        "(ORIGIN)"
    } else {
        hop.hostname.as_str()
    };
    if !is_certificate_blob(key) {
        return hop.keys.iter().any(|k| !k.is_ca && k.key_blob == key);
    }
    // A certificate whose CA signature does not verify matches nothing.
    cert.is_some_and(|cert| {
        hop.keys
            .iter()
            .any(|k| k.is_ca && k.key_blob == cert.ca_blob() && cert.check_host(hostname, now))
    })
}

/// What a sign request's data says when it is an SSH user-authentication request
/// (RFC 4252 §7, and OpenSSH's `publickey-hostbound-v00@openssh.com`).
pub(crate) struct UserAuth {
    pub(crate) user: String,
    pub(crate) session_id: Vec<u8>,
    pub(crate) host_key: Option<Vec<u8>>,
}

/// OpenSSH's `parse_userauth_request`: the whole data must be a publickey user-auth request
/// for `key_blob`.
pub(crate) fn parse_userauth(data: &[u8], key_blob: &[u8], algorithm: &str) -> Option<UserAuth> {
    let mut r = Reader::new(data);
    let session_id = r.string().ok()?.to_vec();
    if session_id.is_empty() || r.u8().ok()? != 50 {
        return None;
    }
    let user = r.utf8("user").ok()?.to_owned();
    if r.string().ok()? != b"ssh-connection" {
        return None;
    }
    let hostbound = match r.string().ok()? {
        b"publickey" => false,
        b"publickey-hostbound-v00@openssh.com" => true,
        _ => return None,
    };
    if r.u8().ok()? != 1 {
        return None;
    }
    let pkalg = r.utf8("algorithm").ok()?;
    let base = |a: &str| match a {
        "rsa-sha2-256" | "rsa-sha2-512" => "ssh-rsa".to_owned(),
        other => other
            .replace("rsa-sha2-256-cert", "ssh-rsa-cert")
            .replace("rsa-sha2-512-cert", "ssh-rsa-cert"),
    };
    if base(pkalg) != base(algorithm) || r.string().ok()? != key_blob {
        return None;
    }
    let host_key = if hostbound {
        Some(r.string().ok()?.to_vec())
    } else {
        None
    };
    r.finish().ok()?;
    Some(UserAuth {
        user,
        session_id,
        host_key,
    })
}
