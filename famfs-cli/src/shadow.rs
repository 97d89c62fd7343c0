//! The shadow tree `logplay --shadow DIR` writes: the reference famfs's
//! description of a file system for its FUSE server. Under `DIR/root`
//! (or `DIR` itself when it ends in `/root`), each logged directory is a
//! directory and each logged file a small YAML document:
//!
//! ```yaml
//! ---
//! file:
//!   path: data/f
//!   size: 4096
//!   flags: 2
//!   mode: 0644
//!   uid: 0
//!   gid: 0
//!   nextents: 1
//!   simple_ext_list:
//!   - devindex: 0
//!     offset: 0xa00000
//!     length: 0x200000
//! ...
//! ```
//!
//! An interleaved file has `striped_ext_list` instead: one item per
//! interleaved extent with `nstrips`, `chunk_size` and its strips as a
//! `simple_ext_list`. Numbers are written as the reference writes them
//! (offsets, lengths and chunk sizes in hex, the mode in octal with a
//! leading 0). `--shadowtest` reads each document back with a YAML parser
//! and compares it with the log entry.

use famfs_core::fmap::{Extent, Fmap, InterleavedExtent};
use famfs_core::format::FileEntry;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// The directory the tree is written under: `dir` when it ends in
/// `/root`, else `dir/root`, which must exist (as the reference requires).
pub fn root(dir: &Path) -> Result<PathBuf, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    if dir.file_name().is_some_and(|n| n == "root") {
        return Ok(dir.to_path_buf());
    }
    let root = dir.join("root");
    if root.is_dir() {
        Ok(root)
    } else {
        Err(format!(
            "{}: no 'root' directory in it (the shadow tree goes in {})",
            dir.display(),
            root.display()
        ))
    }
}

/// The YAML document for a file entry.
pub fn emit(f: &FileEntry) -> String {
    let mut y = String::from("---\nfile:\n");
    // Infallible: writing to a String.
    let _ = write!(
        y,
        "  path: {}\n  size: {}\n  flags: {}\n  mode: 0{:o}\n  uid: {}\n  gid: {}\n",
        scalar(&f.relpath),
        f.size,
        f.flags,
        f.mode,
        f.uid,
        f.gid
    );
    match &f.fmap {
        Fmap::Simple(exts) => {
            let _ = writeln!(y, "  nextents: {}", exts.len());
            emit_extents(&mut y, "  ", exts);
        }
        Fmap::Interleaved(ies) => {
            let _ = writeln!(y, "  nextents: {}\n  striped_ext_list:", ies.len());
            for ie in ies {
                let _ = write!(
                    y,
                    "  - nstrips: {}\n    chunk_size: {:#x}\n",
                    ie.strips.len(),
                    ie.chunk_size
                );
                emit_extents(&mut y, "    ", &ie.strips);
            }
        }
    }
    y.push_str("...\n");
    y
}

