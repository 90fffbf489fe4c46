/*
 * vss.c - Volume Shadow Copy snapshots (Windows), in plain C.
 *
 * COM is reached through the C vtables of mingw-w64's vsbackup.h
 * (COBJMACROS). vssapi.dll is loaded at run time, not linked: pstsnap.dll
 * must load where VSS is missing or stubbed (Windows PE, Wine), and there
 * "auto" falls back to the next provider with an event.
 *
 * The requester sequence, one snapshot set per session, in the order of
 * Microsoft's "Overview of Processing a Backup Under VSS":
 *   CreateVssBackupComponentsInternal -> InitializeForBackup -> SetContext
 *   -> SetBackupState (copy backup, no components) -> GatherWriterMetadata
 *   -> StartSnapshotSet -> AddToSnapshotSet (one per volume holding a file
 *   of the set; every snapshot id is written to the record BEFORE
 *   DoSnapshotSet makes it) -> PrepareForBackup -> DoSnapshotSet ->
 *   GetSnapshotProperties (the device object,
 *   \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN) -> copy -> release:
 *   BackupComplete -> DeleteSnapshots.
 * GatherWriterMetadata is called although this context has no writers:
 * the documentation calls it a required step of backup initialisation, and
 * a backup-context components object that skipped it may answer
 * PrepareForBackup with VSS_E_BAD_STATE - which would read as "not
 * elevated". It costs one Identify round (about a second). BackupComplete
 * tells VSS the backup is over before the set is deleted; with a copy
 * backup it touches no writer's history.
 *
 * Context: VSS_CTX_FILE_SHARE_BACKUP (VSS_CTX_BACKUP without writers,
 * non-persistent, auto-released), weighed against VSS_CTX_CLIENT_ACCESSIBLE
 * (persistent, so an interrupted copy could go on from the same snapshot):
 *  - Resume does not need the same snapshot. The journal keeps a hash of
 *    every copied block; the next run snapshots again and re-reads only to
 *    compare, rewriting the blocks Outlook changed meanwhile. What is lost is
 *    one re-read of the copied part, not the copy.
 *  - A persistent snapshot that a killed run leaves (logoff, power cut - the
 *    cases resume is for) holds diff-area space and counts toward the
 *    64-per-volume limit until some later run deletes it; if pstsnap is
 *    uninstalled meanwhile, nothing ever does. A non-persistent one goes
 *    when this process ends, whatever ends it.
 *  - CLIENT_ACCESSIBLE is the context of Shadow Copies for Shared Folders:
 *    its snapshots are meant to be seen by users as Previous Versions, not
 *    to be a backup tool's private, short-lived view.
 *  - Outlook has no VSS writer, so writers add nothing for a PST: its copy is
 *    crash-consistent either way, like after a power cut, which a PST
 *    survives (and the copy is verified before it is published); writers'
 *    freeze/thaw (SQL, Hyper-V, system state) would only cost the user time
 *    and let an unrelated failing writer fail our snapshot.
 *
 * Cancellation: every IVssAsync is polled every 250 ms; between polls the
 * run's cancel flag (snap_cancel, from the host: logoff, shutdown) is read,
 * and when set the operation is cancelled (IVssAsync_Cancel, then
 * AbortBackup) and create fails with PS_ERR_CANCELLED at once. A stuck
 * operation is also cancelled after 5 minutes.
 *
 * Failures (see vss-notes.md) become one clear message each
 * (vss_hresult_reason, tested on its own): not elevated, service disabled,
 * VSS absent (Wine's E_NOTIMPL), another snapshot set in progress (retried
 * with back-off), shadow storage full, 64-snapshot limit, unsupported
 * volume (FAT and network shares are also refused early by probe).
 *
 * Artifacts: "{snapshot id}" - deleted by id by the next run if this one
 * died before releasing (normally VSS has already auto-released it).
 */
#define COBJMACROS
#include "snapshot.h"
#include "vss_reason.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <objbase.h>
#include <vss.h>
#include <vswriter.h>
#include <vsbackup.h>
#include <vsserror.h>

#include "../platform/win32/pf_win32.h"

/* Another requester's snapshot set in progress: wait 1, 2, 4, 8 s. */
#define IN_PROGRESS_TRIES 5
/* An IVssAsync is polled this often, and given up on (cancelled) after
 * this long: DoSnapshotSet normally takes seconds, and VSS's own freeze
 * window is 10 s, so minutes mean something is stuck. */
