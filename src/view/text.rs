//! `osiscope dump`: a streaming, layered text view of each frame.
//!
//! Like `tshark -V`, but grouped by OSI layer: each layer's heading names its
//! layer number, PDU, protocol and the bytes it owns, then one sentence on
//! what it did, then its fields with their Wireshark keys and byte ranges.

use std::io::{self, Write};

use crate::dissect::{Dissection, Field, Layer};
use crate::view::sanitize::sanitize;
use crate::view::time::utc_string;

/// Writes one frame's block of text.
pub fn write_frame(out: &mut impl Write, dissection: &Dissection) -> io::Result<()> {
    let frame = &dissection.frame;
    writeln!(
        out,
        "Frame {} · {} · {} bytes on wire, {} captured",
        frame.number,
        utc_string(frame.ts),
        frame.orig_len,
        frame.cap_len
    )?;
    for (index, layer) in dissection.layers.iter().enumerate() {
        write_layer(out, dissection, index, layer)?;
    }
    writeln!(out)
}

fn write_layer(
    out: &mut impl Write,
    dissection: &Dissection,
    index: usize,
    layer: &Layer,
) -> io::Result<()> {
    let osi = layer.osi();
    let bytes = if layer.span.is_empty() {
        String::new()
    } else {
        let source = if layer.source == 0 {
            String::new()
        } else {
            let name = dissection
                .sources
                .get(layer.source)
                .map_or("", |s| s.name.as_str());
            format!(" in {}", sanitize(name))
        };
        format!(" · {} bytes {}{source}", layer.span.len(), layer.span)
    };
    writeln!(
        out,
        "  L{} {} · {} · {}{}",
        osi.number(),
        osi.name(),
        layer.protocol.pdu(),
        layer.protocol.name(),
        bytes
    )?;
    writeln!(out, "    {}", sanitize(&layer.summary))?;
    writeln!(out, "    ↳ {}", sanitize(&layer.did))?;
    for field in &layer.fields {
        write_field(out, field, 2)?;
    }
    write_problems(out, dissection, Some(index), "    ")
}

/// Writes the problems attached to `layer` (or to no layer), one per line.
fn write_problems(
    out: &mut impl Write,
    dissection: &Dissection,
    layer: Option<usize>,
    indent: &str,
) -> io::Result<()> {
    for problem in dissection.problems.iter().filter(|p| p.layer == layer) {
        writeln!(
            out,
            "{indent}! [{}] {}: {}",
            problem.severity.name(),
            problem.key,
            sanitize(&problem.message)
        )?;
    }
    Ok(())
}

fn write_field(out: &mut impl Write, field: &Field, depth: usize) -> io::Result<()> {
    let indent = "  ".repeat(depth);
    let location = if field.span.is_empty() {
        String::new()
    } else {
        match field.mask {
            Some(mask) => format!(" {} mask 0x{mask:x}", field.span),
            None => format!(" {}", field.span),
        }
    };
    writeln!(
        out,
        "{indent}{}: {}  ({}{location})",
        field.label,
        sanitize(&field.display),
        field.key
    )?;
    for child in &field.children {
        write_field(out, child, depth + 1)?;
    }
    Ok(())
}

/// Writes problems that belong to no layer, after the frames.
pub fn write_unplaced_problems(out: &mut impl Write, dissection: &Dissection) -> io::Result<()> {
    write_problems(out, dissection, None, "  ")
}