/// `text` as a YAML scalar: plain when every YAML reader takes it back as
/// the same string, else single-quoted (as libyaml falls back).
fn scalar(text: &str) -> String {
    let plain_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+@".contains(c));
    let reads_back = matches!(
        YamlLoader::load_from_str(text).as_deref(),
        Ok([Yaml::String(s)]) if s == text
    );
    if !text.is_empty() && plain_chars && !text.starts_with('-') && reads_back {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// `simple_ext_list:` and its items at `indent` (libyaml's block style:
/// a sequence in a mapping is not indented further than its key).
fn emit_extents(y: &mut String, indent: &str, exts: &[Extent]) {
    if exts.is_empty() {
        let _ = writeln!(y, "{indent}simple_ext_list: []");
        return;
    }
    let _ = writeln!(y, "{indent}simple_ext_list:");
    for e in exts {
        let _ = write!(
            y,
            "{indent}- devindex: {}\n{indent}  offset: {:#x}\n{indent}  length: {:#x}\n",
            e.devindex, e.offset, e.len
        );
    }
}

/// A number as the reference reads it (strtoull, base 0): YAML parsers
/// give `0x…` as an integer already; `0644` as the integer 644 or a string.
fn number(v: &Yaml, what: &str, octal: bool) -> Result<u64, String> {
    let text = match v {
        Yaml::Integer(i) => i.to_string(),
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        _ => return Err(format!("{what}: missing or not a number")),
    };
    let t = text.trim();
    let parsed = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else if octal || (t.len() > 1 && t.starts_with('0')) {
        u64::from_str_radix(t, 8)
    } else {
        t.parse()
    };
    parsed.map_err(|_| format!("{what}: bad number {t:?}"))
}

fn small(v: &Yaml, what: &str, octal: bool) -> Result<u32, String> {
    u32::try_from(number(v, what, octal)?).map_err(|_| format!("{what}: too large"))
}

fn extents(v: &Yaml, what: &str) -> Result<Vec<Extent>, String> {
    let items = v
        .as_vec()
        .ok_or_else(|| format!("{what}: missing or not a list"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(Extent {
                devindex: small(&e["devindex"], &format!("{what}[{i}].devindex"), false)?,
                offset: number(&e["offset"], &format!("{what}[{i}].offset"), false)?,
                len: number(&e["length"], &format!("{what}[{i}].length"), false)?,
            })
        })
        .collect()
}

/// Parses a shadow YAML document back into the file entry it describes.
pub fn parse(text: &str) -> Result<FileEntry, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let [doc] = docs.as_slice() else {
        return Err(format!("{} YAML documents, expected 1", docs.len()));
    };
    let f = &doc["file"];
    let relpath = match &f["path"] {
        Yaml::String(s) => s.clone(),
        // A plain path that reads as a number (another writer's output).
        Yaml::Integer(i) => i.to_string(),
        _ => return Err("path: missing or not a string".into()),
    };
    let nextents = number(&f["nextents"], "nextents", false)?;
    let fmap = if !f["striped_ext_list"].is_badvalue() {
        let ies = f["striped_ext_list"]
            .as_vec()
            .ok_or("striped_ext_list: not a list")?;
        let mut out = Vec::new();
        for (i, ie) in ies.iter().enumerate() {
            let strips = extents(
                &ie["simple_ext_list"],
                &format!("striped_ext_list[{i}].simple_ext_list"),
            )?;
            let nstrips = number(&ie["nstrips"], "nstrips", false)?;
            if nstrips != strips.len() as u64 {
                return Err(format!(
                    "striped_ext_list[{i}]: nstrips {nstrips} but {} strips",
                    strips.len()
                ));
            }
            out.push(InterleavedExtent {
                chunk_size: number(&ie["chunk_size"], "chunk_size", false)?,
                strips,
            });
        }
        Fmap::Interleaved(out)
    } else {
        Fmap::Simple(extents(&f["simple_ext_list"], "simple_ext_list")?)
    };
    let listed = match &fmap {
        Fmap::Simple(e) => e.len(),
        Fmap::Interleaved(e) => e.len(),
    };
    if nextents != listed as u64 {
        return Err(format!("nextents {nextents} but {listed} listed"));
    }
    Ok(FileEntry {
        size: number(&f["size"], "size", false)?,
        flags: small(&f["flags"], "flags", false)?,
        uid: small(&f["uid"], "uid", false)?,
        gid: small(&f["gid"], "gid", false)?,
        mode: small(&f["mode"], "mode", true)?,
        relpath,
        fmap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fmap: Fmap) -> FileEntry {
        FileEntry {
            size: 5 << 20,
            flags: 2,
            uid: 1000,
            gid: 100,
            mode: 0o640,
            relpath: "a/b c.bin".into(),
            fmap,
        }
    }

    #[test]
    fn simple_file_round_trips_in_the_reference_layout() {
        let e = entry(Fmap::Simple(vec![
            Extent {
                devindex: 0,
                offset: 0xa0_0000,
                len: 0x40_0000,
            },
            Extent {
                devindex: 0,
                offset: 0x200_0000,
                len: 0x20_0000,
            },
        ]));
        let y = emit(&e);
        assert_eq!(
            y,
            "---\nfile:\n  path: 'a/b c.bin'\n  size: 5242880\n  flags: 2\n  mode: 0640\n  \
             uid: 1000\n  gid: 100\n  nextents: 2\n  simple_ext_list:\n  - devindex: 0\n    \
             offset: 0xa00000\n    length: 0x400000\n  - devindex: 0\n    offset: 0x2000000\n    \
             length: 0x200000\n...\n"
        );
        assert_eq!(parse(&y).unwrap(), e);
    }

    #[test]
    fn interleaved_file_round_trips() {
        let strip = |d, o| Extent {
            devindex: d,
            offset: o,
            len: 4 << 20,
        };
        let e = entry(Fmap::Interleaved(vec![InterleavedExtent {
            chunk_size: 2 << 20,
            strips: vec![strip(0, 0x100_0000), strip(0, 0x400_0000)],
        }]));
        let y = emit(&e);
        assert!(y.contains("  striped_ext_list:\n  - nstrips: 2\n    chunk_size: 0x200000\n    simple_ext_list:\n    - devindex: 0\n"), "{y}");
        assert_eq!(parse(&y).unwrap(), e);
    }

    #[test]
    fn awkward_paths_are_quoted_and_read_back() {
        for path in [
            "plain/name_1.bin",
            "0644",
            "true",
            "a: b",
            "-x",
            "it's",
            "#c",
            "x y",
        ] {
            let mut e = entry(Fmap::Simple(vec![]));
            e.relpath = path.into();
            assert_eq!(parse(&emit(&e)).unwrap().relpath, path);
        }
        let mut e = entry(Fmap::Simple(vec![]));
        e.relpath = "plain/name_1.bin".into();
        assert!(emit(&e).contains("  path: plain/name_1.bin\n"));
    }

    #[test]
    fn bad_documents_are_refused_with_a_reason() {
        let good = emit(&entry(Fmap::Simple(vec![Extent {
            devindex: 0,
            offset: 0x40_0000,
            len: 0x20_0000,
        }])));
        for (bad, why) in [
            (good.replace("nextents: 1", "nextents: 2"), "nextents"),
            (good.replace("size: 5242880", "size: lots"), "size"),
            (good.replace("  mode: 0640\n", ""), "mode"),
            ("file: [".to_string(), "not YAML"),
            (good.replace("offset: 0x400000", "offset: [1]"), "offset"),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
