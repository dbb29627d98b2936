#pragma once
// A thin SQLite VFS over the platform's default one that turns a commit's WAL writes into one
// write. SQLite writes every WAL frame with two calls, its 24-byte header and then its page
// (wal.c, walWriteOneFrame): a refresh-token commit of ~19 frames was ~38 pwrite calls on the
// writer thread, which is the serial part of the group commit. This VFS keeps consecutive
// writes to a WAL file in memory and hands them to the real file as one write:
//   * before anything else touches that file handle (read, sync, truncate, size, close,
//     file control), so SQLite never observes a difference;
//   * at the end of a commit frame (a frame header whose "database size after commit" field is
//     not zero), so a committed frame never waits in memory, whatever the synchronous setting;
//   * when a write does not follow the previous one, or the buffer holds 4 MiB.
// What is buffered goes to the real file in pieces of at most wal_largest_write bytes.
// Readers (other connections, other processes) learn of new frames only through the WAL index,
// which SQLite updates after the commit frame was written and, with synchronous=FULL, synced:
// by then everything is in the file. Every other file (the database, its -shm) is the default
// VFS's own file object, untouched.

namespace provisiond::storage {

/// The largest write handed to the real file at once: SQLite's unix VFS masks the length of
/// every write to 17 bits (os_unix.c, seekAndWriteFd: `nBuf &= 0x1ffff`), because SQLite itself
/// never writes more than a page. A commit of ~30 frames is one write, a larger one a few.
inline constexpr int wal_largest_write = 0x1ffff;

/// The name to pass to sqlite3_open_v2; registers the VFS (not as the default) the first time.
/// nullptr (SQLite's default VFS) if the default VFS cannot be wrapped.
const char* wal_coalescing_vfs();

} // namespace provisiond::storage
