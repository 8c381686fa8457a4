//! Styled text whose width is counted without escape codes, so columns line up with or
//! without colour.

/// What a piece of text is, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Dim,
    Bold,
    Syn,
    Fin,
    Rst,
    Retransmission,
    Phase,
    Good,
    Bad,
}

impl Style {
    /// The SGR escape that starts this style ("" for plain).
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Dim => "\x1b[2m",
            Style::Bold => "\x1b[1m",
            Style::Syn => "\x1b[32m",
            Style::Fin => "\x1b[33m",
            Style::Rst | Style::Bad => "\x1b[1;31m",
            Style::Retransmission => "\x1b[31m",
            Style::Phase => "\x1b[36m",
            Style::Good => "\x1b[32m",
        }
    }
}

/// One line of output as styled spans.
#[derive(Debug, Clone, Default)]
pub(crate) struct Line {
    spans: Vec<(String, Style)>,
    width: usize,
}

impl Line {
    /// Display width so far (one column per char: the ladder only uses narrow characters,
    /// and payload text reaching it was made printable).
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn push(&mut self, text: impl Into<String>, style: Style) {
        let text = text.into();
        if text.is_empty() {
            // An empty styled span would still emit escape codes.
            return;
        }
        self.width += text.chars().count();
        self.spans.push((text, style));
    }

    /// Appends `n` spaces.
    pub fn space(&mut self, n: usize) {
        if n > 0 {
            self.push(" ".repeat(n), Style::Plain);
        }
    }

    /// Pads with spaces up to `width`.
    pub fn pad_to(&mut self, width: usize) {
        self.space(width.saturating_sub(self.width));
    }

    /// Appends another line's spans.
    pub fn append(&mut self, other: Line) {
        for (text, style) in other.spans {
            self.push(text, style);
        }
    }

    /// The text, with ANSI colour if `color`, trailing spaces removed.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for (text, style) in &self.spans {
            if color && *style != Style::Plain {
                out.push_str(style.sgr());
                out.push_str(text);
                out.push_str("\x1b[0m");
            } else {
                out.push_str(text);
            }
        }
        // Trailing padding is invisible; keep files and snapshots clean.
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out
    }
}

/// Builds a line from spans.
pub(crate) fn line(spans: &[(&str, Style)]) -> Line {
    let mut l = Line::default();
    for &(text, style) in spans {
        l.push(text, style);
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_ignores_escapes_and_render_trims() {
        let mut l = line(&[("SYN", Style::Syn), ("  seq 0", Style::Plain)]);
        l.pad_to(20);
        assert_eq!(l.width(), 20);
        assert_eq!(l.render(false), "SYN  seq 0");
        assert_eq!(l.render(true), "\x1b[32mSYN\x1b[0m  seq 0");
    }
}
