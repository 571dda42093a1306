//! How the controller uses glibc's allocator (the image is built against
//! glibc). Two settings, both measured with `cargo xtask bench` (idle with
//! 10,000 finished runs; README, Performance):
//!
//! - At most two arenas. glibc gives each allocating thread its own arena,
//!   up to 8 per core, and a chunk freed in one arena is not reused by
//!   another: resident memory grew with the node's core count.
//! - Free pages go back to the kernel every 10 s (`malloc_trim`, a few ms). A relist
//!   or a burst parses large responses that are freed at once, but glibc
//!   keeps those pages until the top of the heap is free, which the
//!   long-lived cache entries allocated meanwhile prevent.

use std::time::Duration;

/// Call first thing in `main`, before any other thread exists.
pub fn few_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets a malloc parameter; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free memory to the kernel every 10 s, for ever.
pub async fn return_free_pages() {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
