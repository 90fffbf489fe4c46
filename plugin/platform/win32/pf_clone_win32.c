/* Win32 implementation of platform.h: block cloning (ReFS).
 *
 * ReFS (Windows Server 2016 on, and Windows 11's Dev Drive) can make two
 * files share clusters with FSCTL_DUPLICATE_EXTENTS_TO_FILE, sent to the
 * destination's handle with the source's handle, source and target offsets
 * and a byte count. NTFS, where nearly every user's PSTs live, cannot:
 * there the first check (the volume's FILE_SUPPORTS_BLOCK_REFCOUNTING
 * flag) answers PS_ERR_UNSUPPORTED before anything is touched, and the
 * caller writes every block, which is always correct.
 *
 * Microsoft's "Block Cloning" page lists what ReFS requires; each is met
 * here before the first call:
 *  - both files on the same ReFS volume: the volume serial numbers match;
 *  - the same Integrity Streams setting on both: compared, and a mismatch
 *    is PS_ERR_UNSUPPORTED (the setting only changes on an empty file);
 *  - ranges that begin and end on a cluster boundary: `from` must be a
 *    multiple of the cluster (FSCTL_GET_INTEGRITY_INFORMATION's
 *    ClusterSizeInBytes) and the end is the source's size rounded up. A
 *    source range reaching into its last cluster past its end of file is
 *    allowed (MS-FSCC refuses a source range beyond the allocation size,
 *    which is whole clusters);
 *  - a destination range within the destination's end of file: dst is
 *    extended to the rounded end first and cut to the source's size after,
 *    so it ends exactly as long as the source;
 *  - less than 4 GiB per call: PFW_CLONE_CALL_MAX;
 *  - a sparse source needs a sparse destination: dst is made sparse.
 * A call failing part way puts dst back to its old size (and not sparse,
 * if it was not): the caller cut dst to `from` beforehand, so nothing of
 * it is lost, and it writes the blocks instead.
 *
 * UNTESTED ON REAL ReFS. Wine, where the Windows tests run, has no ReFS:
 * tests/windows/test_pf_clone_win32.c proves the quick PS_ERR_UNSUPPORTED
 * with dst left as it was, and the arithmetic (pf_clone_win32.h), not a
 * clone. */
#include <stdio.h>
#include <string.h>

#include "pf_win32.h"

#include <winioctl.h>

#include "pf_clone_win32.h"

/* Newer than mingw-w64's headers; values from Microsoft's documentation
 * (FILE_FS_ATTRIBUTE_INFORMATION, winioctl.h, system error codes). */
#ifndef FILE_SUPPORTS_BLOCK_REFCOUNTING
#define FILE_SUPPORTS_BLOCK_REFCOUNTING 0x08000000
#endif
#ifndef FSCTL_DUPLICATE_EXTENTS_TO_FILE /* 0x98344 */
#define FSCTL_DUPLICATE_EXTENTS_TO_FILE \
    CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 209, METHOD_BUFFERED, FILE_WRITE_ACCESS)
#endif
#ifndef FSCTL_GET_INTEGRITY_INFORMATION /* 0x9027c */
#define FSCTL_GET_INTEGRITY_INFORMATION \
    CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 159, METHOD_BUFFERED, FILE_ANY_ACCESS)
#endif
#ifndef ERROR_BLOCK_TOO_MANY_REFERENCES
#define ERROR_BLOCK_TOO_MANY_REFERENCES 347L
#endif

/* DUPLICATE_EXTENTS_DATA and FSCTL_GET_INTEGRITY_INFORMATION_BUFFER, laid
 * out as winioctl.h has them (mingw-w64's has neither); own names, so a
 * newer mingw that declares them does not clash. */
typedef struct {
    HANDLE file_handle; /* the source */
    LARGE_INTEGER source_file_offset;
    LARGE_INTEGER target_file_offset;
    LARGE_INTEGER byte_count;
} duplicate_extents_data;
_Static_assert(sizeof(duplicate_extents_data) == 32, "DUPLICATE_EXTENTS_DATA is 32 bytes");

typedef struct {
    WORD checksum_algorithm; /* CHECKSUM_TYPE_NONE (0): no integrity streams */
    WORD reserved;
    DWORD flags;
    DWORD checksum_chunk_size;
    DWORD cluster_size;
} integrity_information;
_Static_assert(sizeof(integrity_information) == 16,
               "FSCTL_GET_INTEGRITY_INFORMATION_BUFFER is 16 bytes");

