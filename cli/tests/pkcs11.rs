//! PKCS#11 tokens through the real tools: a SoftHSM2 token per test (its own `SOFTHSM2_CONF` and
//! token directory in a temp dir) with RSA-2048, RSA-3072 and P-256 keys made by `pkcs11-tool`,
//! added with the real `ssh-add -s` (PIN through `SSH_ASKPASS`), used by `ssh-keygen -Y sign` and
//! `ssh` logins to a loopback sshd, removed with `ssh-add -e`. Refusals: a provider outside the
//! allow-list (a copy, a link), a wrong PIN, an add from a forwarded connection. A provider that
//! aborts inside C_Sign (a small shim library built here with gcc) kills only its helper. Every
//! scenario runs against agentry and OpenSSH's `ssh-agent`, which must agree.
#![cfg(target_os = "linux")]

mod common;

use agentry_tests::chain::SshChain;
use agentry_tests::sshd::{current_user, TestSshd};
use agentry_tests::tools::require_tool;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "1234";

/// A SoftHSM2 token with its own configuration, in a private temp dir.
struct Token {
    dir: tempfile::TempDir,
}

impl Token {
    /// A token labelled `agentry` holding `keys` (`pkcs11-tool --key-type`, id, label).
    fn with_keys(keys: &[(&str, &str, &str)]) -> Self {
        assert!(
            Path::new(SOFTHSM).exists(),
            "this test needs {SOFTHSM}: install the `softhsm2` package"
        );
        let dir = private_tempdir();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let token = Self { dir };
        let util = require_tool("softhsm2-util", "softhsm2");
        token.ok(Command::new(util).args([
            "--init-token",
            "--free",
            "--label",
            "agentry",
            "--so-pin",
            "5678",
            "--pin",
            PIN,
        ]));
        let tool = require_tool("pkcs11-tool", "opensc");
        for (key_type, id, label) in keys {
            token.ok(Command::new(&tool).args([
                "--module",
                SOFTHSM,
                "--login",
                "--pin",
                PIN,
                "--keypairgen",
                "--key-type",
                key_type,
                "--id",
                id,
                "--label",
                label,
            ]));
        }
        token
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn ok(&self, command: &mut Command) {
        let out = run(command.env("SOFTHSM2_CONF", self.conf()));
        assert!(out.status.success(), "{command:?}: {}", describe(&out));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Agentry,
    OpenSsh,
}

/// An agent of either kind on a private socket, with the token's configuration and its log in
/// a file; stopped on drop.
struct Agent {
    which: Which,
    dir: tempfile::TempDir,
    _agentry: Option<ForegroundAgent>,
    _ssh_agent: Option<KillOnDrop>,
}

impl Agent {
    fn start(which: Which, token: &Token, allow: Option<&str>) -> Self {
        let dir = private_tempdir();
        let socket = dir.path().join("agent.sock");
        let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
        let allow: Vec<String> = allow
            .map(|p| vec!["-P".to_owned(), p.to_owned()])
            .unwrap_or_default();
        let (agentry, ssh_agent) = match which {
            Which::Agentry => {
                let agent = ForegroundAgent::start(&socket, |c| {
                    c.args(&allow)
                        .env("SOFTHSM2_CONF", token.conf())
                        .stderr(log);
                });
                (Some(agent), None)
            }
            Which::OpenSsh => {
                let child = Command::new(require_tool("ssh-agent", "openssh-client"))
                    .arg("-D")
                    .arg("-a")
                    .arg(&socket)
                    .args(&allow)
                    .env("SOFTHSM2_CONF", token.conf())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("start ssh-agent");
                let guard = KillOnDrop(child);
                wait_for_agent(&socket);
                (None, Some(guard))
            }
        };
        Self {
            which,
            dir,
            _agentry: agentry,
            _ssh_agent: ssh_agent,
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("agent.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    /// `ssh-add ARGS` for this agent; a PIN asked for is answered `pin` through askpass.
    fn ssh_add(&self, args: &[&str], pin: &str) -> Output {
        let askpass = script(&self.dir.path().join("askpass"), &format!("echo '{pin}'"));
        run(Command::new(require_tool("ssh-add", "openssh-client"))
            .env("SSH_AUTH_SOCK", self.socket())
            .env("SSH_ASKPASS", askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .args(args))
    }

    /// `ssh-add -L`: the listed public keys (`type base64 comment` lines).
    fn listed(&self) -> Vec<String> {
        let out = self.ssh_add(&["-L"], "");
        text(&out.stdout)
            .lines()
            .filter(|l| !l.contains("no identities"))
            .map(str::to_owned)
            .collect()
    }

    /// `ssh-keygen -Y sign` of a fresh message with the agent's key `public` (a `.pub` line),
    /// then `ssh-keygen -Y verify`: true when both succeed.
    fn signs_and_verifies(&self, public: &str) -> bool {
        let keygen = require_tool("ssh-keygen", "openssh-client");
        let pub_file = self.dir.path().join("key.pub");
        std::fs::write(&pub_file, format!("{public}\n")).unwrap();
        let message = self.dir.path().join("message");
        std::fs::write(&message, b"signed through a token\n").unwrap();
        let signature = self.dir.path().join("message.sig");
        let _ = std::fs::remove_file(&signature);
        let signed = run(Command::new(&keygen)
            .env("SSH_AUTH_SOCK", self.socket())
            .args(["-Y", "sign", "-n", "file", "-f"])
            .arg(&pub_file)
            .arg(&message)
            .stdin(Stdio::null()));
        if !signed.status.success() {
            return false;
        }
        let signers = self.dir.path().join("allowed_signers");
        let verified =
            agentry_tests::tools::ssh_keygen_verify(&keygen, &pub_file, &message, &signers);
        assert!(
            verified.status.success(),
            "{:?}: a signature was made and does not verify: {}",
            self.which,
            describe(&verified)
        );
        true
    }

    /// `ssh` to `sshd` offering only the agent's key `public`: true when it logs in.
    fn logs_in(&self, sshd: &TestSshd, public: &str) -> bool {
        let pub_file = self.dir.path().join("login.pub");
        std::fs::write(&pub_file, format!("{public}\n")).unwrap();
        let out = run(Command::new(require_tool("ssh", "openssh-client"))
            .env("SSH_AUTH_SOCK", self.socket())
            .env("HOME", self.dir.path())
            .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "IdentitiesOnly=yes", "-o"])
            .arg(format!("IdentityFile={}", pub_file.display()))
            .args(["-o", "PreferredAuthentications=publickey", "-p"])
            .arg(sshd.port().to_string())
            .arg(format!("{}@127.0.0.1", current_user()))
            .arg("echo token-login-ok")
            .stdin(Stdio::null()));
        out.status.success() && text(&out.stdout).contains("token-login-ok")
    }
}

const BOTH: [Which; 2] = [Which::Agentry, Which::OpenSsh];

#[test]
fn token_keys_are_added_listed_sign_log_in_and_are_removed() {
    let token = Token::with_keys(&[
        ("rsa:2048", "01", "rsa-2048"),
        ("rsa:3072", "02", "rsa-3072"),
        ("EC:prime256v1", "03", "p256"),
    ]);
    let mut seen = Vec::new();
    for which in BOTH {
        let agent = Agent::start(which, &token, None);
        let added = agent.ssh_add(&["-s", SOFTHSM], PIN);
        assert!(added.status.success(), "{which:?}: {}", describe(&added));
        let listed = agent.listed();
        assert_eq!(listed.len(), 3, "{which:?}: {listed:?}");
        let types: Vec<&str> = listed
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            types.iter().filter(|t| **t == "ssh-rsa").count(),
            2,
            "{which:?}: {listed:?}"
        );
        assert!(types.contains(&"ecdsa-sha2-nistp256"), "{listed:?}");
        let sshd = TestSshd::start(&listed.iter().map(|l| format!("{l}\n")).collect::<Vec<_>>());
        for key in &listed {
            assert!(
                agent.signs_and_verifies(key),
                "{which:?}: ssh-keygen -Y sign with {key}\nlog: {}",
                agent.log()
            );
            assert!(
                agent.logs_in(&sshd, key),
                "{which:?}: ssh login with {key}\nsshd: {}\nagent: {}",
                sshd.log(),
                agent.log()
            );
        }
        // -D drops the token's keys but leaves the provider loaded: adding it again adds
        // nothing (as OpenSSH's agent answers); -e unloads it.
        assert!(agent.ssh_add(&["-D"], "").status.success(), "{which:?}");
        assert!(agent.listed().is_empty(), "{which:?}: keys left after -D");
        let readd = agent.ssh_add(&["-s", SOFTHSM], PIN).status.success();
        let removed = agent.ssh_add(&["-e", SOFTHSM], "");
        assert!(
            removed.status.success(),
            "{which:?}: {}",
            describe(&removed)
        );
        let again = agent.ssh_add(&["-e", SOFTHSM], "");
        let fresh = agent.ssh_add(&["-s", SOFTHSM], PIN).status.success();
        let after_fresh = agent.listed().len();
        seen.push((
            listed.clone(),
            readd,
            again.status.success(),
            fresh,
            after_fresh,
        ));
    }
    // The same keys, labels and order as ssh-agent lists them.
    assert_eq!(seen[0], seen[1], "agentry and ssh-agent disagree");
    let (_, readd, again, fresh, after_fresh) = &seen[0];
    assert_eq!(
        (*readd, *again, *fresh, *after_fresh),
        (false, false, true, 3)
    );
}

#[test]
fn providers_outside_the_allow_list_are_refused() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    let elsewhere = private_tempdir();
    let copy = elsewhere.path().join("libsofthsm2.so");
    std::fs::copy(std::fs::canonicalize(SOFTHSM).unwrap(), &copy).unwrap();
    let link = elsewhere.path().join("link.so");
    std::os::unix::fs::symlink(SOFTHSM, &link).unwrap();
    let only_elsewhere = format!("{}/*", elsewhere.path().display());
    let mut outcomes = Vec::new();
    for which in BOTH {
        let default = Agent::start(which, &token, None);
        let copy_default = default.ssh_add(&["-s", copy.to_str().unwrap()], PIN);
        let listed_default = default.listed().len();
        let allowing = Agent::start(which, &token, Some(&only_elsewhere));
        // The link's target is outside the list: what matters is the resolved path.
        let link_allowed = allowing.ssh_add(&["-s", link.to_str().unwrap()], PIN);
        let copy_allowed = allowing.ssh_add(&["-s", copy.to_str().unwrap()], PIN);
        outcomes.push((
            copy_default.status.success(),
            listed_default,
            link_allowed.status.success(),
            copy_allowed.status.success(),
            allowing.listed().len(),
        ));
    }
    assert_eq!(outcomes[0], (false, 0, false, true, 1), "agentry");
    assert_eq!(outcomes[0], outcomes[1], "agentry and ssh-agent disagree");
}

#[test]
fn a_wrong_pin_fails_and_is_logged() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    for which in BOTH {
        let agent = Agent::start(which, &token, None);
        let wrong = agent.ssh_add(&["-s", SOFTHSM], "0000");
        assert!(!wrong.status.success(), "{which:?}: {}", describe(&wrong));
        assert!(agent.listed().is_empty(), "{which:?}");
        if which == Which::Agentry {
            assert!(
                agent.log().contains("wrong PIN"),
                "no log line: {}",
                agent.log()
            );
        }
        let right = agent.ssh_add(&["-s", SOFTHSM], PIN);
        assert!(right.status.success(), "{which:?}: {}", describe(&right));
        assert_eq!(agent.listed().len(), 1, "{which:?}");
    }
}

#[test]
fn a_forwarded_add_of_a_provider_is_refused() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    let keys = private_tempdir();
    let key = fixture_key(keys.path(), "ed25519");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let chain = SshChain::start(&["a"], &[], &[public]);
    let remote = format!("echo {PIN} | ssh-add -s {SOFTHSM}");
    let mut outcomes = Vec::new();
    for which in BOTH {
        let agent = Agent::start(which, &token, None);
        let added = agent.ssh_add(&[key.to_str().unwrap()], "");
        assert!(added.status.success(), "{which:?}: {}", describe(&added));
        let out = chain.run_on(&agent.socket(), "host_a", &remote);
        assert!(
            text(&out.stderr).contains("agent refused") || !out.status.success(),
            "{which:?}: {}\n{}",
            describe(&out),
            chain.logs()
        );
        outcomes.push((out.status.success(), agent.listed().len()));
        // The same add made locally works: the refusal was the forwarding's.
        let local = agent.ssh_add(&["-s", SOFTHSM], PIN);
        assert!(local.status.success(), "{which:?}: {}", describe(&local));
    }
    // The ed25519 fixture key and its certificate are held; the token's key is not.
    assert_eq!(outcomes[0], (false, 2), "agentry");
    assert_eq!(outcomes[0], outcomes[1], "agentry and ssh-agent disagree");
}

