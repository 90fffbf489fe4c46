/*
 * params.h - the Backup PSTs parameters as the engine uses them.
 *
 * Defaults are read from the parameter schema embedded in the plugin
 * (schemas/backup-psts.parameters.schema.json), so the console, the host and
 * the engine share one source of truth. Parsing re-checks every type and
 * range: the plugin may be driven by a host that did not validate (the
 * rundll32 entry), and bad input must get a clear error naming the field.
 *
 * Ownership: ps_params_parse fills a caller-owned struct whose strings are
 * malloc'd; ps_params_free releases them.
 */
#ifndef PS_PARAMS_H
#define PS_PARAMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum ps_verify { PS_VERIFY_NONE, PS_VERIFY_QUICK, PS_VERIFY_FULL } ps_verify;

typedef struct ps_params {
    char *destination; /* as written: variables not yet expanded */
    char **sources;
    size_t source_count;
    int outlook_profiles;
    char **include;
    size_t include_count;
    char **exclude;
    size_t exclude_count;
    int recurse;
    char *snapshot;         /* "auto", "vss", "btrfs", "reflink", "none" */
    int64_t min_interval_s; /* seconds */
    uint32_t keep_versions;
    uint32_t block_size;    /* bytes */
    ps_verify verify;
    uint32_t max_bandwidth_mibps; /* 0 = unlimited */
    int io_priority_low;
    int update_in_place;    /* patch backups in place where nothing clones */
} ps_params;

/* Parse and check. Errors read "/field: why" (JSON pointer relative to the
 * parameters object), as em_action.h asks of validate(). */
ps_status ps_params_parse(const char *params_json, ps_params *out, ps_err *err);
/* The same against a schema already parsed (borrowed): for a caller that
 * parses many (the fuzzer), which would otherwise spend its time parsing
 * the embedded schema again for every input. */
ps_status ps_params_parse_with(const char *params_json, json_t *schema, ps_params *out,
                               ps_err *err);
void ps_params_free(ps_params *p);

/* "90m" -> 5400. -1 when malformed. */
int64_t ps_parse_interval(const char *text);

/* The parameter schema text embedded at build time. */
extern const char pstsnap_backup_psts_schema_json[];

#endif
