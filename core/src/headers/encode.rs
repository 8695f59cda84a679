//! Writing address fields: display names as atoms, quoted strings or RFC 2047
//! encoded words, and lines folded at 78 columns (RFC 5322 §2.1.1).
//!
//! An encoded word is only recognised where an atom may stand (RFC 2047 §5);
//! inside a quoted string strict readers show it literally, so a name that
//! needs encoding is never quoted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::RawField;
use crate::address::Address;

/// RFC 5322 §2.1.1: lines SHOULD stay within 78 characters.
const LINE: usize = 78;
/// RFC 2047 §2: an encoded word is at most 75 characters.
const ENCODED_WORD: usize = 75;
const PREFIX: &str = "=?UTF-8?B?";
const SUFFIX: &str = "?=";

/// A header field with `value` folded to fit the line length.
pub(crate) fn field(name: &str, value: &str) -> RawField {
    RawField {
        name: name.to_owned(),
        raw: fold(name.len() + 1, value).into_bytes(),
    }
}

/// `Name <address>, ...` for the given addresses.
pub(crate) fn mailbox_list(addresses: &[&Address]) -> String {
    addresses
        .iter()
        .map(|a| mailbox(a.name.as_deref(), &a.address))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Name <address>`, or the bare address when there is no name.
pub(crate) fn mailbox(name: Option<&str>, address: &str) -> String {
    let name: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let name = name.trim();
    if name.is_empty() {
        address.to_owned()
    } else {
        format!("{} <{address}>", display_name(name))
    }
}

fn display_name(name: &str) -> String {
    // ASCII text that merely looks like an encoded word is encoded too, so a
    // lenient reader cannot decode what was meant literally.
    if !name.is_ascii() || name.contains("=?") {
        encoded_words(name).join(" ")
    } else if is_phrase_of_atoms(name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// RFC 5322 §3.2.3: atoms separated by single spaces need no quotes.
fn is_phrase_of_atoms(name: &str) -> bool {
    name.split(' ').all(|word| {
        !word.is_empty()
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
    })
}

/// The text as UTF-8 base64 encoded words of at most 75 characters each,
/// split between characters: RFC 2047 §5 forbids splitting one across words.
fn encoded_words(text: &str) -> Vec<String> {
    // Base64 turns 3 bytes into 4 characters.
    let max_bytes = (ENCODED_WORD - PREFIX.len() - SUFFIX.len()) / 4 * 3;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        let next = at + c.len_utf8();
        if next - start > max_bytes {
            words.push(encoded_word(&text[start..end]));
            start = end;
        }
        end = next;
    }
    words.push(encoded_word(&text[start..]));
    words
}

fn encoded_word(text: &str) -> String {
    format!("{PREFIX}{}{SUFFIX}", STANDARD.encode(text))
}

/// The field's text after the colon: a space, then `value` with line breaks
/// put at single spaces so no line passes 78 characters where a space allows.
/// `used` is what the line holds before the value (the name and the colon).
fn fold(used: usize, value: &str) -> String {
    // Only a space between two non-space characters may become a fold: a
    // continuation line must not be blank (RFC 5322 §3.2.2).
    let mut pieces: Vec<String> = Vec::new();
    for token in value.split(' ') {
        match pieces.last_mut() {
            Some(last) if token.is_empty() || last.is_empty() || last.ends_with(' ') => {
                last.push(' ');
                last.push_str(token);
            }
            _ => pieces.push(token.to_owned()),
        }
    }
    let mut out = String::with_capacity(value.len() + 8);
    let mut line = used;
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 && line + 1 + piece.len() > LINE {
            out.push_str("\r\n");
            line = 0;
        }
        out.push(' ');
        out.push_str(piece);
        line += 1 + piece.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse_address_list;
    use super::*;

    fn written(name: &str, address: &str) -> String {
        let f = field("From", &mailbox(Some(name), address));
        format!("From:{}", String::from_utf8(f.raw).unwrap())
    }

    /// Reads a written field back the way a mail client does.
    fn read_back(text: &str) -> Address {
        let value = text.split_once(':').unwrap().1.replace("\r\n", "");
        let mut list = parse_address_list(&value);
        assert_eq!(list.len(), 1, "{text}");
        list.remove(0)
    }

    fn encoded_words_of(text: &str) -> Vec<&str> {
        text.split(|c: char| c.is_whitespace() || c == '"')
            .filter(|w| w.starts_with("=?"))
            .collect()
    }

    fn assert_lines_fit(text: &str) {
        for line in text.split("\r\n") {
            assert!(line.len() <= LINE, "{} characters: {line:?}", line.len());
            assert!(!line.trim().is_empty(), "blank line in {text:?}");
        }
    }

    #[test]
    fn a_non_ascii_name_is_an_encoded_word_outside_quotes() {
        let text = written("Jürgen Müller", "erp@contoso.test");
        assert_eq!(
            text,
            "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <erp@contoso.test>"
        );
        assert!(!text.contains('"'));
        assert_eq!(
            read_back(&text),
            Address::with_name("Jürgen Müller", "erp@contoso.test")
        );
    }

    #[test]
    fn long_names_are_split_into_words_of_at_most_75_and_folded() {
        let names = [
            "Ünïcödé ".repeat(20),
            "株式会社テスト営業部門のお客様サポートセンター東京本社第二営業課".to_owned(),
            format!("{}é", "a".repeat(200)),
            "😀".repeat(40),
        ];
        for name in names {
            let name = name.trim();
            let text = written(name, "erp@contoso.test");
            let words = encoded_words_of(&text);
            assert!(words.len() > 1, "{text}");
            for word in &words {
                assert!(
                    word.len() <= ENCODED_WORD,
                    "{} characters: {word}",
                    word.len()
                );
                // Each word decodes on its own: no character is cut in two.
                let payload = &word[PREFIX.len()..word.len() - SUFFIX.len()];
                let bytes = STANDARD.decode(payload).unwrap();
                assert!(String::from_utf8(bytes).is_ok(), "{word}");
            }
            assert_lines_fit(&text);
            assert_eq!(
                read_back(&text),
                Address::with_name(name, "erp@contoso.test"),
                "{text}"
            );
        }
    }

    #[test]
    fn ascii_names_are_quoted_only_when_they_must_be() {
        let cases = [
            ("CronDaemon", "CronDaemon <a@example.com>"),
            ("Jane Doe", "Jane Doe <a@example.com>"),
            ("Doe, Jane", "\"Doe, Jane\" <a@example.com>"),
            ("A \"B\"", "\"A \\\"B\\\"\" <a@example.com>"),
            ("jane@example.com", "\"jane@example.com\" <a@example.com>"),
            ("back\\slash", "\"back\\\\slash\" <a@example.com>"),
            ("J. Doe (Sales)", "\"J. Doe (Sales)\" <a@example.com>"),
            ("two  spaces", "\"two  spaces\" <a@example.com>"),
            ("a;b:c<d>", "\"a;b:c<d>\" <a@example.com>"),
        ];
        for (name, expected) in cases {
            assert_eq!(mailbox(Some(name), "a@example.com"), expected);
            let text = written(name, "a@example.com");
            assert_eq!(
                read_back(&text),
                Address::with_name(name, "a@example.com"),
                "{text}"
            );
        }
    }

    #[test]
    fn names_with_specials_and_non_ascii_are_encoded_not_quoted() {
        for name in ["Müller, Jürgen", "Jörg \"JJ\" <boss@x>", "Zoë @ Sales"] {
            let text = written(name, "a@example.com");
            assert!(!text.contains('"'), "{text}");
            assert_eq!(encoded_words_of(&text).len(), 1, "{text}");
            assert_eq!(read_back(&text), Address::with_name(name, "a@example.com"));
        }
    }

    #[test]
    fn text_that_looks_encoded_is_encoded_to_stay_literal() {
        let name = "=?UTF-8?B?SsO8cmdlbg==?=";
        let text = written(name, "a@example.com");
        assert!(!text.contains('"'), "{text}");
        assert_eq!(read_back(&text), Address::with_name(name, "a@example.com"));
    }

    #[test]
    fn control_characters_never_reach_the_header() {
        assert_eq!(
            mailbox(Some("Evil\r\nBcc: x@example.com"), "a@example.com"),
            "\"EvilBcc: x@example.com\" <a@example.com>"
        );
        assert_eq!(mailbox(Some(" \t "), "a@example.com"), "a@example.com");
    }

    #[test]
    fn long_address_lists_fold_between_addresses() {
        let addresses: Vec<Address> = (0..12)
            .map(|i| Address::with_name(format!("Person {i}"), format!("p{i}@example.com")))
            .collect();
        let f = field("To", &mailbox_list(&addresses.iter().collect::<Vec<_>>()));
        let text = format!("To:{}", String::from_utf8(f.raw).unwrap());
        assert!(text.contains("\r\n "), "{text}");
        assert_lines_fit(&text);
        let value = text[3..].replace("\r\n", "");
        assert_eq!(parse_address_list(&value), addresses);
    }
}
