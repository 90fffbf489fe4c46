/*
 * platform.h - every operating-system call the engine makes, behind one
 * header. platform/posix/ and platform/win32/ implement it; portable code
 * (core/) includes no OS header.
 *
 * Conventions:
 *  - Paths are UTF-8 in the platform's native form ('/' on POSIX, '\' on
 *    Windows; pf_native_path converts an admin-typed path).
 *  - Opening never follows a symbolic link, junction or other reparse point
 *    in the last component, and checks what it opened (a regular file), so a
 *    file swapped for a link between discovery and open is refused.
 *  - Every fallible call returns ps_status and fills the caller's ps_err with
 *    a message naming the path and the OS reason.
 *  - Handles are freed by their close function; returned char * are
 *    malloc'd and freed by the caller.
 */
#ifndef PS_PLATFORM_H
#define PS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"

typedef struct pf_file pf_file;
typedef struct pf_dir pf_dir;
typedef struct pf_lock pf_lock;

typedef enum pf_kind { PF_KIND_OTHER = 0, PF_KIND_FILE, PF_KIND_DIR, PF_KIND_LINK } pf_kind;

typedef struct pf_stat {
    pf_kind kind;      /* of the entry itself (links are not followed) */
    uint64_t size;
    int64_t mtime_ns;  /* nanoseconds since 1970-01-01 UTC */
    /* Inode change time (POSIX), which no program can set: it moves when
     * the file is written even if its mtime is put back. 0 where unknown
     * (Windows: GetFileInformationByHandle has no change time). */
    int64_t ctime_ns;
    uint64_t dev, ino; /* file identity (volume serial + file id on Windows) */
    uint32_t nlink;
    int64_t owner_uid; /* -1 on Windows */
    /* 1 when the entry is the root of a mount: something mounted over this
     * name. A bind mount of a folder or file of the same filesystem has the
     * same dev as its parent, so this is the only sign of it; discovery
     * neither enters nor reads one. 0 where unknown.
     * Linux: statx's STATX_ATTR_MOUNT_ROOT (kernel 5.8+); 0 on older
     * kernels and where statx is missing (ENOSYS, then lstat/fstat).
     * Other POSIX systems: 0.
     * Windows: 0. A volume mount point or junction is a reparse point,
     * which pf_lstat already reports as PF_KIND_LINK and nothing opens,
     * and Windows has no mounts of single files. */
    int mount_root;
} pf_stat;

/* --- paths ------------------------------------------------------------- */
extern const char pf_sep; /* '/' or '\\' */
/* Convert separators of an admin-typed path to native form. */
char *pf_native_path(const char *path);
char *pf_path_join(const char *dir, const char *name);
/* Last component (borrowed pointer into path). */
const char *pf_basename(const char *path);
/* Parent directory, malloc'd ("." when none). */
char *pf_dirname(const char *path);
int pf_is_absolute(const char *path);
/* Canonical absolute form without following the final component; used to
 * compare destination and sources. malloc'd or NULL. */
char *pf_absolute(const char *path);

/* --- metadata ------------------------------------------------------------ */
ps_status pf_lstat(const char *path, pf_stat *st, ps_err *err);

/* --- reading ------------------------------------------------------------- */
/* Open an existing regular file for reading with the share modes a backup
 * tool uses (let Outlook keep writing). PS_ERR_LOCKED when another process
 * holds it exclusively (Windows), PS_ERR_UNSAFE for a link or for a file
 * mounted over the name (mount_root, checked on the opened handle: a PST
 * swapped for a bind mount after discovery). */
ps_status pf_open_read(const char *path, pf_file **out, ps_err *err);
/* Read up to len bytes at off; *got < len only at end of file. */
ps_status pf_pread(pf_file *f, void *buf, size_t len, uint64_t off, size_t *got, ps_err *err);
ps_status pf_fstat(pf_file *f, pf_stat *st, ps_err *err);
/* Tell the OS we read sequentially, once (read-ahead, no cache pollution). */
void pf_advise_sequential(pf_file *f);

/* --- writing ------------------------------------------------------------- */
/* Open (creating when absent) a file for writing, owner-only permissions,
 * never through a link. *created says whether it was new. */
