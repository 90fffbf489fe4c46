/*
 * test_discover.c - plugin/core/discover.c: finding the PSTs to back up.
 * A profile is untrusted input: links are never followed, foreign files and
 * special files are skipped, and one bad folder never stops the rest.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "discover.h"
#include "events.h"
#include "test_fs.h"
#include "test_host.h"
#include "test_support.h"

static th_host g_host;

static char *const DEFAULT_INCLUDE[] = {"*.pst"};
static char *const DEFAULT_EXCLUDE[] = {"*.ost"};

/* ts_path with `rel` ("a/b.pst") in native form, as discovery reports it. */
static char *tpath(const char *dir, const char *rel)
{
    char *p = ts_path(dir, rel);
#ifdef _WIN32
    for (char *c = p + strlen(dir); *c; c++)
        if (*c == '/')
            *c = '\\';
#endif
    return p;
}

/* strcasecmp for ASCII (strings.h is POSIX). */
static int same_ignoring_case(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a, y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

static void make_dir(const char *dir, const char *rel)
{
    char *p = tpath(dir, rel);
    if (ts_mkdir(p) != 0)
        fail_msg("mkdir %s", p);
    free(p);
}

static void make_file(const char *dir, const char *rel)
{
    char *p = tpath(dir, rel);
    ts_write_file(p, "!BDN", 4);
    free(p);
}

static discover_request request(char *const *sources, size_t count)
{
    discover_request r = {.sources = sources, .source_count = count,
                          .include = DEFAULT_INCLUDE, .include_count = 1,
                          .exclude = DEFAULT_EXCLUDE, .exclude_count = 1,
                          .recurse = 1, .destination = NULL, .owner_uid = -1,
                          .host = &g_host.host};
    return r;
}

static void discover(const discover_request *r, ps_candidates *out)
{
    ps_err err;
    th_init(&g_host);
    if (discover_files(r, out, &err) != PS_OK)
        fail_msg("discover_files: %s", err.msg);
}

/* The candidate with this key, or NULL. */
static const ps_candidate *find_key(const ps_candidates *c, const char *key)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->items[i].key, key) == 0)
            return &c->items[i];
    return NULL;
}

static void assert_found(const ps_candidates *c, const char *key, const char *path)
{
    const ps_candidate *e = find_key(c, key);
    if (!e) {
        for (size_t i = 0; i < c->count; i++)
            print_message("  have: %s\n", c->items[i].key);
        fail_msg("no candidate '%s'", key);
    }
    assert_string_equal(e->path, path);
    assert_int_equal(e->st.kind, PF_KIND_FILE);
    pf_stat st = ts_stat(path);
    assert_int_equal(e->st.size, st.size);
    assert_true(e->st.ino == st.ino);
}

/* A skip event of `id` whose message names `path`. */
static void assert_skip_event(uint32_t id, const char *path)
{
    const th_event *ev = th_find_text(&g_host, id, path);
    if (!ev)
        fail_msg("no event %u naming '%s' (%zu events)", id, path, g_host.count);
    assert_int_equal(ev->level, PS_WARNING);
}

static void test_includes_pst_and_excludes_ost_case_insensitively(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_rules");
    char *src = tpath(root, "Outlook");
    assert_int_equal(ts_mkdir(src), 0);
    make_file(src, "Mail.pst");
    make_file(src, "MAIL2.PST");
    make_file(src, "cache.ost");
    make_file(src, "CACHE2.OST");
    make_file(src, "notes.txt");
    make_file(src, "Mail.pst.bak");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 2);
    char *p1 = tpath(src, "Mail.pst"), *p2 = tpath(src, "MAIL2.PST");
    assert_found(&c, "Outlook/Mail.pst", p1);
    assert_found(&c, "Outlook/MAIL2.PST", p2);
    assert_int_equal(g_host.count, 0); /* nothing unusual: no events */
    candidates_free(&c);
    assert_int_equal(c.count, 0);
    assert_null(c.items);

    /* An exclude wins over an include that names the same file. */
    char *inc[] = {"*.pst", "*.ost"}, *exc[] = {"mail.PST"};
    r.include = inc;
    r.include_count = 2;
    r.exclude = exc;
    discover(&r, &c);
    assert_int_equal(c.count, 3);
    assert_null(find_key(&c, "Outlook/Mail.pst"));
    assert_non_null(find_key(&c, "Outlook/cache.ost"));
    assert_non_null(find_key(&c, "Outlook/CACHE2.OST"));
    candidates_free(&c);
    free(p1);
    free(p2);
    free(src);
    ts_remove_tree(root);
    free(root);
}

