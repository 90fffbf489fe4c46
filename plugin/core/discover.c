#include "discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "glob.h"

/* Deeper trees than this are not Outlook's doing; stop rather than let a
 * hostile profile make the walk unbounded. */
#define MAX_DEPTH 64

typedef struct walk {
    const discover_request *req;
    ps_candidates *out;
    pf_stat dest; /* identity of the destination folder, if it exists */
    int have_dest;
    uint64_t root_dev; /* volume of the source being walked */
} walk;

static void skipped(const walk *w, const char *path, const char *why)
{
    w->out->skipped++;
    ps_emit(w->req->host, PS_WARNING, PS_EV_FILE_SKIPPED, "pstsnap.file.skipped",
            json_pack("{s:s, s:s}", "path", path, "reason", why), "skipped '%s': %s", path, why);
}

static int matches_any(char *const *patterns, size_t n, const char *rel)
{
    for (size_t i = 0; i < n; i++)
        if (glob_match(patterns[i], rel))
            return 1;
    return 0;
}

/* A file mounted over a PST's name (mount --bind /etc/shadow Mail.pst)
 * is a file from elsewhere: from a folder the user may not enter, which
 * the owner check cannot see when the file is theirs. */
#define MOUNTED_FILE "a mount point (a file mounted over this name), which is never read"

static ps_status add(walk *w, const char *path, const char *key, const pf_stat *st, ps_err *err)
{
    ps_candidates *c = w->out;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        ps_candidate *grown = realloc(c->items, cap * sizeof *grown);
        if (!grown)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
        c->items = grown;
        c->cap = cap;
    }
    ps_candidate *e = &c->items[c->count];
    e->path = strdup(path);
    e->key = strdup(key);
    e->st = *st;
    if (!e->path || !e->key) {
        free(e->path);
        free(e->key);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
    }
    c->count++;
    return PS_OK;
}

static ps_status consider_file(walk *w, const char *path, const char *rel, const char *label,
                               ps_err *err)
{
    const discover_request *r = w->req;
    if (!matches_any(r->include, r->include_count, rel) ||
        matches_any(r->exclude, r->exclude_count, rel))
        return PS_OK;
    pf_stat st;
    ps_err why;
    if (pf_lstat(path, &st, &why) != PS_OK) {
        skipped(w, path, why.msg);
        return PS_OK;
    }
    if (st.kind != PF_KIND_FILE) {
        skipped(w, path, "not a regular file (links are never followed)");
        return PS_OK;
    }
    if (st.mount_root) {
        skipped(w, path, MOUNTED_FILE);
        return PS_OK;
    }
    if (r->owner_uid >= 0 && st.owner_uid >= 0 && st.owner_uid != r->owner_uid) {
        skipped(w, path, "not owned by the user the backup runs for");
        return PS_OK;
    }
    if (r->user_sid && pf_user_can_read(path, r->user_sid, &why) != PS_OK) {
        skipped(w, path, why.msg);
        return PS_OK;
    }
    size_t n = strlen(label) + strlen(rel) + 2;
    char *key = malloc(n);
    if (!key)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
    snprintf(key, n, "%s/%s", label, rel);
    ps_status s = add(w, path, key, &st, err);
    free(key);
    return s;
}

/* A link or a special entry (FIFO, socket, device) is never opened. Say so
 * when the admin may expect it backed up: a name the rules select, or, for
 * a link while subfolders are searched, any name not excluded, because the
 * link may stand for a folder of PSTs (its target is never looked at). */
static void consider_unfollowed(walk *w, const char *path, const char *rel, pf_kind kind)
{
    const discover_request *r = w->req;
    if (matches_any(r->exclude, r->exclude_count, rel))
        return;
    int selected = matches_any(r->include, r->include_count, rel);
    if (kind == PF_KIND_LINK && (selected || r->recurse))
        skipped(w, path, "a link, which is never followed");
    else if (kind == PF_KIND_OTHER && selected)
        skipped(w, path, "not a regular file (a FIFO, socket or device)");
}

/* The length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
             : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

static int is_utf8(const char *s)
{
    for (size_t n; *s; s += n)
        if (!(n = utf8_sequence((const unsigned char *)s)))
            return 0;
    return 1;
}

/* A name that is not UTF-8 (Linux allows any bytes) cannot be carried by
 * events, the manifest or a Windows destination: it is skipped, and the
 * warning shows each bad byte as '?'. Said only when the admin may expect
 * the entry searched: a name the rules select, or a folder. */
static void consider_not_utf8(walk *w, const char *path, const char *rel, pf_kind kind)
{
    const discover_request *r = w->req;
    if (matches_any(r->exclude, r->exclude_count, rel) ||
        !(matches_any(r->include, r->include_count, rel) || (kind == PF_KIND_DIR && r->recurse)))
        return;
    char *shown = strdup(path);
    if (!shown)
        return;
    for (char *c = shown; *c;) {
        size_t n = utf8_sequence((const unsigned char *)c);
        if (n)
            c += n;
        else
            *c++ = '?';
    }
    skipped(w, shown, "its name is not valid UTF-8, which events, the manifest and the "
                      "backup's name need; rename it");
    free(shown);
}

