//! What a script run may hold in memory, counted exactly: the process's global allocator
//! tags every block with the run that allocated it, so a run's bytes are known wherever
//! they are freed — on the script's thread, or on a runtime worker that finished the HTTP
//! exchange it started. A front door arms a [`Budget`] on the thread that evaluates a
//! script; the engine checks the run's [`Meter`] between operations and stops it, with a
//! clear error, once it holds more than the limit (`--max-memory`).
//!
//! Why not Rhai's own limits: they count elements per container, miss index assignment
//! (`m[k] = v`), nested growth, closures and map keys, and re-measure the whole container
//! after every method call, which makes `a.push(x)` in a loop quadratic. Counting bytes at
//! the allocator catches every way of growing, at a constant cost per allocation.
//!
//! A hard cap of four times the budget turns a single runaway allocation (one that jumps
//! far past the limit before the next check) into an immediate abort rather than swapping;
//! the engine's checks make that a last resort.
//!
//! The lowest layer: it imports nothing of the project. Every block carries a 16-byte
//! header (more for over-aligned types) holding its run's tag; tag 0 is "no run".

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// Runs that can be measured at once (a scheduler's concurrent jobs, a REPL, tests).
const SLOTS: usize = 1024;

static USED: [AtomicIsize; SLOTS] = [const { AtomicIsize::new(0) }; SLOTS];
static BUSY: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
/// Bytes past which an allocation of the run fails outright (0: none).
static HARD: [AtomicIsize; SLOTS] = [const { AtomicIsize::new(0) }; SLOTS];

