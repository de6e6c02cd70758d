//! Memory probes: resident set size from `/proc/self/statm`, and the counting allocator.

use anyhow::{Context as _, Result};

/// Resident set size of this process, in bytes.
pub(crate) fn rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("read /proc/self/statm")?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("/proc/self/statm has no resident field")?
        .parse()
        .context("parse resident pages")?;
    Ok(resident * page_size())
}

/// The kernel's page size, from the auxiliary vector (`AT_PAGESZ`); 4 KiB if unreadable.
fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    let words: Vec<u64> = auxv
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    words
        .chunks_exact(2)
        .find(|kv| kv[0] == AT_PAGESZ)
        .map_or(4096, |kv| kv[1])
}

/// A baseline taken before N actors are spawned; [`Baseline::per_item`] gives the deltas.
#[derive(Debug)]
pub(crate) struct Baseline {
    rss: u64,
}

/// Bytes per item, by the two probes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerItem {
    pub(crate) rss: f64,
    pub(crate) alloc: f64,
}

impl Baseline {
    /// Reads RSS and starts the allocator counting from zero.
    pub(crate) fn take() -> Result<Self> {
        let rss = rss_bytes()?;
        crate::alloc::start();
        Ok(Self { rss })
    }

    /// Stops the allocator count and divides both deltas by `n`.
    pub(crate) fn per_item(self, n: usize) -> Result<PerItem> {
        let counted = crate::alloc::stop();
        let rss = rss_bytes()?;
        let n = n as f64;
        Ok(PerItem {
            rss: (rss as f64 - self.rss as f64) / n,
            alloc: counted.live_bytes as f64 / n,
        })
    }
}
