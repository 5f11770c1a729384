//! Sorting more entries than memory should hold: fixed-size entries are sorted in
//! runs of a bounded size, each run spilled to one private [scratch
//! file](crate::files::scratch), and the runs merged back in order. Memory is the
//! run buffer plus 64 KiB per run while merging, whatever the number of entries;
//! a sort that fits one run never touches the disk.
//!
//! ```
//! use clerk_migrate::spill::Sorter;
//!
//! # fn main() -> std::io::Result<()> {
//! let mut sorter = Sorter::<[u64; 2]>::new(std::env::temp_dir(), 4);
//! for n in [9u64, 3, 7, 1, 8, 2, 6] {
//!     sorter.push([n, n * 10])?;
//! }
//! let sorted: Vec<[u64; 2]> = sorter.finish()?.collect::<Result<_, _>>()?;
//! assert_eq!(sorted.iter().map(|e| e[0]).collect::<Vec<_>>(), [1, 2, 3, 6, 7, 8, 9]);
//! # Ok(()) }
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::files::{Scratch, scratch};

/// An entry of fixed size, sorted by its `Ord`.
pub trait Fixed: Copy + Ord {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Writes the entry into `out` (`SIZE` bytes).
    fn encode(&self, out: &mut [u8]);
    /// Reads an entry back from `bytes` (`SIZE` bytes).
    fn decode(bytes: &[u8]) -> Self;
}

impl<const N: usize> Fixed for [u64; N] {
    const SIZE: usize = 8 * N;

    fn encode(&self, out: &mut [u8]) {
        for (chunk, word) in out.chunks_exact_mut(8).zip(self) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut out = [0; N];
        for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        out
    }
}

/// Bytes read from a run at a time while merging.
const READ_CHUNK: usize = 64 * 1024;

/// Collects entries, sorts them in runs of at most `run_len`, spilling full runs to
/// a scratch file in `dir`.
#[derive(Debug)]
pub struct Sorter<T> {
    dir: PathBuf,
    run_len: usize,
    buffer: Vec<T>,
    file: Option<Arc<Scratch>>,
    /// Spilled runs: byte offset and number of entries.
    runs: Vec<(u64, u64)>,
    written: u64,
    len: u64,
}

impl<T: Fixed> Sorter<T> {
    /// A sorter holding at most `run_len` entries in memory (at least 1), spilling
    /// to a scratch file in `dir`.
    pub fn new(dir: impl Into<PathBuf>, run_len: usize) -> Self {
        Self {
            dir: dir.into(),
            run_len: run_len.max(1),
            buffer: Vec::new(),
            file: None,
            runs: Vec::new(),
            written: 0,
            len: 0,
        }
    }

    /// Adds an entry.
    pub fn push(&mut self, entry: T) -> io::Result<()> {
        if self.buffer.len() >= self.run_len {
            self.spill()?;
        }
        if self.buffer.capacity() == 0 {
            // Grown by doubling up to the run length, never past it.
            self.buffer.reserve_exact(self.run_len.min(1024));
        } else if self.buffer.len() == self.buffer.capacity() {
            let more = self.buffer.capacity().min(self.run_len - self.buffer.len());
            self.buffer.reserve_exact(more);
        }
        self.buffer.push(entry);
        self.len += 1;
        Ok(())
    }

    /// Entries pushed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs spilled to disk so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    /// Bytes of memory the entries take (the run buffer's capacity): bounded by
    /// `run_len`, whatever the number of entries.
    pub fn memory_bytes(&self) -> usize {
        self.buffer.capacity() * std::mem::size_of::<T>()
    }