thread_local! {
    // Const-initialised and without a destructor, so reading it never allocates — it is
    // read from inside the allocator.
    static CHARGE: Cell<u32> = const { Cell::new(0) };
    // Bytes this thread allocated (less what it freed) for its own run and has not yet
    // added to the shared counter: one atomic add per `FLUSH` bytes rather than one per
    // allocation, which measurably slowed allocation-heavy runs (a 1M-row dry run).
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

/// How far a thread's own count may run ahead of the shared one.
const FLUSH: isize = 32 << 10;

/// Counts `delta` bytes to `slot`: batched when `slot` is this thread's run, straight to
/// the shared counter otherwise (a block freed on another thread than its run's).
fn account(slot: u32, delta: isize) {
    let own = CHARGE.try_with(Cell::get).unwrap_or(0) == slot
        && PENDING
            .try_with(|p| {
                let v = p.get() + delta;
                if v.abs() >= FLUSH {
                    p.set(0);
                    USED[slot as usize].fetch_add(v, Relaxed);
                } else {
                    p.set(v);
                }
            })
            .is_ok();
    if !own {
        USED[slot as usize].fetch_add(delta, Relaxed);
    }
}

/// Adds this thread's batched count to its run's shared counter.
fn flush_here() {
    let slot = CHARGE.try_with(Cell::get).unwrap_or(0);
    if slot != 0 {
        let v = PENDING.try_with(|p| p.replace(0)).unwrap_or(0);
        if v != 0 {
            USED[slot as usize].fetch_add(v, Relaxed);
        }
    }
}

const HEADER: usize = 16;

/// The allocator: the system's, with a tag in front of every block.
pub struct Tagging;

fn with_header(layout: Layout) -> Option<(Layout, usize)> {
    let h = HEADER.max(layout.align());
    let size = layout.size().checked_add(h)?;
    Layout::from_size_align(size, layout.align().max(HEADER))
        .ok()
        .map(|l| (l, h))
}

fn charged_slot() -> u32 {
    CHARGE.try_with(Cell::get).unwrap_or(0)
}

unsafe fn tag_of(ptr: *mut u8) -> u32 {
    // SAFETY: every block this allocator hands out has its header right before it.
    unsafe { (ptr.sub(4) as *const u32).read() }
}

unsafe impl GlobalAlloc for Tagging {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.alloc_with(layout, |l| System.alloc(l)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.alloc_with(layout, |l| System.alloc_zeroed(l)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some((full, h)) = with_header(layout) else {
            return;
        };
        // SAFETY: `ptr` came from `alloc_with`, which put a header of `h` bytes before it.
        unsafe {
            let slot = tag_of(ptr);
            if slot != 0 {
                account(slot, -(layout.size() as isize));
            }
            System.dealloc(ptr.sub(h), full);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some((full, h)) = with_header(layout) else {
            return std::ptr::null_mut();
        };
        let Some(new_full) = new_size.checked_add(h) else {
            return std::ptr::null_mut();
        };
        // SAFETY: as in `dealloc`; the block keeps its owner (and its header) when it moves.
        unsafe {
            let slot = tag_of(ptr);
            let grow = new_size as isize - layout.size() as isize;
            if slot != 0 && grow > 0 && over_hard_cap(slot, grow) {
                return std::ptr::null_mut();
            }
            let block = System.realloc(ptr.sub(h), full, new_full);
            if block.is_null() {
                return block;
            }
            if slot != 0 {
                account(slot, grow);
            }
            block.add(h)
        }
    }
}

fn over_hard_cap(slot: u32, more: isize) -> bool {
    let hard = HARD[slot as usize].load(Relaxed);
    hard > 0 && USED[slot as usize].load(Relaxed) + more > hard
}

impl Tagging {
    unsafe fn alloc_with(&self, layout: Layout, raw: impl FnOnce(Layout) -> *mut u8) -> *mut u8 {
        let Some((full, h)) = with_header(layout) else {
            return std::ptr::null_mut();
        };
        let slot = charged_slot();
        if slot != 0 && over_hard_cap(slot, layout.size() as isize) {
            // Rust reports "memory allocation of N bytes failed" and aborts: a fast, clear
            // end instead of swapping. The engine's checks stop runs long before this.
            return std::ptr::null_mut();
        }
        let block = raw(full);
        if block.is_null() {
            return block;
        }
        // SAFETY: `block` has `h` ≥ 16 header bytes before the part handed out.
        unsafe {
            (block.add(h - 4) as *mut u32).write(slot);
        }
        if slot != 0 {
            account(slot, layout.size() as isize);
        }
        // SAFETY: within the block just allocated.
        unsafe { block.add(h) }
    }
}

#[global_allocator]
static ALLOCATOR: Tagging = Tagging;

/// Freed heap memory at the top of an arena that is kept for reuse rather than handed
/// back to the kernel; and the size from which a block gets a mapping of its own.
const KEEP_FREED: i32 = 32 << 20;
const OWN_MAPPING_FROM: i32 = 4 << 20;

/// For a service that allocates and frees the same few hundred kilobytes thousands of
/// times a second on each of its threads (`listen`): glibc gives the top of a thread's
/// arena back with `madvise` as soon as more than 128 KiB of it is free, and takes it back
/// on the next burst with page faults — every `madvise` a TLB shootdown on every core. With
/// this, up to [`KEEP_FREED`] per arena stays in the process. It changes where the memory
/// lives, not how much a run may hold: [`Budget`]s count blocks, not pages. A no-op where
/// the C library is not glibc.
pub fn keep_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; any value is accepted or refused.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREED);
        // Setting the trim threshold turns off glibc's self-adjusting mapping threshold,
        // which would leave blocks from 128 KiB up mapped and unmapped one by one.
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
    }
}

/// Every slot is taken: too many runs measured at once.
#[derive(Debug, thiserror::Error)]
#[error("cannot measure another script run: {SLOTS} are running already")]
pub struct NoSlot;

/// A run's memory budget, armed on the thread that evaluates the run: everything that
/// thread allocates until the budget is dropped is the run's. Drop it on the same thread.
pub struct Budget {
    meter: Meter,
    /// Not `Send`: arming and disarming set the evaluating thread's tag.
    _here: std::marker::PhantomData<*const ()>,
}