static void test_recurse_finds_nested_files_only_when_asked(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_recurse");
    char *src = tpath(root, "Outlook Files");
    assert_int_equal(ts_mkdir(src), 0);
    make_file(src, "Top.pst");
    make_dir(src, "Archive");
    make_dir(src, "Archive/2019");
    make_file(src, "Archive/2019/Old.pst");
    make_file(src, "Archive/2019/skip.ost");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 2);
    char *deep = tpath(src, "Archive/2019/Old.pst");
    assert_found(&c, "Outlook Files/Archive/2019/Old.pst", deep);
    assert_non_null(find_key(&c, "Outlook Files/Top.pst"));
    candidates_free(&c);

    r.recurse = 0;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_non_null(find_key(&c, "Outlook Files/Top.pst"));
    candidates_free(&c);

    /* A pattern with a folder part matches the whole relative path. */
    char *inc[] = {"Archive/**/*.pst"};
    r.recurse = 1;
    r.include = inc;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_non_null(find_key(&c, "Outlook Files/Archive/2019/Old.pst"));
    candidates_free(&c);
    free(deep);
    free(src);
    ts_remove_tree(root);
    free(root);
}

static void test_sources_with_the_same_name_get_numbered_labels(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_labels");
    make_dir(root, "a");
    make_dir(root, "b");
    make_dir(root, "c");
    make_dir(root, "a/Outlook");
    make_dir(root, "b/Outlook");
    make_dir(root, "c/Outlook");
    make_file(root, "a/Outlook/Mail.pst");
    make_file(root, "b/Outlook/Mail.pst");
    make_file(root, "c/Outlook/Mail.pst");
    char *s1 = tpath(root, "a/Outlook"), *s2 = tpath(root, "b/Outlook");
    char *s3 = tpath(root, "c/Outlook"), *missing = tpath(root, "gone/Outlook");
    /* A missing source still takes its label's number: keys stay stable
     * when a folder comes and goes. */
    char *sources[] = {s1, missing, s2, s3};
    discover_request r = request(sources, 4);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 3);
    char *p1 = tpath(s1, "Mail.pst"), *p2 = tpath(s2, "Mail.pst"), *p3 = tpath(s3, "Mail.pst");
    assert_found(&c, "Outlook/Mail.pst", p1);
    assert_found(&c, "Outlook (3)/Mail.pst", p2);
    assert_found(&c, "Outlook (4)/Mail.pst", p3);
    candidates_free(&c);
    free(p1);
    free(p2);
    free(p3);
    free(s1);
    free(s2);
    free(s3);
    free(missing);
    ts_remove_tree(root);
    free(root);
}

