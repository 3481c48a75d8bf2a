//! An in-memory dialog template (`DLGTEMPLATE` followed by its `DLGITEMTEMPLATE`s), built at run
//! time for `DialogBoxIndirectParamW` so no resource script is needed. The layout is the
//! documented one: 16-bit words, the header and every item aligned on a 32-bit boundary, no
//! menu, the default dialog class, a caption, a font (`DS_SETFONT`), and each item with a
//! predefined class atom, its text and no creation data.

/// Predefined control classes, by atom.
#[derive(Debug, Clone, Copy)]
pub(super) enum Class {
    Button = 0x0080,
    Edit = 0x0081,
    Static = 0x0082,
}

/// Dialog units: x, y, width, height.
pub(super) type Rect = (i16, i16, i16, i16);

/// A template under construction.
#[derive(Debug)]
pub(super) struct Template {
    words: Vec<u16>,
    count_at: usize,
}

impl Template {
    /// The dialog itself: `style` must include `DS_SETFONT` (the font follows the caption).
    pub(super) fn new(
        style: u32,
        ex_style: u32,
        rect: Rect,
        caption: &str,
        font: (u16, &str),
    ) -> Self {
        let mut words = Vec::new();
        push_u32(&mut words, style);
        push_u32(&mut words, ex_style);
        let count_at = words.len();
        words.push(0);
        push_rect(&mut words, rect);
        words.extend([0, 0]); // no menu, the default dialog class
        push_text(&mut words, caption);
        words.push(font.0);
        push_text(&mut words, font.1);
        Self { words, count_at }
    }

    /// Adds a control (`WS_CHILD | WS_VISIBLE` are added to `style`).
    pub(super) fn item(&mut self, class: Class, id: u16, style: u32, rect: Rect, text: &str) {
        use windows_sys::Win32::UI::WindowsAndMessaging::{WS_CHILD, WS_VISIBLE};
        if self.words.len() % 2 == 1 {
            self.words.push(0);
        }
        push_u32(&mut self.words, style | WS_CHILD | WS_VISIBLE);
        push_u32(&mut self.words, 0);
        push_rect(&mut self.words, rect);
        self.words.push(id);
        self.words.extend([0xFFFF, class as u16]);
        push_text(&mut self.words, text);
        self.words.push(0); // no creation data
        self.words[self.count_at] += 1;
    }

    /// The finished template, in 32-bit words so that it is DWORD-aligned in memory.
    pub(super) fn finish(self) -> Vec<u32> {
        self.words
            .chunks(2)
            .map(|pair| u32::from(pair[0]) | u32::from(pair.get(1).copied().unwrap_or(0)) << 16)
            .collect()
    }
}

fn push_u32(words: &mut Vec<u16>, value: u32) {
    // Little-endian in memory: the low word first.
    words.extend([(value & 0xFFFF) as u16, (value >> 16) as u16]);
}

fn push_rect(words: &mut Vec<u16>, (x, y, cx, cy): Rect) {
    words.extend([x, y, cx, cy].map(|v| v as u16));
}

fn push_text(words: &mut Vec<u16>, text: &str) {
    words.extend(text.encode_utf16().filter(|&c| c != 0));
    words.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_dword_aligned_and_counted() {
        let mut t = Template::new(0x40, 0, (0, 0, 10, 10), "abc", (8, "X"));
        // style 2 + ex 2 + count 1 + rect 4 + menu/class 2 + "abc\0" 4 + size 1 + "X\0" 2 = 18
        assert_eq!(t.words.len(), 18);
        t.item(Class::Edit, 7, 0, (1, 2, 3, 4), "");
        assert_eq!(t.words[18], 0); // WS_CHILD | WS_VISIBLE low word
        assert_eq!(t.words[18 + 8], 7);
        assert_eq!(&t.words[18 + 9..18 + 11], &[0xFFFF, 0x81]);
        t.item(Class::Button, 1, 0, (0, 0, 1, 1), "OK");
        // First item: 13 words, padded to 14, so the second starts at 18 + 14.
        assert_eq!(t.words[18 + 14 + 8], 1);
        assert_eq!(t.words[4], 2);
        let dwords = t.finish();
        assert_eq!(dwords[0], 0x40);
    }
}
