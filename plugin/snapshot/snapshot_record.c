/*
 * snapshot_record.c - durable records of snapshot artifacts, and the sweep
 * that removes the artifacts a killed run left behind.
 *
 * Format: one text file per session, "<provider>-<pid>-<time>-<random>.rec",
 * UTF-8, '\n'-terminated lines:
 *     line 1      the provider name ("btrfs")
 *     line 2...   one artifact per line, in the provider's own notation
 *
 * Crash safety rests on three rules:
 *   - a record becomes visible under its ".rec" name only once its provider
 *     line is on disk (it is written as "<name>.rec.tmp" and renamed);
 *   - snap_record_add returns only after the line is fsync'd, and providers
 *     create an artifact only after snap_record_add returned, so a line cut
 *     short by a crash names an artifact that was never made;
 *   - the owning session holds an exclusive lock on its record for as long
 *     as the handle is open (pf_file_trylock: flock on POSIX, a byte-range
 *     lock on Windows). The OS drops it when the process dies, so the sweep
 *     can tell a live run's record (locked: leave it alone) from a dead
 *     one's (unlocked: clean up), even with several runs sharing the folder.
 *
 * Every file operation goes through platform.h, so this file builds and
 * behaves the same on POSIX and Windows.
 */
#include "snapshot.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define RECORD_SUFFIX ".rec"
#define PENDING_SUFFIX ".rec.tmp"
/* A record names a handful of artifacts; anything this big is not ours. */
#define RECORD_MAX_BYTES (1024 * 1024)
/* Longest line accepted: a Linux path (PATH_MAX) fits, binary junk does not. */
#define LINE_MAX_BYTES 4096

struct snap_record {
    pf_file *file;   /* holds the session's lock */
    uint64_t size;   /* bytes known to be complete, to undo a failed append */
    int broken;      /* an append failed and could not be undone */
    char *dir;       /* the records folder, flushed after names change */
    char *path;      /* "<records_dir>/<name>", for messages */
    const char *name; /* the file name part of path */
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    static const unsigned long min[] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t extra = c < 0x80                ? 0
                       : (c & 0xE0) == 0xC0 ? 1
                       : (c & 0xF0) == 0xE0 ? 2
                       : (c & 0xF8) == 0xF0 ? 3
                                            : 4;
        if (extra == 4 || n - i <= extra)
            return 0;
        unsigned long cp = extra ? c & (0x3Fu >> extra) : c;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms and surrogates are how junk passes for text. */
        if (cp < min[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += extra + 1;
    }
    return 1;
}

/* Why `line` cannot be a record line, or NULL if it can. The writer and the
 * sweep share this test, so nothing snap_record_add accepts is ever judged
 * damaged later. */
static const char *line_problem(const char *line, size_t len)
{
    if (len == 0)
        return "empty line";
    if (len > LINE_MAX_BYTES)
        return "line too long";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7F)
            return "control character";
    }
    if (!utf8_valid((const unsigned char *)line, len))
        return "not valid UTF-8";
    return NULL;
}