static void test_labels_never_collide_even_with_a_folder_named_like_a_number(void **state)
{
    (void)state;
    /* "Outlook (2)" is what the second "Outlook" becomes; a real folder of
     * that name must not share its keys, or two PSTs would overwrite one
     * backup in turn. Case does not make names different either: the
     * destination may be on a case-insensitive volume. */
    char *root = ts_temp_dir("discover_label_collision");
    const char *dirs[] = {"a", "b", "c", "d", "a/Outlook", "b/Outlook", "c/Outlook (2)",
                          "d/OUTLOOK"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        make_dir(root, dirs[i]);
    make_file(root, "a/Outlook/Mail.pst");
    make_file(root, "b/Outlook/Mail.pst");
    make_file(root, "c/Outlook (2)/Mail.pst");
    make_file(root, "d/OUTLOOK/Mail.pst");
    char *sources[] = {tpath(root, "a/Outlook"), tpath(root, "b/Outlook"),
                       tpath(root, "c/Outlook (2)"), tpath(root, "d/OUTLOOK")};
    discover_request r = request(sources, 4);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 4);
    for (size_t i = 0; i < c.count; i++)
        for (size_t k = 0; k < i; k++)
            if (same_ignoring_case(c.items[i].key, c.items[k].key))
                fail_msg("'%s' and '%s' share the key '%s'", c.items[i].path, c.items[k].path,
                         c.items[i].key);
    /* The first of each name keeps the plain label. */
    assert_non_null(find_key(&c, "Outlook/Mail.pst"));
    assert_non_null(find_key(&c, "Outlook (2)/Mail.pst"));
    candidates_free(&c);
    for (size_t i = 0; i < 4; i++)
        free(sources[i]);
    ts_remove_tree(root);
    free(root);
}

static void test_missing_source_is_skipped_silently(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_missing");
    char *missing = tpath(root, "no such folder");
    char *sources[] = {missing};
    discover_request r = request(sources, 1);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 0);
    assert_int_equal(g_host.count, 0);
    candidates_free(&c);
    free(missing);
    ts_remove_tree(root);
    free(root);
}

static void test_source_that_is_a_file_or_a_link_is_skipped_with_a_warning(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_bad_source");
    make_dir(root, "real");
    make_file(root, "real/Mail.pst");
    char *file = tpath(root, "Mail.pst");
    ts_write_file(file, "x", 1);
    char *real = tpath(root, "real"), *link = tpath(root, "linked");
    if (ts_symlink(real, link, 1) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    char *sources[] = {file, link};
    discover_request r = request(sources, 2);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 0);
    assert_int_equal(th_count(&g_host, PS_EV_SOURCE_SKIPPED), 2);
    assert_skip_event(PS_EV_SOURCE_SKIPPED, file);
    assert_skip_event(PS_EV_SOURCE_SKIPPED, link);
    assert_non_null(th_find_text(&g_host, PS_EV_SOURCE_SKIPPED, "not a folder"));
    assert_non_null(th_find_text(&g_host, PS_EV_SOURCE_SKIPPED, "link"));
    assert_string_equal(th_find(&g_host, PS_EV_SOURCE_SKIPPED)->name, "pstsnap.source.skipped");
    candidates_free(&c);
    free(file);
    free(real);
    free(link);
    ts_remove_tree(root);
    free(root);
}

