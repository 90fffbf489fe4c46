#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockmap.h"
#include "fault.h"
#include "hash.h"

ps_status publish_verify_file(const char *path, uint64_t size, ps_hashfile *hashes,
                              uint32_t block_size, ps_verify verify, ps_err *err)
{
    uint64_t block_count = hashes->count;
    if (verify == PS_VERIFY_NONE)
        return PS_OK;
    pf_file *f = NULL;
    ps_status s = pf_open_read(path, &f, err);
    pf_stat st;
    if (s == PS_OK)
        s = pf_fstat(f, &st, err);
    if (s == PS_OK && st.size != size)
        s = ps_err_set(err, PS_ERR_IO, "verification of '%s' failed: %llu bytes written, %llu expected",
                       path, (unsigned long long)st.size, (unsigned long long)size);
    unsigned char *buf = s == PS_OK && block_count ? malloc(block_size) : NULL;
    if (s == PS_OK && block_count && !buf)
        s = ps_err_set(err, PS_ERR_NOMEM, "out of memory verifying '%s'", path);
    for (uint64_t b = 0; s == PS_OK && b < block_count; b++) {
        if (verify == PS_VERIFY_QUICK && b != 0 && b != block_count - 1)
            continue;
        uint64_t off = b * block_size;
        size_t want = blockmap_block_len(size, block_size, b), got;
        uint64_t expected = 0;
        s = hashfile_get(hashes, b, &expected, err);
        if (s == PS_OK)
            s = pf_pread(f, buf, want, off, &got, err);
        if (s == PS_OK && (got != want || ps_hash64(buf, got) != expected))
            s = ps_err_set(err, PS_ERR_IO,
                            "verification of '%s' failed: block %llu (offset %llu) does not match "
                            "what was written",
                            path, (unsigned long long)b, (unsigned long long)off);
    }
    free(buf);
    pf_close(f, NULL);
    return s;
}

char *publish_version_path(const char *final_path, int64_t wall_ns)
{
    const char *base = pf_basename(final_path);
    const char *dot = strrchr(base, '.');
    size_t stem_len = (size_t)((dot && dot != base ? dot : base + strlen(base)) - final_path);
    const char *ext = dot && dot != base ? dot : "";
    char stamp[32];
    pf_format_local_time(wall_ns, stamp, sizeof stamp);
    size_t n = stem_len + strlen(stamp) + strlen(ext) + 8;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%.*s (%s)%s", (int)stem_len, final_path, stamp, ext);
    return p;
}

int publish_is_version_of(const char *name, const char *base)
{
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    const char *ext = dot && dot != base ? dot : "";
    size_t stamp_len = strlen(" (YYYY-MM-DD HHMMSS)");
    return strlen(name) == stem + stamp_len + strlen(ext) && strncmp(name, base, stem) == 0 &&
           strncmp(name + stem, " (", 2) == 0 && name[stem + stamp_len - 1] == ')' &&
           strcmp(name + stem + stamp_len, ext) == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Delete the oldest versions beyond `keep`. Best effort: a version that
 * cannot be removed only costs space. */
static void prune_versions(const char *final_path, uint32_t keep)
{
    char *dir = pf_dirname(final_path);
    pf_dir *d = NULL;
    if (!dir || pf_dir_open(dir, &d, NULL) != PS_OK) {
        free(dir);
        return;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    const char *name;
    pf_kind kind;
    while (pf_dir_next(d, &name, &kind, NULL) == PS_OK && name) {
        if (kind != PF_KIND_FILE || !publish_is_version_of(name, pf_basename(final_path)))
            continue;
        if (count == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 8) * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        if ((names[count] = strdup(name)) != NULL)
            count++;
    }
    pf_dir_close(d);
    if (count)
        qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i + keep < count; i++) {
        char *path = pf_path_join(dir, names[i]);
        if (path)
            pf_unlink(path, NULL);
        free(path);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    free(dir);
}

ps_status publish_file(const publish_request *r, pf_stat *published, int *version_kept,
                       ps_err *err)
{
    *version_kept = 0;
    ps_status s = publish_verify_file(r->staging_path, r->size, r->hashes,
                                      r->block_size, r->verify, err);
    if (s != PS_OK)
        return s;
    pf_stat old;
    if (r->keep_versions > 0 && pf_lstat(r->final_path, &old, NULL) == PS_OK &&
        old.kind == PF_KIND_FILE) {
        char *version = publish_version_path(r->final_path, old.mtime_ns);
        /* A hard link keeps the old bytes under the version name while the
         * final name stays valid until the rename below replaces it. */
        if (version && pf_link(r->final_path, version, NULL) == PS_OK)
            *version_kept = 1;
        free(version);
    }
    FAULT_POINT("publish.before-rename");
    s = pf_rename_replace(r->staging_path, r->final_path, err);
    if (s != PS_OK)
        return s;
    FAULT_POINT("publish.after-rename");
    if (r->keep_versions > 0)
        prune_versions(r->final_path, r->keep_versions);
    return pf_lstat(r->final_path, published, err);
}
