//! [`Wal`]: the log's segment files in one directory — open and recover, append, acknowledge,
//! read back, sync, and give space back a segment at a time.

use super::record::{self, HEADER_LEN, Kind, SEGMENT_HEADER_LEN, VERSION};
use super::{Fsync, PersistentQueue};
use crate::error::{Error, Kind as ErrorKind};
use bytes::Bytes;
use otlp_proto::Encoding;
use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A batch record in the log: where it is and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) seq: u64,
    pub(super) items: u32,
    pub(super) encoding: Encoding,
    /// The segment holding it (its first sequence number).
    segment: u64,
    /// Where its header starts in the segment.
    offset: u64,
    len: u32,
}

/// What [`Wal::open`] found.
pub(super) struct Recovery {
    /// Batches written and never acknowledged, oldest first.
    pub(super) records: Vec<Stored>,
    /// Torn or damaged regions cut off (each the rest of a segment).
    pub(super) corrupt: u64,
}

struct Segment {
    first_seq: u64,
    path: PathBuf,
    file: File,
    bytes: u64,
    /// Batches in this segment not yet acknowledged.
    live: u64,
    /// Nothing more may be appended (a failed write left a partial record at its end).
    sealed: bool,
}

impl Segment {
    fn takes_more(&self, segment_bytes: u64) -> bool {
        !self.sealed && self.bytes < segment_bytes
    }
}

/// The log of one pipeline.
pub(super) struct Wal {
    dir: PathBuf,
    /// Held open for its lock: one process per directory.
    _lock: File,
    /// Oldest first; the last is the one appended to.
    segments: VecDeque<Segment>,
    total_bytes: u64,
    max_bytes: u64,
    segment_bytes: u64,
    fsync: Fsync,
    dirty: bool,
    last_sync: Instant,
    next_seq: u64,
}

