//! Destination restrictions written as `ssh-add -h` takes them: `host`, `user@host` (the key may
//! be used to log in to that host, from this machine) and `from>to` (a forwarded agent on `from`
//! may use it to reach `to`; `from` names no user). Parsing is separate from resolving: the host
//! keys that identify each host come from known_hosts files at resolve time, as `ssh-add` looks
//! them up (plain and `@cert-authority` entries). The one parser for this syntax in the CLI.

use agentry_core::known_hosts::KnownHosts;
use agentry_core::proto::{DestinationConstraint, Hop};

/// One parsed restriction, not yet tied to host keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DestinationSpec {
    /// The hop the request comes from; `None` for this machine.
    from: Option<String>,
    /// The user on `to`; `None` for any user.
    user: Option<String>,
    /// The host the key may be used to reach.
    to: String,
}

impl DestinationSpec {
    /// Parses `[from>][user@]host`, with OpenSSH's rules: the user is what comes before the
    /// last `@` of a hop, a hop needs a host, and the `from` hop names no user.
    pub(crate) fn parse(spec: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("bad destination {spec:?}: {why}");
        let (from, to) = match spec.split_once('>') {
            Some((from, to)) => (Some(from), to),
            None => (None, spec),
        };
        if to.contains('>') {
            return Err(bad("only one `>` (from>to) is allowed"));
        }
        let from = match from {
            Some(hop) => {
                let (user, host) = split_hop(hop).map_err(bad)?;
                if user.is_some() {
                    return Err(bad("the `from` host cannot name a user"));
                }
                Some(host)
            }
            None => None,
        };
        let (user, to) = split_hop(to).map_err(bad)?;
        Ok(Self { from, user, to })
    }

    /// The constraint, with each host's keys from `known`. Fails when known_hosts lists no key
    /// for a host (as `ssh-add -h` does): such a restriction could never be met.
    pub(crate) fn resolve(&self, known: &KnownHosts) -> Result<DestinationConstraint, String> {
        let hop = |host: &str, user: &Option<String>| {
            let keys = known.hop_keys(host);
            if keys.is_empty() {
                return Err(format!("no host keys found in known_hosts for {host:?}"));
            }
            Ok(Hop {
                user: user.clone().unwrap_or_default(),
                hostname: host.to_owned(),
                keys,
            })
        };
        let from = match &self.from {
            Some(host) => hop(host, &None)?,
            None => Hop::default(),
        };
        Ok(DestinationConstraint {
            from,
            to: hop(&self.to, &self.user)?,
        })
    }
}

/// `[user@]host` → (user, host). An empty user (`@host`) means any user, as in OpenSSH.
fn split_hop(hop: &str) -> Result<(Option<String>, String), &'static str> {
    let (user, host) = match hop.rsplit_once('@') {
        Some((user, host)) => ((!user.is_empty()).then(|| user.to_owned()), host),
        None => (None, hop),
    };
    if host.is_empty() {
        return Err("no host");
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a host name has no spaces");
    }
    Ok((user, host.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::DestinationSpec;
    use agentry_core::known_hosts::KnownHosts;

    fn spec(from: Option<&str>, user: Option<&str>, to: &str) -> DestinationSpec {
        DestinationSpec {
            from: from.map(str::to_owned),
            user: user.map(str::to_owned),
            to: to.to_owned(),
        }
    }

    #[test]
    fn parses_ssh_add_h_syntax() {
        let p = |s: &str| DestinationSpec::parse(s).unwrap();
        assert_eq!(p("host"), spec(None, None, "host"));
        assert_eq!(p("git@github.com"), spec(None, Some("git"), "github.com"));
        assert_eq!(p("a@b@host"), spec(None, Some("a@b"), "host"));
        assert_eq!(p("@host"), spec(None, None, "host"));
        assert_eq!(p("jump>me@inner"), spec(Some("jump"), Some("me"), "inner"));
    }

    #[test]
    fn rejects_what_ssh_add_rejects() {
        for bad in [
            "",
            "user@",
            ">host",
            "jump>",
            "u@jump>host",
            "a>b>c",
            "two words",
        ] {
            let e = DestinationSpec::parse(bad).unwrap_err();
            assert!(e.starts_with("bad destination"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn resolves_host_keys_from_known_hosts() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXBn2TBKP97lFD03sdh/6fMwagywOGeUXHs/SjLmHF0";
        let known = KnownHosts::parse(&format!("jump {key}\ninner {key}\n"));
        let c = DestinationSpec::parse("jump>me@inner")
            .unwrap()
            .resolve(&known)
            .unwrap();
        assert_eq!((c.from.hostname.as_str(), c.from.keys.len()), ("jump", 1));
        assert_eq!(
            (c.to.user.as_str(), c.to.hostname.as_str()),
            ("me", "inner")
        );
        let local = DestinationSpec::parse("inner")
            .unwrap()
            .resolve(&known)
            .unwrap();
        assert!(local.from.hostname.is_empty() && local.from.keys.is_empty());
        let e = DestinationSpec::parse("jump>elsewhere")
            .unwrap()
            .resolve(&known)
            .unwrap_err();
        assert!(e.contains("\"elsewhere\""), "{e}");
    }
}