/// A PKCS#11 module built here with gcc that forwards to SoftHSM2, except that its C_Sign runs
/// `sign_body` (C, with `real_sign` the real C_Sign and the arguments `s, data, len, sig,
/// sig_len`) and `on_load` runs first in C_GetFunctionList.
fn build_provider_shim(dir: &Path, name: &str, sign_body: &str, on_load: &str) -> PathBuf {
    let source = dir.join(format!("{name}.c"));
    let real = std::fs::canonicalize(SOFTHSM).unwrap();
    std::fs::write(
        &source,
        format!(
            r#"#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* CK_FUNCTION_LIST of PKCS#11 2.40: a version, then 68 function pointers; C_Sign is the 44th. */
struct list {{ unsigned char major, minor; void *fn[68]; }};
typedef unsigned long (*sign_fn)(unsigned long, unsigned char *, unsigned long,
                                 unsigned char *, unsigned long *);
static struct list shim;
static sign_fn real_sign;
static unsigned long shim_sign(unsigned long s, unsigned char *data, unsigned long len,
                               unsigned char *sig, unsigned long *sig_len) {{
    {sign_body}
}}
unsigned long C_GetFunctionList(struct list **out) {{
    {on_load}
    void *real = dlopen("{real}", RTLD_NOW | RTLD_LOCAL);
    if (!real) return 5;
    unsigned long (*get)(struct list **) = (unsigned long (*)(struct list **))dlsym(real, "C_GetFunctionList");
    struct list *list;
    if (!get || get(&list) != 0) return 5;
    memcpy(&shim, list, sizeof shim);
    real_sign = (sign_fn)list->fn[43];
    shim.fn[43] = (void *)shim_sign;
    *out = &shim;
    return 0;
}}
"#,
            real = real.display()
        ),
    )
    .unwrap();
    let library = dir.join(format!("lib{name}.so"));
    let out = run(Command::new(require_tool("gcc", "gcc"))
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl"));
    assert!(out.status.success(), "gcc: {}", describe(&out));
    library
}

fn build_aborting_provider(dir: &Path) -> PathBuf {
    build_provider_shim(
        dir,
        "abort-in-sign",
        "(void)s; (void)data; (void)len; (void)sig; (void)sig_len; (void)real_sign; abort();",
        "",
    )
}

#[test]
fn a_provider_that_aborts_in_c_sign_leaves_the_agent_serving() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    let build = private_tempdir();
    let shim = build_aborting_provider(build.path());
    let allow = format!(
        "{}/*",
        std::fs::canonicalize(build.path()).unwrap().display()
    );
    let keys = private_tempdir();
    let key = fixture_key(keys.path(), "ed25519");
    let ordinary = std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned();
    let mut outcomes = Vec::new();
    for which in BOTH {
        let agent = Agent::start(which, &token, Some(&allow));
        let added = agent.ssh_add(&[key.to_str().unwrap()], "");
        assert!(added.status.success(), "{which:?}: {}", describe(&added));
        let loaded = agent.ssh_add(&["-s", shim.to_str().unwrap()], PIN);
        assert!(loaded.status.success(), "{which:?}: {}", describe(&loaded));
        let listed = agent.listed();
        let token_key = listed
            .iter()
            .find(|l| l.starts_with("ecdsa-sha2-nistp256"))
            .unwrap_or_else(|| panic!("{which:?}: {listed:?}"))
            .clone();
        let token_signed = agent.signs_and_verifies(&token_key);
        let ordinary_signed = agent.signs_and_verifies(&ordinary);
        let still_listed = agent.listed().len();
        outcomes.push((token_signed, ordinary_signed, still_listed));
        if which == Which::Agentry {
            assert!(
                agent.log().contains("helper process failed"),
                "{}",
                agent.log()
            );
            // The next add starts a new helper: the held token key is counted as added again.
            let again = agent.ssh_add(&["-s", shim.to_str().unwrap()], PIN);
            assert!(again.status.success(), "re-add: {}", describe(&again));
            assert_eq!(agent.listed().len(), 3, "{}", agent.log());
        }
    }
    // Held after the crash: the fixture key, its certificate and the token key.
    assert_eq!(outcomes[0], (false, true, 3), "agentry");
    assert_eq!(outcomes[0], outcomes[1], "agentry and ssh-agent disagree");
}