ps_status pf_open_write(const char *path, pf_file **out, int *created, ps_err *err);
/* Write all len bytes at off (PS_ERR_NOSPACE when the volume is full). */
ps_status pf_pwrite(pf_file *f, const void *buf, size_t len, uint64_t off, ps_err *err);
ps_status pf_truncate(pf_file *f, uint64_t size, ps_err *err);
/* Make written data durable (fdatasync / FlushFileBuffers). */
ps_status pf_sync(pf_file *f, ps_err *err);
/* Close; reports deferred write errors. NULL is fine. */
ps_status pf_close(pf_file *f, ps_err *err);
/* Make dst's bytes from offset `from` on share src's (a copy-on-write clone
 * of src[from, end) to the same offset in dst: nothing is read or written,
 * and later writes to either file leave the other as it was). dst ends at
 * least as long as src. `from` must be a multiple of the volume's block
 * size. PS_ERR_UNSUPPORTED, dst unchanged, where the volume cannot clone
 * (Linux: FICLONERANGE on btrfs and XFS; other filesystems, two volumes;
 * Windows: FSCTL_DUPLICATE_EXTENTS_TO_FILE on ReFS, which leaves dst
 * exactly as long as src; NTFS, two volumes, an offset off the cluster;
 * see pf_clone_win32.c, not yet run on a real ReFS volume); the caller
 * then writes. */
ps_status pf_clone_file(pf_file *src, pf_file *dst, uint64_t from, ps_err *err);
/* Lock an open file exclusively without waiting: PS_OK, or PS_ERR_BUSY
 * while another handle (of this or any process) holds the lock. The lock
 * goes with pf_close or the death of the process, and never blocks reading
 * or writing the file's data through other handles (snapshot records). */
ps_status pf_file_trylock(pf_file *f, ps_err *err);

/* --- namespace ------------------------------------------------------------ */
/* Atomically replace `to` with `from` (same volume) and make the rename
 * durable (directory flush). `to` is never absent or partial meanwhile. */
ps_status pf_rename_replace(const char *from, const char *to, ps_err *err);
/* Hard link (keeps a version without a window where `to` is missing).
 * PS_ERR_UNSUPPORTED where the volume has no hard links. */
ps_status pf_link(const char *existing, const char *new_path, ps_err *err);
/* Remove a file; a missing file is PS_OK. */
ps_status pf_unlink(const char *path, ps_err *err);
/* mkdir -p; new folders are owner-only. */
ps_status pf_mkdirs(const char *path, ps_err *err);
/* Flush a directory's entries (POSIX); no-op where not needed. */
ps_status pf_sync_dir(const char *path, ps_err *err);
/* Write a small file atomically: temp file, flush, rename, directory flush. */
ps_status pf_write_file_atomic(const char *path, const void *data, size_t len, ps_err *err);
/* The same for a file written in pieces (one too large to build in memory
 * first): appended to a temp file beside `path`, which pf_atomic_commit
 * flushes and renames over `path`; until then `path` is what it was.
 * pf_atomic_commit and pf_atomic_abandon free `a` (the temp file goes
 * unless it became `path`). */
typedef struct pf_atomic_file pf_atomic_file;
ps_status pf_atomic_create(const char *path, pf_atomic_file **out, ps_err *err);
ps_status pf_atomic_append(pf_atomic_file *a, const void *data, size_t len, ps_err *err);
ps_status pf_atomic_commit(pf_atomic_file *a, ps_err *err);
void pf_atomic_abandon(pf_atomic_file *a);
/* The temp name of `path` for this process, "<path>.<pid>.tmp" (malloc'd,
 * NULL without memory), after removing those of writers that are gone. */
char *pf_atomic_temp_path(const char *path);
/* Read a whole small file (at most max_len bytes, else PS_ERR_INVALID). */
ps_status pf_read_file(const char *path, size_t max_len, char **data, size_t *len, ps_err *err);

/* --- directories ---------------------------------------------------------- */
ps_status pf_dir_open(const char *path, pf_dir **out, ps_err *err);
/* Next entry (never "." or ".."): *name borrowed until the next call, *kind
 * of the entry itself. Returns PS_OK with *name NULL at the end. */
ps_status pf_dir_next(pf_dir *d, const char **name, pf_kind *kind, ps_err *err);
void pf_dir_close(pf_dir *d);

/* --- locking ------------------------------------------------------------- */
/* Exclusive lock on `path` (created if needed), waiting up to wait_ms.
 * PS_ERR_BUSY when still held by another run after that. Released by
 * pf_lock_release or when the process dies (never left stale). */
ps_status pf_lock_acquire(const char *path, uint32_t wait_ms, pf_lock **out, ps_err *err);
void pf_lock_release(pf_lock *l);

/* --- time and priority ------------------------------------------------------ */
/* How far a file's mtime may lag the real time of the write that set it:
 * Linux stamps files from a coarse clock (one tick, at most 10 ms at
 * HZ=100); twice that for margin. */
