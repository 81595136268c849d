//! DRAM as the emulator sees it: rows of bytes at virtual addresses. A run
//! of a C program reads and writes the program's own memory
//! ([`crate::host`]); tests and the Rust API use [`VecDram`], a block of
//! memory at a chosen base address. Every access is checked: an address
//! outside the memory is a [`DramFault`], never a crash.

use std::fmt;

/// An access to memory that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DramFault {
    pub addr: u64,
    pub len: u64,
}

impl fmt::Display for DramFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} bytes at {:#x} are not mapped in the program's memory",
            self.len, self.addr
        )
    }
}

/// Access to DRAM one row at a time; strided blocks of rows (what a mvin
/// reads and a mvout writes) are built on that once, here.
pub trait Dram {
    /// Reads `buf.len()` bytes at `addr`.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DramFault>;
    /// Writes `buf` at `addr`.
    fn write(&mut self, addr: u64, buf: &[u8]) -> Result<(), DramFault>;

    /// `rows` rows of `row_bytes` bytes, the first at `addr`, each `stride`
    /// bytes after the previous, packed into `buf`.
    fn read_rows(
        &mut self,
        addr: u64,
        stride: u64,
        rows: u32,
        row_bytes: u32,
        buf: &mut [u8],
    ) -> Result<(), DramFault> {
        let n = row_bytes as usize;
        for r in 0..rows {
            self.read(
                row_address(addr, stride, r)?,
                &mut buf[r as usize * n..][..n],
            )?;
        }
        Ok(())
    }

    /// The rows of `buf` (packed, `row_bytes` each) written `stride` bytes
    /// apart from `addr`.
    fn write_rows(
        &mut self,
        addr: u64,
        stride: u64,
        rows: u32,
        row_bytes: u32,
        buf: &[u8],
    ) -> Result<(), DramFault> {
        let n = row_bytes as usize;
        for r in 0..rows {
            self.write(row_address(addr, stride, r)?, &buf[r as usize * n..][..n])?;
        }
        Ok(())
    }
}

/// A block of bytes standing for DRAM from `base` on.
#[derive(Clone, Debug)]
pub struct VecDram {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl VecDram {
    pub fn new(base: u64, len: usize) -> VecDram {
        VecDram {
            base,
            bytes: vec![0; len],
        }
    }

    fn range(&self, addr: u64, len: u64) -> Result<std::ops::Range<usize>, DramFault> {
        let fault = DramFault { addr, len };
        let start = addr.checked_sub(self.base).ok_or(fault.clone())?;
        let end = start.checked_add(len).ok_or(fault.clone())?;
        if end > self.bytes.len() as u64 {
            return Err(fault);
        }
        Ok(start as usize..end as usize)
    }

    /// Writes `data` at `addr` (setting up inputs).
    pub fn store(&mut self, addr: u64, data: &[u8]) -> Result<(), DramFault> {
        let r = self.range(addr, data.len() as u64)?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }

    /// The `len` bytes at `addr` (reading outputs).
    pub fn load(&self, addr: u64, len: usize) -> Result<&[u8], DramFault> {
        let r = self.range(addr, len as u64)?;
        Ok(&self.bytes[r])
    }
}

/// The address of row `row` of a strided access, checked for overflow.
pub fn row_address(addr: u64, stride: u64, row: u32) -> Result<u64, DramFault> {
    stride
        .checked_mul(u64::from(row))
        .and_then(|off| addr.checked_add(off))
        .ok_or(DramFault { addr, len: stride })
}

impl Dram for VecDram {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), DramFault> {
        let range = self.range(addr, buf.len() as u64)?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write(&mut self, addr: u64, buf: &[u8]) -> Result<(), DramFault> {
        self.store(addr, buf)
    }
}
