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
    fn a_sort_that_fits_one_run_stays_in_memory() {
        let mut sorter = Sorter::<[u64; 1]>::new("/nonexistent-dir-never-written", 10);
        for n in [3, 1, 2] {
            sorter.push([n]).unwrap();
        }
        let sorted: Vec<[u64; 1]> = sorter.finish().unwrap().map(Result::unwrap).collect();
        assert_eq!(sorted, [[1], [2], [3]]);
    }
}
