//! The WebSocket opening handshake check (RFC 6455 §4): given the parsed HTTP request head
//! and, when captured, the response head, each rule of the handshake becomes a [`Check`]
//! with its RFC section and a sentence for learners, and the whole gets a [`Verdict`].
//!
//! The check also keeps every step of the `Sec-WebSocket-Accept` computation
//! ([`AcceptSteps`]) for teaching views, and the negotiated subprotocol and extensions (the
//! WebSocket codec reads the permessage-deflate parameters from the extension value).

use super::http::Head;
use base64::Engine;

pub use crate::application::websocket::handshake::{derive_accept_key, AcceptSteps};

/// The GUID a server appends to the client's key (RFC 6455 §1.3).
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The rules of the opening handshake that [`check`] verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The request method is GET.
    RequestMethod,
    /// The request is HTTP/1.1 or later.
    RequestVersion,
    /// The request has a Host header.
    Host,
    /// The request's Upgrade header includes `websocket`.
    RequestUpgrade,
    /// The request's Connection header includes the `Upgrade` token.
    RequestConnection,
    /// `Sec-WebSocket-Key` is base64 for 16 bytes.
    Key,
    /// `Sec-WebSocket-Version` is 13.
    Version,
    /// The response status is 101.
    Status,
    /// The response's Upgrade header is `websocket`.
    ResponseUpgrade,
    /// The response's Connection header includes the `Upgrade` token.
    ResponseConnection,
    /// `Sec-WebSocket-Accept` matches the key.
    Accept,
    /// The server's subprotocol is one the client offered.
    Subprotocol,
    /// The server's extensions are among the client's offers.
    Extensions,
}

impl Rule {
    /// A short name for lists.
    pub fn name(self) -> &'static str {
        match self {
            Self::RequestMethod => "Request method",
            Self::RequestVersion => "HTTP version",
            Self::Host => "Host",
            Self::RequestUpgrade => "Upgrade (request)",
            Self::RequestConnection => "Connection (request)",
            Self::Key => "Sec-WebSocket-Key",
            Self::Version => "Sec-WebSocket-Version",
            Self::Status => "Status 101",
            Self::ResponseUpgrade => "Upgrade (response)",
            Self::ResponseConnection => "Connection (response)",
            Self::Accept => "Sec-WebSocket-Accept",
            Self::Subprotocol => "Sec-WebSocket-Protocol",
            Self::Extensions => "Sec-WebSocket-Extensions",
        }
    }

    /// The RFC 6455 section that states the rule.
    pub fn section(self) -> &'static str {
        match self {
            // §4.2.2 defines how the server derives the accept value.
            Self::Accept => "4.2.2",
            // §4.1 lists what the client sends and how it validates the response.
            _ => "4.1",
        }
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The rule.
    pub rule: Rule,
    /// A short name for lists (`Rule::name`).
    pub name: &'static str,
    /// The RFC 6455 section (`Rule::section`), such as `4.2.2`.
    pub section: &'static str,
    /// Whether the handshake follows the rule.
    pub passed: bool,
    /// One or two sentences for learners, quoting what was on the wire.
    pub explanation: String,
}

/// What became of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every rule holds and the server answered 101: WebSocket frames follow.
    Accepted,
    /// The server answered another status: the connection stays HTTP.
    Refused {
        /// The status code.
        status: u16,
    },
    /// The server answered 101 but a rule is broken: a client must fail the connection.
    Failed,
    /// No response was seen yet.
    AwaitingResponse,
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every rule that applies, request rules first.
    pub checks: Vec<Check>,
    /// The accept value the client's key calls for, step by step (when a key was sent).
    pub accept: Option<AcceptSteps>,
    /// The server's `Sec-WebSocket-Accept` value, when sent.
    pub received_accept: Option<String>,
    /// The subprotocol the server selected (`Sec-WebSocket-Protocol` of the response).
    pub subprotocol: Option<String>,
    /// The server's `Sec-WebSocket-Extensions` value (lines joined with `, `), to be read by
    /// the WebSocket codec (permessage-deflate parameters).
    pub extensions: Option<String>,
    /// The overall verdict.
    pub verdict: Verdict,
    /// A sentence that explains the verdict.
    pub summary: String,
}

impl Report {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.passed)
    }

    /// The check of `rule`, when it applies.
    pub fn check(&self, rule: Rule) -> Option<&Check> {
        self.checks.iter().find(|check| check.rule == rule)
    }
}

