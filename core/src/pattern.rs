//! OpenSSH's host and user name patterns (`match_pattern`): `*` and `?` wildcards, and its
//! comma-separated lists with `!` negation (`match_pattern_list`). A leaf module: known_hosts
//! names, host certificates' principals, destination constraints and the provider allow-list all
//! match with it.

/// `*` and `?` wildcards, as OpenSSH's `match_pattern` (pattern first). Iterative, with one
/// backtrack point, so a hostile pattern costs at most pattern × text steps.
pub(crate) fn match_pattern(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// How a text fares against a comma-separated pattern list (OpenSSH's `match_pattern_list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMatch {
    /// No pattern matched.
    None,
    /// A pattern matched and no negated one did.
    Positive,
    /// A negated (`!`) pattern matched: this wins over every positive one.
    Negated,
}

/// OpenSSH's `match_pattern_list` (case-sensitive): each comma-separated pattern is tried in
/// turn; a matching `!pattern` ends the search as [`ListMatch::Negated`]. As in OpenSSH, a
/// pattern of 1024 bytes or more makes the whole list fail to match.
pub(crate) fn match_pattern_list(text: &[u8], list: &[u8]) -> ListMatch {
    const MAX_PATTERN: usize = 1023;
    let mut positive = false;
    for item in list.split(|&b| b == b',') {
        let (negated, pattern) = match item.split_first() {
            Some((b'!', rest)) => (true, rest),
            _ => (false, item),
        };
        if pattern.len() >= MAX_PATTERN {
            return ListMatch::None;
        }
        if match_pattern(pattern, text) {
            if negated {
                return ListMatch::Negated;
            }
            positive = true;
        }
    }
    if positive {
        ListMatch::Positive
    } else {
        ListMatch::None
    }
}

#[cfg(test)]
mod tests {
    use super::{match_pattern_list, ListMatch};

    #[test]
    fn lists_follow_openssh_rules() {
        let list = b"/usr/lib*/*,/usr/local/lib*/*";
        assert_eq!(
            match_pattern_list(b"/usr/lib/softhsm/libsofthsm2.so", list),
            ListMatch::Positive
        );
        assert_eq!(
            match_pattern_list(b"/usr/lib64/opensc-pkcs11.so", list),
            ListMatch::Positive
        );
        assert_eq!(match_pattern_list(b"/tmp/evil.so", list), ListMatch::None);
        assert_eq!(
            match_pattern_list(b"/usr/lib/x.so", b"/usr/lib/*,!/usr/lib/x.so"),
            ListMatch::Negated
        );
        assert_eq!(
            match_pattern_list(b"/usr/lib/x.so", b"!/usr/lib/x.so,*"),
            ListMatch::Negated
        );
        assert_eq!(match_pattern_list(b"a", b""), ListMatch::None);
        let long = [b'*'; 1100];
        assert_eq!(match_pattern_list(b"a", &long), ListMatch::None);
    }
}
