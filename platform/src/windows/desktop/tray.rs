//! The tray icon and its menu, on the UI thread this module starts and whose message loop it
//! runs. The hidden window (class [`TRAY_CLASS`], titled with the agent's pipe name) owns the
//! notification-area icon, answers the icon's callback (double-click: View Keys; right-click:
//! the menu), the menu's `WM_COMMAND`s, the registered [`OPEN_KEY_LIST_MESSAGE`], Explorer's
//! `TaskbarCreated` (the icon is added again) and two private messages: the agent changed (the
//! tooltip, the icon and an open key list are brought up to date) and a prompt started or ended
//! (the "prompt waiting" icon and a notification naming the key and the program).
//!
//! Invariant: nothing on this thread waits for the agent or a prompt: actions run on worker
//! threads ([`run_action`]), and no `RefCell` borrow is held across a call that can dispatch
//! messages (window procedures re-enter through modal loops).

use super::actions::{add_key_file, desktop, run_action};
use super::TRAY_CLASS;
use super::{dialogs, key_list, wide, Action, Desktop, TrayState, OPEN_KEY_LIST_MESSAGE};
use crate::windows::prompt::waiting;
use std::cell::RefCell;
use std::io;
use std::sync::Arc;
use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, POINT, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Controls::{
    InitCommonControlsEx, ICC_LISTVIEW_CLASSES, ICC_STANDARD_CLASSES, INITCOMMONCONTROLSEX,
};
use windows_sys::Win32::UI::Shell::{
    Shell_NotifyIconW, NIF_ICON, NIF_INFO, NIF_MESSAGE, NIF_TIP, NIIF_INFO, NIM_ADD, NIM_DELETE,
    NIM_MODIFY, NOTIFYICONDATAW,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    AppendMenuW, CreatePopupMenu, CreateWindowExW, DefWindowProcW, DestroyMenu, DestroyWindow,
    DispatchMessageW, GetCursorPos, GetMessageW, GetSystemMetrics, IsDialogMessageW, LoadIconW,
    LoadImageW, PostMessageW, PostQuitMessage, RegisterClassW, RegisterWindowMessageW,
    SetForegroundWindow, TrackPopupMenu, TranslateMessage, HICON, IDI_APPLICATION, IDI_WARNING,
    IMAGE_ICON, LR_DEFAULTCOLOR, MF_GRAYED, MF_POPUP, MF_SEPARATOR, MF_STRING, MSG, SM_CXSMICON,
    SM_CYSMICON, TPM_BOTTOMALIGN, TPM_RIGHTBUTTON, WM_APP, WM_CLOSE, WM_COMMAND, WM_CONTEXTMENU,
    WM_DESTROY, WM_LBUTTONDBLCLK, WM_NULL, WM_RBUTTONUP, WNDCLASSW,
};

/// The tray menu's command ids (`WM_COMMAND`'s low word) and the icon's callback message.
pub mod menu {
    /// The icon's callback message; its `lParam` is the mouse message (`WM_LBUTTONDBLCLK`:
    /// View Keys, `WM_RBUTTONUP`/`WM_CONTEXTMENU`: the menu).
    pub const TRAY_CALLBACK: u32 = windows_sys::Win32::UI::WindowsAndMessaging::WM_APP + 1;
    /// View Keys (also the icon's double-click).
    pub const VIEW_KEYS: u16 = 100;
    /// Add Key: the open-file dialog, the key decrypted now.
    pub const ADD_KEY: u16 = 101;
    /// Add Key (encrypted): the open-file dialog, the key held encrypted until first use.
    pub const ADD_KEY_ENCRYPTED: u16 = 102;
    /// Remove All Keys.
    pub const REMOVE_ALL: u16 = 103;
    /// Re-encrypt All Keys.
    pub const REENCRYPT_ALL: u16 = 104;
    /// Lock… (asks a passphrase) or, while locked, Unlock….
    pub const LOCK_OR_UNLOCK: u16 = 105;
    /// Open Configuration File.
    pub const OPEN_CONFIG: u16 = 106;
    /// About.
    pub const ABOUT: u16 = 107;
    /// Exit: stops the agent.
    pub const EXIT: u16 = 108;
    /// Add Key from OS keyring: the first name's id; the n-th name is `KEYRING_FIRST + n`.
    pub const KEYRING_FIRST: u16 = 200;
    /// How many keyring names the submenu shows.
    pub const KEYRING_MAX: u16 = 50;
}

