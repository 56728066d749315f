internal import CLinux

/// Process-wide memory settings.
public enum MemoryTuning {
    /// Limits glibc's malloc arenas (by default up to 8 per core, each keeping freed memory): a few busy
    /// threads do not need more than two, and the daemon's memory stays small.
    public static func limitMallocArenas(to count: Int32 = 2) {
        _ = clinux_limit_malloc_arenas(count)
    }
}