fn storage(what: String, err: &io::Error) -> Error {
    Error::new(ErrorKind::Storage, format!("{what}: {err}"))
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

fn segment_seq(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl Wal {
    /// Opens (creating if needed) the log in `config`'s directory, locks it, and reads back
    /// the batches not yet acknowledged, cutting off damaged tails.
    pub(super) fn open(config: &PersistentQueue) -> Result<(Wal, Recovery), Error> {
        let dir = config.dir().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| {
            storage(
                format!(
                    "cannot create the persistent queue directory {}",
                    dir.display()
                ),
                &e,
            )
        })?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| storage(format!("cannot open {}", lock_path.display()), &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::Storage,
                    format!(
                        "the persistent queue in {} is in use by another pipeline or process",
                        dir.display()
                    ),
                ));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(storage(format!("cannot lock {}", lock_path.display()), &e));
            }
        }
        let mut paths = Vec::new();
        let listing = fs::read_dir(&dir)
            .map_err(|e| storage(format!("cannot list {}", dir.display()), &e))?;
        for entry in listing {
            let path = entry
                .map_err(|e| storage(format!("cannot list {}", dir.display()), &e))?
                .path();
            if let Some(seq) = segment_seq(&path) {
                paths.push((seq, path));
            }
        }
        paths.sort();
        let mut wal = Wal {
            dir,
            _lock: lock,
            segments: VecDeque::new(),
            total_bytes: 0,
            max_bytes: config.max_bytes(),
            segment_bytes: config.segment_bytes(),
            fsync: config.fsync(),
            dirty: false,
            last_sync: Instant::now(),
            next_seq: 1,
        };
        let mut records = Vec::new();
        let mut acked = HashSet::new();
        let mut corrupt = 0;
        for (first_seq, path) in paths {
            corrupt += wal.recover_segment(first_seq, path, &mut records, &mut acked)?;
        }
        records.retain(|r| !acked.contains(&r.seq));
        // One pass: the records are in segment order, as the segments are.
        let mut segments = wal.segments.iter_mut();
        let mut current = segments.next();
        for record in &records {
            while let Some(segment) = current.as_mut() {
                if segment.first_seq == record.segment {
                    segment.live += 1;
                    break;
                }
                current = segments.next();
            }
        }
        wal.reclaim()?;
        if wal
            .segments
            .back()
            .is_none_or(|s| !s.takes_more(wal.segment_bytes))
        {
            wal.roll()?;
        }
        Ok((wal, Recovery { records, corrupt }))
    }

    /// Reads one segment's records into `records` and `acked`; returns the damaged regions
    /// found (0 or 1), which are cut off.
    fn recover_segment(
        &mut self,
        first_seq: u64,
        path: PathBuf,
        records: &mut Vec<Stored>,
        acked: &mut HashSet<u64>,
    ) -> Result<u64, Error> {
        let bytes =
            fs::read(&path).map_err(|e| storage(format!("cannot read {}", path.display()), &e))?;
        let Some(version) = record::segment_version(&bytes) else {
            // Created and cut short before its header was whole: nothing in it.
            fs::remove_file(&path)
                .map_err(|e| storage(format!("cannot remove {}", path.display()), &e))?;
            return Ok(u64::from(!bytes.is_empty()));
        };
        if version != VERSION {
            return Err(Error::new(
                ErrorKind::Storage,
                format!(
                    "{} was written in format version {version}; this build reads version {VERSION}",
                    path.display()
                ),
            ));
        }
        let mut offset = SEGMENT_HEADER_LEN;
        let mut corrupt = 0;
        while offset < bytes.len() {
            let Some((header, _)) = record::read(&bytes[offset..]) else {
                corrupt = 1;
                break;
            };
            self.next_seq = self.next_seq.max(header.seq + 1);
            match header.kind {
                Kind::Batch => records.push(Stored {
                    seq: header.seq,
                    items: header.items,
                    encoding: header.encoding,
                    segment: first_seq,
                    offset: offset as u64,
                    len: header.len,
                }),
                Kind::Ack => {
                    let _ = acked.insert(header.seq);
                }
            }
            offset += HEADER_LEN + header.len as usize;
        }
        self.next_seq = self.next_seq.max(first_seq);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| storage(format!("cannot open {}", path.display()), &e))?;
        if corrupt > 0 {
            // Later writes must follow whole records, or the next start would stop here too.
            file.set_len(offset as u64)
                .map_err(|e| storage(format!("cannot cut {} short", path.display()), &e))?;
        }
        self.total_bytes += offset as u64;
        self.segments.push_back(Segment {
            first_seq,
            path,
            file,
            bytes: offset as u64,
            live: 0,
            sealed: false,
        });
        Ok(corrupt)
    }

    /// Whether `extra` more bytes fit under the cap.
    pub(super) fn has_room(&self, extra: u64) -> bool {
        self.total_bytes + extra < self.max_bytes
    }

    /// Bytes on disk.
    pub(super) fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Appends a batch record; syncs it at once under [`Fsync::EveryBatch`].
    pub(super) fn append(
        &mut self,
        encoding: Encoding,
        items: u32,
        payload: &[u8],
    ) -> io::Result<Stored> {
        if self
            .segments
            .back()
            .is_none_or(|s| !s.takes_more(self.segment_bytes))
        {
            self.roll().map_err(io::Error::other)?;
        }
        let seq = self.next_seq;
        let header = record::encode_header(Kind::Batch, encoding, seq, items, payload);
        let offset = self.write(&header, payload)?;
        self.next_seq += 1;
        let segment = self.segments.back_mut().ok_or_else(no_segment)?;
        segment.live += 1;
        let stored = Stored {
            seq,
            items,
            encoding,
            segment: segment.first_seq,
            offset,
            len: payload.len() as u32,
        };
        if self.fsync == Fsync::EveryBatch {
            self.sync()?;
        }
        Ok(stored)
    }

    /// Records that `stored` is settled, and gives back the segments that hold nothing live.
    /// A failed write only means the batch is sent again after a restart.
    pub(super) fn ack(&mut self, stored: &Stored) -> io::Result<()> {
        if self
            .segments
            .back()
            .is_none_or(|s| !s.takes_more(self.segment_bytes))
        {
            self.roll().map_err(io::Error::other)?;
        }
        let header =
            record::encode_header(Kind::Ack, stored.encoding, stored.seq, stored.items, &[]);
        let written = self.write(&header, &[]).map(drop);
        if let Some(segment) = self
            .segments
            .iter_mut()
            .find(|s| s.first_seq == stored.segment)
        {
            segment.live = segment.live.saturating_sub(1);
        }
        self.reclaim().map_err(io::Error::other)?;
        written
    }

    /// Reads a batch's payload back, or `None` when it no longer matches its CRC.
    pub(super) fn read(&self, stored: &Stored) -> io::Result<Option<Bytes>> {
        let segment = self
            .segments
            .iter()
            .find(|s| s.first_seq == stored.segment)
            .ok_or_else(no_segment)?;
        let mut header = [0; HEADER_LEN];
        segment.file.read_exact_at(&mut header, stored.offset)?;
        let mut payload = vec![0; stored.len as usize];
        segment
            .file
            .read_exact_at(&mut payload, stored.offset + HEADER_LEN as u64)?;
        Ok(record::payload_intact(&header, &payload).then(|| Bytes::from(payload)))
    }

    /// When the written data must next be synced, under [`Fsync::Interval`].
    pub(super) fn sync_due(&self) -> Option<Instant> {
        match self.fsync {
            Fsync::Interval(every) if self.dirty => Some(self.last_sync + every),
            _ => None,
        }
    }

    /// Syncs what was written, if anything.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(segment) = self.segments.back() {
            segment.file.sync_data()?;
        }
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Writes one record at the end of the last segment; returns its offset. A write that
    /// fails halfway is taken back, so that what follows is still readable.
    fn write(&mut self, header: &[u8], payload: &[u8]) -> io::Result<u64> {
        let segment = self.segments.back_mut().ok_or_else(no_segment)?;
        let offset = segment.bytes;
        let result = (&segment.file)
            .write_all(header)
            .and_then(|()| (&segment.file).write_all(payload));
        if let Err(e) = result {
            if segment.file.set_len(offset).is_err() {
                // The tail holds a partial record: no more appends to this segment.
                segment.sealed = true;
            }
            return Err(e);
        }
        let n = (header.len() + payload.len()) as u64;
        segment.bytes += n;
        self.total_bytes += n;
        self.dirty = true;
        Ok(offset)
    }

    /// Starts a new segment (after syncing the current one, so nothing is left behind unsynced).
    fn roll(&mut self) -> Result<(), Error> {
        if self.fsync != Fsync::Never {
            self.sync()
                .map_err(|e| storage("cannot sync the persistent queue".into(), &e))?;
        }
        let first_seq = self.next_seq;
        let path = self.dir.join(segment_name(first_seq));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| storage(format!("cannot create {}", path.display()), &e))?;
        let header = record::segment_header();
        file.set_len(0)
            .and_then(|()| (&file).write_all(&header))
            .map_err(|e| storage(format!("cannot write {}", path.display()), &e))?;
        if self.fsync != Fsync::Never {
            // The new file's name must survive a machine crash along with its records.
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| storage(format!("cannot sync {}", self.dir.display()), &e))?;
        }
        self.total_bytes += header.len() as u64;
        self.segments.push_back(Segment {
            first_seq,
            path,
            file,
            bytes: header.len() as u64,
            live: 0,
            sealed: false,
        });
        self.reclaim()
    }

    /// Removes the oldest segments while nothing in them is live (never the one appended to).
    /// Only a prefix goes: an acknowledgement lives in the same or a later segment than its
    /// batch, so no surviving batch loses its acknowledgement.
    fn reclaim(&mut self) -> Result<(), Error> {
        while self.segments.len() > 1 && self.segments.front().is_some_and(|s| s.live == 0) {
            if let Some(segment) = self.segments.pop_front() {
                fs::remove_file(&segment.path).map_err(|e| {
                    storage(format!("cannot remove {}", segment.path.display()), &e)
                })?;
                self.total_bytes -= segment.bytes.min(self.total_bytes);
            }
        }
        Ok(())
    }
}

fn no_segment() -> io::Error {
    io::Error::other("the persistent queue has no segment for this record")
}

#[cfg(test)]
mod tests;