/* Walk one folder. `rel` is its path below the source root ("" at the root). */
static ps_status walk_dir(walk *w, const char *dir, const char *rel, const char *label, int depth,
                          ps_err *err)
{
    if (depth > MAX_DEPTH) {
        skipped(w, dir, "folder nesting deeper than 64 levels");
        return PS_OK;
    }
    pf_dir *d = NULL;
    ps_err why;
    if (pf_dir_open(dir, &d, &why) != PS_OK) {
        skipped(w, dir, why.msg);
        return PS_OK;
    }
    ps_status s = PS_OK;
    const char *name;
    pf_kind kind;
    while (s == PS_OK) {
        if (pf_dir_next(d, &name, &kind, &why) != PS_OK) {
            skipped(w, dir, why.msg);
            break;
        }
        if (!name)
            break;
        char *path = pf_path_join(dir, name);
        size_t n = strlen(rel) + strlen(name) + 2;
        char *child_rel = malloc(n);
        if (!path || !child_rel) {
            free(path);
            free(child_rel);
            s = ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
            break;
        }
        snprintf(child_rel, n, "%s%s%s", rel, *rel ? "/" : "", name);
        if (!is_utf8(name)) {
            consider_not_utf8(w, path, child_rel, kind);
        } else if (kind == PF_KIND_FILE) {
            s = consider_file(w, path, child_rel, label, err);
        } else if (kind == PF_KIND_DIR && w->req->recurse) {
            pf_stat st;
            /* Never into a mount (a bind mount may show another user's
             * files): another volume, or the root of a mount of the same
             * one, which only mount_root tells. The destination is never
             * walked into either. */
            int is_dir = pf_lstat(path, &st, NULL) == PS_OK && st.kind == PF_KIND_DIR;
            if (is_dir && (st.dev != w->root_dev || st.mount_root))
                skipped(w, path, "a mount point, which is never crossed");
            else if (is_dir && !(w->have_dest && st.dev == w->dest.dev && st.ino == w->dest.ino))
                s = walk_dir(w, path, child_rel, label, depth + 1, err);
        } else if (kind == PF_KIND_LINK || kind == PF_KIND_OTHER) {
            consider_unfollowed(w, path, child_rel, kind);
        }
        free(path);
        free(child_rel);
    }
    pf_dir_close(d);
    return s;
}

static const char *source_name(const char *source)
{
    const char *base = pf_basename(source);
    return *base ? base : "root";
}

/* Equal ignoring ASCII case. */
static int same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        x = x >= 'A' && x <= 'Z' ? (unsigned char)(x + 32) : x;
        y = y >= 'A' && y <= 'Z' ? (unsigned char)(y + 32) : y;
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

static int label_taken(char *const *labels, size_t count, const char *label)
{
    for (size_t k = 0; k < count; k++)
        if (same_name(labels[k], label))
            return 1;
    return 0;
}

/* The label of source i: its folder name, unique among the labels of the
 * sources before it (labels[0..i-1]). A repeated name gets " (n)", n
 * counting every earlier source of that name, present or not, so keys do
 * not move when a folder comes and goes. Two labels that differ only in
 * ASCII case, or a real folder called "Outlook (2)", would share a
 * destination folder (which may be case-insensitive) and two PSTs would
 * overwrite one backup in turn: n grows until the label is free. */
static char *label_for(const discover_request *r, char *const *labels, size_t i)
{
    const char *base = source_name(r->sources[i]);
    size_t same = 0;
    for (size_t k = 0; k < i; k++)
        same += same_name(source_name(r->sources[k]), base);
    size_t n = strlen(base) + 32;
    char *label = malloc(n);
    for (size_t number = same + 1; label; number++) {
        if (number == 1)
            snprintf(label, n, "%s", base);
        else
            snprintf(label, n, "%s (%zu)", base, number);
        if (!label_taken(labels, i, label))
            break;
    }
    return label;
}

static void free_labels(char **labels, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(labels[i]);
    free(labels);
}

/* --- PSTs named by the user's Outlook profiles ------------------------------ */
#define PROFILE_LABEL "Outlook Profiles"

/* The whole path below the label, drive colon dropped and separators made
 * '/': C:\Mail\Old.pst gives "C/Mail/Old.pst", a share's "srv/share/x.pst".
 * Keys then never collide and never move. */
static char *mirrored_rel(const char *path)
{
    char *rel = malloc(strlen(path) + 1), *o = rel;
    if (!rel)
        return NULL;
    for (const char *c = path; *c; c++) {
        if (*c == ':')
            continue;
        if (*c == '/' || *c == '\\') {
            if (o > rel && o[-1] != '/')
                *o++ = '/';
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return rel;
}

/* `path` is `dir` or below it (ASCII case ignored: Windows names). */
static int is_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 0 || strlen(path) < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)path[i], y = (unsigned char)dir[i];
        x = x >= 'A' && x <= 'Z' ? (unsigned char)(x + 32) : x;
        y = y >= 'A' && y <= 'Z' ? (unsigned char)(y + 32) : y;
        if (x != y && !((x == '/' || x == '\\') && (y == '/' || y == '\\')))
            return 0;
    }
    return path[n] == '\0' || path[n] == '/' || path[n] == '\\';
}