static void test_linked_files_and_folders_are_never_followed(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_links");
    make_dir(root, "Outlook");
    make_dir(root, "elsewhere");
    make_file(root, "elsewhere/Secret.pst");
    make_file(root, "Outlook/Mail.pst");
    char *target_file = tpath(root, "elsewhere/Secret.pst");
    char *target_dir = tpath(root, "elsewhere");
    char *file_link = tpath(root, "Outlook/Linked.pst");
    char *dir_link = tpath(root, "Outlook/Archive");
    if (ts_symlink(target_file, file_link, 0) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    if (ts_symlink(target_dir, dir_link, 1) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    char *src = tpath(root, "Outlook");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_non_null(find_key(&c, "Outlook/Mail.pst"));
    assert_null(find_key(&c, "Outlook/Linked.pst"));
    assert_null(find_key(&c, "Outlook/Archive/Secret.pst"));
    /* A link that looks like a PST is reported: the admin may expect it to
     * be backed up. */
    assert_skip_event(PS_EV_FILE_SKIPPED, file_link);
    assert_non_null(th_find_text(&g_host, PS_EV_FILE_SKIPPED, "never followed"));
    assert_string_equal(th_find(&g_host, PS_EV_FILE_SKIPPED)->name, "pstsnap.file.skipped");
    /* So is a linked folder while subfolders are searched: it may hold the
     * PSTs the admin expects (its target is never looked at). */
    assert_skip_event(PS_EV_FILE_SKIPPED, dir_link);
    assert_int_equal(c.skipped, 2);
    candidates_free(&c);
    /* Without recursion a folder would not be searched anyway: only the
     * link named like a PST is worth a warning. */
    r.recurse = 0;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_int_equal(th_count(&g_host, PS_EV_FILE_SKIPPED), 1);
    assert_skip_event(PS_EV_FILE_SKIPPED, file_link);
    candidates_free(&c);
    free(target_file);
    free(target_dir);
    free(file_link);
    free(dir_link);
    free(src);
    ts_remove_tree(root);
    free(root);
}

static void test_destination_inside_a_source_is_not_walked(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_destination");
    make_dir(root, "Documents");
    make_dir(root, "Documents/Backup");
    make_dir(root, "Documents/Backup/Documents");
    make_file(root, "Documents/Mail.pst");
    make_file(root, "Documents/Backup/Documents/Mail.pst"); /* last run's copy */
    char *src = tpath(root, "Documents");
    char *dest = tpath(root, "Documents/Backup");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    r.destination = dest;
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_non_null(find_key(&c, "Documents/Mail.pst"));
    candidates_free(&c);
    /* Without the destination it would have been found: the test is real. */
    r.destination = NULL;
    discover(&r, &c);
    assert_int_equal(c.count, 2);
    candidates_free(&c);
    free(src);
    free(dest);
    ts_remove_tree(root);
    free(root);
}

/* Owners, FIFOs and permission bits are POSIX notions; Windows has ACLs,
 * which the engine does not judge (pf_stat.owner_uid is -1 there). */
#ifndef _WIN32
static void test_files_of_another_owner_are_skipped_with_a_warning(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* chown to another user needs root */
    char *root = ts_temp_dir("discover_owner");
    make_dir(root, "Outlook");
    make_file(root, "Outlook/Mine.pst");
    make_file(root, "Outlook/Theirs.pst");
    char *mine = tpath(root, "Outlook/Mine.pst");
    char *theirs = tpath(root, "Outlook/Theirs.pst");
    assert_int_equal(chown(mine, 4242, 4242), 0);
    assert_int_equal(chown(theirs, 4343, 4343), 0);
    char *src = tpath(root, "Outlook");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    r.owner_uid = 4242;
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_found(&c, "Outlook/Mine.pst", mine);
    assert_int_equal(c.items[0].st.owner_uid, 4242);
    assert_skip_event(PS_EV_FILE_SKIPPED, theirs);
    assert_non_null(th_find_text(&g_host, PS_EV_FILE_SKIPPED, "not owned by the user"));
    candidates_free(&c);
    /* Not elevated (owner -1): both are the user's to back up. */
    r.owner_uid = -1;
    discover(&r, &c);
    assert_int_equal(c.count, 2);
    assert_int_equal(th_count(&g_host, PS_EV_FILE_SKIPPED), 0);
    candidates_free(&c);
    free(mine);
    free(theirs);
    free(src);
    ts_remove_tree(root);
    free(root);
}

static void test_special_files_named_like_a_pst_are_skipped(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_fifo");
    make_dir(root, "Outlook");
    make_dir(root, "Outlook/Folder.pst"); /* a folder, not a file */
    make_file(root, "Outlook/Mail.pst");
    char *fifo = tpath(root, "Outlook/x.pst");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *src = tpath(root, "Outlook");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    ps_candidates c;
    discover(&r, &c); /* must not hang on the FIFO */
    assert_int_equal(c.count, 1);
    assert_non_null(find_key(&c, "Outlook/Mail.pst"));
    assert_null(find_key(&c, "Outlook/x.pst"));
    /* Skipped with a warning: the admin may expect it backed up. */
    assert_skip_event(PS_EV_FILE_SKIPPED, fifo);
    assert_non_null(th_find_text(&g_host, PS_EV_FILE_SKIPPED, "not a regular file"));
    assert_int_equal(c.skipped, 1);
    candidates_free(&c);
    /* One the rules do not select is nobody's concern. */
    char *excluded = tpath(root, "Outlook/y.ost");
    assert_int_equal(mkfifo(excluded, 0600), 0);
    discover(&r, &c);
    assert_int_equal(th_count(&g_host, PS_EV_FILE_SKIPPED), 1);
    assert_null(th_find_text(&g_host, PS_EV_FILE_SKIPPED, excluded));
    candidates_free(&c);
    free(excluded);
    free(fifo);
    free(src);
    ts_remove_tree(root);
    free(root);
}

static void test_unreadable_folder_is_skipped_and_the_rest_is_searched(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_unreadable");
    make_dir(root, "Outlook");
    make_dir(root, "Outlook/Locked");
    make_file(root, "Outlook/Locked/Hidden.pst");
    make_file(root, "Outlook/Mail.pst");
    char *locked = tpath(root, "Outlook/Locked");
    assert_int_equal(chmod(locked, 0), 0);
    char *src = tpath(root, "Outlook");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    ps_candidates c;
    /* Root reads any folder whatever its mode: search as "nobody". */
    int was_root = geteuid() == 0;
    if (was_root && seteuid(65534) != 0)
        skip();
    discover(&r, &c);
    if (was_root)
        assert_int_equal(seteuid(0), 0);
    chmod(locked, 0755);
    assert_int_equal(c.count, 1);
    assert_skip_event(PS_EV_FILE_SKIPPED, locked);
    candidates_free(&c);
    free(locked);
    free(src);
    ts_remove_tree(root);
    free(root);
}

#endif /* !_WIN32 */

static void test_many_files_are_all_found(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_many");
    make_dir(root, "Outlook");
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "Outlook/Mail %03d.pst", i);
        make_file(root, name);
    }
    char *src = tpath(root, "Outlook");
    char *sources[] = {src};
    discover_request r = request(sources, 1);
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 300);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "Outlook/Mail %03d.pst", i);
        assert_non_null(find_key(&c, name));
    }
    candidates_free(&c);
    free(src);
    ts_remove_tree(root);
    free(root);
}