/// Checks a WebSocket opening handshake: the request head and, when seen, the response head.
pub fn check(request: &Head, response: Option<&Head>) -> Report {
    let mut checks = Vec::new();
    let key = check_request(request, &mut checks);
    let accept = key.as_deref().map(derive_accept_key);
    let Some(response) = response else {
        let summary = if checks.iter().all(|check| check.passed) {
            "The client asked to open a WebSocket connection; the server's answer was not seen."
        } else {
            "The client's handshake request breaks a rule, and the server's answer was not seen."
        };
        return Report {
            checks,
            accept,
            received_accept: None,
            subprotocol: None,
            extensions: None,
            verdict: Verdict::AwaitingResponse,
            summary: summary.to_owned(),
        };
    };
    let status = response.status().unwrap_or(0);
    if status != 101 {
        let summary = refusal(status, response);
        checks.push(outcome(Rule::Status, false, summary.clone()));
        return Report {
            checks,
            accept,
            received_accept: None,
            subprotocol: None,
            extensions: None,
            verdict: Verdict::Refused { status },
            summary,
        };
    }
    checks.push(outcome(
        Rule::Status,
        true,
        "The server answered 101 Switching Protocols: after this response both sides speak the WebSocket protocol."
            .to_owned(),
    ));
    let received_accept = header_text(response, "sec-websocket-accept");
    check_response_headers(response, &mut checks);
    checks.push(check_accept(accept.as_ref(), received_accept.as_deref()));
    let subprotocol = header_text(response, "sec-websocket-protocol");
    checks.push(check_subprotocol(request, response));
    let extensions = header_text(response, "sec-websocket-extensions");
    checks.push(check_extensions(request, response));
    let (verdict, summary) = if checks.iter().all(|check| check.passed) {
        (
            Verdict::Accepted,
            "The handshake follows RFC 6455: WebSocket frames follow on both directions."
                .to_owned(),
        )
    } else {
        let failed: Vec<&str> = checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| check.name)
            .collect();
        (
            Verdict::Failed,
            format!(
                "The server switched protocols, but the handshake breaks RFC 6455 ({}), so a client must fail the WebSocket connection (§4.1).",
                failed.join(", ")
            ),
        )
    };
    Report {
        checks,
        accept,
        received_accept,
        subprotocol,
        extensions,
        verdict,
        summary,
    }
}

/// Checks the request rules; returns the key when one was sent.
fn check_request(request: &Head, checks: &mut Vec<Check>) -> Option<String> {
    let method = request.method().unwrap_or_default();
    checks.push(if method == "GET" {
        outcome(
            Rule::RequestMethod,
            true,
            "The request method is GET, as an opening handshake requires.".to_owned(),
        )
    } else {
        outcome(
            Rule::RequestMethod,
            false,
            format!(
                "The request method is {method}, but an opening handshake must be a GET request."
            ),
        )
    });

    let version = request.version();
    checks.push(outcome(
        Rule::RequestVersion,
        (version.major, version.minor) >= (1, 1),
        if (version.major, version.minor) >= (1, 1) {
            format!("The request uses {version}; the handshake needs HTTP/1.1 or later.")
        } else {
            format!("The request uses {version}, but the handshake needs HTTP/1.1 or later.")
        },
    ));

    checks.push(match header_text(request, "host") {
        Some(host) => outcome(
            Rule::Host,
            true,
            format!("The Host header names the server ({host})."),
        ),
        None => outcome(
            Rule::Host,
            false,
            "The Host header is missing; a handshake request must name the server it is for."
                .to_owned(),
        ),
    });

    checks.push(match header_text(request, "upgrade") {
        Some(_) if request.has_token("upgrade", "websocket") => outcome(
            Rule::RequestUpgrade,
            true,
            "Upgrade includes websocket: the client asks the server to switch this connection to the WebSocket protocol."
                .to_owned(),
        ),
        Some(value) => outcome(
            Rule::RequestUpgrade,
            false,
            format!("Upgrade is \"{value}\", which does not include the websocket keyword."),
        ),
        None => outcome(
            Rule::RequestUpgrade,
            false,
            "The Upgrade header is missing, so nothing asks the server to switch to WebSocket.".to_owned(),
        ),
    });

    checks.push(connection_check(
        Rule::RequestConnection,
        request,
        "request",
    ));

    let keys: Vec<String> = request
        .headers_named("sec-websocket-key")
        .map(|header| header.value_text().into_owned())
        .collect();
    let key = keys.first().cloned();
    checks.push(match keys.as_slice() {
        [] => outcome(
            Rule::Key,
            false,
            "Sec-WebSocket-Key is missing; the client must send a random key for the server to answer.".to_owned(),
        ),
        [key] => key_check(key),
        _ => outcome(
            Rule::Key,
            false,
            format!("Sec-WebSocket-Key appears {} times; the client must send exactly one key.", keys.len()),
        ),
    });

    checks.push(match header_text(request, "sec-websocket-version") {
        Some(version) if version == "13" => outcome(
            Rule::Version,
            true,
            "Sec-WebSocket-Version is 13, the version RFC 6455 defines.".to_owned(),
        ),
        Some(version) => outcome(
            Rule::Version,
            false,
            format!("Sec-WebSocket-Version is {version}, but RFC 6455 requires 13 (lower numbers are drafts)."),
        ),
        None => outcome(
            Rule::Version,
            false,
            "Sec-WebSocket-Version is missing; the client must send 13.".to_owned(),
        ),
    });
    key
}

