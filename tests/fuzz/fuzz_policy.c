/* Policy files: JSON -> the built-in policy schema -> the policy model. The
 * "plugins" list is dropped before loading, so no input makes the harness
 * load a shared library; every action then names an unknown action, which
 * is itself a path through the loader worth fuzzing. */
#include <jansson.h>

#include "fuzz_support.h"
#include "jsonschema.h"
#include "policy.h"

extern const char emh_policy_schema_json[];

static js_schema *policy_schema(void)
{
    static js_schema *schema;
    if (!schema) {
        json_error_t jerr;
        char err[512];
        json_t *doc = json_loads(emh_policy_schema_json, 0, &jerr);
        schema = doc ? js_schema_new(doc, err, sizeof err) : NULL;
        json_decref(doc);
        if (!schema)
            abort();
    }
    return schema;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return 0;
    js_errors errs = {0};
    size_t n = js_validate(policy_schema(), root, "", &errs);
    if (n != errs.count)
        abort();
    char *text = js_errors_format(&errs);
    free(text);
    js_errors_free(&errs);
    if (json_is_object(root))
        json_object_del(root, "plugins");
    const char *path = fuzz_scratch_path("policy.json");
    if (json_dump_file(root, path, 0) == 0) {
        emh_diag diag = {0};
        emh_policy *p = emh_policy_load(path, "/nonexistent-plugin-dir", NULL, &diag);
        if (!p && diag.count == 0)
            abort(); /* a refused policy always says why */
        emh_policy_free(p);
        emh_diag_free(&diag);
    }
    json_decref(root);
    return 0;
}
