//! The key list window, `agentry Key List`, on the tray's UI thread: a fingerprint-type choice,
//! a report-mode list view (Type, Size, Fingerprint, Comment, State) and the buttons Add Key,
//! Add Key (encrypted), Remove, Re-encrypt, Close. Del removes the selected keys, Escape
//! closes, Tab moves between controls (the tray's message loop passes messages through
//! `IsDialogMessageW`). The rows are read again from the [`Desktop`] whenever the agent says it
//! changed, whoever changed it.
//!
//! Invariant: the rows shown and `blobs` always come from the same read, so a row's index
//! names the key the user sees in it.

use super::actions;
use super::{wide, Action, FingerprintKind, KEY_LIST_TITLE};
use std::cell::RefCell;
use windows_sys::Win32::Foundation::{HINSTANCE, HWND, LPARAM, LRESULT, RECT, WPARAM};
use windows_sys::Win32::Graphics::Gdi::{GetStockObject, DEFAULT_GUI_FONT};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Controls::{
    LVCFMT_LEFT, LVCF_FMT, LVCF_TEXT, LVCF_WIDTH, LVCOLUMNW, LVIF_TEXT, LVITEMW,
    LVM_DELETEALLITEMS, LVM_GETNEXTITEM, LVM_INSERTCOLUMNW, LVM_INSERTITEMW, LVM_SETCOLUMNWIDTH,
    LVM_SETEXTENDEDLISTVIEWSTYLE, LVM_SETITEMTEXTW, LVNI_SELECTED, LVN_KEYDOWN,
    LVS_EX_FULLROWSELECT, LVS_REPORT, LVS_SHOWSELALWAYS, NMHDR, NMLVKEYDOWN,
};
use windows_sys::Win32::UI::HiDpi::GetDpiForWindow;
use windows_sys::Win32::UI::Input::KeyboardAndMouse::{SetFocus, VK_DELETE};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, GetClientRect, GetDlgItem, LoadIconW,
    LoadImageW, MoveWindow, RegisterClassW, SendMessageW, SetForegroundWindow, SetWindowPos,
    ShowWindow, BS_PUSHBUTTON, CBN_SELCHANGE, CBS_DROPDOWNLIST, CB_ADDSTRING, CB_GETCURSEL,
    CB_SETCURSEL, CW_USEDEFAULT, HMENU, IDCANCEL, IDI_APPLICATION, IMAGE_ICON, LR_DEFAULTSIZE,
    SWP_NOMOVE, SWP_NOZORDER, SW_SHOW, WM_CLOSE, WM_COMMAND, WM_DESTROY, WM_DPICHANGED, WM_NOTIFY,
    WM_SETFONT, WM_SIZE, WNDCLASSW, WS_BORDER, WS_CHILD, WS_EX_CONTROLPARENT, WS_GROUP,
    WS_OVERLAPPEDWINDOW, WS_TABSTOP, WS_VISIBLE, WS_VSCROLL,
};

/// The window class.
pub const CLASS: &str = "agentry key list";
/// The fingerprint-type combo box (SHA256, MD5).
pub const ID_FINGERPRINT: u16 = 10;
/// The list view.
pub const ID_LIST: u16 = 11;
/// Add Key.
pub const ID_ADD: u16 = 20;
/// Add Key (encrypted).
pub const ID_ADD_ENCRYPTED: u16 = 21;
/// Remove (the selected keys).
pub const ID_REMOVE: u16 = 22;
/// Re-encrypt (the selected keys).
pub const ID_REENCRYPT: u16 = 23;
/// Close (also Escape).
pub const ID_CLOSE: u16 = IDCANCEL as u16;

/// The columns and their widths at 96 dpi.
pub const COLUMNS: [(&str, i32); 5] = [
    ("Type", 110),
    ("Size", 50),
    ("Fingerprint", 330),
    ("Comment", 180),
    ("State", 150),
];

const BUTTONS: [(u16, &str); 5] = [
    (ID_ADD, "&Add Key"),
    (ID_ADD_ENCRYPTED, "Add Key (&encrypted)"),
    (ID_REMOVE, "&Remove"),
    (ID_REENCRYPT, "Re-e&ncrypt"),
    (ID_CLOSE, "&Close"),
];

struct ListWindow {
    hwnd: HWND,
    kind: FingerprintKind,
    blobs: Vec<Vec<u8>>,
}

thread_local! {
    static LIST: RefCell<Option<ListWindow>> = const { RefCell::new(None) };
}

/// The open key list window, if any.
pub(super) fn window() -> Option<HWND> {
    LIST.with(|l| l.borrow().as_ref().map(|l| l.hwnd))
}

