//! Read-only views of mounted file systems: `ls`, `stat`, `cat`, `df` and
//! `getmap`. Each replays the log (read-only) and prints what it finds.

use crate::console::{self, outln, CliError, CliResult, Console};
use crate::entries::fmap_count;
use crate::space::Space;
use crate::target::{self, Target};
use crate::{mode, CatArgs, DfArgs, GetmapArgs, LsArgs, StatArgs, IO_CHUNK};
use famfs_core::dax::Access;
use famfs_core::famfs::Famfs;
use famfs_core::fmap::{Extent, Fmap, InterleavedExtent};
use famfs_core::fmap_msg::FmapMessage;
use famfs_core::mounts::MountTable;
use famfs_core::namespace::Node;
use famfs_core::Error;
use serde::Serialize;
use std::path::Path;

/// Resolves `p` and opens its file system read-only.
fn open_node(table: &MountTable, p: &Path) -> CliResult<(Target, Famfs)> {
    let t = target::resolve_in(table, p)?;
    let fs = t.open(Access::ReadOnly)?;
    Ok((t, fs))
}

fn node<'a>(t: &Target, fs: &'a Famfs) -> CliResult<&'a Node> {
    fs.lookup(&t.rel).map_err(|e| t.err(e))
}

/// Size as listed: a file's size, 0 for a directory.
fn size_of(n: &Node) -> u64 {
    n.as_file().map_or(0, |f| f.size)
}

/// Prints one listing; with `long`, numeric columns are right-aligned to
/// the widest value in the listing, as `ls -l` does.
/// `ls -l`'s columns, as coreutils prints them: mode, links, owner,
/// group, size, date (famfs keeps no times: the mount time, as the shim
/// reports), name; each column as wide as its widest entry.
fn ls_lines(
    con: &mut Console,
    a: &LsArgs,
    rows: &[(&str, &Node)],
    ns: &famfs_core::namespace::Namespace,
    time: u64,
) -> CliResult {
    if !a.long && !a.numeric {
        for (name, _) in rows {
            outln!(con, "{name}");
        }
        return Ok(());
    }
    let links = |n: &Node| -> u64 {
        match ns.children(n.ino) {
            Ok(c) => 2 + c.filter(|(_, child)| child.is_dir()).count() as u64,
            Err(_) => 1,
        }
    };
    let date = local_date(time);
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|(_, n)| {
            [
                mode::symbolic(n.is_dir(), n.meta.mode),
                links(n).to_string(),
                if a.numeric {
                    n.meta.uid.to_string()
                } else {
                    user_name(n.meta.uid)
                },
                if a.numeric {
                    n.meta.gid.to_string()
                } else {
                    group_name(n.meta.gid)
                },
                size_of(n).to_string(),
            ]
        })
        .collect();
    let w = |i: usize| cells.iter().map(|c| c[i].len()).max().unwrap_or(0);
    let (wl, wu, wg, ws) = (w(1), w(2), w(3), w(4));
    for ((name, _), c) in rows.iter().zip(&cells) {
        outln!(
            con,
            "{} {:>wl$} {:<wu$} {:<wg$} {:>ws$} {date} {name}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4]
        );
    }
    Ok(())
}

/// The user name of `uid`, or the number if it has none.
fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// The group name of `gid`, or the number if it has none.
fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