int pfw_clone_plan_make(uint64_t from, uint64_t src_size, uint32_t cluster, uint64_t call_max,
                        pfw_clone_plan *plan)
{
    if (cluster == 0 || (cluster & (cluster - 1)) != 0 || from % cluster != 0 ||
        call_max < cluster)
        return -1;
    uint64_t end = from;
    if (src_size > from) {
        if (src_size > (uint64_t)INT64_MAX - (cluster - 1))
            return -1;
        end = (src_size + cluster - 1) / cluster * cluster;
    }
    /* Whole clusters, and under 4 GiB whatever the caller asked for. */
    uint64_t call = call_max / cluster * cluster;
    uint64_t under_4g = ((UINT64_C(1) << 32) - 1) / cluster * cluster;
    plan->start = from;
    plan->end = end;
    plan->call = call < under_4g ? call : under_4g;
    return 0;
}

uint64_t pfw_clone_plan_step(const pfw_clone_plan *plan, uint64_t off)
{
    if (off >= plan->end)
        return 0;
    uint64_t left = plan->end - off;
    return left < plan->call ? left : plan->call;
}

/* The refusals of a volume or a pair of files that cannot share clusters,
 * where writing the bytes works: the caller's fallback, not an error. */
static int clone_refused(DWORD code)
{
    switch (code) {
    case ERROR_INVALID_FUNCTION:          /* the file system has no block cloning */
    case ERROR_NOT_SUPPORTED:             /* a sparse source into a dense target, ... */
    case ERROR_NOT_SAME_DEVICE:           /* two volumes */
    case ERROR_INVALID_PARAMETER:         /* the source handle not on the same volume */
    case ERROR_BLOCK_TOO_MANY_REFERENCES: /* clusters shared as often as ReFS allows */
        return 1;
    default: return 0;
    }
}

static ps_status refuse(ps_err *err, const pf_file *src, const pf_file *dst, const char *why)
{
    return ps_err_set(err, PS_ERR_UNSUPPORTED, "cannot clone '%s' into '%s': %s", src->path,
                      dst->path, why);
}

static ps_status clone_error(ps_err *err, DWORD code, const char *step, const pf_file *src,
                             const pf_file *dst)
{
    char why[512];
    pfw_message(code, why, sizeof why);
    ps_status st = clone_refused(code)                 ? PS_ERR_UNSUPPORTED
                 : pfw_status(code) == PS_ERR_NOSPACE ? PS_ERR_NOSPACE
                                                       : PS_ERR_IO;
    return ps_err_set(err, st, "cannot clone '%s' into '%s' (%s): %s", src->path, dst->path, step,
                      why);
}

/* GetLastError of a call that failed, never 0: 0 would read as success. */
static DWORD failure(void)
{
    DWORD code = GetLastError();
    return code ? code : ERROR_GEN_FAILURE;
}

static BOOL set_size(HANDLE h, uint64_t size)
{
    FILE_END_OF_FILE_INFO eof;
    eof.EndOfFile.QuadPart = (LONGLONG)size;
    return SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof);
}

static BOOL set_sparse(HANDLE h, BOOLEAN sparse)
{
    FILE_SET_SPARSE_BUFFER b = {.SetSparse = sparse};
    DWORD got = 0;
    return DeviceIoControl(h, FSCTL_SET_SPARSE, &b, sizeof b, NULL, 0, &got, NULL);
}

static BOOL integrity_of(HANDLE h, integrity_information *info)
{
    DWORD got = 0;
    memset(info, 0, sizeof *info);
    return DeviceIoControl(h, FSCTL_GET_INTEGRITY_INFORMATION, NULL, 0, info, sizeof *info, &got,
                           NULL) &&
           got >= sizeof *info;
}

static uint64_t size_of(const BY_HANDLE_FILE_INFORMATION *info)
{
    return ((uint64_t)info->nFileSizeHigh << 32) | info->nFileSizeLow;
}

/* The checks that can say no without touching dst: the volume, the pair of
 * files, the cluster. Fills the two files' information and the plan. */
