/*
 * snapshot.c - the registry of snapshot providers compiled into this build.
 *
 * Each provider lives in its own file and exports one snap_provider object;
 * adding a provider means one new file, one line in the table below and one
 * line in plugin/CMakeLists.txt. The record format and the orphan sweep live
 * in snapshot_record.c, next to the code that writes the records.
 */
#include "snapshot.h"

#include <string.h>

/* Defined in the provider files; only the registry needs to see them. */
#if defined(_WIN32)
extern const snap_provider snapshot_vss_provider;
#elif defined(__linux__)
extern const snap_provider snapshot_btrfs_provider;
extern const snap_provider snapshot_reflink_provider;
#endif
extern const snap_provider snapshot_none_provider;

/* Best first: "auto" takes the first provider whose probe succeeds, and
 * "none" comes last because it freezes nothing. VSS flushes and holds the
 * volume's writes while it commits, so a file is frozen at one moment. On
 * Linux the per-file clone comes first: FICLONE holds the file's lock
 * against writers while it flushes and clones, so each PST is frozen at one
 * moment, while a btrfs subvolume snapshot flushes dirty pages without
 * blocking writers and can catch a file that is being rewritten with pages
 * of two moments (see btrfs.c). */
static const snap_provider *const providers[] = {
#if defined(_WIN32)
    &snapshot_vss_provider,
#elif defined(__linux__)
    &snapshot_reflink_provider,
    &snapshot_btrfs_provider,
#endif
    &snapshot_none_provider,
};

const snap_provider *const *snapshot_providers(size_t *count)
{
    if (count)
        *count = sizeof providers / sizeof providers[0];
    return providers;
}

const snap_provider *snapshot_provider_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++) {
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    }
    return NULL;
}
