#include "storage/sqlite/wal_coalescing_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace provisiond::storage {
namespace {

constexpr const char* vfs_name = "provisiond-wal-coalescing";
/// A WAL frame header (wal.c: WAL_FRAME_HDRSIZE); bytes 4-7 are the database size in pages
/// after the commit for a commit frame, zero for every other frame.
constexpr int frame_header_size = 24;
/// What the buffer holds at most before it is written out (a commit of ~1 000 pages).
constexpr int buffer_limit = 4 * 1024 * 1024;

/// What SQLite allocates for a file of this VFS: for a WAL file, this header, then the real
/// file object at `real`; for every other file, only the real file object (its own methods).
struct WalFile {
    sqlite3_file base;
    sqlite3_file* real;
    unsigned char* data; ///< std::malloc'd; `length` bytes meant for the file at `start`
    sqlite3_int64 start;
    int length;
    int capacity;
    bool commit_page_next; ///< the header of a commit frame is buffered: flush after its page
};

constexpr int aligned(int n) {
    return (n + 15) / 16 * 16;
}

sqlite3_vfs* underlying(sqlite3_vfs* vfs) {
    return static_cast<sqlite3_vfs*>(vfs->pAppData);
}
WalFile* wal(sqlite3_file* f) {
    return reinterpret_cast<WalFile*>(f);
}
sqlite3_file* real(sqlite3_file* f) {
    return wal(f)->real;
}

/// Writes `length` bytes at `offset` through the real file, in pieces it can take.
int write_through(sqlite3_file* real, const unsigned char* bytes, int length,
                  sqlite3_int64 offset) {
    for (int done = 0; done < length;) {
        int piece = std::min(length - done, wal_largest_write);
        if (int rc = real->pMethods->xWrite(real, bytes + done, piece, offset + done);
            rc != SQLITE_OK) {
            return rc;
        }
        done += piece;
    }
    return SQLITE_OK;
}

int flush(WalFile* f) {
    if (f->length == 0) {
        return SQLITE_OK;
    }
    int rc = write_through(f->real, f->data, f->length, f->start);
    f->length = 0;
    f->commit_page_next = false;
    return rc;
}

bool is_commit_frame_header(const void* bytes, int amount) {
    if (amount != frame_header_size) {
        return false;
    }
    const auto* header = static_cast<const unsigned char*>(bytes);
    return (header[4] | header[5] | header[6] | header[7]) != 0;
}

/// Appends to the buffer; false when it cannot grow (the caller writes through instead).
bool append(WalFile* f, const void* bytes, int amount) {
    if (f->length + amount > f->capacity) {
        int wanted = f->capacity == 0 ? 256 * 1024 : f->capacity;
        while (wanted < f->length + amount) {
            wanted *= 2;
        }
        auto* grown = static_cast<unsigned char*>(std::realloc(f->data, wanted));
        if (grown == nullptr) {
            return false;
        }
        f->data = grown;
        f->capacity = wanted;
    }
    std::memcpy(f->data + f->length, bytes, static_cast<std::size_t>(amount));
    f->length += amount;
    return true;
}

int wal_write(sqlite3_file* file, const void* bytes, int amount, sqlite3_int64 offset) {
    WalFile* f = wal(file);
    bool follows = f->length > 0 && offset == f->start + f->length;
    if (f->length > 0 && (!follows || f->length + amount > buffer_limit)) {
        if (int rc = flush(f); rc != SQLITE_OK) {
            return rc;
        }
    }
    if (amount > buffer_limit) {
        return write_through(f->real, static_cast<const unsigned char*>(bytes), amount, offset);
    }
    if (f->length == 0) {
        f->start = offset;
    }
    if (!append(f, bytes, amount)) {
        if (int rc = flush(f); rc != SQLITE_OK) {
            return rc;
        }
        return write_through(f->real, static_cast<const unsigned char*>(bytes), amount, offset);
    }
    if (f->commit_page_next) {
        return flush(f); // the commit frame is complete
    }
    f->commit_page_next = is_commit_frame_header(bytes, amount);
    return SQLITE_OK;
}

int wal_close(sqlite3_file* file) {
    WalFile* f = wal(file);
    int flushed = flush(f);
    std::free(f->data);
    f->data = nullptr;
    f->capacity = 0;
    int closed = f->real->pMethods->xClose(f->real);
    return flushed != SQLITE_OK ? flushed : closed;
}

// Every other method writes out what is buffered first, then does what the real file does.
int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
    if (int rc = flush(wal(file)); rc != SQLITE_OK) {
        return rc;
    }
    return real(file)->pMethods->xRead(real(file), out, amount, offset);
}
int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
    if (int rc = flush(wal(file)); rc != SQLITE_OK) {
        return rc;
    }
    return real(file)->pMethods->xTruncate(real(file), size);
}
int wal_sync(sqlite3_file* file, int flags) {
    if (int rc = flush(wal(file)); rc != SQLITE_OK) {
        return rc;
    }
    return real(file)->pMethods->xSync(real(file), flags);
}
int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
    if (int rc = flush(wal(file)); rc != SQLITE_OK) {
        return rc;
    }
    return real(file)->pMethods->xFileSize(real(file), size);
}
int wal_file_control(sqlite3_file* file, int op, void* arg) {
    if (int rc = flush(wal(file)); rc != SQLITE_OK) {
        return rc;
    }
    return real(file)->pMethods->xFileControl(real(file), op, arg);
}
int wal_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
    *out = nullptr;
    if (int rc = flush(wal(file)); rc != SQLITE_OK) {
        return rc;
    }
    return real(file)->pMethods->xFetch(real(file), offset, amount, out);
}