/// Reads a run's usage from anywhere (the engine's progress hook, a report).
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    slot: u32,
    base: isize,
    limit: usize,
}

impl Budget {
    /// Arms a budget of `limit` bytes for this thread's allocations.
    pub fn arm(limit: usize) -> Result<Budget, NoSlot> {
        // A slot whose earlier run freed everything, else any free one (its leftovers are
        // then the new run's baseline).
        let claim = |clean: bool| {
            (1..SLOTS).find(|&i| {
                (!clean || USED[i].load(Relaxed) == 0)
                    && BUSY[i]
                        .compare_exchange(false, true, Relaxed, Relaxed)
                        .is_ok()
            })
        };
        let slot = claim(true).or_else(|| claim(false)).ok_or(NoSlot)?;
        let base = USED[slot].load(Relaxed);
        let hard = (limit as isize).saturating_mul(4).max(64 << 20);
        HARD[slot].store(base.saturating_add(hard), Relaxed);
        flush_here();
        CHARGE.with(|c| c.set(slot as u32));
        Ok(Budget {
            meter: Meter {
                slot: slot as u32,
                base,
                limit,
            },
            _here: std::marker::PhantomData,
        })
    }

    /// A budget of `limit` bytes, or none when the limit is 0 (no budget).
    pub fn arm_if(limit: usize) -> Result<Option<Budget>, NoSlot> {
        if limit == 0 {
            Ok(None)
        } else {
            Budget::arm(limit).map(Some)
        }
    }

    pub fn meter(&self) -> Meter {
        self.meter
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        let slot = self.meter.slot as usize;
        flush_here();
        CHARGE.with(|c| c.set(0));
        HARD[slot].store(0, Relaxed);
        BUSY[slot].store(false, Relaxed);
    }
}

impl Meter {
    /// Bytes the run holds now (give or take what other threads have not yet added).
    pub fn used(&self) -> usize {
        flush_here();
        (USED[self.slot as usize].load(Relaxed) - self.base).max(0) as usize
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn over(&self) -> bool {
        self.used() > self.limit
    }

    /// Whether `more` bytes still fit (for operations that allocate much at once).
    pub fn fits(&self, more: usize) -> bool {
        self.used().saturating_add(more) <= self.limit
    }
}

/// `--max-memory` as people write it: `512MiB`, `2 GiB`, `64MB`, or plain bytes. `0` turns
/// the budget off.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a size: {e} (write it like 512MiB, 2GiB or 64MB)"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("`{text}` is too large a size"))
}

/// A size for a message: `512.0 MiB`.
pub fn human(bytes: usize) -> String {
    bytesize::ByteSize::b(bytes as u64)
        .display()
        .iec()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert_eq!(human(512 << 20), "512.0 MiB");
    }

    #[test]
    fn a_run_is_charged_for_what_it_holds_wherever_it_is_freed() {
        let budget = Budget::arm(1 << 30).unwrap();
        let meter = budget.meter();
        let before = meter.used();
        let held: Vec<u8> = vec![7; 4 << 20];
        assert!(meter.used() >= before + (4 << 20));
        // Freed on another thread: still credited to this run.
        std::thread::spawn(move || drop(held)).join().unwrap();
        assert!(meter.used() < before + (1 << 20), "{}", meter.used());
        // Allocated on another thread: not this run's.
        let elsewhere = std::thread::spawn(|| vec![1u8; 8 << 20]).join().unwrap();
        assert!(meter.used() < before + (1 << 20));
        drop(elsewhere);
        assert!(!meter.over());
        assert!(meter.fits(1 << 20));
        assert!(!meter.fits(2 << 30));
        drop(budget);
    }

    #[test]
    fn a_budget_goes_over_and_says_so() {
        let budget = Budget::arm(1 << 20).unwrap();
        let meter = budget.meter();
        let big: Vec<u64> = (0..300_000).collect();
        assert!(meter.over(), "{} of {}", meter.used(), meter.limit());
        drop(big);
        assert!(!meter.over());
    }
}
