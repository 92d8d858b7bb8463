//! [`Mappings`]: the executable file mappings of this process (`/proc/self/maps`), with
//! runtime addresses translated to ELF virtual addresses.
//!
//! Locations and mappings carry ELF virtual addresses, as the OpenTelemetry eBPF profiler
//! does, so that stacks of several processes of one binary merge despite ASLR.

use crate::error::{Error, Kind};
use crate::symbolize::Symbolizer;
use std::path::PathBuf;

/// One executable mapping of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapped {
    /// Runtime address range `[start, end)`.
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// Offset in the file of `start`.
    pub(crate) offset: u64,
    /// The file.
    pub(crate) path: PathBuf,
    /// Runtime address minus ELF virtual address (0 for a non-PIE executable).
    pub(crate) bias: u64,
    /// The GNU build id and htlhash, when the file is readable ELF.
    pub(crate) build_id_gnu: Option<String>,
    pub(crate) htlhash: Option<String>,
}

impl Mapped {
    /// The ELF virtual address of runtime address `addr`.
    pub(crate) fn vaddr(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.bias)
    }
}

/// The executable mappings, sorted by start address.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mappings {
    pub(crate) entries: Vec<Mapped>,
}

impl Mappings {
    /// The mappings of this process, with a symbolizer of its own.
    #[cfg(test)]
    pub(crate) fn read_self() -> Result<Mappings, Error> {
        Mappings::read_self_with(&Symbolizer::default())
    }

    /// The mappings of this process, each file's headers read through `symbolizer`'s cache.
    pub(crate) fn read_self_with(symbolizer: &Symbolizer) -> Result<Mappings, Error> {
        if !cfg!(target_os = "linux") {
            return Err(Error::new(
                Kind::Unsupported,
                "reading the process's mappings needs Linux /proc/self/maps",
            ));
        }
        let text = std::fs::read_to_string("/proc/self/maps").map_err(|e| {
            Error::new(Kind::System, "reading /proc/self/maps failed").with_source(e)
        })?;
        let mut entries: Vec<Mapped> = parse_maps(&text)
            .into_iter()
            .map(|(start, end, offset, path)| {
                let info = symbolizer.elf_info(&path);
                let vaddr = info.as_ref().and_then(|i| i.vaddr_of_offset(offset));
                Mapped {
                    start,
                    end,
                    offset,
                    bias: vaddr.map_or(0, |v| start.wrapping_sub(v)),
                    build_id_gnu: info.as_ref().and_then(|i| i.build_id_gnu.clone()),
                    htlhash: info.as_ref().map(|i| i.htlhash.clone()),
                    path,
                }
            })
            .collect();
        entries.sort_by_key(|m| m.start);
        Ok(Mappings { entries })
    }

    /// The mapping holding runtime address `addr`.
    pub(crate) fn find(&self, addr: u64) -> Option<&Mapped> {
        let i = self
            .entries
            .partition_point(|m| m.start <= addr)
            .checked_sub(1)?;
        let m = &self.entries[i];
        (addr < m.end).then_some(m)
    }
}

/// The executable, file-backed lines of a `/proc/<pid>/maps` text: `(start, end, offset, path)`.
/// Lines that do not parse are skipped.
fn parse_maps(text: &str) -> Vec<(u64, u64, u64, PathBuf)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let perms = fields.next()?;
            let offset = fields.next()?;
            let _dev = fields.next()?;
            let _inode = fields.next()?;
            // The path may hold spaces: the rest of the line after the inode.
            let path = line.split_once('/').map(|(_, p)| format!("/{p}"))?;
            if !perms.contains('x') || path.ends_with(" (deleted)") {
                return None;
            }
            Some((
                u64::from_str_radix(start, 16).ok()?,
                u64::from_str_radix(end, 16).ok()?,
                u64::from_str_radix(offset, 16).ok()?,
                PathBuf::from(path),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_executable_file_mappings_only() {
        let text = "\
55d0c0000000-55d0c0001000 r--p 00000000 08:01 123 /usr/bin/app
55d0c0001000-55d0c0005000 r-xp 00001000 08:01 123 /usr/bin/app
7f0000000000-7f0000001000 r-xp 00000000 00:00 0 [vdso]
7f0000002000-7f0000003000 rw-p 00000000 00:00 0
7f0000004000-7f0000009000 r-xp 00002000 08:01 77 /opt/my lib.so
garbage line
";
        let got = parse_maps(text);
        assert_eq!(
            got,
            vec![
                (
                    0x55d0c0001000,
                    0x55d0c0005000,
                    0x1000,
                    PathBuf::from("/usr/bin/app")
                ),
                (
                    0x7f0000004000,
                    0x7f0000009000,
                    0x2000,
                    PathBuf::from("/opt/my lib.so")
                ),
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_the_test_binary_with_its_build_ids() {
        let s = Symbolizer::default();
        let maps = Mappings::read_self_with(&s).unwrap();
        let here = parses_executable_file_mappings_only as *const () as u64;
        let m = maps.find(here).unwrap();
        assert_eq!(m.path, std::env::current_exe().unwrap());
        assert_eq!(m.htlhash.as_ref().map(String::len), Some(32));
        assert!(m.vaddr(here) < here || m.bias == 0);
        assert!(maps.find(0).is_none());
    }
}