// Locks and shared memory belong to the database file; SQLite does not use them on a WAL file,
// and they are passed on unchanged all the same.
int wal_lock(sqlite3_file* file, int level) {
    return real(file)->pMethods->xLock(real(file), level);
}
int wal_unlock(sqlite3_file* file, int level) {
    return real(file)->pMethods->xUnlock(real(file), level);
}
int wal_check_reserved_lock(sqlite3_file* file, int* out) {
    return real(file)->pMethods->xCheckReservedLock(real(file), out);
}
int wal_sector_size(sqlite3_file* file) {
    return real(file)->pMethods->xSectorSize(real(file));
}
int wal_device_characteristics(sqlite3_file* file) {
    return real(file)->pMethods->xDeviceCharacteristics(real(file));
}
int wal_shm_map(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
    return real(file)->pMethods->xShmMap(real(file), page, size, extend, out);
}
int wal_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
    return real(file)->pMethods->xShmLock(real(file), offset, n, flags);
}
void wal_shm_barrier(sqlite3_file* file) {
    real(file)->pMethods->xShmBarrier(real(file));
}
int wal_shm_unmap(sqlite3_file* file, int delete_flag) {
    return real(file)->pMethods->xShmUnmap(real(file), delete_flag);
}
int wal_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
    return real(file)->pMethods->xUnfetch(real(file), offset, p);
}

const sqlite3_io_methods wal_methods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

int open_file(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
              int* out_flags) {
    sqlite3_vfs* base = underlying(vfs);
    if ((flags & SQLITE_OPEN_WAL) == 0) {
        return base->xOpen(base, name, file, flags, out_flags); // the real file, as it is
    }
    std::memset(file, 0, static_cast<std::size_t>(vfs->szOsFile)); // ours and the real file's
    WalFile* f = wal(file);
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) +
                                              aligned(static_cast<int>(sizeof(WalFile))));
    int rc = base->xOpen(base, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (f->real->pMethods != nullptr) {
            f->real->pMethods->xClose(f->real);
        }
        f->base.pMethods = nullptr; // SQLite calls no method of a file that did not open
        return rc;
    }
    if (f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        f->base.pMethods = nullptr;
        return SQLITE_CANTOPEN;
    }
    f->base.pMethods = &wal_methods;
    return SQLITE_OK;
}