#[test]
fn agentry_add_and_remove_pkcs11_work_with_either_agent() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256"), ("rsa:2048", "02", "rsa")]);
    let mut outcomes = Vec::new();
    for which in BOTH {
        let agent = Agent::start(which, &token, None);
        let client = |args: &[&str], input: &str| {
            agentry_tests::tools::run_with_input(
                agentry().env("SSH_AUTH_SOCK", agent.socket()).args(args),
                input,
            )
        };
        let added = client(&["add", "-t", "600", "--pkcs11", SOFTHSM], "1234\n");
        assert!(added.status.success(), "{which:?}: {}", describe(&added));
        assert!(
            text(&added.stderr).contains("Card added"),
            "{}",
            describe(&added)
        );
        let listed = agent.listed();
        for key in &listed {
            assert!(agent.signs_and_verifies(key), "{which:?}: {key}");
        }
        let removed = client(&["remove", "--pkcs11", SOFTHSM], "");
        assert!(
            removed.status.success(),
            "{which:?}: {}",
            describe(&removed)
        );
        let wrong = client(&["add", "--pkcs11", SOFTHSM], "0000\n");
        outcomes.push((listed.len(), agent.listed().len(), wrong.status.code()));
    }
    assert_eq!(outcomes[0], (2, 0, Some(1)), "agentry");
    assert_eq!(outcomes[0], outcomes[1], "agentry and ssh-agent disagree");
}