#define ASYNC_POLL_MS 250
#define ASYNC_TIMEOUT_MS (5 * 60 * 1000)
/* BackupComplete on release: cleanup must not hang a logoff. */
#define RELEASE_TIMEOUT_MS (30 * 1000)

typedef HRESULT(WINAPI *create_components_fn)(IVssBackupComponents **);
typedef void(WINAPI *free_props_fn)(VSS_SNAPSHOT_PROP *);

typedef struct vss_volume {
    wchar_t *name;    /* \\?\Volume{guid}\ : identity of the volume */
    VSS_ID snapshot;  /* from AddToSnapshotSet */
    wchar_t *device;  /* the snapshot's device object */
} vss_volume;

typedef struct vss_file {
    char *live;
    size_t volume;    /* index into volumes */
    wchar_t *rel;     /* path below the volume's mount point */
    char *mapped;     /* device + "\" + rel, UTF-8 */
} vss_file;

struct snap_session {
    IVssBackupComponents *vss;
    int com_initialized; /* CoUninitialize on release */
    VSS_ID set;
    vss_volume *volumes;
    size_t nvolumes;
    vss_file *files;
    size_t count;
    snap_cancel cancel; /* copied from create; polled by release too */
};

/* --- vssapi.dll, loaded once ------------------------------------------- */
static INIT_ONCE g_load_once = INIT_ONCE_STATIC_INIT;
static create_components_fn g_create;
static free_props_fn g_free_props;

static BOOL CALLBACK load_vssapi(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    /* System32 only: never a vssapi.dll planted next to the host. */
    HMODULE m = LoadLibraryExW(L"vssapi.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (m) {
        g_create = (create_components_fn)(void (*)(void))GetProcAddress(
            m, "CreateVssBackupComponentsInternal");
        g_free_props = (free_props_fn)(void (*)(void))GetProcAddress(
            m, "VssFreeSnapshotPropertiesInternal");
    }
    return TRUE;
}

/* --- HRESULTs -> messages ------------------------------------------------ */
const char *vss_hresult_reason(long hr, ps_status *status)
{
    ps_status st = PS_ERR_IO;
    const char *why = NULL;
    switch ((HRESULT)hr) {
    case E_NOTIMPL:
    case REGDB_E_CLASSNOTREG:
        st = PS_ERR_UNSUPPORTED;
        why = "Volume Shadow Copy is not available on this system (Wine, Windows PE, or VSS "
              "not installed)";
        break;
    case E_ACCESSDENIED:
    case HRESULT_FROM_WIN32(ERROR_PRIVILEGE_NOT_HELD):
        /* The documented answer for a caller that is not elevated or lacks
         * the backup privilege (restic#4986). */
        st = PS_ERR_ACCESS;
        why = "creating a shadow copy needs administrator or backup rights in an elevated "
              "process: set the action's Run As to System";
        break;
    case VSS_E_BAD_STATE:
        /* Right after creation this is what a non-elevated token gets on
         * some Windows versions; later in the sequence it is a bug. */
        st = PS_ERR_ACCESS;
        why = "VSS refused the request (bad state); this usually means the process is not "
              "elevated: set the action's Run As to System";
        break;
    case HRESULT_FROM_WIN32(ERROR_SERVICE_DISABLED):
        st = PS_ERR_UNSUPPORTED;
        why = "the Volume Shadow Copy service (VSS) is disabled: set its start type to Manual";
        break;
    case HRESULT_FROM_WIN32(ERROR_SERVICE_DOES_NOT_EXIST):
    case VSS_E_WRITER_INFRASTRUCTURE:
        st = PS_ERR_UNSUPPORTED;
        why = "the Volume Shadow Copy service or the COM+ Event System it needs is not "
              "running or not working: check both services";
        break;
    case VSS_E_SNAPSHOT_SET_IN_PROGRESS:
        st = PS_ERR_BUSY;
        why = "another program is creating a shadow copy right now and did not finish in time; "
              "the next run retries";
        break;
    case VSS_E_INSUFFICIENT_STORAGE:
        why = "the shadow storage (diff area) is too small or full - this is not free disk "
              "space; enlarge it with 'vssadmin resize shadowstorage'";
        break;
    case VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED:
        why = "the volume already has the maximum of 64 shadow copies; delete old ones "
              "('vssadmin delete shadows')";
        break;
    case VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED:
        why = "too many volumes in one shadow copy set";
        break;
    case VSS_E_VOLUME_NOT_SUPPORTED:
    case VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER:
    case VSS_E_NESTED_VOLUME_LIMIT:
        st = PS_ERR_UNSUPPORTED;
        why = "this volume cannot be shadow-copied (FAT, a network share or a removable disk)";
        break;
    case VSS_E_FLUSH_WRITES_TIMEOUT:
    case VSS_E_HOLD_WRITES_TIMEOUT:
        why = "the disk was too busy to freeze within VSS's time limit; the next run retries";
        break;
    case VSS_E_PROVIDER_VETO:
    case VSS_E_UNEXPECTED_PROVIDER_ERROR:
        why = "the shadow copy provider failed (see the Application event log, source VSS)";
        break;
    case HRESULT_FROM_WIN32(ERROR_TIMEOUT):
        why = "the shadow copy did not complete within 5 minutes and was cancelled";
        break;
    case HRESULT_FROM_WIN32(ERROR_CANCELLED):
        st = PS_ERR_CANCELLED;
        why = "stopped for logoff or shutdown before the shadow copy was complete";
        break;
    default:
        break;
    }
    if (why && status)
        *status = st;
    return why;
}

