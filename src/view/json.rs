//! `--json`: one JSON object per frame per line, for scripts and tests.
//!
//! The wire types here are serialize-only mirrors of the model, borrowed from
//! it, so the model itself carries no serialization concerns. Values keep
//! their type: numbers are numbers, addresses are strings, bytes are hex.

use std::io::{self, Write};

use serde::Serialize;

use crate::dissect::{Dissection, Field, FieldValue, Layer, Span};
use crate::view::sanitize::sanitize;

#[derive(Serialize)]
struct FrameJson<'a> {
    frame: u64,
    time: String,
    cap_len: usize,
    len: usize,
    link_type: u32,
    layers: Vec<LayerJson<'a>>,
    problems: Vec<ProblemJson>,
}

#[derive(Serialize)]
struct LayerJson<'a> {
    osi: u8,
    protocol: &'static str,
    name: &'static str,
    pdu: &'static str,
    source: usize,
    span: [usize; 2],
    summary: String,
    did: String,
    fields: Vec<FieldJson<'a>>,
}

#[derive(Serialize)]
struct FieldJson<'a> {
    key: &'static str,
    label: &'static str,
    value: ValueJson<'a>,
    display: String,
    span: [usize; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    mask: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<FieldJson<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ValueJson<'a> {
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Text(String),
    Str(&'a str),
}

#[derive(Serialize)]
struct ProblemJson {
    severity: &'static str,
    key: &'static str,
    message: String,
    layer: Option<usize>,
    span: Option<[usize; 2]>,
}

fn span(span: Span) -> [usize; 2] {
    [span.start, span.end]
}

fn value(value: &FieldValue) -> ValueJson<'_> {
    match value {
        FieldValue::None => ValueJson::Null,
        FieldValue::Bool(b) => ValueJson::Bool(*b),
        FieldValue::UInt(n) => ValueJson::UInt(*n),
        FieldValue::Int(n) => ValueJson::Int(*n),
        FieldValue::Float(x) => ValueJson::Float(*x),
        FieldValue::Mac(mac) => ValueJson::Text(crate::dissect::build::format_mac(*mac)),
        FieldValue::Ipv4(addr) => ValueJson::Text(addr.to_string()),
        FieldValue::Ipv6(addr) => ValueJson::Text(addr.to_string()),
        FieldValue::Bytes(bytes) => ValueJson::Text(crate::dissect::hex_string(bytes)),
        FieldValue::Text(text) => ValueJson::Str(text),
    }
}

fn field(field: &Field) -> FieldJson<'_> {
    FieldJson {
        key: field.key,
        label: field.label,
        value: value(&field.value),
        display: sanitize(&field.display),
        span: span(field.span),
        mask: field.mask,
        children: field.children.iter().map(self::field).collect(),
    }
}

fn layer(layer: &Layer) -> LayerJson<'_> {
    LayerJson {
        osi: layer.osi().number(),
        protocol: layer.protocol.short_name(),
        name: layer.protocol.name(),
        pdu: layer.protocol.pdu(),
        source: layer.source,
        span: span(layer.span),
        summary: sanitize(&layer.summary),
        did: sanitize(&layer.did),
        fields: layer.fields.iter().map(field).collect(),
    }
}

/// Writes one frame as one line of JSON.
pub fn write_frame(out: &mut impl Write, dissection: &Dissection) -> io::Result<()> {
    let frame = &dissection.frame;
    let json = FrameJson {
        frame: frame.number.0,
        time: frame.ts.to_string(),
        cap_len: frame.cap_len,
        len: frame.orig_len,
        link_type: frame.link_type,
        layers: dissection.layers.iter().map(layer).collect(),
        problems: dissection
            .problems
            .iter()
            .map(|problem| ProblemJson {
                severity: problem.severity.name(),
                key: problem.key,
                message: sanitize(&problem.message),
                layer: problem.layer,
                span: problem.span.map(span),
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &json).map_err(io_error)?;
    out.write_all(b"\n")
}

/// A serialization error as an I/O error that keeps the writer's kind, so a reader that went
/// away is still a broken pipe (which `main` treats as success).
pub(crate) fn io_error(err: serde_json::Error) -> io::Error {
    match err.io_error_kind() {
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(err),
    }
}