    fn spill(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.sort_unstable();
        let file = match &self.file {
            Some(file) => Arc::clone(file),
            None => {
                let file = Arc::new(scratch(&self.dir, "sort")?);
                self.file = Some(Arc::clone(&file));
                file
            }
        };
        let mut out = BufWriter::with_capacity(READ_CHUNK, file.file());
        let mut bytes = vec![0; T::SIZE];
        for entry in &self.buffer {
            entry.encode(&mut bytes);
            out.write_all(&bytes)?;
        }
        out.flush()?;
        let count = self.buffer.len() as u64;
        self.runs.push((self.written, count));
        self.written += count * T::SIZE as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Every entry, in order.
    pub fn finish(mut self) -> io::Result<Sorted<T>> {
        if self.runs.is_empty() {
            self.buffer.sort_unstable();
            return Ok(Sorted::Memory(std::mem::take(&mut self.buffer).into_iter()));
        }
        self.spill()?;
        // The run buffer is given back before the merge.
        self.buffer = Vec::new();
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("no spill file"))?;
        let mut readers: Vec<RunReader<T>> = self
            .runs
            .iter()
            .map(|&(start, count)| RunReader::new(Arc::clone(&file), start, count))
            .collect();
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some(entry) = reader.next()? {
                heap.push(Reverse((entry, i)));
            }
        }
        Ok(Sorted::Merge { readers, heap })
    }
}

/// The entries of a [`Sorter`], in order (ties in no particular order).
#[derive(Debug)]
pub enum Sorted<T> {
    /// Everything fit one run.
    Memory(std::vec::IntoIter<T>),
    /// A merge of spilled runs.
    Merge {
        /// One reader per run.
        readers: Vec<RunReader<T>>,
        /// The next entry of each run.
        heap: BinaryHeap<Reverse<(T, usize)>>,
    },
}

impl<T: Fixed> Iterator for Sorted<T> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Memory(entries) => entries.next().map(Ok),
            Self::Merge { readers, heap } => {
                let Reverse((entry, i)) = heap.pop()?;
                match readers[i].next() {
                    Ok(Some(next)) => heap.push(Reverse((next, i))),
                    Ok(None) => {}
                    Err(err) => return Some(Err(err)),
                }
                Some(Ok(entry))
            }
        }
    }
}

/// Reads one spilled run back, 64 KiB at a time.
#[derive(Debug)]
pub struct RunReader<T> {
    file: Arc<Scratch>,
    at: u64,
    left: u64,
    buffer: Vec<u8>,
    pos: usize,
    _entry: std::marker::PhantomData<T>,
}

impl<T: Fixed> RunReader<T> {
    fn new(file: Arc<Scratch>, start: u64, count: u64) -> Self {
        Self {
            file,
            at: start,
            left: count,
            buffer: Vec::new(),
            pos: 0,
            _entry: std::marker::PhantomData,
        }
    }

    fn next(&mut self) -> io::Result<Option<T>> {
        if self.pos >= self.buffer.len() {
            if self.left == 0 {
                self.buffer = Vec::new();
                return Ok(None);
            }
            let per_chunk = (READ_CHUNK / T::SIZE).max(1) as u64;
            let take = self.left.min(per_chunk);
            let bytes = usize::try_from(take).unwrap_or(usize::MAX) * T::SIZE;
            self.buffer.resize(bytes, 0);
            self.file.read_exact_at(&mut self.buffer, self.at)?;
            self.at += bytes as u64;
            self.left -= take;
            self.pos = 0;
        }
        let entry = T::decode(&self.buffer[self.pos..self.pos + T::SIZE]);
        self.pos += T::SIZE;
        Ok(Some(entry))
    }
}

/// Numbers pushed in ascending order (byte offsets of records, as a file is read),
/// the first `in_memory` of them kept in memory and the rest written to a scratch
/// file in `dir`, 64 KiB at a time: a set whose memory does not grow with it, read
/// back in order as often as needed ([`Ascending::iter`], [`Ascending::cursor`]).
///
/// ```
/// use clerk_migrate::spill::Ascending;
///
/// # fn main() -> std::io::Result<()> {
/// let mut set = Ascending::new(std::env::temp_dir(), 2);
/// for n in [3u64, 8, 8, 21, 40] {
///     set.push(n)?;
/// }
/// assert_eq!(set.iter().collect::<Result<Vec<_>, _>>()?, [3, 8, 21, 40]);
/// let mut cursor = set.cursor();
/// assert!(cursor.contains(8)? && !cursor.contains(9)? && cursor.contains(40)?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Ascending {
    dir: PathBuf,
    in_memory: usize,
    /// Numbers buffered before a write: 64 KiB, or `in_memory` if less.
    buffer_len: usize,
    memory: Vec<u64>,
    /// Past `in_memory`: written to `file`, a buffer at a time.
    pending: Vec<u64>,
    file: Option<Scratch>,
    written: u64,
    len: u64,
    last: Option<u64>,
}