static ps_status vss_error(ps_err *err, HRESULT hr, const char *step, const char *where)
{
    ps_status st = PS_ERR_IO;
    const char *why = vss_hresult_reason(hr, &st);
    if (!why) {
        char sys[256];
        pfw_message((DWORD)hr, sys, sizeof sys);
        return ps_err_set(err, PS_ERR_IO, "VSS %s failed for %s: HRESULT 0x%08lx, %s", step, where,
                          (unsigned long)hr, sys);
    }
    return ps_err_set(err, st, "VSS %s failed for %s: %s (HRESULT 0x%08lx)", step, where, why,
                      (unsigned long)hr);
}

static int is_cancelled(const snap_cancel *cancel)
{
    return cancel && cancel->cancelled && cancel->cancelled(cancel->ctx);
}

/* Wait for an asynchronous VSS call and return its outcome. "Pending" is
 * never taken for done (restic#3390): QueryStatus must say finished. The
 * run's cancel flag is read between polls; cancelling or running out of
 * time cancels the operation itself, so VSS does not go on without us. */
static HRESULT wait_async(IVssAsync *async, const snap_cancel *cancel, DWORD timeout_ms)
{
    HRESULT result = E_UNEXPECTED;
    for (DWORD waited = 0;; waited += ASYNC_POLL_MS) {
        HRESULT hr = IVssAsync_Wait(async, ASYNC_POLL_MS);
        if (FAILED(hr) && hr != HRESULT_FROM_WIN32(ERROR_TIMEOUT)) {
            result = hr;
            break;
        }
        hr = IVssAsync_QueryStatus(async, &result, NULL);
        if (FAILED(hr)) {
            result = hr;
            break;
        }
        if (result != VSS_S_ASYNC_PENDING)
            break;
        if (is_cancelled(cancel)) {
            IVssAsync_Cancel(async);
            result = HRESULT_FROM_WIN32(ERROR_CANCELLED);
            break;
        }
        if (waited >= timeout_ms) {
            IVssAsync_Cancel(async);
            result = HRESULT_FROM_WIN32(ERROR_TIMEOUT);
            break;
        }
    }
    IVssAsync_Release(async);
    if (result == VSS_S_ASYNC_FINISHED)
        return S_OK;
    if (result == VSS_S_ASYNC_CANCELLED)
        return is_cancelled(cancel) ? HRESULT_FROM_WIN32(ERROR_CANCELLED)
                                    : HRESULT_FROM_WIN32(ERROR_TIMEOUT);
    return result;
}

static HRESULT run_async(HRESULT started, IVssAsync *async, const snap_cancel *cancel,
                         DWORD timeout_ms)
{
    if (FAILED(started))
        return started;
    return wait_async(async, cancel, timeout_ms);
}

/* --- COM and the backup components object ------------------------------- */
/* Initialise COM on this thread (the backup worker) and make a backup
 * components object ready for `context`. */