#[test]
fn config_pkcs11_entries_load_with_the_pin_kept_in_the_keyring() {
    agentry_tests::secret_service::in_private_secret_service(
        "config_pkcs11_entries_load_with_the_pin_kept_in_the_keyring",
        |_service| {
            let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
            let first = Agent::start(Which::Agentry, &token, None);
            let remembered = agentry_tests::tools::run_with_input(
                agentry().env("SSH_AUTH_SOCK", first.socket()).args([
                    "add",
                    "--pkcs11",
                    SOFTHSM,
                    "--remember",
                ]),
                "1234\n",
            );
            assert!(remembered.status.success(), "{}", describe(&remembered));
            drop(first);
            let dir = private_tempdir();
            let config = dir.path().join("config.toml");
            std::fs::write(
                &config,
                format!(
                    "[[pkcs11]]\nprovider = \"{SOFTHSM}\"\npin = \"keyring\"\nlifetime = \"1h\"\n"
                ),
            )
            .unwrap();
            let socket = dir.path().join("agent.sock");
            let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
            let agent = ForegroundAgent::start(&socket, |c| {
                c.arg("--config")
                    .arg(&config)
                    .env("SOFTHSM2_CONF", token.conf())
                    .stderr(log);
            });
            let listed = run(agent
                .client(require_tool("ssh-add", "openssh-client"))
                .arg("-L"));
            let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
            let lines: Vec<String> = text(&listed.stdout).lines().map(str::to_owned).collect();
            assert_eq!(lines.len(), 1, "{}\n{log}", describe(&listed));
            // Logged in: the key signs (a token key needs the login to sign).
            let public = dir.path().join("key.pub");
            std::fs::write(&public, format!("{}\n", lines[0])).unwrap();
            let message = dir.path().join("m");
            std::fs::write(&message, b"m").unwrap();
            let signed = run(agent
                .client(require_tool("ssh-keygen", "openssh-client"))
                .args(["-Y", "sign", "-n", "file", "-f"])
                .arg(&public)
                .arg(&message));
            assert!(signed.status.success(), "{}\n{log}", describe(&signed));
        },
    );
}

