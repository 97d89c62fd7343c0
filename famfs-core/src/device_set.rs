//! The devices of one file system, opened lazily by uuid.
//!
//! A famfs file system starts on one device (index 0, the primary, which
//! holds the log) and grows by ADD_DAXDEV entries that give further devices
//! an index 1..23, a size and a device uuid. The log never records where a
//! device is: paths differ between hosts and boots. So a [`DeviceSet`] gets
//! a list of candidate paths (from `famfs mount --device` and `famfs
//! devadd`, kept in the mount table) and, the first time a file needs
//! device N, opens the candidates until one carries a secondary superblock
//! of this file system with N's uuid. This is the kernel's GET_DAXDEV round
//! trip, done in process. A device that cannot be found fails only the
//! files that use it, with an error naming its uuid.

use crate::dax::{Access, DaxDevice};
use crate::error::{Error, Result};
use crate::fmap::MAX_DAXDEVS;
use crate::format::{Superblock, SUPERBLOCK_SIZE};
use crate::replay::DeviceInfo;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

/// Reads the superblock at offset 0 of `dev`.
fn superblock_of(dev: &DaxDevice) -> Result<Superblock> {
    let mut buf = [0u8; SUPERBLOCK_SIZE];
    dev.invalidate(0, SUPERBLOCK_SIZE as u64)?;
    dev.read_at(0, &mut buf)?;
    Superblock::decode(&buf)
}

/// Why a candidate path is not device `want` of file system `fs_uuid`, or
/// the superblock if it is a secondary device of that file system.
pub fn check_secondary(dev: &DaxDevice, fs_uuid: Uuid) -> Result<Superblock> {
    let sb = superblock_of(dev)?;
    let bad = |reason: String| Error::BadDevice {
        path: dev.path().to_path_buf(),
        reason,
    };
    if sb.uuid != fs_uuid {
        return Err(bad(format!(
            "belongs to file system {}, not {fs_uuid}",
            sb.uuid
        )));
    }
    if !sb.is_secondary() {
        return Err(bad(format!(
            "is the primary device of file system {fs_uuid}, not a secondary one"
        )));
    }
    Ok(sb)
}

/// The devices of one file system, all mapped with the same access.
pub struct DeviceSet {
    access: Access,
    fs_uuid: Uuid,
    slots: Vec<OnceLock<Arc<DaxDevice>>>,
    /// Paths that may hold secondary devices, in the order given.
    candidates: Mutex<Vec<PathBuf>>,
}

impl std::fmt::Debug for DeviceSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.get().map(|d| (i, d.path().to_path_buf())))
            .collect();
        f.debug_struct("DeviceSet")
            .field("fs_uuid", &self.fs_uuid)
            .field("open", &open)
            .field("candidates", &*self.candidates.lock())
            .finish()
    }
}

impl DeviceSet {
    /// A set whose device 0 is `primary`, of file system `fs_uuid`.
    pub fn new(primary: Arc<DaxDevice>, fs_uuid: Uuid) -> DeviceSet {
        let slots: Vec<OnceLock<Arc<DaxDevice>>> =
            (0..MAX_DAXDEVS).map(|_| OnceLock::new()).collect();
        let access = primary.access();
        let _ = slots[0].set(primary);
        DeviceSet {
            access,
            fs_uuid,
            slots,
            candidates: Mutex::new(Vec::new()),
        }
    }

    /// The primary device (index 0).
    pub fn primary(&self) -> &Arc<DaxDevice> {
        self.slots[0]
            .get()
            .expect("device 0 is set at construction")
    }

    /// How every device of the set is mapped.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Adds paths to search for secondary devices (duplicates ignored).
    pub fn add_candidates<P: AsRef<Path>>(&self, paths: impl IntoIterator<Item = P>) {
        let mut c = self.candidates.lock();
        for p in paths {
            let p = p.as_ref();
            if !c.iter().any(|x| x == p) {
                c.push(p.to_path_buf());
            }
        }
    }

    /// The paths that may hold secondary devices, in the order given.
    pub fn candidates(&self) -> Vec<PathBuf> {
        self.candidates.lock().clone()
    }

    /// Records `dev` as device `index` (just added by `devadd`). A slot
    /// already filled keeps its device.
    pub fn insert(&self, index: u32, dev: Arc<DaxDevice>) {
        if let Some(slot) = self.slots.get(index as usize) {
            let _ = slot.set(dev);
        }
    }

    /// Device `index` if it is open already.
    pub fn get(&self, index: u32) -> Option<&Arc<DaxDevice>> {
        self.slots.get(index as usize)?.get()
    }

    /// Device `info.index`, opening it the first time: the first candidate
    /// path whose superblock is a secondary of this file system with the
    /// device's uuid, and which is at least as large as the log says.
    pub fn acquire(&self, info: &DeviceInfo) -> Result<&Arc<DaxDevice>> {
        let slot = self
            .slots
            .get(info.index as usize)
            .ok_or_else(|| missing(info, "its index is out of range".into()))?;
        if let Some(d) = slot.get() {
            return Ok(d);
        }
        let candidates = self.candidates();
        let mut why = Vec::new();
        for path in &candidates {
            if self
                .slots
                .iter()
                .any(|s| s.get().is_some_and(|d| d.path() == path))
            {
                continue;
            }
            match self.open_as(path, info) {
                Ok(dev) => {
                    tracing::debug!(index = info.index, path = %path.display(), "opened device");
                    // Another thread may have won the race: either is fine.
                    let _ = slot.set(Arc::new(dev));
                    return Ok(slot.get().expect("just set"));
                }
                Err(e) => why.push(e.to_string()),
            }
        }
        let searched = if candidates.is_empty() {
            "no device paths are known (famfs mount --device PATH)".to_string()
        } else {
            format!("searched {}", why.join("; "))
        };
        Err(missing(info, searched))
    }

    /// Opens `path` and checks that it is device `info`.
    fn open_as(&self, path: &Path, info: &DeviceInfo) -> Result<DaxDevice> {
        let dev = DaxDevice::open(path, self.access)?;
        let sb = check_secondary(&dev, self.fs_uuid)?;
        if sb.dev_uuid != info.uuid {
            return Err(Error::BadDevice {
                path: path.to_path_buf(),
                reason: format!("is device {}", sb.dev_uuid),
            });
        }
        if dev.size() < info.size {
            return Err(Error::BadDevice {
                path: path.to_path_buf(),
                reason: format!(
                    "has {} bytes but the log records {} for device {}",
                    dev.size(),
                    info.size,
                    info.index
                ),
            });
        }
        Ok(dev)
    }
}

fn missing(info: &DeviceInfo, why: String) -> Error {
    Error::DeviceMissing {
        index: info.index,
        uuid: info.uuid,
        why,
    }
}
