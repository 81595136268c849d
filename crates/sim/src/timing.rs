//! The timing model: when each command starts and finishes on Gemmini's
//! decoupled load, execute and store controllers.
//!
//! Commands arrive from the core one every `cpu.issue_cycles` and take an
//! entry of their controller's reservation station; the core stalls while
//! that station is full. A command starts when its controller is free (each
//! controller is in order) and when every older command of *another*
//! controller that touches the same local rows, with at least one of the
//! two writing, has finished with them (the reservation station's
//! dependency rule). Because every dependency points to an older command,
//! start and finish times are computed once, at issue; the model is exact
//! for its rules and costs O(1) per command plus the rows it moves.
//!
//! Costs, every parameter from the hardware description:
//! - **mvin**: one read request per `dma.max_bytes`-aligned chunk of each
//!   row, at most one request per cycle and `dma.in_flight` outstanding;
//!   data arrives `dma.latency` cycles after its request and is written at
//!   `dma.bus_bytes` per cycle. The next mvin's requests follow at once.
//! - **preload + compute** (a tile): A streams one row per cycle (at least
//!   `array.min_rows`), twice as long when new weights come from A's bank
//!   (one read port); a tile that does not follow the previous one back to
//!   back waits `array.restart` cycles; results are committed
//!   `array.latency` cycles after the first row entered. `config_ex` drains
//!   the array first.
//! - **mvout**: `dma.store_latency` cycles to read and requantize, then one
//!   row per cycle, written with requests of at most `dma.max_bytes` at
//!   `dma.bus_bytes` per cycle; a store waits for the previous store.
//! - **fence** waits for everything, including write acknowledgements.

use crate::machine::{Effects, Span, Work};
use accc_targets::gemmini::hardware::HardwareConfig;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

pub const LOAD: usize = 0;
pub const EXEC: usize = 1;
pub const STORE: usize = 2;

/// Busy time of one controller: the union of its busy intervals, which
/// arrive in start order.
#[derive(Clone, Copy, Debug, Default)]
struct Busy {
    total: u64,
    until: u64,
}

impl Busy {
    fn add(&mut self, start: u64, end: u64) {
        if end > self.until {
            self.total += end - start.max(self.until);
            self.until = end;
        }
    }
}

/// A command still in a reservation station, with the local rows it
/// touches and when it is done reading and writing them.
struct Entry {
    unit: usize,
    reads: Vec<Span>,
    writes: Vec<Span>,
    reads_done: u64,
    writes_done: u64,
}

/// Requests in flight on one DMA direction: completion times, oldest first.
#[derive(Default)]
struct Requests {
    in_flight: VecDeque<u64>,
}

impl Requests {
    /// The earliest time a new request may go out: when a slot is free.
    fn slot(&mut self, limit: usize) -> u64 {
        if self.in_flight.len() >= limit {
            self.in_flight.pop_front().unwrap_or(0)
        } else {
            0
        }
    }
}

pub struct Timing {
    dim: u64,
    latency: u64,
    restart: u64,
    min_rows: u64,
    bus_bytes: u64,
    max_bytes: u64,
    mem_latency: u64,
    store_latency: u64,
    in_flight: usize,
    capacity: [usize; 3],
    issue_cycles: u64,

    /// When the core issues its next command.
    cpu: u64,
    stations: [BinaryHeap<Reverse<u64>>; 3],
    /// A preload waiting for its compute (it holds an execute entry).
    preload_pending: bool,
    live: Vec<Entry>,

    load_next_request: u64,
    load_write_free: u64,
    reads: Requests,
    exec_feed_free: u64,
    exec_last_commit: u64,
    store_free: u64,
    store_next_put: u64,
    writes: Requests,

    busy: [Busy; 3],
    first_command: Option<u64>,
    /// When everything issued so far is finished (fence target).
    end: u64,
}

impl Timing {
    pub fn new(cfg: &HardwareConfig) -> Timing {
        let q = &cfg.reservation_station;
        Timing {
            dim: u64::from(cfg.array.dim),
            latency: u64::from(cfg.array.latency),
            restart: u64::from(cfg.array.restart),
            min_rows: u64::from(cfg.array.min_rows),
            bus_bytes: u64::from(cfg.dma.bus_bytes),
            max_bytes: u64::from(cfg.dma.max_bytes),
            mem_latency: u64::from(cfg.dma.latency),
            store_latency: u64::from(cfg.dma.store_latency),
            in_flight: cfg.dma.in_flight as usize,
            capacity: [q.load as usize, q.execute as usize, q.store as usize],
            issue_cycles: u64::from(cfg.cpu.issue_cycles),
            cpu: 0,
            stations: Default::default(),
            preload_pending: false,
            live: Vec::new(),
            load_next_request: 0,
            load_write_free: 0,
            reads: Requests::default(),
            exec_feed_free: 0,
            exec_last_commit: 0,
            store_free: 0,
            store_next_put: 0,
            writes: Requests::default(),
            busy: [Busy::default(); 3],
            first_command: None,
            end: 0,
        }
    }