/// The agent changed.
const WM_AGENT_CHANGED: u32 = WM_APP + 2;

/// The icon id within our window.
const ICON_ID: u32 = 1;

/// The running tray; its window is closed (the icon removed) and its thread joined on drop.
#[derive(Debug)]
pub struct Tray {
    hwnd: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The UI thread's state.
struct Ui {
    hwnd: HWND,
    taskbar_created: u32,
    open_key_list: u32,
    state: TrayState,
    icons: Icons,
}

thread_local! {
    static UI: RefCell<Option<Ui>> = const { RefCell::new(None) };
}

impl Tray {
    pub(super) fn start(desktop: Arc<dyn Desktop>, name: &str) -> io::Result<Self> {
        let name = name.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tray".to_owned())
            .spawn(move || ui_thread(desktop, &name, &ready_tx))?;
        match ready_rx.recv() {
            Ok(Ok(hwnd)) => Ok(Self {
                hwnd,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("the tray thread died")),
        }
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        // SAFETY: posting to a window handle is harmless even if it was destroyed meanwhile.
        unsafe { PostMessageW(self.hwnd as HWND, WM_CLOSE, 0, 0) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Posts [`OPEN_KEY_LIST_MESSAGE`] to the tray window `hwnd` (of any process).
pub(super) fn post_open_key_list(hwnd: usize) -> bool {
    // SAFETY: posting to a window handle is harmless even if it was destroyed meanwhile.
    unsafe { PostMessageW(hwnd as HWND, open_key_list_message(), 0, 0) != 0 }
}

fn open_key_list_message() -> u32 {
    let name = wide(OPEN_KEY_LIST_MESSAGE);
    // SAFETY: `name` is NUL-terminated.
    unsafe { RegisterWindowMessageW(name.as_ptr()) }
}

fn ui_thread(
    desktop: Arc<dyn Desktop>,
    name: &str,
    ready: &std::sync::mpsc::Sender<io::Result<usize>>,
) {
    let controls = INITCOMMONCONTROLSEX {
        dwSize: std::mem::size_of::<INITCOMMONCONTROLSEX>() as u32,
        dwICC: ICC_LISTVIEW_CLASSES | ICC_STANDARD_CLASSES,
    };
    // SAFETY: `controls` is a filled INITCOMMONCONTROLSEX.
    unsafe { InitCommonControlsEx(&controls) };
    let hwnd = match create_window(name) {
        Ok(hwnd) => hwnd,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    super::actions::set_desktop(Some(desktop.clone()));
    let taskbar = wide("TaskbarCreated");
    let state = desktop.state();
    UI.with(|ui| {
        *ui.borrow_mut() = Some(Ui {
            hwnd,
            // SAFETY: `taskbar` is NUL-terminated.
            taskbar_created: unsafe { RegisterWindowMessageW(taskbar.as_ptr()) },
            open_key_list: open_key_list_message(),
            state,
            icons: Icons::load(),
        });
    });
    add_icon();
    let target = hwnd as usize;
    desktop.on_change(Box::new(move || {
        // SAFETY: posting to a window handle is harmless even if it was destroyed meanwhile.
        unsafe { PostMessageW(target as HWND, WM_AGENT_CHANGED, 0, 0) };
    }));
    waiting::set_listener(target);
    let _ = ready.send(Ok(target));
    let mut message: MSG = Default::default();
    // SAFETY: `message` is a live MSG; GetMessageW returns 0 on WM_QUIT and -1 on error.
    while unsafe { GetMessageW(&mut message, std::ptr::null_mut(), 0, 0) } > 0 {
        // The key list gets Tab, Escape and Enter as a dialog does.
        if let Some(list) = key_list::window() {
            // SAFETY: `message` was filled by GetMessageW; `list` is this thread's window.
            if unsafe { IsDialogMessageW(list, &message) } != 0 {
                continue;
            }
        }
        // SAFETY: `message` was filled by GetMessageW.
        unsafe {
            TranslateMessage(&message);
            DispatchMessageW(&message);
        }
    }
    waiting::set_listener(0);
    UI.with(|ui| ui.borrow_mut().take());
    super::actions::set_desktop(None);
}

fn create_window(name: &str) -> io::Result<HWND> {
    // SAFETY: null asks for this executable's module handle.
    let instance = unsafe { GetModuleHandleW(std::ptr::null()) };
    let class_name = wide(TRAY_CLASS);
    let class = WNDCLASSW {
        lpfnWndProc: Some(window_proc),
        hInstance: instance,
        lpszClassName: class_name.as_ptr(),
        ..Default::default()
    };
    // SAFETY: `class` is filled; a second registration in this process fails harmlessly.
    unsafe { RegisterClassW(&class) };
    key_list::register_class(instance);
    let title = wide(name);
    // SAFETY: class and title are NUL-terminated; the window is never shown.
    let hwnd = unsafe {
        CreateWindowExW(
            0,
            class_name.as_ptr(),
            title.as_ptr(),
            0,
            0,
            0,
            0,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            instance,
            std::ptr::null(),
        )
    };
    if hwnd.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(hwnd)
}

/// The icons: ours from the executable's resources (1 normal, 2 locked, 3 prompt waiting),
/// else the system's.
struct Icons {
    normal: HICON,
    locked: HICON,
    waiting: HICON,
}

impl Icons {
    fn load() -> Self {
        Self {
            normal: load_icon(1, IDI_APPLICATION),
            locked: load_icon(2, IDI_APPLICATION),
            waiting: load_icon(3, IDI_WARNING),
        }
    }
}

fn load_icon(id: u16, fallback: *const u16) -> HICON {
    // SAFETY: null asks for this executable's module handle; the id is a MAKEINTRESOURCE.
    let icon = unsafe {
        LoadImageW(
            GetModuleHandleW(std::ptr::null()),
            super::resource_id(id),
            IMAGE_ICON,
            GetSystemMetrics(SM_CXSMICON),
            GetSystemMetrics(SM_CYSMICON),
            LR_DEFAULTCOLOR,
        )
    };
    if icon.is_null() {
        // SAFETY: a system icon id with a null module.
        unsafe { LoadIconW(std::ptr::null_mut(), fallback) }
    } else {
        icon
    }
}

/// The icon's data: icon and tooltip for the current state.
fn icon_data() -> Option<NOTIFYICONDATAW> {
    let waiting = waiting::count();
    UI.with(|ui| {
        let ui = ui.borrow();
        let ui = ui.as_ref()?;
        let mut data = NOTIFYICONDATAW {
            cbSize: std::mem::size_of::<NOTIFYICONDATAW>() as u32,
            hWnd: ui.hwnd,
            uID: ICON_ID,
            uFlags: NIF_MESSAGE | NIF_ICON | NIF_TIP,
            uCallbackMessage: menu::TRAY_CALLBACK,
            ..Default::default()
        };
        data.hIcon = if waiting > 0 {
            ui.icons.waiting
        } else if ui.state.locked {
            ui.icons.locked
        } else {
            ui.icons.normal
        };
        copy_into(&mut data.szTip, &tooltip(ui.state, waiting));
        Some(data)
    })
}

/// The tooltip: key count, lock state, waiting prompts.
fn tooltip(state: TrayState, waiting: usize) -> String {
    let mut tip = match state.keys {
        1 => "agentry: 1 key".to_owned(),
        n => format!("agentry: {n} keys"),
    };
    if state.locked {
        tip.push_str(", locked");
    }
    if waiting > 0 {
        tip.push_str(", a prompt waits");
    }
    tip
}

/// Copies `text` into a fixed UTF-16 field, truncated, NUL-terminated.
fn copy_into(field: &mut [u16], text: &str) {
    let room = field.len() - 1;
    let mut n = 0;
    for (slot, unit) in field.iter_mut().zip(text.encode_utf16().take(room)) {
        *slot = unit;
        n += 1;
    }
    field[n] = 0;
}

fn add_icon() {
    if let Some(data) = icon_data() {
        // SAFETY: `data` is a filled NOTIFYICONDATAW for our window. No notification area
        // (Explorer not running yet) makes it fail; TaskbarCreated adds it later.
        if unsafe { Shell_NotifyIconW(NIM_ADD, &data) } == 0 {
            tracing::debug!("no notification area for the tray icon (yet)");
        }
    }
}

fn update_icon(notice: Option<&str>) {
    let Some(mut data) = icon_data() else { return };
    if let Some(text) = notice {
        data.uFlags |= NIF_INFO;
        data.dwInfoFlags = NIIF_INFO;
        copy_into(&mut data.szInfoTitle, "agentry: a prompt waits");
        copy_into(&mut data.szInfo, text);
    }
    // SAFETY: `data` is a filled NOTIFYICONDATAW for our window.
    unsafe { Shell_NotifyIconW(NIM_MODIFY, &data) };
}

fn remove_icon(hwnd: HWND) {
    let data = NOTIFYICONDATAW {
        cbSize: std::mem::size_of::<NOTIFYICONDATAW>() as u32,
        hWnd: hwnd,
        uID: ICON_ID,
        ..Default::default()
    };
    // SAFETY: `data` names our icon.
    unsafe { Shell_NotifyIconW(NIM_DELETE, &data) };
}

fn command(id: u16) {
    let Some(desktop) = desktop() else { return };
    match id {
        menu::VIEW_KEYS => key_list::open(),
        menu::ADD_KEY => add_key_file(std::ptr::null_mut(), false),
        menu::ADD_KEY_ENCRYPTED => add_key_file(std::ptr::null_mut(), true),
        menu::REMOVE_ALL => run_action("Remove All Keys", || Some(Action::RemoveAll)),
        menu::REENCRYPT_ALL => run_action("Re-encrypt All Keys", || Some(Action::ReencryptAll)),
        menu::LOCK_OR_UNLOCK => {
            if desktop.state().locked {
                run_action("Unlock", || {
                    dialogs::ask_passphrase(dialogs::UNLOCK, "Passphrase to unlock the agent:")
                        .map(Action::Unlock)
                });
            } else {
                run_action("Lock", || {
                    dialogs::ask_passphrase(
                        dialogs::LOCK,
                        "Passphrase to lock the agent with (asked again to unlock it):",
                    )
                    .map(Action::Lock)
                });
            }
        }
        menu::OPEN_CONFIG => run_action("Open Configuration File", || Some(Action::OpenConfig)),
        menu::ABOUT => {
            let text = desktop.about();
            std::thread::spawn(move || {
                dialogs::message(&dialogs::caption(dialogs::ABOUT), &text, false);
            });
        }
        menu::EXIT => run_action("Exit", || Some(Action::Exit)),
        n if (menu::KEYRING_FIRST..menu::KEYRING_FIRST + menu::KEYRING_MAX).contains(&n) => {
            let index = usize::from(n - menu::KEYRING_FIRST);
            if let Some(name) = desktop.keyring_names().into_iter().nth(index) {
                run_action("Add Key from OS keyring", move || {
                    Some(Action::AddFromKeyring(name))
                });
            }
        }
        _ => {}
    }
}

/// Builds and shows the menu at the cursor.
fn show_menu(hwnd: HWND) {
    let Some(desktop) = desktop() else { return };
    let locked = desktop.state().locked;
    let names = desktop.keyring_names();
    // SAFETY: creating menus has no preconditions; each is destroyed below (the submenu with
    // its parent).
    let (popup, keyring) = unsafe { (CreatePopupMenu(), CreatePopupMenu()) };
    let item = |menu, flags, id: usize, text: &str| {
        let text = wide(text);
        // SAFETY: `menu` is ours and `text` NUL-terminated (copied by the call).
        unsafe { AppendMenuW(menu, flags, id, text.as_ptr()) };
    };
    for (n, name) in names
        .iter()
        .take(usize::from(menu::KEYRING_MAX))
        .enumerate()
    {
        item(
            keyring,
            MF_STRING,
            usize::from(menu::KEYRING_FIRST) + n,
            name,
        );
    }
    if names.is_empty() {
        item(
            keyring,
            MF_STRING | MF_GRAYED,
            0,
            "(no keys in the OS keyring)",
        );
    }
    item(popup, MF_STRING, menu::VIEW_KEYS.into(), "&View Keys");
    item(popup, MF_STRING, menu::ADD_KEY.into(), "&Add Key");
    item(
        popup,
        MF_STRING,
        menu::ADD_KEY_ENCRYPTED.into(),
        "Add Key (&encrypted)",
    );
    item(
        popup,
        MF_POPUP,
        keyring as usize,
        "Add Key from OS &keyring…",
    );
    item(popup, MF_SEPARATOR, 0, "");
    item(
        popup,
        MF_STRING,
        menu::REMOVE_ALL.into(),
        "&Remove All Keys",
    );
    item(
        popup,
        MF_STRING,
        menu::REENCRYPT_ALL.into(),
        "Re-e&ncrypt All Keys",
    );
    let lock = if locked { "&Unlock…" } else { "&Lock…" };
    item(popup, MF_STRING, menu::LOCK_OR_UNLOCK.into(), lock);
    item(popup, MF_SEPARATOR, 0, "");
    item(
        popup,
        MF_STRING,
        menu::OPEN_CONFIG.into(),
        "Open &Configuration File",
    );
    item(popup, MF_STRING, menu::ABOUT.into(), "A&bout");
    item(popup, MF_STRING, menu::EXIT.into(), "E&xit");
    let mut at = POINT::default();
    // SAFETY: `at` is a live POINT; the menu and window are ours. The window goes to the
    // foreground first and WM_NULL follows, as TrackPopupMenu's documentation asks, so the
    // menu closes when the user clicks elsewhere.
    unsafe {
        GetCursorPos(&mut at);
        SetForegroundWindow(hwnd);
        TrackPopupMenu(
            popup,
            TPM_RIGHTBUTTON | TPM_BOTTOMALIGN,
            at.x,
            at.y,
            0,
            hwnd,
            std::ptr::null(),
        );
        PostMessageW(hwnd, WM_NULL, 0, 0);
        DestroyMenu(popup);
    }
}

fn agent_changed() {
    let Some(desktop) = desktop() else { return };
    let state = desktop.state();
    UI.with(|ui| {
        if let Some(ui) = ui.borrow_mut().as_mut() {
            ui.state = state;
        }
    });
    update_icon(None);
    key_list::refresh();
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    message: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    let (taskbar_created, open_key_list) = UI.with(|ui| {
        ui.borrow()
            .as_ref()
            .map_or((0, 0), |ui| (ui.taskbar_created, ui.open_key_list))
    });
    match message {
        menu::TRAY_CALLBACK => {
            match (lparam & 0xFFFF) as u32 {
                WM_LBUTTONDBLCLK => key_list::open(),
                WM_RBUTTONUP | WM_CONTEXTMENU => show_menu(hwnd),
                _ => {}
            }
            0
        }
        WM_COMMAND => {
            command((wparam & 0xFFFF) as u16);
            0
        }
        WM_AGENT_CHANGED => {
            agent_changed();
            0
        }
        waiting::WM_PROMPT => {
            let newest = waiting::newest();
            update_icon(newest.as_deref().filter(|_| wparam == 1));
            0
        }
        WM_CLOSE => {
            key_list::close();
            remove_icon(hwnd);
            // SAFETY: `hwnd` is our window, destroyed on its own thread.
            unsafe { DestroyWindow(hwnd) };
            0
        }
        WM_DESTROY => {
            // SAFETY: ends this thread's message loop.
            unsafe { PostQuitMessage(0) };
            0
        }
        m if m != 0 && m == taskbar_created => {
            add_icon();
            0
        }
        m if m != 0 && m == open_key_list => {
            key_list::open();
            0
        }
        // SAFETY: default handling of a message we were given.
        _ => unsafe { DefWindowProcW(hwnd, message, wparam, lparam) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tooltip_says_keys_lock_and_prompts() {
        let state = TrayState {
            keys: 1,
            locked: false,
        };
        assert_eq!(tooltip(state, 0), "agentry: 1 key");
        let state = TrayState {
            keys: 3,
            locked: true,
        };
        assert_eq!(tooltip(state, 2), "agentry: 3 keys, locked, a prompt waits");
    }

    #[test]
    fn long_text_is_cut_and_terminated() {
        let mut field = [1u16; 4];
        copy_into(&mut field, "abcdef");
        assert_eq!(field, [97, 98, 99, 0]);
    }
}