/// Numbers an [`Ascending`] buffers before writing them to its file (64 KiB).
const ASCENDING_BUFFER: usize = READ_CHUNK / 8;

impl Ascending {
    /// An empty set holding at most `in_memory` numbers (and a write buffer of at
    /// most 64 KiB) in memory, spilling to a scratch file in `dir` past that.
    pub fn new(dir: impl Into<PathBuf>, in_memory: usize) -> Self {
        Self {
            dir: dir.into(),
            in_memory,
            buffer_len: ASCENDING_BUFFER.min(in_memory.max(16)),
            memory: Vec::new(),
            pending: Vec::new(),
            file: None,
            written: 0,
            len: 0,
            last: None,
        }
    }

    /// Adds `n`, which is no less than any number before it (a repeat is ignored).
    pub fn push(&mut self, n: u64) -> io::Result<()> {
        match self.last {
            Some(last) if n == last => return Ok(()),
            Some(last) if n < last => {
                return Err(io::Error::other(format!(
                    "{n} pushed after {last}: numbers must come in ascending order"
                )));
            }
            _ => {}
        }
        self.last = Some(n);
        self.len += 1;
        if self.memory.len() < self.in_memory {
            grow_within(&mut self.memory, self.in_memory);
            self.memory.push(n);
            return Ok(());
        }
        grow_within(&mut self.pending, self.buffer_len);
        self.pending.push(n);
        if self.pending.len() >= self.buffer_len {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = match &self.file {
            Some(file) => file,
            None => self.file.insert(scratch(&self.dir, "offsets")?),
        };
        let mut bytes = Vec::with_capacity(self.pending.len() * 8);
        for n in self.pending.drain(..) {
            bytes.extend_from_slice(&n.to_le_bytes());
        }
        let mut out = file.file();
        out.write_all(&bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Numbers in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory the set takes: bounded by `in_memory` and the write buffer.
    pub fn memory_bytes(&self) -> usize {
        (self.memory.capacity() + self.pending.capacity()) * 8
    }

    /// Numbers written to the scratch file so far.
    pub fn spilled(&self) -> u64 {
        self.written / 8
    }

    /// Every number, in order: those in memory, those in the file, those buffered.
    pub fn iter(&self) -> AscendingIter<'_> {
        AscendingIter {
            set: self,
            at: 0,
            buffer: Vec::new(),
            pos: 0,
        }
    }

    /// A cursor answering "is `n` in the set" for ascending `n`, one pass over it.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            numbers: self.iter(),
            next: None,
            started: false,
        }
    }
}

/// Makes room for one more in `v`, doubling but never past `bound` entries.
fn grow_within(v: &mut Vec<u64>, bound: usize) {
    if v.len() == v.capacity() {
        let more = v
            .capacity()
            .max(16)
            .min(bound.saturating_sub(v.len()).max(1));
        v.reserve_exact(more);
    }
}

/// The numbers of an [`Ascending`], in order.
#[derive(Debug)]
pub struct AscendingIter<'a> {
    set: &'a Ascending,
    /// Numbers read so far.
    at: u64,
    /// Numbers read from the file, and the next one's position in it.
    buffer: Vec<u64>,
    pos: usize,
}