    /// The core's clock: what `read_cycles()` returns.
    pub fn now(&self) -> u64 {
        self.cpu
    }

    /// The core waits for every command to finish.
    pub fn fence(&mut self) {
        self.cpu = self.cpu.max(self.end);
    }

    /// Cycles each controller was busy.
    pub fn busy_cycles(&self) -> [u64; 3] {
        [self.busy[0].total, self.busy[1].total, self.busy[2].total]
    }

    /// The cycle of the first command, if any.
    pub fn first_command(&self) -> Option<u64> {
        self.first_command
    }

    /// When everything issued so far is finished.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Waits (stalling the core) until `unit`'s station has a free entry;
    /// returns the time the command can enter.
    fn enter(&mut self, unit: usize) -> u64 {
        let mut t = self.cpu;
        let cap = self.capacity[unit];
        let held = usize::from(unit == EXEC && self.preload_pending);
        let station = &mut self.stations[unit];
        while let Some(&Reverse(done)) = station.peek() {
            if done <= t || station.len() + held + 1 > cap {
                station.pop();
                t = t.max(done);
            } else {
                break;
            }
        }
        t
    }

    /// The time every older command of another controller that this one
    /// depends on is done with the rows.
    fn dependences(&self, unit: usize, e: &Effects) -> u64 {
        let mut ready = 0;
        for old in self.live.iter().filter(|old| old.unit != unit) {
            for w in &e.writes {
                if old.reads.iter().any(|r| r.overlaps(w)) {
                    ready = ready.max(old.reads_done);
                }
                if old.writes.iter().any(|x| x.overlaps(w)) {
                    ready = ready.max(old.writes_done);
                }
            }
            for r in &e.reads {
                if old.writes.iter().any(|x| x.overlaps(r)) {
                    ready = ready.max(old.writes_done);
                }
            }
        }
        ready
    }

    /// Books `entries` station entries of `unit` until the command is
    /// done, and remembers its rows for later commands' dependences.
    fn record(
        &mut self,
        unit: usize,
        rows: Option<Effects>,
        start: u64,
        reads_done: u64,
        writes_done: u64,
        entries: usize,
    ) {
        let done = reads_done.max(writes_done);
        for _ in 0..entries {
            self.stations[unit].push(Reverse(done));
        }
        self.end = self.end.max(done);
        if let Some(e) = rows.filter(|e| !e.reads.is_empty() || !e.writes.is_empty()) {
            self.live.push(Entry {
                unit,
                reads: e.reads,
                writes: e.writes,
                reads_done,
                writes_done,
            });
        }
        self.first_command.get_or_insert(start);
        if self.live.len() > 256 {
            let now = self.cpu;
            self.live.retain(|x| x.reads_done.max(x.writes_done) > now);
        }
    }

