//! Source positions: byte offsets plus 1-based line and column, as a user reads them in an editor.

use std::fmt;

/// One position in the source text.
///
/// `offset` is a byte offset into the UTF-8 source; `line` and `column` are 1-based, and `column`
/// counts characters (not bytes), the way rustc and editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// A half-open range `[start, end)` of the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    /// The 1-based line where the span starts.
    pub fn line(&self) -> usize {
        self.start.line
    }

    /// The 1-based column (in characters) where the span starts.
    pub fn column(&self) -> usize {
        self.start.column
    }

    /// The byte range, for slicing the source (`&source[span.range()]`).
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start.offset..self.end.offset
    }

    /// True when `other` lies within this span.
    pub fn contains(&self, other: &Span) -> bool {
        self.start.offset <= other.start.offset && other.end.offset <= self.end.offset
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.start.line, self.start.column)
    }
}

/// The byte offset where each line of `text` starts (the first is 0; a final newline starts an empty last line).
pub fn line_starts(text: &str) -> Vec<usize> {
    // One entry per line: a pipeline file has a line per 20 to 40 bytes, so reserve for that.
    let mut starts = Vec::with_capacity(text.len() / 24 + 1);
    starts.push(0);
    starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
    starts
}

/// Maps the parser's character indices to byte offsets.
///
/// NOTE: saphyr-parser counts positions in characters; spans must be byte offsets so callers can
/// slice the source, hence this table (one entry per character, built once per parse).
pub(crate) struct CharIndex {
    /// `None` for ASCII text, where character and byte indices are the same (the common case: no table).
    byte_of_char: Option<Vec<usize>>,
    len: usize,
    line_starts: Vec<usize>,
}

impl CharIndex {
    pub(crate) fn new(source: &str) -> Self {
        let byte_of_char = (!source.is_ascii()).then(|| {
            let mut v: Vec<usize> = source.char_indices().map(|(b, _)| b).collect();
            v.push(source.len());
            v
        });
        let line_starts = line_starts(source);
        CharIndex {
            byte_of_char,
            len: source.len(),
            line_starts,
        }
    }

    /// The byte offset of a parser marker.
    pub(crate) fn byte(&self, m: &saphyr_parser::Marker) -> usize {
        match &self.byte_of_char {
            None => m.index().min(self.len),
            Some(table) => table[m.index().min(table.len() - 1)],
        }
    }

    /// The position of a byte offset (which must lie on a character boundary).
    pub(crate) fn pos_at_byte(&self, source: &str, offset: usize) -> Pos {
        let offset = offset.min(source.len());
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_idx];
        // Columns count characters; in ASCII text (no table) that is the byte distance.
        let column = match self.byte_of_char {
            None => offset - line_start + 1,
            Some(_) => source
                .get(line_start..offset)
                .map_or(1, |s| s.chars().count() + 1),
        };
        Pos {
            offset,
            line: line_idx + 1,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_starts_follow_every_newline() {
        assert_eq!(super::line_starts(""), vec![0]);
        assert_eq!(super::line_starts("a"), vec![0]);
        assert_eq!(super::line_starts("a\n"), vec![0, 2]);
        assert_eq!(super::line_starts("ab\r\n\nc\né\n"), vec![0, 4, 5, 7, 10]);
    }
}