#ifdef _WIN32
#define PF_MTIME_SLACK_NS 2000000000LL /* FAT: 2 s; NTFS updates lazily */
#else
#define PF_MTIME_SLACK_NS 20000000LL
#endif
uint64_t pf_monotonic_ms(void);
int64_t pf_wall_ns(void);
void pf_sleep_ms(uint32_t ms);
/* "YYYY-MM-DD HHMMSS" in local time (names of kept versions: admins read
 * them in Explorer, and ':' is not allowed in Windows names). */
void pf_format_local_time(int64_t wall_ns, char *buf, size_t len);
/* "YYYY-MM-DDTHH:MM:SSZ" in UTC, for state files and events. */
void pf_format_utc_time(int64_t wall_ns, char *buf, size_t len);
/* Lower the calling thread's I/O priority (Linux idle class, Windows
 * FileIoPriorityHint on each handle). Returns PS_OK or why not. */
ps_status pf_io_priority_low(ps_err *err);

/* --- process ----------------------------------------------------------------- */
/* 64 bits from the OS's random source, for unique names (not for keys). */
uint64_t pf_random_u64(void);
unsigned long pf_process_id(void);

/* --- Outlook profiles -------------------------------------------------------- */
typedef struct pf_path_list {
    char **paths; /* malloc'd UTF-8 native paths */
    size_t count;
} pf_path_list;
/* The *.pst files named in the Outlook profiles of a user (Windows: the
 * message stores under Office 16.0/15.0 and the older Windows Messaging
 * Subsystem profile keys). user_sid NULL: the user running this process
 * (HKCU); a SID ("S-1-5-21-..."): that user's loaded hive under HKEY_USERS,
 * for a run elevated on the user's behalf. No profiles is an empty list and
 * PS_OK; POSIX has no Outlook and always returns an empty list. Paths are
 * as Outlook stored them (absolute), duplicates removed. Free with
 * pf_path_list_free. */
ps_status pf_outlook_profile_psts(const char *user_sid, pf_path_list *out, ps_err *err);
void pf_path_list_free(pf_path_list *list);

/* --- ownership of what an elevated run creates --------------------------------- */
/* Give a file or folder the engine created in the destination to the user
 * the run acts for, when this process runs as someone else (root acting for
 * the logged-on user), so that the user's sync client can replace or delete
 * it. uid -1 (not elevated, or Windows), or a process already running as
 * uid, changes nothing; gid -1 keeps the group. user_sid is the Windows
 * form of the user (NULL: not acting for anyone). Never follows a link, and
 * refuses anything but a folder or a regular file with one link (a hard
 * link planted in the user's folder must not hand them someone else's
 * file). PS_OK when the entry is (now) the user's.
 * POSIX: open with O_NOFOLLOW, fstat, fchown; user_sid is ignored.
 * Windows: uid and gid are ignored; with a user_sid, the entry (opened as
 * itself, never a reparse point's target) gets that user as its owner. Its
 * DACL is left as inherited from the destination folder, which already
 * grants the user access (see pf_owner_win32.c for why that suffices). */
ps_status pf_give_to_user(const char *path, int64_t uid, int64_t gid, const char *user_sid,
                          ps_err *err);
/* Whether the user `user_sid` (a Windows SID, the user an elevated run acts
 * for) may read the file at `path`: PS_OK, or PS_ERR_ACCESS with the
 * reason. user_sid NULL: PS_OK.
 * Windows: AuthzAccessCheck of the file's security descriptor for the
 * user; where Authz cannot build the user's context, the DACL for the
 * user's SID and the groups of every logon (it can only under-grant).
 * POSIX: PS_OK - a POSIX run acts for a uid, never a SID, and discovery's
 * owner check (owner_uid) is what keeps other users' files out there. */
ps_status pf_user_can_read(const char *path, const char *user_sid, ps_err *err);

/* --- I/O overlap hints ---------------------------------------------------------- */
/* Hints that let the device work while the caller computes; neither makes
 * anything durable, neither reports an error (a failed write-back shows up
 * at the next pf_sync, which alone vouches for data), and both may do
 * nothing at all. len 0 means "to the end of the file".
 * pf_prefetch: start reading [off, off+len) into the cache now, so the
 * pf_pread that follows finds it there (Linux: posix_fadvise WILLNEED;
 * Windows: nothing, FILE_FLAG_SEQUENTIAL_SCAN already reads ahead).
 * pf_start_writeback: start writing the dirty cached bytes of [off,
 * off+len) to the device without waiting for them, so a later pf_sync has
 * little left to wait for (Linux: sync_file_range WRITE; elsewhere
 * nothing). */
void pf_prefetch(pf_file *f, uint64_t off, uint64_t len);
void pf_start_writeback(pf_file *f, uint64_t off, uint64_t len);

#endif /* PS_PLATFORM_H */
