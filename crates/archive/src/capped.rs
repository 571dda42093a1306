//! A log kept within a size: the head and the tail, and what was cut
//! between them. Pure; the shell feeds it the stream's chunks, so memory
//! stays at the cap whatever the log's size.

use std::collections::VecDeque;

/// Keeps the first half of `cap` bytes and the last half.
pub struct Capped {
    cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    seen: u64,
}

impl Capped {
    pub fn new(cap: usize) -> Capped {
        Capped {
            cap,
            head: Vec::new(),
            tail: VecDeque::new(),
            seen: 0,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8]) {
        self.seen += chunk.len() as u64;
        let head_room = (self.cap / 2).saturating_sub(self.head.len());
        let into_head = head_room.min(chunk.len());
        self.head.extend_from_slice(&chunk[..into_head]);
        chunk = &chunk[into_head..];
        let tail_cap = self.cap - self.cap / 2;
        if chunk.len() >= tail_cap {
            self.tail.clear();
            self.tail.extend(&chunk[chunk.len() - tail_cap..]);
        } else {
            let over = (self.tail.len() + chunk.len()).saturating_sub(tail_cap);
            self.tail.drain(..over);
            self.tail.extend(chunk);
        }
    }

    /// Every byte of the log seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The bytes kept, with a line where the middle was cut, and how many
    /// bytes were cut.
    pub fn finish(self) -> (Vec<u8>, u64) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let cut = self.seen - kept;
        let mut out = self.head;
        if cut > 0 {
            out.extend_from_slice(
                format!("\n[mini-task archive: {cut} bytes cut here; the log was {} bytes, over the archive's cap of {} bytes]\n", self.seen, self.cap)
                    .as_bytes(),
            );
        }
        out.extend(self.tail);
        (out, cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_within_the_cap_is_kept_whole() {
        let mut c = Capped::new(10);
        c.push(b"abc");
        c.push(b"defgh");
        assert_eq!(c.finish(), (b"abcdefgh".to_vec(), 0));
    }

    #[test]
    fn a_log_over_the_cap_keeps_its_head_and_tail_whatever_the_chunks() {
        let log: Vec<u8> = (0..100u8).collect();
        for size in [1, 3, 7, 100] {
            let mut c = Capped::new(10);
            log.chunks(size).for_each(|ch| c.push(ch));
            assert_eq!(c.seen(), 100);
            let (kept, cut) = c.finish();
            assert_eq!(cut, 90);
            assert_eq!(&kept[..5], &[0, 1, 2, 3, 4]);
            assert_eq!(&kept[kept.len() - 5..], &[95, 96, 97, 98, 99]);
            let middle = String::from_utf8_lossy(&kept[5..kept.len() - 5]).to_string();
            assert!(middle.contains("90 bytes cut here; the log was 100 bytes"), "{middle}");
        }
    }
}