impl Iterator for AscendingIter<'_> {
    type Item = io::Result<u64>;

    fn next(&mut self) -> Option<Self::Item> {
        let set = self.set;
        let in_memory = set.memory.len() as u64;
        let in_file = set.written / 8;
        let at = self.at;
        if at >= set.len {
            return None;
        }
        self.at += 1;
        if at < in_memory {
            return Some(Ok(set.memory[at as usize]));
        }
        if at >= in_memory + in_file {
            let i = (at - in_memory - in_file) as usize;
            return set.pending.get(i).copied().map(Ok);
        }
        if self.pos >= self.buffer.len() {
            let from = at - in_memory;
            let take = (in_file - from).min(ASCENDING_BUFFER as u64) as usize;
            let mut bytes = vec![0; take * 8];
            let read = match &set.file {
                Some(file) => file.read_exact_at(&mut bytes, from * 8),
                None => Err(io::Error::other("the offsets file is missing")),
            };
            if let Err(err) = read {
                self.at = set.len;
                return Some(Err(err));
            }
            self.buffer.clear();
            self.buffer.extend(bytes.chunks_exact(8).map(|b| {
                let mut word = [0; 8];
                word.copy_from_slice(b);
                u64::from_le_bytes(word)
            }));
            self.pos = 0;
        }
        self.pos += 1;
        Some(Ok(self.buffer[self.pos - 1]))
    }
}

/// Membership of ascending numbers in an [`Ascending`], in one pass.
#[derive(Debug)]
pub struct Cursor<'a> {
    numbers: AscendingIter<'a>,
    next: Option<u64>,
    started: bool,
}

impl Cursor<'_> {
    /// Whether `n` is in the set; each `n` asked must be no less than the one before.
    pub fn contains(&mut self, n: u64) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            self.next = self.numbers.next().transpose()?;
        }
        while let Some(next) = self.next {
            if next >= n {
                return Ok(next == n);
            }
            self.next = self.numbers.next().transpose()?;
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_runs_merge_into_one_order_with_bounded_memory() {
        let mut sorter = Sorter::<[u64; 3]>::new(std::env::temp_dir(), 1000);
        let mut expected = Vec::new();
        let mut x: u64 = 7;
        let mut peak = 0;
        for i in 0..25_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let entry = [x >> 50, i, x];
            sorter.push(entry).unwrap();
            expected.push(entry);
            peak = peak.max(sorter.memory_bytes());
        }
        assert!(sorter.spilled_runs() >= 24, "{}", sorter.spilled_runs());
        assert!(peak <= 1000 * 24, "the run buffer grew to {peak} bytes");
        expected.sort_unstable();
        let sorted: Vec<[u64; 3]> = sorter.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn an_ascending_set_past_its_memory_goes_to_disk_and_reads_back_whole() {
        let mut set = Ascending::new(std::env::temp_dir(), 1000);
        let mut peak = 0;
        let expected: Vec<u64> = (0..100_000u64).map(|i| i * 3 + 1).collect();
        for &n in &expected {
            set.push(n).unwrap();
            set.push(n).unwrap();
            peak = peak.max(set.memory_bytes());
        }
        assert_eq!(set.len(), 100_000);
        assert_eq!(set.spilled(), 99_000);
        assert!(peak <= 2 * 1000 * 8, "{peak} bytes");
        for _ in 0..2 {
            let read: Vec<u64> = set.iter().map(Result::unwrap).collect();
            assert_eq!(read, expected);
        }
        let mut cursor = set.cursor();
        for n in 0..300_010 {
            assert_eq!(
                cursor.contains(n).unwrap(),
                n % 3 == 1 && n < 300_000,
                "{n}"
            );
        }
        assert!(set.push(5).is_err(), "not ascending");
        // Read while some are still buffered, and again after more were written.
        set.push(400_000).unwrap();
        assert_eq!(set.iter().last().unwrap().unwrap(), 400_000);
        assert_eq!(set.iter().count(), 100_001);
    }

    #[test]
    fn a_sort_that_fits_one_run_stays_in_memory() {
        let mut sorter = Sorter::<[u64; 1]>::new("/nonexistent-dir-never-written", 10);
        for n in [3, 1, 2] {
            sorter.push([n]).unwrap();
        }
        let sorted: Vec<[u64; 1]> = sorter.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(sorted, [[1], [2], [3]]);
    }
}