fn key_check(key: &str) -> Check {
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(bytes) if bytes.len() == 16 => outcome(
            Rule::Key,
            true,
            format!("Sec-WebSocket-Key {key} is base64 for 16 random bytes, as required."),
        ),
        Ok(bytes) => outcome(
            Rule::Key,
            false,
            format!(
                "Sec-WebSocket-Key {key} decodes to {} bytes, but the key must be 16 random bytes in base64.",
                bytes.len()
            ),
        ),
        Err(_) => outcome(
            Rule::Key,
            false,
            format!("Sec-WebSocket-Key {key} is not valid base64; the key must be 16 random bytes in base64."),
        ),
    }
}

fn connection_check(rule: Rule, head: &Head, side: &str) -> Check {
    match header_text(head, "connection") {
        Some(_) if head.has_token("connection", "upgrade") => outcome(
            rule,
            true,
            format!(
                "Connection includes the Upgrade token, so the {side}'s Upgrade header is meant for the other end of this connection."
            ),
        ),
        Some(value) => outcome(
            rule,
            false,
            format!("Connection is \"{value}\" and does not include the Upgrade token, so the Upgrade header would be ignored."),
        ),
        None => outcome(
            rule,
            false,
            format!("The {side} has no Connection header; it must include the Upgrade token."),
        ),
    }
}

fn check_response_headers(response: &Head, checks: &mut Vec<Check>) {
    checks.push(match header_text(response, "upgrade") {
        Some(value) if value.eq_ignore_ascii_case("websocket") => outcome(
            Rule::ResponseUpgrade,
            true,
            "The response's Upgrade header is websocket: the server switches to the WebSocket protocol.".to_owned(),
        ),
        Some(value) => outcome(
            Rule::ResponseUpgrade,
            false,
            format!("The response's Upgrade header is \"{value}\", but it must be websocket."),
        ),
        None => outcome(
            Rule::ResponseUpgrade,
            false,
            "The response has no Upgrade header; it must say websocket.".to_owned(),
        ),
    });
    checks.push(connection_check(
        Rule::ResponseConnection,
        response,
        "response",
    ));
}

fn check_accept(expected: Option<&AcceptSteps>, received: Option<&str>) -> Check {
    match (expected, received) {
        (Some(steps), Some(received)) if steps.accept_base64 == received => outcome(
            Rule::Accept,
            true,
            format!(
                "Sec-WebSocket-Accept is base64(SHA-1(key + {ACCEPT_GUID})) = {received}, which proves the server read this handshake."
            ),
        ),
        (Some(steps), Some(received)) => outcome(
            Rule::Accept,
            false,
            format!(
                "Sec-WebSocket-Accept is {received}, but base64(SHA-1(key + {ACCEPT_GUID})) is {}.",
                steps.accept_base64
            ),
        ),
        (_, None) => outcome(
            Rule::Accept,
            false,
            "The response has no Sec-WebSocket-Accept header, so nothing proves the server read the key.".to_owned(),
        ),
        (None, Some(received)) => outcome(
            Rule::Accept,
            false,
            format!("Sec-WebSocket-Accept is {received}, but the request sent no key to derive it from."),
        ),
    }
}

