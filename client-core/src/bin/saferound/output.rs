//! What the tool prints: tables for people (aligned by display width), JSON for scripts.

use saferound_core::{Device, Error};
use serde_json::json;

use super::args::Cli;

pub(super) fn print_status(cli: &Cli, device: &Device) -> Result<(), Error> {
    let i = device.identity();
    let counts = device.store().counts()?;
    let roles: Vec<&str> = device.roles()?.iter().map(|r| r.code()).collect();
    let v = json!({
        "store": cli.store.display().to_string(),
        "device_id": device.device_id(),
        "actor": device.actor_hex(),
        "institution": i.institution.to_string(),
        "user": i.user,
        "roles": roles,
        "documents": counts.iter().map(|(k, n)| json!({"kind": k, "count": n})).collect::<Vec<_>>(),
    });
    if cli.json {
        out!("{v}");
    } else {
        out!("store       {}", cli.store.display());
        out!("user        {} ({})", i.user.name, i.user.user_id);
        out!("roles       {}", roles.join(", "));
        out!("institution {}", i.institution);
        out!("device      {}", device.device_id());
        for (k, n) in counts {
            out!("{k:<12}{n}");
        }
    }
    Ok(())
}

pub(super) fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Error> {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    Ok(())
}

/// Display width: CJK and full-width characters take two columns.
pub(super) fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            if (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

pub(super) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - width(c) + 2));
            }
        }
        out!("{}", out.trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}