static ps_status open_components(LONG context, IVssBackupComponents **out, int *com_initialized,
                                 const char *where, ps_err *err)
{
    *out = NULL;
    *com_initialized = 0;
    InitOnceExecuteOnce(&g_load_once, load_vssapi, NULL, NULL);
    if (!g_create)
        return vss_error(err, E_NOTIMPL, "start", where);
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if (SUCCEEDED(hr))
        *com_initialized = 1;
    else if (hr != RPC_E_CHANGED_MODE) /* the host's thread model is fine too */
        return vss_error(err, hr, "COM start-up", where);
    /* VSS calls back into the requester; its documentation asks for this
     * security level. Only the first call in a process counts: if the host
     * set it already (RPC_E_TOO_LATE), its choice stands. */
    (void)CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
                               RPC_C_IMP_LEVEL_IDENTIFY, NULL, EOAC_DYNAMIC_CLOAKING, NULL);
    IVssBackupComponents *vss = NULL;
    const char *step = "start";
    hr = g_create(&vss);
    if (SUCCEEDED(hr)) {
        step = "InitializeForBackup";
        hr = IVssBackupComponents_InitializeForBackup(vss, NULL);
    }
    if (SUCCEEDED(hr)) {
        step = "SetContext";
        hr = IVssBackupComponents_SetContext(vss, context);
    }
    if (FAILED(hr)) {
        if (vss)
            IVssBackupComponents_Release(vss);
        if (*com_initialized)
            CoUninitialize();
        *com_initialized = 0;
        return vss_error(err, hr, step, where);
    }
    *out = vss;
    return PS_OK;
}

static void close_components(IVssBackupComponents *vss, int com_initialized)
{
    if (vss)
        IVssBackupComponents_Release(vss);
    if (com_initialized)
        CoUninitialize();
}

/* --- volumes --------------------------------------------------------------- */
/* The mount point ("C:\", or a folder for a mounted volume) of the volume
 * holding `wpath`, in the same prefix form as wpath. */
static wchar_t *mount_point_of(const wchar_t *wpath)
{
    size_t n = wcslen(wpath) + 2;
    wchar_t *m = malloc(n * sizeof *m);
    if (m && !GetVolumePathNameW(wpath, m, (DWORD)n)) {
        free(m);
        return NULL;
    }
    /* Some versions answer "C:\" for "\\?\C:\x": put the prefix back so
     * that the mount point is a prefix of the path. */
    if (m && wcsncmp(wpath, L"\\\\?\\", 4) == 0 && wcsncmp(m, L"\\\\?\\", 4) != 0 &&
        _wcsnicmp(wpath + 4, m, wcslen(m)) == 0) {
        wchar_t *p = malloc((wcslen(m) + 5) * sizeof *p);
        if (p) {
            wcscpy(p, L"\\\\?\\");
            wcscat(p, m);
        }
        free(m);
        m = p;
    }
    return m;
}

/* "\\?\C:\" -> "C:\" for the calls that want a plain root. */
static const wchar_t *plain_root(const wchar_t *mount)
{
    if (wcsncmp(mount, L"\\\\?\\", 4) == 0 && mount[5] == L':')
        return mount + 4;
    return mount;
}

static ps_status vss_probe(const char *path, ps_err *err)
{
    if (!path)
        return ps_err_set(err, PS_ERR_INVALID, "no path to probe");
    wchar_t *w = pfw_path(path), *mount = w ? mount_point_of(w) : NULL;
    free(w);
    if (!mount)
        return pfw_err(err, GetLastError(), "cannot find the volume of", path);
    const wchar_t *root = plain_root(mount);
    UINT type = GetDriveTypeW(root);
    wchar_t fs[MAX_PATH + 1] = L"";
    BOOL have_fs = GetVolumeInformationW(root, NULL, 0, NULL, NULL, NULL, fs, MAX_PATH + 1);
    free(mount);
    /* VSS works on local NTFS and ReFS volumes only. This is checked here,
     * cheaply and without elevation, so that "auto" moves on at once;
     * everything that needs VSS itself is found out by create. */
    if (type == DRIVE_REMOTE)
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "'%s' is on a network share, which VSS cannot snapshot (and Outlook "
                          "does not support PSTs on a share)",
                          path);
    if (type == DRIVE_CDROM || type == DRIVE_RAMDISK)
        return ps_err_set(err, PS_ERR_UNSUPPORTED, "'%s' is on a drive VSS cannot snapshot", path);
    if (have_fs && (_wcsicmp(fs, L"FAT") == 0 || _wcsicmp(fs, L"FAT32") == 0 ||
                    _wcsicmp(fs, L"exFAT") == 0))
        return ps_err_set(err, PS_ERR_UNSUPPORTED,
                          "'%s' is on a FAT volume, which VSS cannot snapshot", path);
    return PS_OK;
}

