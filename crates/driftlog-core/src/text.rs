//! Text encodings of inputs. Terraform and the audit logs write UTF-8, but files pass through
//! other hands: Windows PowerShell's `terraform show -json > plan.json` writes UTF-16 LE with a
//! byte order mark, some editors add a UTF-8 byte order mark. Every reader decodes through
//! here, so each input is read the same way whatever produced it.

/// A text encoding other than plain UTF-8 that an input may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16 {
    Le,
    Be,
}

impl Utf16 {
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Utf16::Le => encoding_rs::UTF_16LE,
            Utf16::Be => encoding_rs::UTF_16BE,
        }
    }
}

/// Whether text starting with `prefix` is UTF-16: by its byte order mark, or, without one, by
/// the zero bytes every ASCII character of JSON (`{`, `[`, whitespace) has in UTF-16.
pub fn sniff_utf16(prefix: &[u8]) -> Option<Utf16> {
    match prefix {
        [0xFF, 0xFE, ..] => Some(Utf16::Le),
        [0xFE, 0xFF, ..] => Some(Utf16::Be),
        [a, 0, b, 0, ..] if json_start(*a) && json_start_or_zero(*b) => Some(Utf16::Le),
        [0, a, 0, b, ..] if json_start(*a) && json_start_or_zero(*b) => Some(Utf16::Be),
        _ => None,
    }
}

fn json_start(b: u8) -> bool {
    matches!(b, b'{' | b'[' | b' ' | b'\t' | b'\r' | b'\n')
}

fn json_start_or_zero(b: u8) -> bool {
    b == 0 || b.is_ascii_graphic() || b.is_ascii_whitespace()
}

/// The whole input as UTF-8 when it is UTF-16, `None` when its bytes are already the text
/// (UTF-8, with or without a byte order mark, which parsers skip). Unpaired surrogates become
/// U+FFFD rather than failing the file: they can only be inside string values.
pub fn to_utf8(bytes: &[u8]) -> Option<String> {
    let encoding = sniff_utf16(bytes)?.encoding();
    let (text, _, _) = encoding.decode(bytes);
    Some(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, le: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] });
        }
        for unit in text.encode_utf16() {
            out.extend(if le {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        out
    }

    #[test]
    fn decodes_utf16_with_and_without_bom() {
        let text = "{\"name\": \"caf\u{e9} \u{1F600}\"}\r\n";
        for le in [true, false] {
            for bom in [true, false] {
                assert_eq!(to_utf8(&utf16(text, le, bom)).as_deref(), Some(text));
            }
        }
    }

    #[test]
    fn leaves_utf8_alone() {
        assert_eq!(to_utf8(b"{\"a\": 1}"), None);
        assert_eq!(to_utf8(b"\xEF\xBB\xBF{\"a\": 1}"), None);
        assert_eq!(to_utf8(b""), None);
        assert_eq!(to_utf8(b"\x1f\x8b\x08\x00"), None);
    }
}