/* The key a PST named by an Outlook profile gets: the label, then its
 * whole path with the drive colon dropped and '/' separators. */
static char *profile_key(const char *label, const char *path)
{
    size_t n = strlen(label) + strlen(path) + 2;
    char *key = malloc(n);
    assert_non_null(key);
    char *o = key + snprintf(key, n, "%s/", label);
    for (const char *c = path; *c; c++) {
        if (*c == ':')
            continue;
        if (*c == '/' || *c == '\\') {
            if (o[-1] != '/')
                *o++ = '/';
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return key;
}

static void test_profile_psts_join_under_their_own_label_and_the_same_rules(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_profiles");
    make_dir(root, "Outlook Profiles"); /* a source folder with the label's name */
    make_file(root, "Outlook Profiles/Mail.pst");
    make_dir(root, "Archives");
    make_dir(root, "Archives/2019");
    make_dir(root, "Other");
    make_dir(root, "Backup");
    make_file(root, "Archives/2019/Archive.pst");
    make_file(root, "Other/Archive.pst"); /* same name, another folder */
    make_file(root, "Archives/Private.pst");
    make_file(root, "Backup/Restored.pst");
    char *src = tpath(root, "Outlook Profiles");
    char *a2019 = tpath(root, "Archives/2019/Archive.pst");
    char *other = tpath(root, "Other/Archive.pst");
    char *private_pst = tpath(root, "Archives/Private.pst");
    char *in_dest = tpath(root, "Backup/Restored.pst");
    char *dest = tpath(root, "Backup");
    char *in_source = tpath(root, "Outlook Profiles/Mail.pst");
    char *gone = tpath(root, "Archives/Gone.pst");
    char *profile[] = {a2019, other, private_pst, in_dest, in_source, gone};
    char *sources[] = {src};
    static char *const exclude[] = {"*.ost", "Private*"};
    discover_request r = request(sources, 1);
    r.exclude = exclude;
    r.exclude_count = 2;
    r.destination = dest;
    r.profile_psts = profile;
    r.profile_pst_count = sizeof profile / sizeof profile[0];
    ps_candidates c;
    discover(&r, &c);

    /* Apart from the source folder called "Outlook Profiles". */
    assert_found(&c, "Outlook Profiles/Mail.pst", in_source);
    char *k2019 = profile_key("Outlook Profiles (2)", a2019);
    char *kother = profile_key("Outlook Profiles (2)", other);
    assert_found(&c, k2019, a2019);
    assert_found(&c, kother, other);
    /* Excluded (exclude wins), inside the destination, already found in a
     * source: not added. A missing one is skipped with a warning. */
    assert_int_equal(c.count, 3);
    assert_int_equal(c.skipped, 1);
    assert_skip_event(PS_EV_FILE_SKIPPED, gone);
    candidates_free(&c);

    /* The rules apply to them as to any file: include on the name. */
    static char *const only_mail[] = {"Mail*.pst"};
    r.include = only_mail;
    discover(&r, &c);
    assert_int_equal(c.count, 1);
    assert_non_null(find_key(&c, "Outlook Profiles/Mail.pst"));
    candidates_free(&c);

    free(k2019);
    free(kother);
    free(src);
    free(a2019);
    free(other);
    free(private_pst);
    free(in_dest);
    free(dest);
    free(in_source);
    free(gone);
    ts_remove_tree(root);
    free(root);
}

static void test_profile_pst_that_is_a_link_is_not_followed(void **state)
{
    (void)state;
    char *root = ts_temp_dir("discover_profile_link");
    make_dir(root, "elsewhere");
    make_file(root, "elsewhere/Secret.pst");
    char *target = tpath(root, "elsewhere/Secret.pst");
    char *link = tpath(root, "Linked.pst");
    if (ts_symlink(target, link, 0) != 0)
        skip(); /* no symbolic links here (Windows without the right) */
    char *profile[] = {link};
    discover_request r = request(NULL, 0);
    r.profile_psts = profile;
    r.profile_pst_count = 1;
    ps_candidates c;
    discover(&r, &c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.skipped, 1);
    assert_skip_event(PS_EV_FILE_SKIPPED, link);
    candidates_free(&c);
    free(target);
    free(link);
    ts_remove_tree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_includes_pst_and_excludes_ost_case_insensitively),
        cmocka_unit_test(test_recurse_finds_nested_files_only_when_asked),
        cmocka_unit_test(test_sources_with_the_same_name_get_numbered_labels),
        cmocka_unit_test(test_labels_never_collide_even_with_a_folder_named_like_a_number),
        cmocka_unit_test(test_missing_source_is_skipped_silently),
        cmocka_unit_test(test_source_that_is_a_file_or_a_link_is_skipped_with_a_warning),
        cmocka_unit_test(test_linked_files_and_folders_are_never_followed),
        cmocka_unit_test(test_destination_inside_a_source_is_not_walked),
#ifndef _WIN32
        cmocka_unit_test(test_files_of_another_owner_are_skipped_with_a_warning),
        cmocka_unit_test(test_special_files_named_like_a_pst_are_skipped),
        cmocka_unit_test(test_unreadable_folder_is_skipped_and_the_rest_is_searched),
#endif
        cmocka_unit_test(test_many_files_are_all_found),
        cmocka_unit_test(test_profile_psts_join_under_their_own_label_and_the_same_rules),
        cmocka_unit_test(test_profile_pst_that_is_a_link_is_not_followed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