/* --- the session ---------------------------------------------------------- */
static void session_free(snap_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nvolumes; i++) {
        free(s->volumes[i].name);
        free(s->volumes[i].device);
    }
    for (size_t i = 0; i < s->count; i++) {
        free(s->files[i].live);
        free(s->files[i].rel);
        free(s->files[i].mapped);
    }
    free(s->volumes);
    free(s->files);
    close_components(s->vss, s->com_initialized);
    free(s);
}

/* Work out the volume and the path below its mount point of every file. */
static ps_status plan_volumes(snap_session *s, const char *const *paths, size_t count, ps_err *err)
{
    s->files = calloc(count ? count : 1, sizeof *s->files);
    s->volumes = calloc(count ? count : 1, sizeof *s->volumes);
    if (!s->files || !s->volumes)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        vss_file *f = &s->files[s->count++];
        if (!(f->live = _strdup(paths[i])))
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        wchar_t *w = pfw_path(paths[i]), *mount = w ? mount_point_of(w) : NULL;
        wchar_t name[MAX_PATH + 1];
        if (!mount || !GetVolumeNameForVolumeMountPointW(mount, name, MAX_PATH + 1)) {
            DWORD e = GetLastError();
            free(w);
            free(mount);
            return pfw_err(err, e, "cannot find the volume of", paths[i]);
        }
        f->rel = _wcsdup(w + wcslen(mount));
        free(w);
        free(mount);
        if (!f->rel)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        size_t v = 0;
        while (v < s->nvolumes && _wcsicmp(s->volumes[v].name, name) != 0)
            v++;
        if (v == s->nvolumes) {
            if (!(s->volumes[v].name = _wcsdup(name)))
                return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
            s->nvolumes++;
        }
        f->volume = v;
    }
    return PS_OK;
}

static void guid_text(const VSS_ID *id, char *buf, size_t len)
{
    snprintf(buf, len, "{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
             (unsigned long)id->Data1, id->Data2, id->Data3, id->Data4[0], id->Data4[1],
             id->Data4[2], id->Data4[3], id->Data4[4], id->Data4[5], id->Data4[6], id->Data4[7]);
}

/* One attempt at the whole snapshot set, on a components object that has
 * been through InitializeForBackup and SetContext. */
static HRESULT make_snapshot_set(snap_session *s, snap_record *record, const char **step,
                                 ps_err *err, ps_status *record_failed)
{
    IVssAsync *async = NULL;
    const snap_cancel *cancel = &s->cancel;
    *step = "SetBackupState";
    /* Copy backup without components: no writer's backup history is touched
     * (nothing else's incremental backups are disturbed by ours). */
    HRESULT hr = IVssBackupComponents_SetBackupState(s->vss, FALSE, FALSE, VSS_BT_COPY, FALSE);
    if (FAILED(hr))
        return hr;
    *step = "GatherWriterMetadata";
    hr = run_async(IVssBackupComponents_GatherWriterMetadata(s->vss, &async), async, cancel,
                   ASYNC_TIMEOUT_MS);
    if (FAILED(hr))
        return hr;
    *step = "StartSnapshotSet";
    if (FAILED(hr = IVssBackupComponents_StartSnapshotSet(s->vss, &s->set)))
        return hr;
    for (size_t v = 0; v < s->nvolumes; v++) {
        *step = "AddToSnapshotSet";
        hr = IVssBackupComponents_AddToSnapshotSet(s->vss, s->volumes[v].name, GUID_NULL,
                                                   &s->volumes[v].snapshot);
        if (FAILED(hr))
            return hr;
        /* The id is known before the snapshot exists: record it now. */
        char id[64];
        guid_text(&s->volumes[v].snapshot, id, sizeof id);
        if ((*record_failed = snap_record_add(record, id, err)) != PS_OK)
            return E_ABORT;
    }
    *step = "PrepareForBackup";
    async = NULL;
    hr = run_async(IVssBackupComponents_PrepareForBackup(s->vss, &async), async, cancel,
                   ASYNC_TIMEOUT_MS);
    if (FAILED(hr))
        return hr;
    *step = "DoSnapshotSet";
    async = NULL;
    return run_async(IVssBackupComponents_DoSnapshotSet(s->vss, &async), async, cancel,
                     ASYNC_TIMEOUT_MS);
}

