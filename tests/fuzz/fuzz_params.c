/* Action parameters: JSON text -> ps_params, against the embedded schema
 * (its defaults and field list), parsed once for the whole run. */
#include "fuzz_support.h"
#include "params.h"

static json_t *schema(void)
{
    static json_t *parsed;
    if (!parsed && !(parsed = json_loads(pstsnap_backup_psts_schema_json, 0, NULL)))
        abort();
    return parsed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    ps_params p;
    ps_err err;
    if (ps_params_parse_with(text, schema(), &p, &err) == PS_OK) {
        /* What the engine relies on once parsing succeeded. */
        if (!p.destination || p.block_size < 4096 || (p.block_size & (p.block_size - 1)))
            abort();
        ps_params_free(&p);
    } else if (!err.msg[0]) {
        abort(); /* every refusal says why */
    }
    free(text);
    return 0;
}
