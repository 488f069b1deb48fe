//! Handshake values that belong to WebSocket rather than HTTP (RFC 6455 §4, §9.1).
//!
//! - [`derive_accept_key`]: `Sec-WebSocket-Accept` from `Sec-WebSocket-Key`, with every step kept
//!   so that a lesson can show them.
//! - [`check_key`]: a `Sec-WebSocket-Key` must be the base64 form of 16 bytes.
//! - [`parse_extension_list`]: the `Sec-WebSocket-Extensions` grammar, which
//!   [`crate::application::websocket::deflate`] reads its parameters from.
//!
//! The HTTP request and response themselves are parsed elsewhere.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};
use thiserror::Error;

/// The GUID that §1.3 and §4.2.2 append to the key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The number of bytes a `Sec-WebSocket-Key` decodes to (§4.1).
pub const KEY_LEN: usize = 16;

/// Every step from `Sec-WebSocket-Key` to `Sec-WebSocket-Accept` (§4.2.2, item 5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptSteps {
    /// The key as sent by the client (not decoded).
    pub key: String,
    /// The key followed by [`GUID`].
    pub concatenated: String,
    /// The SHA-1 digest of `concatenated`.
    pub sha1: [u8; 20],
    /// `sha1` in lower-case hexadecimal.
    pub sha1_hex: String,
    /// `sha1` in base64: the value of `Sec-WebSocket-Accept`.
    pub accept_base64: String,
}

/// A handshake value that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// `Sec-WebSocket-Key` is not base64 (RFC 6455 §4.1, client requirement 7).
    #[error("Sec-WebSocket-Key is not base64 (RFC 6455 §4.1)")]
    KeyNotBase64,
    /// `Sec-WebSocket-Key` decodes to a length other than 16 bytes (§4.1, requirement 7).
    #[error("Sec-WebSocket-Key decodes to {decoded_len} bytes instead of 16 (RFC 6455 §4.1)")]
    KeyWrongLength {
        /// The decoded length.
        decoded_len: usize,
    },
    /// `Sec-WebSocket-Extensions` does not follow the grammar of §9.1.
    #[error("Sec-WebSocket-Extensions: expected {expected} at byte {offset} (RFC 6455 §9.1)")]
    ExtensionSyntax {
        /// The byte offset in the header value.
        offset: usize,
        /// What the grammar expected there.
        expected: &'static str,
    },
}

/// One element of a `Sec-WebSocket-Extensions` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// The parameters in order, as sent.
    pub params: Vec<ExtensionParam>,
}

/// One `name[=value]` parameter of an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam {
    /// The parameter token.
    pub name: String,
    /// The value: a token, or a quoted string after unescaping; `None` when absent.
    pub value: Option<String>,
}

/// Computes `Sec-WebSocket-Accept` from `Sec-WebSocket-Key`, keeping every step.
///
/// §1.3 and §4.2.2: the key, as sent but without leading or trailing whitespace, is followed by
/// the GUID `258EAFA5-E914-47DA-95CA-C5AB0DC85B11`; the SHA-1 hash of that string, in base64, is
/// the accept value. The key is used as text: it is not base64-decoded.
pub fn derive_accept_key(key: &str) -> AcceptSteps {
    let key = key.trim_matches([' ', '\t']);
    let concatenated = format!("{key}{GUID}");
    let sha1: [u8; 20] = Sha1::digest(concatenated.as_bytes()).into();
    let sha1_hex = sha1.iter().map(|byte| format!("{byte:02x}")).collect();
    let accept_base64 = STANDARD.encode(sha1);
    AcceptSteps {
        key: key.to_owned(),
        concatenated,
        sha1,
        sha1_hex,
        accept_base64,
    }
}

/// Checks that a `Sec-WebSocket-Key` is base64 for exactly 16 bytes, and returns those bytes.
pub fn check_key(key: &str) -> Result<[u8; KEY_LEN], HandshakeError> {
    let decoded = STANDARD
        .decode(key)
        .map_err(|_| HandshakeError::KeyNotBase64)?;
    <[u8; KEY_LEN]>::try_from(decoded.as_slice()).map_err(|_| HandshakeError::KeyWrongLength {
        decoded_len: decoded.len(),
    })
}

/// Parses a `Sec-WebSocket-Extensions` value (§9.1) into its elements.
///
/// Empty list elements (`a, , b`) are allowed, as the `#` list rule allows them.
/// Quoted values are unescaped and must then be tokens, as §9.1 requires.
pub fn parse_extension_list(value: &str) -> Result<Vec<Extension>, HandshakeError> {
    let mut cursor = Cursor {
        text: value,
        pos: 0,
    };
    let mut extensions = Vec::new();
    loop {
        cursor.skip_ows();
        match cursor.peek() {
            None => return Ok(extensions),
            Some(',') => {
                cursor.bump();
                continue;
            }
            Some(_) => {}
        }
        let name = cursor.token("an extension token")?;
        let mut params = Vec::new();
        loop {
            cursor.skip_ows();
            match cursor.peek() {
                None | Some(',') => break,
                Some(';') => {
                    cursor.bump();
                    cursor.skip_ows();
                    let param_name = cursor.token("a parameter token")?;
                    cursor.skip_ows();
                    let param_value = if cursor.peek() == Some('=') {
                        cursor.bump();
                        cursor.skip_ows();
                        Some(cursor.value()?)
                    } else {
                        None
                    };
                    params.push(ExtensionParam {
                        name: param_name,
                        value: param_value,
                    });
                }
                Some(_) => return Err(cursor.error("';', ',' or the end")),
            }
        }
        extensions.push(Extension { name, params });
    }
}

