/*
 * verify.h - is each published backup still what was published, and a PST
 * that holds together?
 *
 * For every file the destination's manifest records a good backup of, the
 * published copy is checked three ways:
 *  - its size against the manifest (destSize);
 *  - its blocks, re-hashed with XXH3 at the block size of the copy, against
 *    the hashes recorded at publish time (the blockmap, blockmap.h) - the
 *    hashes are only used when the blockmap describes that publish (same
 *    size and mtime as the manifest records), else the blocks are reported
 *    unchecked (blocksOk null), never assumed good;
 *  - for *.pst and *.ost, its structure by the MS-PST spec (pst_check.h):
 *    damage inside a data block that the PST readers would not notice.
 *
 * The report (a new reference, the caller decrefs) is
 *   {"ok": bool, "destination": str, "files": [
 *     {"path": source, "backup": published path, "ok": bool,
 *      "size": actual, "expectedSize": manifest, "sizeOk": bool,
 *      "replaced": bool (mtime differs from the publish: a sync client wrote it),
 *      "blocksOk": bool|null, "blockSize": n, "badBlocks": [index, ...],
 *      "badBlockCount": n, "error": str (only when the backup is unreadable),
 *      "pst": {"ok": bool, "format": "unicode"|"ansi"|"unknown",
 *              "problems": [{"offset": n, "what": str}], "problemsNotListed": n}
 *              (null for other files)}]}
 * "ok" is true when no file showed a problem. The run stops early with
 * PS_ERR_CANCELLED when the host asks (logoff).
 *
 * Returns PS_OK when the verification ran (whatever it found); an error
 * only when the manifest cannot be read or trusted, or memory runs out -
 * then *report is NULL. Nothing is written anywhere.
 */
#ifndef PS_VERIFY_H
#define PS_VERIFY_H

#include <jansson.h>

#include "error.h"
#include "pipeline.h"

/* More bad block indexes than this are counted, not listed. */
#define PS_VERIFY_MAX_BAD_BLOCKS 1000

ps_status verify_backups(const ps_job *job, json_t **report, ps_err *err);

#endif