static ps_status check_pair(pf_file *src, pf_file *dst, uint64_t from,
                            BY_HANDLE_FILE_INFORMATION *si, BY_HANDLE_FILE_INFORMATION *di,
                            pfw_clone_plan *plan, ps_err *err)
{
    char why[640];
    DWORD flags = 0;
    if (!GetVolumeInformationByHandleW(dst->h, NULL, 0, NULL, NULL, &flags, NULL, 0)) {
        char sys[512];
        pfw_message(failure(), sys, sizeof sys);
        snprintf(why, sizeof why, "cannot tell whether its volume can clone: %s", sys);
        return refuse(err, src, dst, why);
    }
    if (!(flags & FILE_SUPPORTS_BLOCK_REFCOUNTING))
        return refuse(err, src, dst,
                      "the volume has no block cloning (ReFS has it; NTFS, FAT and most shares "
                      "do not)");
    if (!GetFileInformationByHandle(src->h, si))
        return pfw_err(err, GetLastError(), "cannot examine", src->path);
    if (!GetFileInformationByHandle(dst->h, di))
        return pfw_err(err, GetLastError(), "cannot examine", dst->path);
    if (si->dwVolumeSerialNumber != di->dwVolumeSerialNumber)
        return refuse(err, src, dst, "they are on two volumes");
    integrity_information sint, dint;
    if (!integrity_of(src->h, &sint) || !integrity_of(dst->h, &dint)) {
        char sys[512];
        pfw_message(failure(), sys, sizeof sys);
        snprintf(why, sizeof why, "cannot read the volume's cluster size: %s", sys);
        return refuse(err, src, dst, why);
    }
    if ((sint.checksum_algorithm != 0) != (dint.checksum_algorithm != 0))
        return refuse(err, src, dst, "one has integrity streams and the other not");
    if (pfw_clone_plan_make(from, size_of(si), sint.cluster_size, PFW_CLONE_CALL_MAX, plan) != 0) {
        snprintf(why, sizeof why,
                 "offset %llu is not a multiple of the volume's cluster size (%lu bytes)",
                 (unsigned long long)from, (unsigned long)sint.cluster_size);
        return refuse(err, src, dst, why);
    }
    return PS_OK;
}

ps_status pf_clone_file(pf_file *src, pf_file *dst, uint64_t from, ps_err *err)
{
    BY_HANDLE_FILE_INFORMATION si, di;
    pfw_clone_plan plan;
    ps_status st = check_pair(src, dst, from, &si, &di, &plan, err);
    if (st != PS_OK)
        return st;
    uint64_t src_size = size_of(&si), dst_size = size_of(&di);
    if (plan.start == plan.end) /* nothing of src lies past `from` */
        return dst_size < src_size ? pf_truncate(dst, src_size, err) : PS_OK;

    DWORD code = 0;
    const char *step = NULL;
    int made_sparse = 0;
    if ((si.dwFileAttributes & FILE_ATTRIBUTE_SPARSE_FILE) &&
        !(di.dwFileAttributes & FILE_ATTRIBUTE_SPARSE_FILE)) {
        if (set_sparse(dst->h, TRUE)) {
            made_sparse = 1;
        } else {
            code = failure();
            step = "making the destination sparse, as the source is";
        }
    }
    if (!code && dst_size < plan.end && !set_size(dst->h, plan.end)) {
        code = failure();
        step = "extending the destination";
    }
    uint64_t off = plan.start, n;
    while (!code && (n = pfw_clone_plan_step(&plan, off)) != 0) {
        duplicate_extents_data d = {.file_handle = src->h};
        d.source_file_offset.QuadPart = (LONGLONG)off;
        d.target_file_offset.QuadPart = (LONGLONG)off;
        d.byte_count.QuadPart = (LONGLONG)n;
        DWORD got = 0;
        if (!DeviceIoControl(dst->h, FSCTL_DUPLICATE_EXTENTS_TO_FILE, &d, sizeof d, NULL, 0, &got,
                             NULL)) {
            code = failure();
            step = "duplicating extents";
        }
        off += n;
    }
    /* The source's size exactly: what its last cluster holds past its end
     * of file is not its data, and a longer dst's old bytes beyond are not
     * the source's either. */
    if (!code && !set_size(dst->h, src_size)) {
        code = failure();
        step = "setting the destination's size";
    }
    if (!code)
        return PS_OK;

    /* Put dst back as far as it goes: its size (the caller cut it to
     * `from`, so that is all of it) and its sparseness. Clusters below its
     * old size that a finished call replaced would stay the source's; with
     * dst cut to `from` there are none. */
    set_size(dst->h, dst_size);
    if (made_sparse)
        set_sparse(dst->h, FALSE);
    return clone_error(err, code, step, src, dst);
}
