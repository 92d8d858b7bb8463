//! The process's mappings from `/proc/self/maps`: where stacks may be read, and which
//! addresses are executable.

use crate::error::{Error, Kind};

/// One mapping, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// The main thread's `[stack]`: it grows down, so the snapshot's start may be stale.
    pub(crate) grows_down: bool,
}

/// Readable and writable mappings (candidate stacks) and executable mappings, each sorted.
#[derive(Debug, Default)]
pub(crate) struct Maps {
    pub(crate) writable: Vec<Region>,
    pub(crate) executable: Vec<Region>,
}

/// Reads `/proc/self/maps`.
pub(crate) fn read() -> Result<Maps, Error> {
    let text = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| Error::new(Kind::System, "reading /proc/self/maps failed").with_source(e))?;
    Ok(parse(&text))
}

fn parse(text: &str) -> Maps {
    let mut maps = Maps::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        else {
            continue;
        };
        let perms = perms.as_bytes();
        let name = fields.nth(3).unwrap_or("");
        let region = Region {
            start,
            end,
            grows_down: name == "[stack]",
        };
        if perms.len() >= 3 && perms[0] == b'r' && perms[1] == b'w' {
            maps.writable.push(region);
        }
        if perms.len() >= 3 && perms[2] == b'x' {
            maps.executable.push(region);
        }
    }
    maps.writable.sort_by_key(|r| r.start);
    maps.executable.sort_by_key(|r| r.start);
    maps
}

/// The bounds `[low, high)` a walk from `sp` may read: the writable mapping holding `sp`
/// (or, for a stack that grows down, the part from `sp` up to its top).
pub(crate) fn stack_bounds(writable: &[Region], sp: u64) -> Option<(u64, u64)> {
    // The last region starting at or below sp, else the first above it (a grown [stack]).
    let index = writable.partition_point(|r| r.start <= sp);
    if index > 0 {
        let r = writable[index - 1];
        if sp < r.end {
            return Some((r.start, r.end));
        }
    }
    // Below the snapshot's start of the main stack: the kernel grew it since; everything from
    // sp to its top is mapped. Other threads' stacks sit below the mmap base, which the
    // kernel keeps at least 128 MiB under the main stack, so 64 MiB cannot reach them.
    let r = writable.get(index)?;
    (r.grows_down && r.start - sp <= 64 << 20).then_some((sp, r.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds() {
        let maps = parse(
            "55d0-55e0 r-xp 00000000 08:01 1 /bin/x\n\
             7f00000-7f10000 rw-p 00000000 00:00 0 \n\
             7ff0000000-8000000000 rw-p 00000000 00:00 0    [stack]\n",
        );
        assert_eq!(maps.executable.len(), 1);
        assert_eq!(maps.writable.len(), 2);
        let w = &maps.writable;
        assert_eq!(stack_bounds(w, 0x7f08000), Some((0x7f00000, 0x7f10000)));
        assert_eq!(stack_bounds(w, 0x7f10000), None);
        assert_eq!(
            stack_bounds(w, 0x7fef000000),
            Some((0x7fef000000, 0x8000000000))
        );
        assert_eq!(stack_bounds(w, 0x10), None);
    }
}