pub(super) fn register_class(instance: HINSTANCE) {
    let class_name = wide(CLASS);
    let class = WNDCLASSW {
        lpfnWndProc: Some(window_proc),
        hInstance: instance,
        lpszClassName: class_name.as_ptr(),
        hIcon: app_icon(),
        // COLOR_BTNFACE + 1: the dialog background.
        hbrBackground: 16 as _,
        ..Default::default()
    };
    // SAFETY: `class` is filled; a second registration in this process fails harmlessly.
    unsafe { RegisterClassW(&class) };
}

fn app_icon() -> windows_sys::Win32::UI::WindowsAndMessaging::HICON {
    // SAFETY: our executable's icon resource 1, else the system's.
    unsafe {
        let icon = LoadImageW(
            GetModuleHandleW(std::ptr::null()),
            super::resource_id(1),
            IMAGE_ICON,
            0,
            0,
            LR_DEFAULTSIZE,
        );
        if icon.is_null() {
            LoadIconW(std::ptr::null_mut(), IDI_APPLICATION)
        } else {
            icon
        }
    }
}

/// Opens the window, or brings it to the front.
pub(super) fn open() {
    if let Some(hwnd) = window() {
        // SAFETY: `hwnd` is this thread's window.
        unsafe { SetForegroundWindow(hwnd) };
        return;
    }
    let Some(hwnd) = create() else { return };
    LIST.with(|l| {
        *l.borrow_mut() = Some(ListWindow {
            hwnd,
            kind: FingerprintKind::Sha256,
            blobs: Vec::new(),
        });
    });
    refresh();
    layout(hwnd);
    // SAFETY: `hwnd` is our window; the list view exists.
    unsafe {
        ShowWindow(hwnd, SW_SHOW);
        SetForegroundWindow(hwnd);
        SetFocus(GetDlgItem(hwnd, ID_LIST.into()));
    }
}

/// Closes the window if open.
pub(super) fn close() {
    if let Some(hwnd) = window() {
        // SAFETY: `hwnd` is this thread's window.
        unsafe { DestroyWindow(hwnd) };
    }
}