    /// Times one command; the functional model has already executed it.
    pub fn issue(&mut self, e: Effects) {
        let unit = match e.work {
            Work::Flush => LOAD,
            Work::Config(unit) => unit,
            Work::Load { .. } => LOAD,
            Work::Preload | Work::Tile { .. } => EXEC,
            Work::Store { .. } => STORE,
        };
        if e.work == Work::Flush {
            // A flush empties the TLB at once; it takes no station entry.
            self.cpu += self.issue_cycles;
            return;
        }
        let t = self.enter(unit);
        self.cpu = t + self.issue_cycles;
        let ready = t.max(self.dependences(unit, &e));
        match e.work {
            Work::Config(LOAD) => {
                let start = ready.max(self.load_next_request);
                self.load_next_request = start + 1;
                self.record(unit, Some(e), start, start + 1, start + 1, 1);
            }
            Work::Config(STORE) => {
                let start = ready.max(self.store_free);
                self.store_free = start + 1;
                self.record(unit, Some(e), start, start + 1, start + 1, 1);
            }
            Work::Config(_) => {
                // config_ex drains the array.
                let start = ready.max(self.exec_last_commit).max(self.exec_feed_free);
                let done = start + 2;
                self.exec_feed_free = done;
                self.record(unit, Some(e), start, done, done, 1);
            }
            Work::Load {
                dram,
                stride,
                rows,
                row_bytes,
                blocks,
            } => {
                let start = ready.max(self.load_next_request);
                if dram == 0 {
                    let w = (start + 1).max(self.load_write_free);
                    self.load_write_free = w + u64::from(rows) * u64::from(blocks);
                    self.load_next_request = start + 1;
                } else {
                    let mut next = start;
                    for r in 0..u64::from(rows) {
                        let row = dram.wrapping_add(r.wrapping_mul(stride));
                        for len in chunks(row, u64::from(row_bytes), self.max_bytes) {
                            let issue = next.max(self.reads.slot(self.in_flight));
                            next = issue + 1;
                            let w = (issue + self.mem_latency).max(self.load_write_free);
                            self.load_write_free = w + len.div_ceil(self.bus_bytes);
                            self.reads.in_flight.push_back(self.load_write_free);
                        }
                    }
                    self.load_next_request = next;
                }
                let done = self.load_write_free.max(start) + 2;
                self.busy[LOAD].add(start, done);
                self.record(unit, Some(e), start, done, done, 1);
            }
            Work::Preload => {
                if self.preload_pending {
                    // The previous preload had no compute: it shifts its
                    // operand in alone.
                    let start = ready.max(self.exec_feed_free) + self.restart;
                    self.exec_feed_free = start + self.dim;
                    self.busy[EXEC].add(start, start + self.dim);
                    let end = self.exec_feed_free;
                    self.record(unit, None, start, end, end, 1);
                }
                self.preload_pending = true;
                self.first_command.get_or_insert(t);
            }
            Work::Tile {
                rows,
                new_weights,
                same_bank,
            } => {
                let rows = u64::from(rows).max(self.min_rows);
                let start = if self.exec_feed_free >= ready {
                    self.exec_feed_free
                } else {
                    ready + self.restart
                };
                let feed = if new_weights && same_bank {
                    2 * rows
                } else {
                    rows
                };
                let feed_end = start + feed;
                let commit = feed_end + self.latency.saturating_sub(self.dim);
                self.exec_feed_free = feed_end;
                self.exec_last_commit = self.exec_last_commit.max(commit);
                self.busy[EXEC].add(start, feed_end);
                let entries = 1 + usize::from(std::mem::take(&mut self.preload_pending));
                self.record(unit, Some(e), start, feed_end, commit, entries);
            }
            Work::Flush => {}
            Work::Store {
                dram,
                stride,
                rows,
                row_bytes,
                ..
            } => {
                let start = ready.max(self.store_free);
                let data_from = start + self.store_latency;
                let mut last_put = data_from;
                for r in 0..u64::from(rows) {
                    let row = dram.wrapping_add(r.wrapping_mul(stride));
                    for len in chunks(row, u64::from(row_bytes), self.max_bytes) {
                        let issue = self
                            .store_next_put
                            .max(data_from + r + 1)
                            .max(self.writes.slot(self.in_flight));
                        let beats = len.div_ceil(self.bus_bytes);
                        self.store_next_put = issue + beats;
                        last_put = self.store_next_put;
                        let ack = last_put + self.mem_latency;
                        self.writes.in_flight.push_back(ack);
                        self.end = self.end.max(ack);
                    }
                }
                let done = last_put + 2;
                self.store_free = done;
                self.busy[STORE].add(start, done);
                let reads_done = data_from + u64::from(rows);
                self.record(unit, Some(e), start, reads_done, done, 1);
            }
        }
    }
}

/// The byte counts of the requests that move `len` bytes from `addr`:
/// split at every `max`-byte boundary.
fn chunks(addr: u64, len: u64, max: u64) -> impl Iterator<Item = u64> {
    let mut at = addr;
    let end = addr.saturating_add(len);
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let boundary = (at / max + 1).saturating_mul(max);
        let next = boundary.min(end);
        let n = next - at;
        at = next;
        Some(n)
    })
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn requests_split_at_cache_blocks() {
        assert_eq!(chunks(0, 64, 64).collect::<Vec<_>>(), vec![64]);
        assert_eq!(chunks(48, 32, 64).collect::<Vec<_>>(), vec![16, 16]);
        assert_eq!(chunks(0, 0, 64).count(), 0);
    }
}
