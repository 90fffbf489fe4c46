/* Action parameters: JSON text -> schema validation -> ps_params. */
#include "fuzz_support.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    ps_params p;
    ps_err err;
    if (ps_params_parse(text, &p, &err) == PS_OK) {
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