impl HandshakeError {
    /// The name of the broken rule, as used for problem keys.
    pub const fn rule(&self) -> &'static str {
        match self {
            HandshakeError::KeyNotBase64 => "KeyNotBase64",
            HandshakeError::KeyWrongLength { .. } => "KeyWrongLength",
            HandshakeError::ExtensionSyntax { .. } => "ExtensionSyntax",
        }
    }

    /// The RFC section that states the rule.
    pub const fn section(&self) -> &'static str {
        match self {
            HandshakeError::KeyNotBase64 | HandshakeError::KeyWrongLength { .. } => "RFC 6455 §4.1",
            HandshakeError::ExtensionSyntax { .. } => "RFC 6455 §9.1",
        }
    }
}

/// A position in a header value.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..)?.chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos = self.pos.saturating_add(c.len_utf8());
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn error(&self, expected: &'static str) -> HandshakeError {
        HandshakeError::ExtensionSyntax {
            offset: self.pos,
            expected,
        }
    }

    fn token(&mut self, expected: &'static str) -> Result<String, HandshakeError> {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.bump();
        }
        match self.text.get(start..self.pos) {
            Some(token) if !token.is_empty() => Ok(token.to_owned()),
            _ => Err(self.error(expected)),
        }
    }

    /// A token or a quoted string whose unescaped content is a token.
    fn value(&mut self) -> Result<String, HandshakeError> {
        if self.peek() != Some('"') {
            return self.token("a token or a quoted string");
        }
        let open = self.pos;
        self.bump();
        let mut content = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("a closing '\"'")),
                Some('"') => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        None => return Err(self.error("an escaped character")),
                        Some(c) => {
                            content.push(c);
                            self.bump();
                        }
                    }
                }
                Some(c) => {
                    content.push(c);
                    self.bump();
                }
            }
        }
        if content.is_empty() || !content.chars().all(is_token_char) {
            return Err(HandshakeError::ExtensionSyntax {
                offset: open,
                expected: "a quoted value that is a token",
            });
        }
        Ok(content)
    }
}

/// A `tchar` of RFC 7230 §3.2.6 (the token characters of RFC 2616 that §9.1 cites).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rfc_6455_section_1_3_example() {
        let steps = derive_accept_key("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            steps.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        // §1.3 gives the digest as 0xb3 0x7a 0x4f 0x2c 0xc0 0x62 0x4f 0x16 0x90 0xf6 0x46 0x06
        // 0xcf 0x38 0x59 0x45 0xb2 0xbe 0xc4 0xea.
        assert_eq!(steps.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(steps.accept_base64, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(steps.key, "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn surrounding_whitespace_is_not_part_of_the_key() {
        let steps = derive_accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t");
        assert_eq!(steps.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(steps.accept_base64, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn rfc_key_decodes_to_16_bytes() {
        assert_eq!(
            check_key("dGhlIHNhbXBsZSBub25jZQ=="),
            Ok(*b"the sample nonce")
        );
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert_eq!(check_key("not base64!"), Err(HandshakeError::KeyNotBase64));
        // "dGhl" is base64 for "the": three bytes.
        assert_eq!(
            check_key("dGhl"),
            Err(HandshakeError::KeyWrongLength { decoded_len: 3 })
        );
        assert_eq!(
            check_key(""),
            Err(HandshakeError::KeyWrongLength { decoded_len: 0 })
        );
    }

    #[test]
    fn extension_list_with_parameters_and_quotes() {
        let list = parse_extension_list(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\" , foo",
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "permessage-deflate");
        assert_eq!(
            list[0].params,
            vec![
                ExtensionParam {
                    name: "client_max_window_bits".into(),
                    value: None
                },
                ExtensionParam {
                    name: "server_max_window_bits".into(),
                    value: Some("10".into())
                },
            ]
        );
        assert_eq!(list[1].name, "foo");
        assert!(list[1].params.is_empty());
    }

    #[test]
    fn empty_elements_are_skipped() {
        let list = parse_extension_list(" , a ,, b ").unwrap();
        let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(parse_extension_list("").unwrap().is_empty());
    }

    #[test]
    fn syntax_errors_are_located() {
        assert_eq!(
            parse_extension_list("a; =1"),
            Err(HandshakeError::ExtensionSyntax {
                offset: 3,
                expected: "a parameter token"
            })
        );
        assert_eq!(
            parse_extension_list("a; b=\"1"),
            Err(HandshakeError::ExtensionSyntax {
                offset: 7,
                expected: "a closing '\"'"
            })
        );
        assert_eq!(
            parse_extension_list("a b"),
            Err(HandshakeError::ExtensionSyntax {
                offset: 2,
                expected: "';', ',' or the end"
            })
        );
        assert_eq!(
            parse_extension_list("a; b=\"x y\""),
            Err(HandshakeError::ExtensionSyntax {
                offset: 5,
                expected: "a quoted value that is a token"
            })
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_or_fails_without_panic(text in "\\PC{0,40}") {
            let _ = parse_extension_list(&text);
            let _ = check_key(&text);
            let steps = derive_accept_key(&text);
            prop_assert_eq!(steps.accept_base64.len(), 28);
        }
    }
}
