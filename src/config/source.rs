//! Source map: every file read while loading a configuration, and byte spans into them.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::preprocess::MAX_FILE_BYTES;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one file of a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end.max(start)).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering `self` and `other` (same file assumed; otherwise `self`).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One file as read: its path (as the user or an include named it) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Given with the file (a configuration passed as text), or read again
    /// from `path` when a diagnostic first needs it: the preprocessor reads
    /// files a line at a time and keeps none of them (issue #19).
    text: OnceLock<String>,
    /// Byte offset of the start of each line, built by the first diagnostic that
    /// needs a line number (a clean 60k-line config never pays for it).
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        SourceFile {
            path,
            text: OnceLock::from(text),
            line_starts: OnceLock::new(),
        }
    }

    /// A file read from disk, whose text is read again if it is needed.
    pub fn on_disk(path: PathBuf) -> SourceFile {
        SourceFile {
            path,
            text: OnceLock::new(),
            line_starts: OnceLock::new(),
        }
    }

    /// The file's text as it was read (invalid UTF-8 replaced, as the
    /// preprocessor did); empty if it can no longer be read. Changed since,
    /// it shows what it holds now.
    pub fn text(&self) -> &str {
        self.text
            .get_or_init(|| read_text(&self.path).map_or_else(|_| String::new(), |(t, _)| t))
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(self.text().match_indices('\n').map(|(i, _)| i + 1));
            starts
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text().len());
        let line_starts = self.line_starts();
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = line_starts.get(line).copied().unwrap_or(0);
        let col = self
            .text()
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let line_starts = self.line_starts();
        let Some(&start) = line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = line_starts
            .get(line)
            .map(|e| e.saturating_sub(1))
            .unwrap_or(self.text().len());
        self.text()
            .get(start..end.max(start))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// A whole file's text (at most [`MAX_FILE_BYTES`]), invalid UTF-8 replaced,
/// and where its first invalid byte was (see [`lossy`]).
pub fn read_text(path: &Path) -> std::io::Result<(String, Option<(usize, u8)>)> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path)?, MAX_FILE_BYTES),
        &mut bytes,
    )?;
    Ok(lossy(bytes))
}

/// Text from bytes as read, invalid UTF-8 replaced, and the offset and value
/// of the first invalid byte. Read a line at a time or whole, a file gives
/// the same text: a line end is never part of an invalid sequence.
pub fn lossy(bytes: Vec<u8>) -> (String, Option<(usize, u8)>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes().get(at).copied().unwrap_or(0);
            (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Some((at, byte)),
            )
        }
    }
}

/// All files read while loading one configuration.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.push(SourceFile::new(path, text))
    }

    /// A file the preprocessor reads from disk (see [`SourceFile::text`]).
    pub fn add_on_disk(&mut self, path: PathBuf) -> FileId {
        self.push(SourceFile::on_disk(path))
    }

    fn push(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn path(&self, id: FileId) -> &Path {
        self.file(id)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new("<unknown>"))
    }

    /// `(path, line, column)` of the start of a span; line and column are 1-based.
    pub fn locate(&self, span: Span) -> (&Path, usize, usize) {
        match self.file(span.file) {
            Some(f) => {
                let (l, c) = f.line_col(span.start as usize);
                (f.path.as_path(), l, c)
            }
            None => (Path::new("<unknown>"), 0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("x".into(), "ab\n标识 x\n".into());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        let x = "ab\n标识 x\n".find('x').unwrap_or(0);
        assert_eq!(f.line_col(x), (2, 4));
        assert_eq!(f.line_text(2), "标识 x");
    }
}