#[test]
fn a_removed_token_fails_its_signatures_at_once() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    let build = private_tempdir();
    // CKR_DEVICE_REMOVED (0x32), as a token pulled out mid-session answers.
    let shim = build_provider_shim(
        build.path(),
        "removed",
        "(void)s; (void)data; (void)len; (void)sig; (void)sig_len; (void)real_sign; return 0x32;",
        "",
    );
    let allow = format!(
        "{}/*",
        std::fs::canonicalize(build.path()).unwrap().display()
    );
    let mut outcomes = Vec::new();
    for which in BOTH {
        let agent = Agent::start(which, &token, Some(&allow));
        let loaded = agent.ssh_add(&["-s", shim.to_str().unwrap()], PIN);
        assert!(loaded.status.success(), "{which:?}: {}", describe(&loaded));
        let listed = agent.listed();
        outcomes.push((
            listed.len(),
            agent.signs_and_verifies(&listed[0]),
            agent.listed().len(),
        ));
    }
    assert_eq!(outcomes[0], (1, false, 1), "agentry");
    assert_eq!(outcomes[0], outcomes[1], "agentry and ssh-agent disagree");
}

/// While a token's signature waits inside C_Sign (until the test creates a gate file), an
/// ordinary key in the same agent signs, and listing works; then the token's signature finishes.
#[test]
fn a_slow_token_does_not_hold_up_other_keys() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    let build = private_tempdir();
    let gate = build.path().join("gate");
    let entered = build.path().join("entered");
    let shim = build_provider_shim(
        build.path(),
        "gated",
        &format!(
            "close(creat(\"{}\", 0600));\n    while (access(\"{}\", F_OK) != 0) usleep(10000);\n    return real_sign(s, data, len, sig, sig_len);",
            entered.display(),
            gate.display()
        ),
        "",
    );
    let allow = format!(
        "{}/*",
        std::fs::canonicalize(build.path()).unwrap().display()
    );
    let keys = private_tempdir();
    let key = fixture_key(keys.path(), "ecdsa-p384");
    let ordinary = std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned();
    let agent = Agent::start(Which::Agentry, &token, Some(&allow));
    assert!(agent.ssh_add(&[key.to_str().unwrap()], "").status.success());
    let loaded = agent.ssh_add(&["-s", shim.to_str().unwrap()], PIN);
    assert!(loaded.status.success(), "{}", describe(&loaded));
    let token_key = agent
        .listed()
        .into_iter()
        .find(|l| l.starts_with("ecdsa-sha2-nistp256"))
        .unwrap();
    let pub_file = build.path().join("token.pub");
    std::fs::write(&pub_file, format!("{token_key}\n")).unwrap();
    let message = build.path().join("token-message");
    std::fs::write(&message, b"m").unwrap();
    let mut slow = KillOnDrop(
        Command::new(require_tool("ssh-keygen", "openssh-client"))
            .env("SSH_AUTH_SOCK", agent.socket())
            .args(["-Y", "sign", "-n", "file", "-f"])
            .arg(&pub_file)
            .arg(&message)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until the token's request is inside C_Sign (the test's own limit is the harness's).
    while !entered.exists() {
        assert!(
            slow.0.try_wait().unwrap().is_none(),
            "ssh-keygen ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Meanwhile: the ordinary key signs and the agent lists, with the token's request pending.
    assert!(agent.signs_and_verifies(&ordinary), "{}", agent.log());
    assert_eq!(agent.listed().len(), 2);
    assert!(
        slow.0.try_wait().unwrap().is_none(),
        "the token's signature finished before its gate opened"
    );
    std::fs::write(&gate, b"").unwrap();
    let status = slow.0.wait().unwrap();
    assert!(
        status.success(),
        "token signature after the gate: {}",
        agent.log()
    );
}

/// A library that prints to standard output when loaded (debug builds do) does not corrupt the
/// helper's replies: agentry keeps its own descriptor for them.
#[test]
fn a_provider_that_prints_to_stdout_still_works() {
    let token = Token::with_keys(&[("EC:prime256v1", "01", "p256")]);
    let build = private_tempdir();
    let shim = build_provider_shim(
        build.path(),
        "chatty",
        "return real_sign(s, data, len, sig, sig_len);",
        "fputs(\"chatty module: loading\\n\", stdout); fflush(stdout); write(1, \"raw\\n\", 4);",
    );
    let allow = format!(
        "{}/*",
        std::fs::canonicalize(build.path()).unwrap().display()
    );
    let agent = Agent::start(Which::Agentry, &token, Some(&allow));
    let loaded = agent.ssh_add(&["-s", shim.to_str().unwrap()], PIN);
    assert!(
        loaded.status.success(),
        "{}\n{}",
        describe(&loaded),
        agent.log()
    );
    let listed = agent.listed();
    assert_eq!(listed.len(), 1);
    assert!(agent.signs_and_verifies(&listed[0]), "{}", agent.log());
    assert!(
        agent.log().contains("chatty module: loading"),
        "{}",
        agent.log()
    );
}