/* Where each file reads in the snapshot: device object + path below the
 * volume's mount point. */
static ps_status map_files(snap_session *s, ps_err *err)
{
    for (size_t v = 0; v < s->nvolumes; v++) {
        VSS_SNAPSHOT_PROP prop;
        memset(&prop, 0, sizeof prop);
        HRESULT hr = IVssBackupComponents_GetSnapshotProperties(s->vss, s->volumes[v].snapshot, &prop);
        if (FAILED(hr))
            return vss_error(err, hr, "GetSnapshotProperties", "the new snapshot");
        s->volumes[v].device = prop.m_pwszSnapshotDeviceObject ? _wcsdup(prop.m_pwszSnapshotDeviceObject) : NULL;
        if (g_free_props)
            g_free_props(&prop);
        if (!s->volumes[v].device)
            return ps_err_set(err, PS_ERR_IO, "VSS gave no device object for the new snapshot");
    }
    for (size_t i = 0; i < s->count; i++) {
        vss_file *f = &s->files[i];
        const wchar_t *dev = s->volumes[f->volume].device;
        size_t n = wcslen(dev) + 1 + wcslen(f->rel) + 1;
        wchar_t *w = malloc(n * sizeof *w);
        if (!w)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        _snwprintf(w, n, L"%ls\\%ls", dev, f->rel);
        w[n - 1] = 0;
        f->mapped = pfw_utf8(w, (size_t)-1);
        free(w);
        if (!f->mapped)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    return PS_OK;
}

static ps_status vss_create_cancellable(const char *const *paths, size_t count,
                                        snap_record *record, const snap_cancel *cancel,
                                        snap_session **out, ps_err *err)
{
    if (!out || (count && !paths) || !record)
        return ps_err_set(err, PS_ERR_INVALID, "snapshot create: bad arguments");
    *out = NULL;
    char where[300];
    snprintf(where, sizeof where, "'%s'%s", count ? paths[0] : "", count > 1 ? " and the other files" : "");
    snap_session *s = calloc(1, sizeof *s);
    if (!s)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    if (cancel)
        s->cancel = *cancel;
    ps_status st = PS_OK;
    HRESULT hr = S_OK;
    const char *step = "start";
    for (int attempt = 0; st == PS_OK; attempt++) {
        st = open_components(VSS_CTX_FILE_SHARE_BACKUP, &s->vss, &s->com_initialized, where, err);
        /* Volumes are looked up once VSS is known to be there, so that
         * "VSS is missing" is the message where that is the problem. */
        if (st == PS_OK && attempt == 0)
            st = plan_volumes(s, paths, count, err);
        if (st != PS_OK)
            break;
        ps_status record_failed = PS_OK;
        hr = make_snapshot_set(s, record, &step, err, &record_failed);
        if (SUCCEEDED(hr))
            break;
        /* Between StartSnapshotSet and the end of DoSnapshotSet a failure
         * must be followed by AbortBackup, or VSS keeps the set half made. */
        IVssBackupComponents_AbortBackup(s->vss);
        close_components(s->vss, s->com_initialized);
        s->vss = NULL;
        s->com_initialized = 0;
        if (record_failed != PS_OK) {
            st = record_failed; /* err already says why */
            break;
        }
        if (hr != VSS_E_SNAPSHOT_SET_IN_PROGRESS || attempt + 1 >= IN_PROGRESS_TRIES) {
            st = vss_error(err, hr, step, where);
            break;
        }
        /* Back off, but a logoff meanwhile ends the wait. */
        for (DWORD slept = 0; slept < (1000u << attempt) && !is_cancelled(cancel);
             slept += ASYNC_POLL_MS)
            Sleep(ASYNC_POLL_MS);
        if (is_cancelled(cancel)) {
            st = vss_error(err, HRESULT_FROM_WIN32(ERROR_CANCELLED), step, where);
            break;
        }
    }
    if (st == PS_OK)
        st = map_files(s, err);
    if (st != PS_OK) {
        /* Anything made is non-persistent and goes with the components
         * object; the record still names it for the sweep if not. */
        if (s->vss)
            IVssBackupComponents_DeleteSnapshots(s->vss, s->set, VSS_OBJECT_SNAPSHOT_SET, TRUE,
                                                 &(LONG){0}, &(VSS_ID){0});
        session_free(s);
        return st;
    }
    *out = s;
    return PS_OK;
}

static ps_status vss_create(const char *const *paths, size_t count, snap_record *record,
                            snap_session **out, ps_err *err)
{
    return vss_create_cancellable(paths, count, record, NULL, out, err);
}

static ps_status vss_map_path(snap_session *session, const char *live_path, char **out, ps_err *err)
{
    if (!session || !live_path || !out)
        return ps_err_set(err, PS_ERR_INVALID, "snapshot map_path: bad arguments");
    *out = NULL;
    for (size_t i = 0; i < session->count; i++) {
        if (strcmp(session->files[i].live, live_path) == 0) {
            *out = _strdup(session->files[i].mapped);
            return *out ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        }
    }
    return ps_err_set(err, PS_ERR_INVALID, "'%s' is not one of the files of this snapshot",
                      live_path);
}

static ps_status vss_release(snap_session *session, ps_err *err)
{
    if (!session)
        return PS_OK;
    /* The backup is over: tell VSS (a copy backup, so no writer records it)
     * and then delete the set. A failed or cancelled BackupComplete does
     * not stop the delete; the snapshot must go either way. */
    IVssAsync *async = NULL;
    (void)run_async(IVssBackupComponents_BackupComplete(session->vss, &async), async,
                    &session->cancel, RELEASE_TIMEOUT_MS);
    LONG deleted = 0;
    VSS_ID failed;
    HRESULT hr = IVssBackupComponents_DeleteSnapshots(session->vss, session->set,
                                                      VSS_OBJECT_SNAPSHOT_SET, TRUE, &deleted, &failed);
    ps_status st = PS_OK;
    if (FAILED(hr) && hr != VSS_E_OBJECT_NOT_FOUND)
        st = vss_error(err, hr, "DeleteSnapshots", "the snapshot set");
    session_free(session);
    return st;
}

/* "{8-4-4-4-12}" and nothing else: the record could have been edited. */
static int parse_snapshot_id(const char *text, VSS_ID *id)
{
    if (strlen(text) != 38 || text[0] != '{' || text[37] != '}')
        return 0;
    wchar_t w[39];
    for (size_t i = 0; i < 39; i++)
        w[i] = (wchar_t)(unsigned char)text[i];
    return SUCCEEDED(CLSIDFromString(w, id));
}

static ps_status vss_remove_artifact(const char *artifact, ps_err *err)
{
    VSS_ID id;
    if (!artifact || !parse_snapshot_id(artifact, &id))
        return ps_err_set(err, PS_ERR_UNSAFE, "refusing to remove '%s': not a VSS snapshot id",
                          artifact ? artifact : "(null)");
    IVssBackupComponents *vss = NULL;
    int com = 0;
    char where[80];
    snprintf(where, sizeof where, "snapshot %s", artifact);
    /* VSS_CTX_ALL: delete whatever context the snapshot was made in. */
    ps_status st = open_components(VSS_CTX_ALL, &vss, &com, where, err);
    if (st == PS_ERR_UNSUPPORTED)
        return PS_OK; /* no VSS here, so no snapshot either */
    if (st != PS_OK)
        return st;
    LONG deleted = 0;
    VSS_ID failed;
    HRESULT hr = IVssBackupComponents_DeleteSnapshots(vss, id, VSS_OBJECT_SNAPSHOT, TRUE, &deleted, &failed);
    close_components(vss, com);
    /* Not found: VSS auto-released it when the run that made it died. */
    if (FAILED(hr) && hr != VSS_E_OBJECT_NOT_FOUND)
        return vss_error(err, hr, "DeleteSnapshots", where);
    return PS_OK;
}

const snap_provider snapshot_vss_provider = {
    .name = "vss",
    .is_live = 0,
    .probe = vss_probe,
    .create = vss_create,
    .map_path = vss_map_path,
    .release = vss_release,
    .remove_artifact = vss_remove_artifact,
    .create_cancellable = vss_create_cancellable,
};