/// `secs` (since the epoch) in local time as `ls -l` shows it: month, day
/// and time within six months of now, else month, day and year.
fn local_date(secs: u64) -> String {
    let t = secs as libc::time_t;
    // SAFETY: all-zero is a valid `tm` to fill in.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: `t` and `tm` are valid for localtime_r.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return secs.to_string();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let recent = now.abs_diff(secs) < 182 * 86_400;
    let fmt: &[u8] = if recent {
        b"%b %e %H:%M\0"
    } else {
        b"%b %e  %Y\0"
    };
    let mut buf = [0u8; 64];
    // SAFETY: `buf` holds 64 bytes, the format is NUL-terminated and `tm`
    // was filled above.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr().cast(), &tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

pub fn ls(a: &LsArgs, con: &mut Console) -> CliResult {
    let table = MountTable::load()?;
    let paths = if a.paths.is_empty() {
        vec![target::cwd()?]
    } else {
        a.paths.clone()
    };
    let many = paths.len() > 1;
    let mut first = true;
    console::each(con, &paths, |con, p| {
        let (t, fs) = open_node(&table, p)?;
        let n = node(&t, &fs)?;
        if !n.is_dir() {
            let ns = fs.replay().namespace();
            return ls_lines(
                con,
                a,
                &[(&p.display().to_string(), n)],
                ns,
                t.mount.mount_time,
            );
        }
        if many {
            if !first {
                outln!(con, "");
            }
            outln!(con, "{}:", p.display());
        }
        first = false;
        let ns = fs.replay().namespace();
        let rows: Vec<_> = ns.children(n.ino)?.collect();
        ls_lines(con, a, &rows, ns, t.mount.mount_time)
    })
}

pub fn stat(a: &StatArgs, con: &mut Console) -> CliResult {
    let (t, fs) = open_node(&MountTable::load()?, &a.path)?;
    let n = node(&t, &fs)?;
    outln!(con, "path: {}", t.abs.display());
    outln!(
        con,
        "type: {}",
        if n.is_dir() {
            "directory"
        } else {
            "regular file"
        }
    );
    outln!(con, "size: {}", size_of(n));
    outln!(con, "mode: {:04o}", n.meta.mode);
    outln!(con, "uid: {}", n.meta.uid);
    outln!(con, "gid: {}", n.meta.gid);
    outln!(con, "inode: {}", n.ino);
    match n.as_file() {
        Some(f) => {
            outln!(con, "allocated: {}", f.fmap.allocated_bytes());
            let (count, _) = fmap_count(&f.fmap);
            let what = if f.fmap.is_interleaved() {
                "strips"
            } else {
                "extents"
            };
            outln!(con, "{what}: {count}");
            if let Some(why) = &f.error {
                outln!(con, "error: {why}");
            }
        }
        None => {
            outln!(con, "allocated: 0");
            outln!(con, "extents: 0");
        }
    }
    Ok(())
}

pub fn cat(a: &CatArgs, con: &mut Console) -> CliResult {
    let table = MountTable::load()?;
    let mut buf = vec![0u8; IO_CHUNK];
    console::each(con, &a.paths, |con, p| {
        let (t, fs) = open_node(&table, p)?;
        let io = match famfs_core::meta_files::MetaNode::at(&t.rel) {
            Some(m) => fs.meta_file_io(m),
            None => {
                let n = node(&t, &fs)?;
                if n.is_dir() {
                    return Err(t.err(Error::IsADirectory(t.rel.clone())));
                }
                fs.file_io(n.ino)
            }
        }
        .map_err(|e| t.err(e))?;
        let mut off = 0u64;
        while off < io.size() {
            let got = io.read(off, &mut buf)?;
            if got == 0 {
                break;
            }
            con.bytes(&buf[..got])?;
            off += got as u64;
        }
        Ok(())
    })
}

pub fn df(a: &DfArgs, con: &mut Console) -> CliResult {
    let table = MountTable::load()?;
    let mounts = match &a.mountpoint {
        Some(p) => vec![target::resolve_in(&table, p)?.mount],
        None => table.entries,
    };
    let bytes = |n: u64| {
        if a.human {
            crate::size::human(n)
        } else {
            n.to_string()
        }
    };
    // Every row first, so each column is as wide as its widest cell.
    let mut rows: Vec<[String; 7]> = vec![[
        "Device".into(),
        "Size".into(),
        "Used".into(),
        "Free".into(),
        "Use%".into(),
        "Log entries".into(),
        "Mounted on".into(),
    ]];
    let mut failed = false;
    for m in &mounts {
        let row = (|| -> CliResult<[String; 7]> {
            let fs = target::open_mount(m, Access::ReadOnly)?;
            let space = Space::of(&fs);
            let log = fs.log_header()?;
            Ok([
                m.device.display().to_string(),
                bytes(space.capacity),
                bytes(space.allocated),
                bytes(space.free),
                format!("{}%", space.use_percent()),
                format!("{}/{}", log.next_index, log.capacity()),
                m.mountpoint.display().to_string(),
            ])
        })();
        match row {
            Ok(r) => rows.push(r),
            Err(e) => {
                failed = true;
                con.carry_on(e)?;
            }
        }
    }
    let w = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2, w3, w4, w5) = (w(0), w(1), w(2), w(3), w(4), w(5));
    for r in &rows {
        outln!(
            con,
            "{:<w0$} {:>w1$} {:>w2$} {:>w3$} {:>w4$} {:>w5$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6]
        );
    }
    if failed {
        Err(CliError::Reported)
    } else {
        Ok(())
    }
}

/// `getmap --json` output.
#[derive(Serialize)]
struct MapJson<'a> {
    path: String,
    size: u64,
    ext_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    extents: Option<&'a [Extent]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunk_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strips: Option<&'a [Extent]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interleaved: Option<&'a [InterleavedExtent]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn map_json<'a>(path: &Path, size: u64, fmap: &'a Fmap, error: Option<&'a str>) -> MapJson<'a> {
    let mut j = MapJson {
        path: path.display().to_string(),
        size,
        ext_type: "simple",
        extents: None,
        chunk_size: None,
        strips: None,
        interleaved: None,
        error,
    };
    match fmap {
        Fmap::Simple(e) => j.extents = Some(e),
        Fmap::Interleaved(ie) => {
            j.ext_type = "interleaved";
            match ie.as_slice() {
                [one] => {
                    j.chunk_size = Some(one.chunk_size);
                    j.strips = Some(&one.strips);
                }
                many => j.interleaved = Some(many),
            }
        }
    }
    j
}

fn extent_text(e: &Extent) -> String {
    format!(
        "devindex {} offset {:#x} len {:#x}",
        e.devindex, e.offset, e.len
    )
}

