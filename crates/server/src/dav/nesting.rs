//! How deep the elements of an XML text nest, found by a scan of its bytes before any
//! parser sees it. roxmltree parses an element's content by recursion, one stack frame
//! per level, so a body nested 10,000 deep (70 KB) overflows a worker's stack and aborts
//! the process before a parser could say anything. This scan recurses nowhere.
//!
//! The scan agrees with a parser on every well-formed prefix of a text: it skips
//! comments, CDATA sections, processing instructions and declarations, honours quoted
//! attribute values, counts a start tag one level in (unless it closes itself with
//! `/>`) and an end tag one level out. Where a text stops being well-formed the two may
//! disagree, but the parser stops there too, with an error, having gone no deeper than
//! the scan counted.

/// Whether no element of `text` nests more than `max` deep (the root element is 1).
pub fn within(text: &str, max: usize) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0_usize;
    let mut at = 0;
    while let Some(open) = find(bytes, at, b"<") {
        let rest = &bytes[open + 1..];
        at = if rest.starts_with(b"!--") {
            skip_past(bytes, open + 4, b"-->")
        } else if rest.starts_with(b"![CDATA[") {
            skip_past(bytes, open + 9, b"]]>")
        } else if rest.starts_with(b"?") {
            skip_past(bytes, open + 2, b"?>")
        } else if rest.starts_with(b"!") {
            skip_past(bytes, open + 2, b">")
        } else if rest.starts_with(b"/") {
            depth = depth.saturating_sub(1);
            skip_past(bytes, open + 2, b">")
        } else {
            let (end, closes_itself) = start_tag_end(bytes, open + 1);
            if !closes_itself {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            end
        }
    }
    true
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let haystack = bytes.get(from..)?;
    haystack.windows(needle.len()).position(|w| w == needle).map(|i| from + i)
}

/// Just past the next `needle` from `from`, or the end of the text.
fn skip_past(bytes: &[u8], from: usize, needle: &[u8]) -> usize {
    find(bytes, from, needle).map_or(bytes.len(), |i| i + needle.len())
}

/// Just past the `>` that ends a start tag beginning at `from` (quoted `>` do not end
/// it), and whether the tag ends with `/>`.
fn start_tag_end(bytes: &[u8], from: usize) -> (usize, bool) {
    let mut quote = None;
    let mut previous = 0;
    for (i, &byte) in bytes.iter().enumerate().skip(from) {
        match quote {
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None if byte == b'"' || byte == b'\'' => quote = Some(byte),
            None if byte == b'>' => return (i + 1, previous == b'/'),
            None => {}
        }
        previous = byte;
    }
    (bytes.len(), false)
}

#[cfg(test)]
mod tests {
    use super::within;

    fn nested(depth: usize) -> String {
        format!("{}x{}", "<a>".repeat(depth), "</a>".repeat(depth))
    }

    #[test]
    fn counts_the_levels_of_elements() {
        assert!(within(&nested(64), 64));
        assert!(!within(&nested(65), 64));
        assert!(within("", 0) && within("just text", 0));
        assert!(within("<a/><b/><c/>", 1), "siblings closing themselves");
        assert!(within("<a><b/><c></c></a>", 2) && !within("<a><b/><c></c></a>", 1));
        assert!(!within(&"<a>".repeat(100_000), 64), "never closed");
        assert!(!within("<a  x='1' ><b y=\"/\" >", 1), "a / inside a value closes nothing");
    }

    #[test]
    fn what_is_not_an_element_is_skipped_whole() {
        let hidden = "<a><!-- <b><c><d> --><![CDATA[<e><f>]]><?pi <g><h>?></a>";
        assert!(within(hidden, 1));
        assert!(within("<?xml version='1.0'?><!DOCTYPE a><a x='>' y=\"<b><c>\"/>", 1));
        assert!(!within("<a><!-- --><b><![CDATA[x]]><c/></b></a>", 1));
        // Unterminated constructs end the scan (the parser refuses them anyway).
        assert!(within("<a><!-- <b><c>", 1) && within("<a x='<b><c>", 1));
    }

    #[test]
    fn end_tags_never_take_the_count_below_zero() {
        let closes = "</a>".repeat(1_000);
        assert!(!within(&format!("{closes}{}", "<a>".repeat(65)), 64));
    }
}
