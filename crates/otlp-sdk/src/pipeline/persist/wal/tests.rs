//! The log's files: order across segments, reclaiming, torn and damaged records, the lock,
//! the format version, the cap.

use super::*;

fn config(dir: &Path) -> PersistentQueue {
    PersistentQueue::new(dir)
        .with_max_bytes(1 << 20)
        .with_segment_bytes(200)
        .with_fsync(Fsync::Never)
}

fn payload(i: u64) -> Vec<u8> {
    format!("batch number {i}").into_bytes()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| segment_seq(p).is_some())
        .collect();
    files.sort();
    files
}

#[test]
fn unacknowledged_batches_come_back_in_order_across_segments() {
    let dir = test_support::temp_dir("wal-order");
    let mut stored = Vec::new();
    {
        let (mut wal, recovery) = Wal::open(&config(&dir)).unwrap();
        assert!(recovery.records.is_empty());
        for i in 0..20 {
            stored.push(
                wal.append(Encoding::Protobuf, i as u32, &payload(i))
                    .unwrap(),
            );
        }
        assert!(segment_files(&dir).len() > 3);
        for s in stored.iter().filter(|s| s.seq % 3 == 0) {
            wal.ack(s).unwrap();
        }
    }
    let (wal, recovery) = Wal::open(&config(&dir)).unwrap();
    let want: Vec<u64> = stored
        .iter()
        .map(|s| s.seq)
        .filter(|s| s % 3 != 0)
        .collect();
    let got: Vec<u64> = recovery.records.iter().map(|s| s.seq).collect();
    assert_eq!(got, want);
    assert_eq!(recovery.corrupt, 0);
    for r in &recovery.records {
        assert_eq!(wal.read(r).unwrap().unwrap(), payload(r.seq - 1));
        assert_eq!(u64::from(r.items), r.seq - 1);
    }
}

#[test]
fn acknowledged_segments_are_removed_and_new_sequence_numbers_continue() {
    let dir = test_support::temp_dir("wal-reclaim");
    let last;
    {
        let (mut wal, _) = Wal::open(&config(&dir)).unwrap();
        let stored: Vec<_> = (0..20)
            .map(|i| wal.append(Encoding::Json, 1, &payload(i)).unwrap())
            .collect();
        let segments = segment_files(&dir).len();
        for s in &stored[..19] {
            wal.ack(s).unwrap();
        }
        // The segments before the one holding the last batch are gone.
        let left = segment_files(&dir);
        assert!(left.len() < segments, "{} of {segments}", left.len());
        assert!(segment_seq(&left[0]).unwrap() <= stored[19].seq);
        assert!(segment_seq(&left[0]).unwrap() > stored[10].seq);
        last = stored[19].seq;
    }
    let (mut wal, recovery) = Wal::open(&config(&dir)).unwrap();
    assert_eq!(recovery.records.len(), 1);
    assert_eq!(recovery.records[0].seq, last);
    assert_eq!(recovery.records[0].encoding, Encoding::Json);
    wal.ack(&recovery.records[0]).unwrap();
    let next = wal.append(Encoding::Json, 1, b"x").unwrap();
    assert_eq!(next.seq, last + 1);
    wal.ack(&next).unwrap();
    let _ = wal.append(Encoding::Json, 1, b"y").unwrap();
    // Everything acknowledged: at most the segment appended to and the one before it.
    assert!(segment_files(&dir).len() <= 2, "{:?}", segment_files(&dir));
    assert!(wal.bytes() <= 2 * 200 + 100, "{}", wal.bytes());
}

#[test]
fn a_torn_tail_is_cut_off_and_counted_and_appends_continue_after_it() {
    let dir = test_support::temp_dir("wal-torn");
    let config = config(&dir).with_segment_bytes(1 << 20);
    {
        let (mut wal, _) = Wal::open(&config).unwrap();
        for i in 0..5 {
            let _ = wal.append(Encoding::Protobuf, 1, &payload(i)).unwrap();
        }
    }
    let file = segment_files(&dir).pop().unwrap();
    let len = fs::metadata(&file).unwrap().len();
    // A crash halfway through the fifth record.
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    {
        let (mut wal, recovery) = Wal::open(&config).unwrap();
        assert_eq!(recovery.corrupt, 1);
        assert_eq!(recovery.records.len(), 4);
        let _ = wal.append(Encoding::Protobuf, 1, b"after").unwrap();
    }
    let (_, recovery) = Wal::open(&config).unwrap();
    assert_eq!(recovery.corrupt, 0, "the cut left whole records only");
    assert_eq!(recovery.records.len(), 5);
}

#[test]
fn a_damaged_record_ends_its_segment_and_later_segments_are_still_read() {
    let dir = test_support::temp_dir("wal-damaged");
    {
        let (mut wal, _) = Wal::open(&config(&dir)).unwrap();
        for i in 0..20 {
            let _ = wal.append(Encoding::Protobuf, 1, &payload(i)).unwrap();
        }
    }
    let files = segment_files(&dir);
    assert!(files.len() >= 3);
    let mut bytes = fs::read(&files[0]).unwrap();
    // Inside the second record's payload.
    let at = SEGMENT_HEADER_LEN + HEADER_LEN + payload(0).len() + HEADER_LEN + 2;
    bytes[at] ^= 0xff;
    fs::write(&files[0], &bytes).unwrap();
    let (wal, recovery) = Wal::open(&config(&dir)).unwrap();
    assert_eq!(recovery.corrupt, 1);
    let first_of_second_segment = segment_seq(&files[1]).unwrap();
    let got: Vec<u64> = recovery.records.iter().map(|r| r.seq).collect();
    let want: Vec<u64> = std::iter::once(1)
        .chain(first_of_second_segment..=20)
        .collect();
    assert_eq!(got, want);
    for r in &recovery.records {
        assert_eq!(wal.read(r).unwrap().unwrap(), payload(r.seq - 1));
    }
}

#[test]
fn a_second_user_of_the_directory_is_refused_by_name() {
    let dir = test_support::temp_dir("wal-lock");
    let (_wal, _) = Wal::open(&config(&dir)).unwrap();
    let err = Wal::open(&config(&dir)).err().unwrap();
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn a_newer_format_is_refused_not_skipped() {
    let dir = test_support::temp_dir("wal-version");
    let mut header = record::segment_header();
    header[8] = 9;
    fs::write(dir.join(segment_name(1)), header).unwrap();
    let err = Wal::open(&config(&dir)).err().unwrap();
    assert!(err.to_string().contains("format version 9"), "{err}");
}

#[test]
fn the_cap_is_reported() {
    let dir = test_support::temp_dir("wal-cap");
    let (mut wal, _) = Wal::open(&config(&dir)).unwrap();
    assert!(wal.has_room(1 << 19));
    let _ = wal
        .append(Encoding::Protobuf, 1, &vec![7; 1 << 19])
        .unwrap();
    assert!(!wal.has_room(1 << 19));
}