fn check_subprotocol(request: &Head, response: &Head) -> Check {
    let offered = request.list("sec-websocket-protocol");
    let selected = response.list("sec-websocket-protocol");
    match selected.as_slice() {
        [] => outcome(Rule::Subprotocol, true, "The server selected no subprotocol.".to_owned()),
        [chosen] if offered.iter().any(|offer| offer == chosen) => outcome(
            Rule::Subprotocol,
            true,
            format!("The server selected the subprotocol {chosen}, which the client offered."),
        ),
        [chosen] if offered.is_empty() => outcome(
            Rule::Subprotocol,
            false,
            format!("The server selected the subprotocol {chosen}, but the client offered none."),
        ),
        [chosen] => outcome(
            Rule::Subprotocol,
            false,
            format!(
                "The server selected the subprotocol {chosen}, which is not among the client's offers ({}).",
                offered.join(", ")
            ),
        ),
        _ => outcome(
            Rule::Subprotocol,
            false,
            format!("The server named several subprotocols ({}), but it must select one.", selected.join(", ")),
        ),
    }
}

fn check_extensions(request: &Head, response: &Head) -> Check {
    let offered: Vec<String> = extension_names(request);
    let accepted: Vec<String> = extension_names(response);
    if accepted.is_empty() {
        return outcome(
            Rule::Extensions,
            true,
            "The server enabled no extension.".to_owned(),
        );
    }
    let unknown: Vec<&str> = accepted
        .iter()
        .filter(|name| !offered.iter().any(|offer| offer.eq_ignore_ascii_case(name)))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        outcome(
            Rule::Extensions,
            true,
            format!(
                "The server enabled {}, which the client offered.",
                accepted.join(", ")
            ),
        )
    } else {
        outcome(
            Rule::Extensions,
            false,
            format!(
                "The server enabled {}, which the client did not offer.",
                unknown.join(", ")
            ),
        )
    }
}

/// The extension names of every `Sec-WebSocket-Extensions` line (commas inside quoted
/// parameter values do not split).
fn extension_names(head: &Head) -> Vec<String> {
    let mut names = Vec::new();
    for header in head.headers_named("sec-websocket-extensions") {
        let value = header.value_text();
        let mut quoted = false;
        let mut element = String::new();
        for ch in value.chars().chain(std::iter::once(',')) {
            match ch {
                '"' => {
                    quoted = !quoted;
                    element.push(ch);
                }
                ',' if !quoted => {
                    let name = element.split(';').next().unwrap_or_default().trim();
                    if !name.is_empty() {
                        names.push(name.to_owned());
                    }
                    element.clear();
                }
                _ => element.push(ch),
            }
        }
    }
    names
}

fn refusal(status: u16, response: &Head) -> String {
    let versions = response.list("sec-websocket-version");
    match status {
        426 if !versions.is_empty() => format!(
            "The server refused with 426 Upgrade Required and lists the versions it speaks in Sec-WebSocket-Version ({}) (RFC 6455 §4.4).",
            versions.join(", ")
        ),
        400 => "The server refused with 400 Bad Request: it found the handshake request invalid (RFC 6455 §4.2.1).".to_owned(),
        401 | 407 => format!(
            "The server answered {status}: it wants authentication before it opens a WebSocket connection (RFC 6455 §4.1)."
        ),
        403 => "The server refused with 403 Forbidden, which is how a server turns down an origin it does not accept (RFC 6455 §4.2.2).".to_owned(),
        300..=399 => {
            let location = header_text(response, "location").unwrap_or_else(|| "no Location header".to_owned());
            format!("The server answered {status}, a redirect ({location}); the client may retry there (RFC 6455 §4.1).")
        }
        0 => "The response has no status code.".to_owned(),
        _ => format!(
            "The server answered {status} instead of 101 Switching Protocols, so the handshake was refused and the connection stays HTTP (RFC 6455 §4.1)."
        ),
    }
}