/// `getmap -q`: the reference's exit status and nothing printed: 0 for a
/// famfs file with a usable map, 2 for one whose map is unusable, 1 for
/// anything else (not under a mount, missing, a directory).
pub fn getmap_status(a: &GetmapArgs) -> u8 {
    let Ok(table) = MountTable::load() else {
        return 1;
    };
    let Ok((t, fs)) = open_node(&table, &a.path) else {
        return 1;
    };
    match node(&t, &fs).ok().and_then(|n| n.as_file()) {
        Some(f) if f.error.is_none() => 0,
        Some(_) => 2,
        None => 1,
    }
}

pub fn getmap(a: &GetmapArgs, con: &mut Console) -> CliResult {
    let (t, fs) = open_node(&MountTable::load()?, &a.path)?;
    let n = node(&t, &fs)?;
    let Some(f) = n.as_file() else {
        return Err(t.err(Error::IsADirectory(t.rel.clone())));
    };
    if a.fmap {
        return fmap_message(con, &t, f, a.json);
    }
    if a.json {
        let j = map_json(&t.abs, f.size, &f.fmap, f.error.as_deref());
        let text = serde_json::to_string_pretty(&j)
            .map_err(|e| CliError::Msg(format!("encoding JSON: {e}")))?;
        outln!(con, "{text}");
        return Ok(());
    }
    outln!(con, "path: {}", t.abs.display());
    outln!(con, "size: {}", f.size);
    match &f.fmap {
        Fmap::Simple(exts) => {
            outln!(con, "ext_type: simple");
            outln!(con, "extents: {}", exts.len());
            for (i, e) in exts.iter().enumerate() {
                outln!(con, "extent {i}: {}", extent_text(e));
            }
        }
        Fmap::Interleaved(ies) => {
            outln!(con, "ext_type: interleaved");
            outln!(con, "interleaved extents: {}", ies.len());
            for (i, ie) in ies.iter().enumerate() {
                outln!(
                    con,
                    "interleaved extent {i}: chunk_size {:#x} strips {}",
                    ie.chunk_size,
                    ie.strips.len()
                );
                for (j, s) in ie.strips.iter().enumerate() {
                    outln!(con, "strip {j}: {}", extent_text(s));
                }
            }
        }
    }
    if let Some(why) = &f.error {
        outln!(con, "error: {why}");
    }
    Ok(())
}

/// `getmap --fmap`: the GET_FMAP reply for the file, hex 16 bytes a line
/// with offsets, or JSON holding the decoded message and the hex. A file
/// whose fmap fails the kernel's rules gets no message (EIO in the kernel).
fn fmap_message(
    con: &mut Console,
    t: &Target,
    f: &famfs_core::namespace::FileNode,
    json: bool,
) -> CliResult {
    if let Some(why) = &f.error {
        return Err(t.err(Error::InvalidFmap(why.clone())));
    }
    let msg = FmapMessage::regular(f.size, f.fmap.clone());
    let bytes = msg.encode().map_err(|e| t.err(e))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            path: String,
            length: usize,
            message: &'a FmapMessage,
            hex: &'a str,
        }
        let out = Out {
            path: t.abs.display().to_string(),
            length: bytes.len(),
            message: &msg,
            hex: &hex,
        };
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| CliError::Msg(format!("encoding JSON: {e}")))?;
        outln!(con, "{text}");
        return Ok(());
    }
    for (i, line) in bytes.chunks(16).enumerate() {
        let h: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        outln!(con, "{:08x}  {}", i * 16, h.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(offset: u64) -> Extent {
        Extent {
            devindex: 0,
            offset,
            len: 2 << 20,
        }
    }

    #[test]
    fn json_shapes() {
        let simple = Fmap::Simple(vec![ext(10 << 20)]);
        let v = serde_json::to_value(map_json(Path::new("/m/f"), 5, &simple, None)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"path": "/m/f", "size": 5, "ext_type": "simple",
                "extents": [{"devindex": 0, "offset": 10485760, "len": 2097152}]})
        );
        let one = InterleavedExtent {
            chunk_size: 2 << 20,
            strips: vec![ext(10 << 20), ext(12 << 20)],
        };
        let il = Fmap::Interleaved(vec![one.clone()]);
        let v = serde_json::to_value(map_json(Path::new("/m/f"), 5, &il, None)).unwrap();
        assert_eq!(v["ext_type"], "interleaved");
        assert_eq!(v["chunk_size"], 2097152);
        assert_eq!(v["strips"].as_array().unwrap().len(), 2);
        assert!(v.get("interleaved").is_none() && v.get("extents").is_none());
        let two = Fmap::Interleaved(vec![one.clone(), one]);
        let v = serde_json::to_value(map_json(Path::new("/m/f"), 5, &two, Some("bad"))).unwrap();
        assert_eq!(v["interleaved"].as_array().unwrap().len(), 2);
        assert_eq!(v["interleaved"][1]["chunk_size"], 2097152);
        assert_eq!(v["error"], "bad");
        assert!(v.get("strips").is_none());
    }
}
