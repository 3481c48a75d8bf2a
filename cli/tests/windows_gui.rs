//! The tray and the key list of a real `agentry start -D` (under Wine by scripts/test, with its
//! null graphics driver: windows exist and take messages, nothing is drawn). Driven from this
//! process as a user's clicks arrive: the tray's callback message and `WM_COMMAND` for each
//! menu item, the key list found by its title `agentry Key List`, its rows read with
//! `LVM_GETITEMTEXTW`, its buttons pressed, the open-file dialog answered by typing a path. The
//! peers are agentry's own client commands and raw requests over the named pipe and Pageant's
//! `WM_COPYDATA` window; a key added through the window signs over both.
#![cfg(windows)]

use agentry_core::proto::{Request, Response, SignRequest};
use agentry_platform::windows::desktop::dialogs::{self, caption_of};
use agentry_platform::windows::desktop::{key_list, menu, probe, KEY_LIST_TITLE};
use agentry_platform::windows::file_access::write_private_file;
use agentry_tests::tools::{command_without_agent, describe, without_user_config};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn agentry() -> Command {
    let mut command = command_without_agent(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A private copy of fixture key `name` in `dir` (agentry refuses key files others may open).
fn private_key(dir: &Path, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keys");
    let to = dir.join(name);
    write_private_file(&to, &std::fs::read(from.join(name)).unwrap()).unwrap();
    to
}

/// The fingerprint `ssh-keygen -lf` would print for fixture `name.pub`.
fn fingerprint_of(name: &str) -> String {
    let key = agentry_tests::fixtures::public_key(name);
    key.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

fn unique_pipe() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\agentry-gui-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Retries `f` every 20 ms until it gives something, for up to 30 s.
fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_for_or(what, f).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// [`wait_for`], `None` when it times out.
fn wait_for_or<T>(_what: &str, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = f() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `agentry start -D -a PIPE` with its tray (and `--no-window` unless `copydata`), killed on
/// drop.
struct Agent {
    child: Child,
    pipe: String,
    tray: usize,
}

impl Agent {
    fn start(copydata: bool) -> Self {
        let pipe = unique_pipe();
        let child = agentry()
            .args(["start", "-D", "-a", &pipe])
            .args((!copydata).then_some("--no-window"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn agentry start -D");
        let mut agent = Self {
            child,
            pipe,
            tray: 0,
        };
        agent.tray = wait_for("the tray window", || probe::find_tray(&agent.pipe));
        // The agent hardens its process before it makes the tray: undo that for list_rows.
        probe::grant_memory_access(agent.pid()).expect("rewrite the agent's process DACL");
        agent
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn client(&self, args: &[&std::ffi::OsStr]) -> Output {
        agentry()
            .env("SSH_AUTH_SOCK", &self.pipe)
            .args(args)
            .output()
            .expect("run agentry")
    }

    fn add(&self, key: &Path) {
        let added = self.client(&["add".as_ref(), key.as_os_str()]);
        assert!(added.status.success(), "{}", describe(&added));
    }

    /// `agentry list`'s lines.
    fn listed(&self) -> String {
        text(&self.client(&["list".as_ref()]).stdout)
    }

    fn menu(&self, id: u16) {
        assert!(probe::post_command(self.tray, id), "post menu command {id}");
    }

    /// Opens the key list as a double-click on the icon does; its window.
    fn open_key_list(&self) -> usize {
        assert!(probe::post_tray_callback(
            self.tray,
            windows_sys_consts::WM_LBUTTONDBLCLK
        ));
        wait_for("the key list", || probe::find_key_list(self.pid()))
    }

    fn caption(&self, what: &str) -> String {
        caption_of(self.pid(), what)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The few window-message numbers the tests post (Win32 values).
mod windows_sys_consts {
    pub(crate) const WM_LBUTTONDBLCLK: u32 = 0x0203;
    pub(crate) const VK_DELETE: u16 = 0x2E;
    pub(crate) const VK_ESCAPE: u16 = 0x1B;
    pub(crate) const IDOK: i32 = 1;
}

/// The key list's rows once `ready` accepts them. Reading another process's list view needs
/// memory access to it, which the agent's hardened DACL refuses to its own user: the test takes
/// it back first, as the process's owner may (see `probe::grant_memory_access`).
fn rows_when(list: usize, what: &str, ready: impl Fn(&[Vec<String>]) -> bool) -> Vec<Vec<String>> {
    let mut last = None;
    let found = wait_for_or(what, || {
        let rows = probe::list_rows(list);
        let ok = rows.as_ref().is_ok_and(|rows| ready(rows.as_slice()));
        let shown = format!("{rows:?}");
        last = Some(shown);
        ok.then(|| rows.unwrap())
    });
    found.unwrap_or_else(|| panic!("timed out waiting for {what}: last read {last:?}"))
}

/// Answers the open-file dialog `caption` with `path`.
fn choose_file(caption: &str, path: &Path) {
    wait_for(&format!("the dialog {caption:?}"), || {
        probe::find_dialog(caption)
    });
    assert!(
        probe::answer_open_dialog(caption, path.to_str().unwrap()),
        "answer {caption:?}"
    );
}

#[test]
fn the_key_list_follows_every_client_and_removes_with_del() {
    let agent = Agent::start(false);
    let dir = tempfile::tempdir().unwrap();
    agent.add(&private_key(dir.path(), "ed25519"));
    let list = agent.open_key_list();
    // SAFETY-free check of the title: the window was found by it.
    assert_eq!(probe::window_text(list), KEY_LIST_TITLE);
    let rows = rows_when(list, "one row", |r| r.len() == 1);
    assert_eq!(rows[0][0], "ssh-ed25519");
    assert_eq!(rows[0][1], "256");
    assert_eq!(rows[0][2], fingerprint_of("ed25519"));
    assert_eq!(rows[0][3], "agentry-test-ed25519");

    // A key added by another client appears without any action in the window.
    agent.add(&private_key(dir.path(), "ecdsa-p256"));
    let rows = rows_when(list, "two rows", |r| r.len() == 2);
    assert_eq!(rows[1][0], "ecdsa-sha2-nistp256");

    // Del on the (selected) first row removes that key from the agent.
    select_first_row(list);
    assert!(probe::press_key_in_list(
        list,
        windows_sys_consts::VK_DELETE
    ));
    let rows = rows_when(list, "the first key removed", |r| r.len() == 1);
    assert_eq!(rows[0][0], "ecdsa-sha2-nistp256");
    assert!(!agent.listed().contains("ED25519"), "{}", agent.listed());

    // Escape closes it.
    assert!(probe::press_key_in_list(
        list,
        windows_sys_consts::VK_ESCAPE
    ));
    wait_for("the key list closed", || {
        probe::find_key_list(agent.pid()).is_none().then_some(())
    });
}

/// Selects the first row the way a click does, with `LVM_SETITEMSTATE` being cross-process
/// unsafe: the Home key in the list view selects the first item.
fn select_first_row(list: usize) {
    const VK_HOME: u16 = 0x24;
    assert!(probe::press_key_in_list(list, VK_HOME));
}

#[test]
fn a_key_added_through_the_window_signs_over_the_pipe_and_wm_copydata() {
    let agent = Agent::start(true);
    let dir = tempfile::tempdir().unwrap();
    let key = private_key(dir.path(), "rsa-2048");
    let list = agent.open_key_list();
    assert!(probe::post_command(list, key_list::ID_ADD));
    choose_file(&agent.caption(dialogs::ADD_KEY), &key);
    let rows = rows_when(list, "the added key", |r| r.len() == 1);
    assert_eq!(rows[0][0], "ssh-rsa");
    assert_eq!(rows[0][1], "2048");
    assert_eq!(rows[0][2], fingerprint_of("rsa-2048"));

    let blob = agentry_tests::fixtures::public_blob("rsa-2048");
    let sign = Request::Sign(SignRequest {
        key_blob: blob,
        data: b"signed after the key list added the key".to_vec(),
        flags: 4, // rsa-sha2-512
    });
    let mut pipe = agentry_platform::client::AgentClient::connect(Path::new(&agent.pipe))
        .expect("connect to the pipe");
    assert!(matches!(pipe.request(&sign), Ok(Response::Signature(_))));
    let frame = agentry_core::frame::encode_frame(&sign.encode());
    let reply = agentry_platform::windows::client::copydata_call("Pageant", &frame)
        .expect("WM_COPYDATA call");
    assert_eq!(reply[0], 14, "SSH2_AGENT_SIGN_RESPONSE over WM_COPYDATA");

    // A key that asks first: over WM_COPYDATA the box names this test as the likely sender,
    // from the thread id in the mapping's name, marked unverified.
    let confirmed = private_key(dir.path(), "ecdsa-p256");
    let added = agent.client(&["add".as_ref(), "-c".as_ref(), confirmed.as_os_str()]);
    assert!(added.status.success(), "{}", describe(&added));
    let sign = Request::Sign(SignRequest {
        key_blob: agentry_tests::fixtures::public_blob("ecdsa-p256"),
        data: b"asks first".to_vec(),
        flags: 0,
    });
    let frame = agentry_core::frame::encode_frame(&sign.encode());
    let call = std::thread::spawn(move || {
        agentry_platform::windows::client::copydata_call("Pageant", &frame).expect("call")
    });
    let caption = agentry_platform::windows::prompt::confirm_caption(agent.pid(), 1);
    let asked = wait_for("the confirmation box", || probe::message_box_text(&caption));
    let me = std::env::current_exe().unwrap();
    let me = me.file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = asked.lines().collect();
    assert_eq!(lines[0], "An unknown program via WM_COPYDATA", "{asked}");
    assert!(
        lines[1].starts_with("Likely sender: ")
            && lines[1].contains(&me)
            && lines[1].contains(&format!("(pid {})", std::process::id()))
            && lines[1].ends_with("(unverified)"),
        "{asked}"
    );
    assert!(lines.contains(&"agentry-test-ecdsa-p256"), "{asked}");
    assert!(agentry_platform::windows::prompt::press_yes(&caption));
    assert_eq!(call.join().unwrap()[0], 14, "signed once confirmed");

    // The Close button closes the window.
    assert!(probe::post_command(list, key_list::ID_CLOSE));
    wait_for("the key list closed", || {
        probe::find_key_list(agent.pid()).is_none().then_some(())
    });
}

#[test]
fn an_unreadable_key_file_gets_a_message_box_with_the_reason() {
    let agent = Agent::start(false);
    let dir = tempfile::tempdir().unwrap();
    let key = private_key(dir.path(), "ed25519-encrypted");
    agent.menu(menu::ADD_KEY);
    choose_file(&agent.caption(dialogs::ADD_KEY), &key);
    // Three wrong passphrases in the dialog, then the reason.
    let asked = agent.caption("passphrase for ed25519-encrypted");
    for _ in 0..3 {
        answer_passphrase(&asked, "wrong");
        wait_for("the dialog closed", || {
            probe::find_dialog(&asked).is_none().then_some(())
        });
    }
    let failed = agent.caption(dialogs::ADD_FAILED);
    let reason = wait_for("the message box", || probe::message_box_text(&failed));
    assert!(reason.contains("incorrect passphrase"), "{reason}");
    let box_ = probe::find_dialog(&failed).unwrap();
    assert!(probe::click(box_, windows_sys_consts::IDOK));
    assert!(
        agent.listed().contains("no identities"),
        "{}",
        agent.listed()
    );
}

#[test]
fn every_tray_menu_item_does_its_work() {
    let agent = Agent::start(false);
    let dir = tempfile::tempdir().unwrap();

    // View Keys.
    agent.menu(menu::VIEW_KEYS);
    let list = wait_for("the key list", || probe::find_key_list(agent.pid()));

    // Add Key (encrypted): listed at once, still encrypted.
    let encrypted = private_key(dir.path(), "ed25519-encrypted");
    private_key(dir.path(), "ed25519-encrypted.pub");
    agent.menu(menu::ADD_KEY_ENCRYPTED);
    choose_file(&agent.caption(dialogs::ADD_KEY_ENCRYPTED), &encrypted);
    let rows = rows_when(list, "the encrypted key", |r| r.len() == 1);
    assert_eq!(rows[0][4], "encrypted");

    // Add Key: a plain key, decrypted.
    agent.menu(menu::ADD_KEY);
    let plain = private_key(dir.path(), "ecdsa-p256");
    choose_file(&agent.caption(dialogs::ADD_KEY), &plain);
    rows_when(list, "two keys", |r| r.len() == 2);

    // Re-encrypt All Keys: the plain key has no encrypted form, which the user is told.
    agent.menu(menu::REENCRYPT_ALL);
    let told = agent.caption("Re-encrypt All Keys");
    let said = wait_for("the re-encrypt note", || probe::message_box_text(&told));
    assert!(said.contains("1 key(s)"), "{said}");
    assert!(probe::click(
        probe::find_dialog(&told).unwrap(),
        windows_sys_consts::IDOK
    ));

    // Lock… then Unlock…, each with the passphrase dialog.
    agent.menu(menu::LOCK_OR_UNLOCK);
    answer_passphrase(&agent.caption(dialogs::LOCK), "tray lock");
    let lock_line = || text(&agent.client(&["status".as_ref()]).stdout);
    wait_for("locked", || {
        lock_line().contains("lock: locked").then_some(())
    });
    rows_when(list, "no rows while locked", <[Vec<String>]>::is_empty);
    agent.menu(menu::LOCK_OR_UNLOCK);
    answer_passphrase(&agent.caption(dialogs::UNLOCK), "tray lock");
    wait_for("unlocked", || {
        lock_line().contains("lock: unlocked").then_some(())
    });
    rows_when(list, "the keys again", |r| r.len() == 2);

    // Remove All Keys.
    agent.menu(menu::REMOVE_ALL);
    rows_when(list, "no keys", <[Vec<String>]>::is_empty);
    assert!(agent.listed().contains("no identities"));

    // About.
    agent.menu(menu::ABOUT);
    let about = agent.caption(dialogs::ABOUT);
    let said = wait_for("the About box", || probe::message_box_text(&about));
    assert!(said.contains(env!("CARGO_PKG_VERSION")), "{said}");
    assert!(said.contains(&agent.pipe), "{said}");
    assert!(probe::click(
        probe::find_dialog(&about).unwrap(),
        windows_sys_consts::IDOK
    ));

    // Exit stops the agent.
    agent.menu(menu::EXIT);
    let mut agent = agent;
    let status = wait_for("the agent to exit", || agent.child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
}

fn answer_passphrase(caption: &str, passphrase: &str) {
    use agentry_platform::windows::prompt::{answer_passphrase_dialog, passphrase_dialog_open};
    wait_for(&format!("the dialog {caption:?}"), || {
        passphrase_dialog_open(caption).then_some(())
    });
    assert!(answer_passphrase_dialog(caption, passphrase));
}

#[test]
fn another_process_opens_the_key_list_by_the_registered_message() {
    let agent = Agent::start(false);
    assert!(probe::find_key_list(agent.pid()).is_none());
    assert!(agentry_platform::windows::desktop::open_key_list_of_running_agent(&agent.pipe));
    let list = wait_for("the key list", || probe::find_key_list(agent.pid()));
    // The fingerprint-type choice switches the column to MD5.
    let dir = tempfile::tempdir().unwrap();
    agent.add(&private_key(dir.path(), "ed25519"));
    rows_when(list, "a SHA256 row", |r| {
        r.len() == 1 && r[0][2].starts_with("SHA256:")
    });
    assert!(probe::choose_md5(list));
    rows_when(list, "an MD5 row", |r| {
        r.len() == 1 && r[0][2].starts_with("MD5:")
    });
    assert!(
        !agentry_platform::windows::desktop::open_key_list_of_running_agent(
            r"\\.\pipe\no-such-agentry"
        )
    );
}