/* Provider names end up in file names: keep them to [a-z0-9_]. */
static int provider_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > 32)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* mkdir -p; new folders are owner-only (records name snapshot paths, which
 * are nobody else's business). The new folder's name is flushed too, or a
 * power cut could take the records inside it along. */
static ps_status make_dirs(const char *dir, ps_err *err)
{
    pf_stat st;
    if (pf_lstat(dir, &st, NULL) == PS_OK && st.kind == PF_KIND_DIR)
        return PS_OK;
    ps_status s = pf_mkdirs(dir, err);
    if (s != PS_OK)
        return ps_err_prefix(err, "cannot create snapshot record folder: ");
    char *parent = pf_dirname(dir);
    if (!parent)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    s = pf_sync_dir(parent, err);
    free(parent);
    return s;
}

static void record_free(snap_record *rec)
{
    pf_close(rec->file, NULL);
    free(rec->dir);
    free(rec->path);
    free(rec);
}

/* Create "<name>.rec.tmp" (a name nobody has), lock it and write the
 * provider line. *pending receives its path. */
static ps_status create_pending(snap_record *rec, const char *provider, char **pending,
                                ps_err *err)
{
    ps_status s = PS_OK;
    *pending = NULL;
    for (int attempt = 0; attempt < 8; attempt++) {
        char name[128];
        snprintf(name, sizeof name, "%s-%lu-%lld-%016llx" PENDING_SUFFIX, provider,
                 pf_process_id(), (long long)(pf_wall_ns() / 1000000000LL),
                 (unsigned long long)pf_random_u64());
        free(*pending);
        *pending = pf_path_join(rec->dir, name);
        if (!*pending)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        int created = 0;
        s = pf_open_write(*pending, &rec->file, &created, err);
        if (s != PS_OK)
            return ps_err_prefix(err, "cannot create snapshot record: ");
        if (created)
            break;
        /* 64 random bits clashed: someone else's file, leave it be. */
        pf_close(rec->file, NULL);
        rec->file = NULL;
        s = ps_err_set(err, PS_ERR_IO, "cannot create a snapshot record in '%s': names clash",
                       rec->dir);
    }
    if (s != PS_OK)
        return s;

    size_t len = strlen(provider);
    char line[40];
    memcpy(line, provider, len);
    line[len] = '\n';
    /* The lock is taken before the record gets the name the sweep looks
     * for, so the sweep never sees this session's record unlocked. */
    s = pf_file_trylock(rec->file, err);
    if (s == PS_OK)
        s = pf_pwrite(rec->file, line, len + 1, 0, err);
    if (s == PS_OK)
        s = pf_sync(rec->file, err);
    if (s != PS_OK) {
        pf_close(rec->file, NULL);
        rec->file = NULL;
        pf_unlink(*pending, NULL);
        return ps_err_prefix(err, "cannot write snapshot record: ");
    }
    rec->size = len + 1;
    return PS_OK;
}

ps_status snap_record_open(const char *records_dir, const char *provider, snap_record **out,
                           ps_err *err)
{
    if (!out)
        return ps_err_set(err, PS_ERR_INVALID, "snap_record_open: no output pointer");
    *out = NULL;
    if (!records_dir || !*records_dir || !provider ||
        !provider_name_valid(provider, strlen(provider)))
        return ps_err_set(err, PS_ERR_INVALID, "cannot open a snapshot record for provider '%s'",
                          provider ? provider : "(null)");
    ps_status st = make_dirs(records_dir, err);
    if (st != PS_OK)
        return st;

    snap_record *rec = calloc(1, sizeof *rec);
    if (!rec || !(rec->dir = strdup(records_dir))) {
        free(rec);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    char *pending = NULL;
    st = create_pending(rec, provider, &pending, err);
    if (st != PS_OK) {
        free(pending);
        record_free(rec);
        return st;
    }

    /* The final name is the pending one without ".tmp". */
    rec->path = strdup(pending);
    if (!rec->path) {
        pf_unlink(pending, NULL);
        free(pending);
        record_free(rec);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    rec->path[strlen(rec->path) - strlen(PENDING_SUFFIX) + strlen(RECORD_SUFFIX)] = '\0';
    /* pf_rename_replace flushes the folder: the record is findable after a
     * power cut from the moment this returns. */
    st = pf_rename_replace(pending, rec->path, err);
    if (st != PS_OK) {
        pf_unlink(pending, NULL);
        pf_unlink(rec->path, NULL);
        free(pending);
        record_free(rec);
        return ps_err_prefix(err, "cannot publish snapshot record: ");
    }
    free(pending);
    rec->name = pf_basename(rec->path);
    *out = rec;
    return PS_OK;
}

ps_status snap_record_add(snap_record *record, const char *artifact, ps_err *err)
{
    if (!record || !artifact)
        return ps_err_set(err, PS_ERR_INVALID, "snap_record_add: no record or artifact");
    if (record->broken)
        return ps_err_set(err, PS_ERR_IO,
                          "snapshot record '%s' is unusable after an earlier write error",
                          record->path);
    size_t len = strlen(artifact);
    const char *why = line_problem(artifact, len);
    if (why)
        return ps_err_set(err, PS_ERR_INVALID,
                          "cannot record snapshot artifact '%.200s' in '%s': %s", artifact,
                          record->path, why);

    char *line = malloc(len + 1);
    if (!line)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    memcpy(line, artifact, len);
    line[len] = '\n';
    /* One write at the end, so a kill leaves either nothing or a prefix of
     * the line; the sweep ignores an unterminated last line. */
    ps_status s = pf_pwrite(record->file, line, len + 1, record->size, err);
    free(line);
    if (s != PS_OK) {
        /* Cut the half-written line off so later lines still parse. */
        if (pf_truncate(record->file, record->size, NULL) != PS_OK)
            record->broken = 1;
        return ps_err_prefix(err, "cannot write snapshot record: ");
    }
    s = pf_sync(record->file, err);
    if (s != PS_OK) {
        /* After a failed flush the cache no longer says what is on disk;
         * refuse further appends rather than build on it. */
        record->broken = 1;
        return ps_err_prefix(err, "cannot flush snapshot record: ");
    }
    record->size += len + 1;
    return PS_OK;
}

ps_status snap_record_discard(snap_record *record, ps_err *err)
{
    if (!record)
        return PS_OK;
    /* Unlink while still holding the lock, so a concurrent sweep never finds
     * this record unlocked and still listed. */
    ps_status st = pf_unlink(record->path, err);
    if (st != PS_OK)
        ps_err_prefix(err, "cannot delete snapshot record: ");
    else
        /* A failed flush is harmless here: if the name comes back after a
         * power cut, the next sweep finds its artifacts already gone. */
        (void)pf_sync_dir(record->dir, NULL);
    record_free(record);
    return st;
}

void snap_record_close(snap_record *record)
{
    if (record)
        record_free(record);
}

/* --- the orphan sweep ---------------------------------------------------- */

typedef struct sweep {
    const char *dir;
    size_t removed;
    size_t problems;
    ps_err first; /* the first problem, reported to the caller */
} sweep;

/* Note a problem; only the first one's text reaches the caller. */
static void sweep_problem(sweep *sw, ps_status code, const char *fmt, ...)
    PS_PRINTF_LIKE(3, 4)
    ;
static void sweep_problem(sweep *sw, ps_status code, const char *fmt, ...)
{
    if (sw->problems++ > 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sw->first.msg, sizeof sw->first.msg, fmt, ap);
    va_end(ap);
    sw->first.code = code;
}

/* Open and lock one entry: the file, or NULL when there is nothing to do
 * (a live session holds it, it went away meanwhile, or it is not a file). */
static pf_file *open_locked(sweep *sw, const char *path, pf_kind kind)
{
    if (kind == PF_KIND_LINK) {
        sweep_problem(sw, PS_ERR_UNSAFE,
                      "cannot open snapshot record '%s': it is a symbolic link; left alone", path);
        return NULL;
    }
    if (kind != PF_KIND_FILE) {
        sweep_problem(sw, PS_ERR_UNSAFE,
                      "'%s' is not a regular file, so not a snapshot record; left alone", path);
        return NULL;
    }
    pf_file *f = NULL;
    ps_err e;
    ps_status s = pf_open_read(path, &f, &e);
    if (s != PS_OK) {
        /* NOTFOUND: discarded meanwhile. On Windows a record its owner is
         * deleting (delete pending) refuses opens until the owner closes. */
        if (s != PS_ERR_NOTFOUND)
            sweep_problem(sw, s, "cannot open snapshot record '%s': %s", path, e.msg);
        return NULL;
    }
    pf_stat st;
    s = pf_file_trylock(f, &e);
    if (s == PS_OK && pf_fstat(f, &st, NULL) == PS_OK && st.nlink > 0)
        /* (nlink 0: the owner discarded the record between our open and our
         * lock; it is finished with, not orphaned.) */
        return f;
    if (s != PS_OK && s != PS_ERR_BUSY)
        sweep_problem(sw, s, "cannot lock snapshot record '%s': %s", path, e.msg);
    pf_close(f, NULL);
    return NULL;
}

static void delete_entry(sweep *sw, const char *path)
{
    ps_err e;
    if (pf_unlink(path, &e) != PS_OK)
        sweep_problem(sw, e.code, "cannot delete snapshot record '%s': %s", path, e.msg);
    else
        (void)pf_sync_dir(sw->dir, NULL); /* as in snap_record_discard */
}

/* Read the whole record, through the locked handle, into a NUL-terminated
 * buffer. */
static char *read_record(sweep *sw, const char *path, pf_file *f, size_t *len)
{
    pf_stat st;
    ps_err e;
    if (pf_fstat(f, &st, &e) != PS_OK) {
        sweep_problem(sw, PS_ERR_IO, "cannot read snapshot record '%s': %s", path, e.msg);
        return NULL;
    }
    if (st.size > RECORD_MAX_BYTES) {
        sweep_problem(sw, PS_ERR_CORRUPT,
                      "snapshot record '%s' is too large (%llu bytes) to be a record; kept it",
                      path, (unsigned long long)st.size);
        return NULL;
    }
    size_t size = (size_t)st.size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) {
        sweep_problem(sw, PS_ERR_NOMEM, "out of memory reading '%s'", path);
        return NULL;
    }
    if (pf_pread(f, buf, size, 0, &got, &e) != PS_OK || got != size) {
        sweep_problem(sw, PS_ERR_IO, "cannot read snapshot record '%s': %s", path,
                      got != size ? "it shrank while being read" : e.msg);
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* Check the complete lines in buf[0..len) and cut them at their '\n'.
 * Returns the number of lines, or 0 after reporting damage. */
static size_t split_lines(sweep *sw, const char *path, char *buf, size_t len)
{
    size_t line_no = 0;
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        const char *why = line_problem(p, (size_t)(nl - p));
        line_no++;
        if (!why && line_no == 1 && !provider_name_valid(p, (size_t)(nl - p)))
            why = "not a provider name";
        if (why) {
            sweep_problem(sw, PS_ERR_CORRUPT,
                          "snapshot record '%s' is damaged (line %zu: %s); kept it: delete "
                          "it by hand once the snapshots it names are gone",
                          path, line_no, why);
            return 0;
        }
        *nl = '\0';
        p = nl + 1;
    }
    return line_no;
}

/* Hand the artifacts to their provider, newest first (undo order); delete
 * the record only if every one of them is gone. */
static void remove_artifacts(sweep *sw, const char *path, const snap_provider *provider,
                             char *first, const char *end, size_t count)
{
    char **artifacts = calloc(count ? count : 1, sizeof *artifacts);
    if (!artifacts) {
        sweep_problem(sw, PS_ERR_NOMEM, "out of memory sweeping '%s'", path);
        return;
    }
    size_t n = 0, failed = 0;
    for (char *p = first; p < end && n < count; p += strlen(p) + 1)
        artifacts[n++] = p;
    while (n-- > 0) {
        ps_err e;
        ps_err_clear(&e);
        if (provider->remove_artifact(artifacts[n], &e) == PS_OK) {
            sw->removed++;
        } else {
            failed++;
            sweep_problem(sw, e.code, "snapshot record '%s' kept: %s", path, e.msg);
        }
    }
    free(artifacts);
    if (failed == 0)
        delete_entry(sw, path);
}

/* The last '\n' in buf[0..len), or NULL (memrchr is a GNU extension). */
static char *last_newline(char *buf, size_t len)
{
    while (len > 0)
        if (buf[--len] == '\n')
            return buf + len;
    return NULL;
}

static void sweep_record(sweep *sw, const char *path, pf_file *f)
{
    size_t len = 0;
    char *buf = read_record(sw, path, f, &len);
    if (!buf)
        return;
    /* Bytes after the last '\n' are an append cut short by a crash: its
     * snap_record_add never returned, so that artifact was never made. */
    char *last_nl = last_newline(buf, len);
    size_t complete = last_nl ? (size_t)(last_nl - buf) + 1 : 0;
    size_t lines = complete ? split_lines(sw, path, buf, complete) : 0;
    if (complete == 0) {
        /* Empty, or even the provider line is unfinished: nothing recorded. */
        delete_entry(sw, path);
    } else if (lines > 0) {
        const snap_provider *provider = snapshot_provider_by_name(buf);
        if (provider)
            remove_artifacts(sw, path, provider, buf + strlen(buf) + 1, buf + complete,
                             lines - 1);
        else
            sweep_problem(sw, PS_ERR_UNSUPPORTED,
                          "snapshot record '%s' belongs to provider '%s', which this build "
                          "does not have; kept it",
                          path, buf);
    }
    free(buf);
}

static void sweep_entry(sweep *sw, const char *name, pf_kind kind)
{
    int pending = ends_with(name, PENDING_SUFFIX);
    if (!pending && !ends_with(name, RECORD_SUFFIX))
        return; /* not ours */
    char *path = pf_path_join(sw->dir, name);
    if (!path) {
        sweep_problem(sw, PS_ERR_NOMEM, "out of memory sweeping '%s'", sw->dir);
        return;
    }
    pf_file *f = open_locked(sw, path, kind);
    if (f) {
        if (pending)
            delete_entry(sw, path); /* killed inside snap_record_open: no artifacts yet */
        else
            sweep_record(sw, path, f);
        pf_close(f, NULL); /* drops the lock after the unlink, as snap_record_discard does */
    }
    free(path);
}

ps_status snapshot_remove_orphans(const char *records_dir, size_t *removed, ps_err *err)
{
    if (removed)
        *removed = 0;
    if (!records_dir || !*records_dir)
        return ps_err_set(err, PS_ERR_INVALID, "no snapshot record folder given");
    pf_dir *d = NULL;
    ps_err e;
    ps_status s = pf_dir_open(records_dir, &d, &e);
    if (s == PS_ERR_NOTFOUND)
        return PS_OK; /* never made a snapshot here */
    if (s != PS_OK)
        return ps_err_set(err, s, "cannot list snapshot records: %s", e.msg);
    sweep sw = {.dir = records_dir};
    /* Names are collected first: deleting entries while a listing is open
     * is unspecified on POSIX and can repeat or skip names on Windows. */
    char **names = NULL;
    pf_kind *kinds = NULL;
    size_t count = 0, cap = 0;
    const char *name;
    pf_kind kind;
    while ((s = pf_dir_next(d, &name, &kind, &e)) == PS_OK && name) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (nn)
                names = nn;
            pf_kind *nk = nn ? realloc(kinds, ncap * sizeof *nk) : NULL;
            if (nk)
                kinds = nk;
            if (!nn || !nk) {
                s = ps_err_set(&e, PS_ERR_NOMEM, "out of memory");
                break;
            }
            cap = ncap;
        }
        if (!(names[count] = strdup(name))) {
            s = ps_err_set(&e, PS_ERR_NOMEM, "out of memory");
            break;
        }
        kinds[count++] = kind;
    }
    pf_dir_close(d);
    if (s != PS_OK)
        sweep_problem(&sw, s, "cannot list snapshot records: %s", e.msg);
    for (size_t i = 0; i < count; i++) {
        sweep_entry(&sw, names[i], kinds[i]);
        free(names[i]);
    }
    free(names);
    free(kinds);

    if (removed)
        *removed = sw.removed;
    if (sw.problems == 0)
        return PS_OK;
    if (sw.problems == 1)
        return ps_err_set(err, sw.first.code, "%s", sw.first.msg);
    return ps_err_set(err, sw.first.code, "%s (and %zu more snapshot record problems in '%s')",
                      sw.first.msg, sw.problems - 1, records_dir);
}
