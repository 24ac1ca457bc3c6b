//! From bytes to records: gzip detection, JSON lines versus one JSON document, and handing each
//! top-level value to the container dispatcher.

use crate::container::{self, Ctx};
use crate::error::{FileError, Rejection};
use crate::sink::Sink;
use flate2::bufread::MultiGzDecoder;
use serde_json::value::RawValue;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The gzip magic number: compression is recognised from content, not from `.gz`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Read a file (gzip or plain).
pub fn read_path(path: &Path, sink: &mut dyn Sink) -> Result<(), FileError> {
    let file = std::fs::File::open(path)?;
    read(file, sink)
}

/// Read an audit log from any byte stream (gzip or plain; JSON lines or one JSON document).
///
/// JSON lines are streamed a line at a time, so a multi-gigabyte Kubernetes audit log needs
/// memory for one line only; a single document (a CloudTrail delivery file) is read whole.
pub fn read(input: impl Read, sink: &mut dyn Sink) -> Result<(), FileError> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let gzip = is_gzip(input.fill_buf()?);
    if gzip {
        let mut decoder = BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(input));
        // Gzip inside gzip: CloudWatch Logs subscription data is gzip'd already, and a Firehose
        // stream with compression on gzips it again.
        let nested = is_gzip(decoder.fill_buf().map_err(FileError::Gzip)?);
        let result = if nested {
            let inner = BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(decoder));
            decode_text(inner, sink)
        } else {
            decode_text(decoder, sink)
        };
        result.map_err(|e| match e {
            FileError::Io(io) => FileError::Gzip(io),
            other => other,
        })
    } else {
        decode_text(input, sink)
    }
}

/// UTF-16 text (a log saved by Windows PowerShell) is transcoded to UTF-8 as it streams; UTF-8,
/// the usual case, is read as it is, without a copy.
fn decode_text(mut input: impl BufRead, sink: &mut dyn Sink) -> Result<(), FileError> {
    let prefix = input.fill_buf()?;
    let Some(utf16) = driftlog_core::text::sniff_utf16(prefix) else {
        return read_text(input, sink);
    };
    let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(utf16.encoding()))
        .bom_override(true)
        .strip_bom(true)
        .build(input);
    read_text(BufReader::with_capacity(256 * 1024, decoder), sink)
}

fn read_text(mut input: impl BufRead, sink: &mut dyn Sink) -> Result<(), FileError> {
    let mut buffer = Buffer::take();
    let line = &mut buffer.0;
    let mut line_no = 0u64;
    // The first line that is not blank decides the layout.
    loop {
        line.clear();
        if input.read_until(b'\n', line)? == 0 {
            return Err(FileError::Empty);
        }
        line_no += 1;
        if line_no == 1 && line.starts_with(b"\xEF\xBB\xBF") {
            line.drain(..3);
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    // The first line is handled as JSON lines unless its first value runs past the line's end:
    // then the file is one document spread over several lines.
    match handle_line(line, line_no, true, sink) {
        Line::Handled => loop {
            line.clear();
            if input.read_until(b'\n', line)? == 0 {
                return Ok(());
            }
            line_no += 1;
            if !line.iter().all(u8::is_ascii_whitespace) {
                handle_line(line, line_no, false, sink);
            }
        },
        Line::FirstValueUnfinished => {
            // A document spread over several lines: read it whole.
            let first_line = line_no;
            input.read_to_end(line)?;
            let doc = &*line;
            // Several documents may follow one another (Firehose writes EventBridge events
            // back to back); every one must parse, or the file is left out whole.
            let text = std::str::from_utf8(doc).map_err(|e| FileError::Json {
                line: first_line as usize,
                column: 0,
                message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            })?;
            let ctx = Ctx::new(text, first_line);
            if container::delivery_file(&ctx, text, sink) {
                return Ok(());
            }
            let mut values = Vec::new();
            for value in serde_json::Deserializer::from_str(text).into_iter::<&RawValue>() {
                values.push(value.map_err(|e| FileError::Json {
                    line: e.line() + first_line as usize - 1,
                    column: e.column(),
                    message: strip_position(&e),
                })?);
            }
            for raw in values {
                container::dispatch(&ctx, raw, raw, String::new(), sink);
            }
            Ok(())
        }
        Line::FirstValueInvalid(e) => Err(FileError::Json {
            line: line_no as usize,
            column: e.column(),
            message: strip_position(&e),
        }),
    }
}

/// The line (or whole document) buffer, kept per thread from one file to the next: a
/// delivery file is read whole, and a fresh buffer for each would be grown, and its pages
/// faulted in and zeroed by the kernel, again for every file.
struct Buffer(Vec<u8>);

thread_local! {
    static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Buffer {
    /// Larger buffers (a huge single-document file) are not kept.
    const KEEP: usize = 64 << 20;

    fn take() -> Self {
        let mut v = BUFFER.take();
        v.clear();
        Buffer(v)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.0.capacity() <= Self::KEEP {
            BUFFER.set(std::mem::take(&mut self.0));
        }
    }
}

/// What became of a line.
enum Line {
    /// Its values went to the sink (or it was rejected there).
    Handled,
    /// Its first value is cut short by the end of the line; nothing was sent to the sink.
    FirstValueUnfinished,
    /// Its first value is not JSON; nothing was sent to the sink.
    FirstValueInvalid(serde_json::Error),
}

/// Send a line's values to the sink. On the file's `first` line, a first value that is cut
/// short or not JSON is reported back instead (the caller decides what the file is).
fn handle_line(line: &[u8], line_no: u64, first: bool, sink: &mut dyn Sink) -> Line {
    let reject = |sink: &mut dyn Sink, reason: String| {
        sink.reject(Rejection {
            location: crate::Location {
                line: line_no,
                pointer: String::new(),
            },
            reason,
        })
    };
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(utf8) => {
            // On the first line, JSON decides first: a document cut short by the line's end.
            let mut values = serde_json::Deserializer::from_slice(line).into_iter::<&RawValue>();
            return match values.next() {
                Some(Err(json)) if first && json.is_eof() => Line::FirstValueUnfinished,
                Some(Err(json)) if first => Line::FirstValueInvalid(json),
                _ => {
                    reject(
                        sink,
                        format!("invalid UTF-8 at byte {} of the line", utf8.valid_up_to()),
                    );
                    Line::Handled
                }
            };
        }
    };
    let ctx = Ctx::new(text, line_no);
    if container::delivery_file(&ctx, text, sink) {
        return Line::Handled;
    }
    // A line may hold several values back to back; the first bad one ends the line.
    for (i, value) in serde_json::Deserializer::from_str(text)
        .into_iter::<&RawValue>()
        .enumerate()
    {
        match value {
            Ok(raw) => container::dispatch(&ctx, raw, raw, String::new(), sink),
            Err(e) if first && i == 0 && e.is_eof() => return Line::FirstValueUnfinished,
            Err(e) if first && i == 0 => return Line::FirstValueInvalid(e),
            Err(e) => {
                reject(
                    sink,
                    format!(
                        "not valid JSON (column {}): {}",
                        e.column(),
                        strip_position(&e)
                    ),
                );
                break;
            }
        }
    }
    Line::Handled
}

/// serde_json appends " at line L column C"; the caller reports the position its own way.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
