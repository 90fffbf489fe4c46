/* %VAR% and $(Var) expansion: the text is an admin's policy, the values the
 * user's environment (both untrusted). */
#include "fuzz_support.h"
#include "vars.h"

static const char *lookup(void *ctx, vars_kind kind, const char *name)
{
    (void)ctx;
    /* Values that hold references themselves: expansion is single-pass. */
    if (strcmp(name, "LOCALAPPDATA") == 0)
        return "/home/u/.local/share/%LOCALAPPDATA%";
    if (strcmp(name, "DataNowHome") == 0)
        return kind == VARS_SESSION ? "$(DataNowHome)x" : NULL;
    if (strcmp(name, "EMPTY") == 0)
        return "";
    if (name[0] == 'U')
        return "value";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    char *out = NULL, errbuf[512];
    int rc = vars_expand(text, lookup, NULL, &out, errbuf, sizeof errbuf);
    if (rc == 0 && !out)
        abort();
    if (rc != 0 && (out || !errbuf[0]))
        abort();
    free(out);
    free(text);
    return 0;
}
