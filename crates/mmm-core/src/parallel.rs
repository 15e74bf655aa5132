//! Data parallelism over independent items (posterior draws, weeks) on scoped threads, one
//! contiguous block per core; results keep the item order, so output never depends on the
//! number of threads.

use std::ops::Range;

/// Split `0..n` into one contiguous block per available core (each block at least
/// `min_per_thread` items, so cheap items do not pay for thread start-up), run `f` on each
/// block on its own thread and concatenate the blocks' results in order.
pub fn map_blocks<T: Send>(
    n: usize,
    min_per_thread: usize,
    f: impl Fn(Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let cores = std::thread::available_parallelism().map_or(1, |p| p.get());
    let threads = cores.min(n / min_per_thread.max(1)).max(1);
    if threads == 1 {
        return f(0..n);
    }
    let block = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|b| {
                let range = (b * block).min(n)..((b + 1) * block).min(n);
                s.spawn(move || f(range))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// `f` applied to every index of `0..n`, in parallel blocks of at least `min_per_thread`
/// items, in index order.
pub fn map_indexed<T: Send>(
    n: usize,
    min_per_thread: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    map_blocks(n, min_per_thread, |range| range.map(&f).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_item_order_for_any_size() {
        for n in [0, 1, 63, 64, 129, 1000, 4001] {
            let v = map_indexed(n, 64, |i| i * 3);
            assert_eq!(v, (0..n).map(|i| i * 3).collect::<Vec<_>>());
        }
    }
}