static int already_found(const walk *w, const pf_stat *st)
{
    for (size_t i = 0; i < w->out->count; i++) {
        const pf_stat *o = &w->out->items[i].st;
        if (o->dev == st->dev && o->ino == st->ino && (st->dev || st->ino))
            return 1;
    }
    return 0;
}

static ps_status consider_profile_psts(walk *w, char *const *labels, ps_err *err)
{
    const discover_request *r = w->req;
    if (r->profile_pst_count == 0)
        return PS_OK;
    /* Its own label, apart from every source folder's. */
    char label[sizeof PROFILE_LABEL + 24];
    snprintf(label, sizeof label, "%s", PROFILE_LABEL);
    for (size_t n = 2; label_taken(labels, r->source_count, label); n++)
        snprintf(label, sizeof label, "%s (%zu)", PROFILE_LABEL, n);
    for (size_t i = 0; i < r->profile_pst_count; i++) {
        const char *path = r->profile_psts[i];
        const char *name = pf_basename(path);
        char *rel = mirrored_rel(path);
        if (!rel)
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
        int wanted = matches_any(r->include, r->include_count, name) &&
                     !matches_any(r->exclude, r->exclude_count, name) &&
                     !matches_any(r->exclude, r->exclude_count, rel);
        pf_stat st;
        ps_err why;
        ps_status s = PS_OK;
        if (!wanted || (r->destination && is_inside(path, r->destination))) {
            /* excluded, or a backup the user opened in Outlook */
        } else if (pf_lstat(path, &st, &why) != PS_OK) {
            skipped(w, path, why.msg);
        } else if (st.kind != PF_KIND_FILE) {
            skipped(w, path, "named in an Outlook profile but not a regular file (links are "
                             "never followed)");
        } else if (st.mount_root) {
            skipped(w, path, MOUNTED_FILE);
        } else if (r->owner_uid >= 0 && st.owner_uid >= 0 && st.owner_uid != r->owner_uid) {
            skipped(w, path, "not owned by the user the backup runs for");
        } else if (r->user_sid && pf_user_can_read(path, r->user_sid, &why) != PS_OK) {
            skipped(w, path, why.msg);
        } else if (!already_found(w, &st)) {
            size_t n = strlen(label) + strlen(rel) + 2;
            char *key = malloc(n);
            if (key) {
                snprintf(key, n, "%s/%s", label, rel);
                s = add(w, path, key, &st, err);
            } else {
                s = ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
            }
            free(key);
        }
        free(rel);
        if (s != PS_OK)
            return s;
    }
    return PS_OK;
}

ps_status discover_files(const discover_request *req, ps_candidates *out, ps_err *err)
{
    memset(out, 0, sizeof *out);
    walk w = {.req = req, .out = out};
    w.have_dest = req->destination && pf_lstat(req->destination, &w.dest, NULL) == PS_OK;
    char **labels = calloc(req->source_count ? req->source_count : 1, sizeof *labels);
    if (!labels)
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
    for (size_t i = 0; i < req->source_count; i++)
        if (!(labels[i] = label_for(req, labels, i))) {
            free_labels(labels, i);
            return ps_err_set(err, PS_ERR_NOMEM, "out of memory during discovery");
        }
    for (size_t i = 0; i < req->source_count; i++) {
        const char *src = req->sources[i];
        pf_stat st;
        ps_err why;
        ps_status s = pf_lstat(src, &st, &why);
        if (s == PS_ERR_NOTFOUND)
            continue; /* a default folder the user does not have: normal */
        if (s != PS_OK || st.kind != PF_KIND_DIR) {
            const char *reason = s != PS_OK ? why.msg
                               : st.kind == PF_KIND_LINK ? "it is a link, which is never followed"
                                                         : "not a folder";
            ps_emit(req->host, PS_WARNING, PS_EV_SOURCE_SKIPPED, "pstsnap.source.skipped",
                    json_pack("{s:s, s:s}", "path", src, "reason", reason),
                    "source folder '%s' skipped: %s", src, reason);
            continue;
        }
        /* The source folder itself may be the root of a mount: an admin
         * may well give a user's Documents a volume of its own, and the
         * admin named this folder. What is mounted below it nobody named,
         * and may show another user's files: walk_dir refuses that. */
        w.root_dev = st.dev;
        s = walk_dir(&w, src, "", labels[i], 0, err);
        if (s != PS_OK) {
            free_labels(labels, req->source_count);
            candidates_free(out);
            return s;
        }
    }
    ps_status s = consider_profile_psts(&w, labels, err);
    free_labels(labels, req->source_count);
    if (s != PS_OK)
        candidates_free(out);
    return s;
}

void candidates_free(ps_candidates *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->items[i].path);
        free(c->items[i].key);
    }
    free(c->items);
    memset(c, 0, sizeof *c);
}