/// The values of every line named `name`, joined with `, `.
fn header_text(head: &Head, name: &str) -> Option<String> {
    let values: Vec<String> = head
        .headers_named(name)
        .map(|header| header.value_text().into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn outcome(rule: Rule, passed: bool, explanation: String) -> Check {
    Check {
        rule,
        name: rule.name(),
        section: rule.section(),
        passed,
        explanation,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::application::http::{Limits, MessageKind};

    fn head(kind: MessageKind, bytes: &[u8]) -> Head {
        let (len, head) = Head::parse(kind, bytes, 0, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(len, bytes.len());
        head
    }

    /// The RFC 6455 §1.3 request, with `replace` applied to its text.
    fn request_with(replace: &[(&str, &str)]) -> Head {
        let mut text = String::from(
            "GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n",
        );
        for (from, to) in replace {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        head(MessageKind::Request, text.as_bytes())
    }

    /// The RFC 6455 §1.3 response, with `replace` applied to its text.
    fn response_with(replace: &[(&str, &str)]) -> Head {
        let mut text = String::from(
            "HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\r\n",
        );
        for (from, to) in replace {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        head(MessageKind::Response, text.as_bytes())
    }

    fn failed_rules(report: &Report) -> Vec<Rule> {
        report.failures().map(|check| check.rule).collect()
    }

    #[test]
    fn rfc_6455_example_is_accepted_with_every_step() {
        let report = check(&request_with(&[]), Some(&response_with(&[])));
        assert_eq!(
            report.verdict,
            Verdict::Accepted,
            "{:?}",
            report.failures().collect::<Vec<_>>()
        );
        assert_eq!(report.checks.len(), 13);
        let steps = report.accept.as_ref().unwrap();
        assert_eq!(steps.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            steps.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        // The digest RFC 6455 §1.3 prints: 0xb3 0x7a 0x4f 0x2c ... 0xc4 0xea.
        assert_eq!(steps.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(steps.accept_base64, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            report.received_accept.as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        assert_eq!(report.subprotocol.as_deref(), Some("chat"));
        assert_eq!(report.extensions, None);
        let accept = report.check(Rule::Accept).unwrap();
        assert_eq!(accept.section, "4.2.2");
        assert!(accept.explanation.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn wrong_accept_fails_the_connection() {
        // A 30-character value cannot even be the base64 of a 20-byte SHA-1 digest.
        let response = response_with(&[(
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "s3pPLMBiTxaQ9kGzzo2ozPoxZdJ0c=",
        )]);
        let report = check(&request_with(&[]), Some(&response));
        assert_eq!(report.verdict, Verdict::Failed);
        assert_eq!(failed_rules(&report), [Rule::Accept]);
        let explanation = &report.check(Rule::Accept).unwrap().explanation;
        assert!(explanation.contains("is s3pPLMBiTxaQ9kGzzo2ozPoxZdJ0c=, but"));
        assert!(explanation.contains("is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=."));
        // The key itself echoed back is wrong too.
        let response =
            response_with(&[("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "dGhlIHNhbXBsZSBub25jZQ==")]);
        assert_eq!(
            check(&request_with(&[]), Some(&response)).verdict,
            Verdict::Failed
        );
        assert!(report.summary.contains("Sec-WebSocket-Accept"));
    }

    #[test]
    fn missing_upgrade_fails_the_request_rule() {
        let request = request_with(&[("Upgrade: websocket\r\n", "")]);
        let report = check(&request, None);
        assert_eq!(report.verdict, Verdict::AwaitingResponse);
        assert_eq!(failed_rules(&report), [Rule::RequestUpgrade]);
        let report = check(
            &request_with(&[("Upgrade: websocket", "Upgrade: h2c")]),
            None,
        );
        assert!(report
            .check(Rule::RequestUpgrade)
            .unwrap()
            .explanation
            .contains("h2c"));
    }

    #[test]
    fn connection_must_carry_the_upgrade_token() {
        let report = check(
            &request_with(&[("Connection: Upgrade", "Connection: keep-alive")]),
            None,
        );
        assert_eq!(failed_rules(&report), [Rule::RequestConnection]);
        // Firefox sends a list; the token may be anywhere in it, in any case.
        let report = check(
            &request_with(&[("Connection: Upgrade", "Connection: keep-alive, upgrade")]),
            Some(&response_with(&[])),
        );
        assert_eq!(report.verdict, Verdict::Accepted);
    }

    #[test]
    fn key_of_15_bytes_is_rejected() {
        // "AAAAAAAAAAAAAAAAAAAA" is base64 for 15 zero bytes.
        let report = check(
            &request_with(&[("dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAA")]),
            None,
        );
        assert_eq!(failed_rules(&report), [Rule::Key]);
        assert!(report
            .check(Rule::Key)
            .unwrap()
            .explanation
            .contains("15 bytes"));
        let report = check(
            &request_with(&[("dGhlIHNhbXBsZSBub25jZQ==", "not base64!")]),
            None,
        );
        assert_eq!(failed_rules(&report), [Rule::Key]);
        let report = check(
            &request_with(&[("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")]),
            None,
        );
        assert_eq!(failed_rules(&report), [Rule::Key]);
        assert_eq!(report.accept, None);
    }

    #[test]
    fn version_8_is_rejected() {
        let report = check(&request_with(&[("Version: 13", "Version: 8")]), None);
        assert_eq!(failed_rules(&report), [Rule::Version]);
        assert!(report
            .check(Rule::Version)
            .unwrap()
            .explanation
            .contains("is 8"));
    }

    #[test]
    fn post_and_http_1_0_are_rejected() {
        let report = check(
            &request_with(&[("GET /chat HTTP/1.1", "POST /chat HTTP/1.0")]),
            None,
        );
        assert_eq!(
            failed_rules(&report),
            [Rule::RequestMethod, Rule::RequestVersion]
        );
        let report = check(&request_with(&[("Host: server.example.com\r\n", "")]), None);
        assert_eq!(failed_rules(&report), [Rule::Host]);
    }

    #[test]
    fn status_426_is_explained_as_a_refusal() {
        let response = head(
            MessageKind::Response,
            b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13, 8\r\n\r\n",
        );
        let report = check(
            &request_with(&[("Version: 13", "Version: 7")]),
            Some(&response),
        );
        assert_eq!(report.verdict, Verdict::Refused { status: 426 });
        assert_eq!(failed_rules(&report), [Rule::Version, Rule::Status]);
        assert!(report.summary.contains("426 Upgrade Required"));
        assert!(report.summary.contains("13, 8"));
        assert!(report.summary.contains("§4.4"));
        // Response rules do not apply to a refusal.
        assert_eq!(report.check(Rule::Accept), None);
    }

    #[test]
    fn other_refusals_are_explained() {
        let bad = head(MessageKind::Response, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        let report = check(&request_with(&[]), Some(&bad));
        assert_eq!(report.verdict, Verdict::Refused { status: 400 });
        assert!(report.summary.contains("400 Bad Request"));
        let moved = head(
            MessageKind::Response,
            b"HTTP/1.1 302 Found\r\nLocation: /ws2\r\n\r\n",
        );
        assert!(check(&request_with(&[]), Some(&moved))
            .summary
            .contains("/ws2"));
    }

    #[test]
    fn subprotocol_not_offered_fails() {
        let response = response_with(&[(
            "Sec-WebSocket-Protocol: chat",
            "Sec-WebSocket-Protocol: mqtt",
        )]);
        let report = check(&request_with(&[]), Some(&response));
        assert_eq!(report.verdict, Verdict::Failed);
        assert_eq!(failed_rules(&report), [Rule::Subprotocol]);
        assert!(report
            .check(Rule::Subprotocol)
            .unwrap()
            .explanation
            .contains("chat, superchat"));
        // No subprotocol selected is fine even when some were offered.
        let response = response_with(&[("Sec-WebSocket-Protocol: chat\r\n", "")]);
        assert_eq!(
            check(&request_with(&[]), Some(&response)).verdict,
            Verdict::Accepted
        );
    }

    #[test]
    fn extension_not_offered_fails_and_offered_one_is_kept() {
        let with_deflate = "Sec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-webkit-deflate-frame\r\n";
        let request = request_with(&[("Sec-WebSocket-Version: 13\r\n", with_deflate)]);
        let accepted = "Sec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n";
        let response = response_with(&[("Sec-WebSocket-Protocol: chat\r\n", accepted)]);
        let report = check(&request, Some(&response));
        assert_eq!(report.verdict, Verdict::Accepted);
        assert_eq!(
            report.extensions.as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=10")
        );
        let report = check(&request_with(&[]), Some(&response));
        assert_eq!(report.verdict, Verdict::Failed);
        assert_eq!(failed_rules(&report), [Rule::Extensions]);
        assert!(report
            .check(Rule::Extensions)
            .unwrap()
            .explanation
            .contains("permessage-deflate"));
    }

    #[test]
    fn response_headers_are_checked() {
        let response = response_with(&[(
            "Upgrade: websocket\r\nConnection: Upgrade\r\n",
            "Upgrade: WebSocket\r\n",
        )]);
        let report = check(&request_with(&[]), Some(&response));
        assert_eq!(failed_rules(&report), [Rule::ResponseConnection]);
        let response =
            response_with(&[("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "")]);
        let report = check(&request_with(&[]), Some(&response));
        assert_eq!(failed_rules(&report), [Rule::Accept]);
        assert_eq!(report.received_accept, None);
    }

    #[test]
    fn extension_names_ignore_commas_in_quotes() {
        let request = request_with(&[(
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: a; p=\"x,y\", b\r\nSec-WebSocket-Extensions: c\r\n",
        )]);
        assert_eq!(extension_names(&request), ["a", "b", "c"]);
    }
}