// The rest of the VFS is the default one's, passed on unchanged.
int default_delete_file(sqlite3_vfs* vfs, const char* name, int sync_dir) {
    return underlying(vfs)->xDelete(underlying(vfs), name, sync_dir);
}
int default_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
    return underlying(vfs)->xAccess(underlying(vfs), name, flags, out);
}
int default_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
    return underlying(vfs)->xFullPathname(underlying(vfs), name, size, out);
}
void* default_dl_open(sqlite3_vfs* vfs, const char* name) {
    return underlying(vfs)->xDlOpen(underlying(vfs), name);
}
void default_dl_error(sqlite3_vfs* vfs, int size, char* out) {
    underlying(vfs)->xDlError(underlying(vfs), size, out);
}
void (*default_dl_sym(sqlite3_vfs* vfs, void* library, const char* symbol))(void) {
    return underlying(vfs)->xDlSym(underlying(vfs), library, symbol);
}
void default_dl_close(sqlite3_vfs* vfs, void* library) {
    underlying(vfs)->xDlClose(underlying(vfs), library);
}
int default_randomness(sqlite3_vfs* vfs, int size, char* out) {
    return underlying(vfs)->xRandomness(underlying(vfs), size, out);
}
int default_sleep(sqlite3_vfs* vfs, int microseconds) {
    return underlying(vfs)->xSleep(underlying(vfs), microseconds);
}
int default_current_time(sqlite3_vfs* vfs, double* out) {
    return underlying(vfs)->xCurrentTime(underlying(vfs), out);
}
int default_last_error(sqlite3_vfs* vfs, int size, char* out) {
    return underlying(vfs)->xGetLastError(underlying(vfs), size, out);
}
int default_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
    return underlying(vfs)->xCurrentTimeInt64(underlying(vfs), out);
}
int default_set_system_call(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr call) {
    return underlying(vfs)->xSetSystemCall(underlying(vfs), name, call);
}
sqlite3_syscall_ptr default_get_system_call(sqlite3_vfs* vfs, const char* name) {
    return underlying(vfs)->xGetSystemCall(underlying(vfs), name);
}
const char* default_next_system_call(sqlite3_vfs* vfs, const char* name) {
    return underlying(vfs)->xNextSystemCall(underlying(vfs), name);
}

/// The VFS wraps whatever SQLite's default is when it is first asked for (unix on Linux).
/// nullptr when it cannot: connections then open with the default VFS itself.
const char* register_vfs() {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    if (base == nullptr || base->iVersion < 3) {
        return nullptr;
    }
    // Lives as long as the process: SQLite keeps a pointer to it once registered.
    static sqlite3_vfs vfs{};
    vfs.iVersion = 3;
    vfs.szOsFile = aligned(static_cast<int>(sizeof(WalFile))) + base->szOsFile;
    vfs.mxPathname = base->mxPathname;
    vfs.zName = vfs_name;
    vfs.pAppData = base;
    vfs.xOpen = open_file;
    vfs.xDelete = default_delete_file;
    vfs.xAccess = default_access;
    vfs.xFullPathname = default_full_pathname;
    vfs.xDlOpen = default_dl_open;
    vfs.xDlError = default_dl_error;
    vfs.xDlSym = default_dl_sym;
    vfs.xDlClose = default_dl_close;
    vfs.xRandomness = default_randomness;
    vfs.xSleep = default_sleep;
    vfs.xCurrentTime = default_current_time;
    vfs.xGetLastError = default_last_error;
    vfs.xCurrentTimeInt64 = default_current_time_int64;
    vfs.xSetSystemCall = default_set_system_call;
    vfs.xGetSystemCall = default_get_system_call;
    vfs.xNextSystemCall = default_next_system_call;
    return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK ? vfs_name : nullptr;
}

} // namespace

const char* wal_coalescing_vfs() {
    // Registered once per process, on first use (a function-local static: thread-safe).
    static const char* name = register_vfs();
    return name;
}

} // namespace provisiond::storage