fn create() -> Option<HWND> {
    // SAFETY: null asks for this executable's module handle.
    let instance = unsafe { GetModuleHandleW(std::ptr::null()) };
    let (class, title) = (wide(CLASS), wide(KEY_LIST_TITLE));
    // SAFETY: class and title are NUL-terminated; the class was registered by the tray.
    let hwnd = unsafe {
        CreateWindowExW(
            WS_EX_CONTROLPARENT,
            class.as_ptr(),
            title.as_ptr(),
            WS_OVERLAPPEDWINDOW,
            CW_USEDEFAULT,
            CW_USEDEFAULT,
            1000,
            380,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            instance,
            std::ptr::null(),
        )
    };
    if hwnd.is_null() {
        tracing::warn!(
            "cannot open the key list: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    let scale = |n: i32| n * dpi(hwnd) / 96;
    // SAFETY: resizing our window for its monitor's DPI.
    unsafe {
        SetWindowPos(
            hwnd,
            std::ptr::null_mut(),
            0,
            0,
            scale(1000),
            scale(380),
            SWP_NOMOVE | SWP_NOZORDER,
        )
    };
    let child = |class: &str, text: &str, style: u32, id: u16| {
        let (class, text) = (wide(class), wide(text));
        // SAFETY: the strings are NUL-terminated; `hwnd` is our window; the id is a child id.
        let control = unsafe {
            CreateWindowExW(
                0,
                class.as_ptr(),
                text.as_ptr(),
                WS_CHILD | WS_VISIBLE | style,
                0,
                0,
                0,
                0,
                hwnd,
                usize::from(id) as HMENU,
                instance,
                std::ptr::null(),
            )
        };
        // SAFETY: a stock font needs no cleanup; `control` may be null (then nothing happens).
        unsafe {
            SendMessageW(
                control,
                WM_SETFONT,
                GetStockObject(DEFAULT_GUI_FONT) as usize,
                1,
            )
        };
        control
    };
    child("STATIC", "&Fingerprint:", 0, 0xFFFF);
    let combo = child(
        "COMBOBOX",
        "",
        CBS_DROPDOWNLIST as u32 | WS_TABSTOP | WS_VSCROLL | WS_GROUP,
        ID_FINGERPRINT,
    );
    for name in ["SHA256", "MD5"] {
        let name = wide(name);
        // SAFETY: `name` is NUL-terminated and copied by the combo box.
        unsafe { SendMessageW(combo, CB_ADDSTRING, 0, name.as_ptr() as LPARAM) };
    }
    // SAFETY: selecting the first entry of our combo box.
    unsafe { SendMessageW(combo, CB_SETCURSEL, 0, 0) };
    let list = child(
        "SysListView32",
        "",
        LVS_REPORT | LVS_SHOWSELALWAYS | WS_BORDER | WS_TABSTOP | WS_GROUP,
        ID_LIST,
    );
    // SAFETY: a style change on our list view.
    unsafe {
        SendMessageW(
            list,
            LVM_SETEXTENDEDLISTVIEWSTYLE,
            LVS_EX_FULLROWSELECT as usize,
            LVS_EX_FULLROWSELECT as isize,
        )
    };
    for (n, (name, width)) in COLUMNS.iter().enumerate() {
        let mut name = wide(name);
        let column = LVCOLUMNW {
            mask: LVCF_TEXT | LVCF_WIDTH | LVCF_FMT,
            fmt: LVCFMT_LEFT,
            cx: scale(*width),
            pszText: name.as_mut_ptr(),
            ..Default::default()
        };
        // SAFETY: `column` and its text outlive the synchronous call.
        unsafe { SendMessageW(list, LVM_INSERTCOLUMNW, n, &column as *const _ as LPARAM) };
    }
    for (n, (id, text)) in BUTTONS.iter().enumerate() {
        let group = if n == 0 { WS_GROUP } else { 0 };
        child(
            "BUTTON",
            text,
            BS_PUSHBUTTON as u32 | WS_TABSTOP | group,
            *id,
        );
    }
    Some(hwnd)
}

fn dpi(hwnd: HWND) -> i32 {
    // SAFETY: any window handle; 0 for an invalid one.
    match unsafe { GetDpiForWindow(hwnd) } {
        0 => 96,
        n => i32::try_from(n).unwrap_or(96),
    }
}

/// Places the controls for the window's size and DPI.
fn layout(hwnd: HWND) {
    let scale = |n: i32| n * dpi(hwnd) / 96;
    let mut client = RECT::default();
    // SAFETY: `client` is a live RECT.
    unsafe { GetClientRect(hwnd, &mut client) };
    let (width, height) = (client.right, client.bottom);
    let place = |id: u16, x: i32, y: i32, w: i32, h: i32| {
        // SAFETY: moving our own child window.
        unsafe { MoveWindow(GetDlgItem(hwnd, id.into()), x, y, w, h, 1) };
    };
    let (margin, button_h, button_w) = (scale(8), scale(26), scale(130));
    place(0xFFFF, margin, margin + scale(4), scale(70), scale(20));
    place(
        ID_FINGERPRINT,
        margin + scale(74),
        margin,
        scale(110),
        scale(200),
    );
    let list_top = margin + scale(32);
    let list_h = (height - list_top - button_h - 2 * margin).max(scale(40));
    place(ID_LIST, margin, list_top, width - 2 * margin, list_h);
    let y = height - margin - button_h;
    for (n, (id, _)) in BUTTONS.iter().enumerate() {
        let x = if *id == ID_CLOSE {
            width - margin - button_w
        } else {
            margin + (button_w + margin) * n as i32
        };
        place(*id, x, y, button_w, button_h);
    }
}

/// Reads the rows again and shows them.
pub(super) fn refresh() {
    let Some((hwnd, kind)) = LIST.with(|l| l.borrow().as_ref().map(|l| (l.hwnd, l.kind))) else {
        return;
    };
    let Some(desktop) = actions::desktop() else {
        return;
    };
    let rows = desktop.rows(kind);
    // SAFETY: our window's child.
    let list = unsafe { GetDlgItem(hwnd, ID_LIST.into()) };
    // SAFETY: clearing our list view.
    unsafe { SendMessageW(list, LVM_DELETEALLITEMS, 0, 0) };
    for (n, row) in rows.iter().enumerate() {
        let cells = [
            &row.algorithm,
            &row.bits,
            &row.fingerprint,
            &row.comment,
            &row.state,
        ];
        for (column, cell) in cells.iter().enumerate() {
            let mut text = wide(cell);
            let item = LVITEMW {
                mask: LVIF_TEXT,
                iItem: i32::try_from(n).unwrap_or(i32::MAX),
                iSubItem: column as i32,
                pszText: text.as_mut_ptr(),
                ..Default::default()
            };
            let message = if column == 0 {
                LVM_INSERTITEMW
            } else {
                LVM_SETITEMTEXTW
            };
            // SAFETY: `item` and its text outlive the synchronous call.
            unsafe { SendMessageW(list, message, n, &item as *const _ as LPARAM) };
        }
    }
    // Type, Fingerprint and Comment as wide as their widest cell (or title).
    for column in [0usize, 2, 3] {
        // SAFETY: a width change on our list view; LVSCW_AUTOSIZE_USEHEADER is -2.
        unsafe { SendMessageW(list, LVM_SETCOLUMNWIDTH, column, -2) };
    }
    let blobs = rows.into_iter().map(|r| r.key_blob).collect();
    LIST.with(|l| {
        if let Some(l) = l.borrow_mut().as_mut() {
            l.blobs = blobs;
        }
    });
}

/// The blobs of the selected rows.
fn selected(hwnd: HWND) -> Vec<Vec<u8>> {
    // SAFETY: our window's child.
    let list = unsafe { GetDlgItem(hwnd, ID_LIST.into()) };
    let mut rows = Vec::new();
    let mut at: isize = -1;
    loop {
        // SAFETY: a query of our list view with no pointers.
        at = unsafe { SendMessageW(list, LVM_GETNEXTITEM, at as usize, LVNI_SELECTED as isize) };
        if at < 0 {
            break;
        }
        rows.push(at as usize);
    }
    LIST.with(|l| {
        l.borrow().as_ref().map_or_else(Vec::new, |l| {
            rows.iter()
                .filter_map(|&n| l.blobs.get(n).cloned())
                .collect()
        })
    })
}

fn on_selected(hwnd: HWND, what: &'static str, make: fn(Vec<u8>) -> Action) {
    let blobs = selected(hwnd);
    if blobs.is_empty() {
        return;
    }
    let Some(desktop) = actions::desktop() else {
        return;
    };
    // One worker does them in turn; the last one's failure is reported.
    actions::run_action(what, move || {
        let mut blobs = blobs.into_iter();
        let last = blobs.next_back()?;
        for blob in blobs {
            let _ = desktop.perform(make(blob));
        }
        Some(make(last))
    });
}

fn command(hwnd: HWND, id: u16, code: u16) {
    match id {
        ID_ADD => actions::add_key_file(hwnd, false),
        ID_ADD_ENCRYPTED => actions::add_key_file(hwnd, true),
        ID_REMOVE => on_selected(hwnd, "Remove", Action::Remove),
        ID_REENCRYPT => on_selected(hwnd, "Re-encrypt", Action::Reencrypt),
        ID_CLOSE => {
            // SAFETY: our window, on its own thread.
            unsafe { DestroyWindow(hwnd) };
        }
        ID_FINGERPRINT if u32::from(code) == CBN_SELCHANGE => {
            // SAFETY: a query of our combo box with no pointers.
            let choice = unsafe {
                SendMessageW(GetDlgItem(hwnd, ID_FINGERPRINT.into()), CB_GETCURSEL, 0, 0)
            };
            let kind = if choice == 1 {
                FingerprintKind::Md5
            } else {
                FingerprintKind::Sha256
            };
            LIST.with(|l| {
                if let Some(l) = l.borrow_mut().as_mut() {
                    l.kind = kind;
                }
            });
            refresh();
        }
        _ => {}
    }
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    message: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match message {
        WM_COMMAND => {
            command(hwnd, (wparam & 0xFFFF) as u16, (wparam >> 16) as u16);
            0
        }
        WM_NOTIFY => {
            // SAFETY: for WM_NOTIFY, lParam points to an NMHDR (an NMLVKEYDOWN for
            // LVN_KEYDOWN) valid during the call.
            let header = unsafe { &*(lparam as *const NMHDR) };
            if header.idFrom == usize::from(ID_LIST) && header.code == LVN_KEYDOWN {
                // SAFETY: as above.
                let key = unsafe { &*(lparam as *const NMLVKEYDOWN) };
                if key.wVKey == VK_DELETE {
                    on_selected(hwnd, "Remove", Action::Remove);
                }
            }
            0
        }
        WM_SIZE => {
            layout(hwnd);
            0
        }
        WM_DPICHANGED => {
            // SAFETY: for WM_DPICHANGED, lParam is the suggested RECT, valid during the call.
            let at = unsafe { &*(lparam as *const RECT) };
            // SAFETY: moving our own window; WM_SIZE then lays the controls out again.
            unsafe {
                SetWindowPos(
                    hwnd,
                    std::ptr::null_mut(),
                    at.left,
                    at.top,
                    at.right - at.left,
                    at.bottom - at.top,
                    SWP_NOZORDER,
                )
            };
            0
        }
        WM_CLOSE => {
            // SAFETY: our window, on its own thread.
            unsafe { DestroyWindow(hwnd) };
            0
        }
        WM_DESTROY => {
            LIST.with(|l| l.borrow_mut().take());
            0
        }
        // SAFETY: default handling of a message we were given.
        _ => unsafe { DefWindowProcW(hwnd, message, wparam, lparam) },
    }
}
