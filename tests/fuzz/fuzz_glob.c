/* include/exclude globs: pattern and path, separated by the first NUL byte
 * (or the first newline when there is none). */
#include "fuzz_support.h"
#include "glob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    size_t cut = strlen(text);
    if (cut == size) {
        char *nl = strchr(text, '\n');
        cut = nl ? (size_t)(nl - text) : size;
    }
    text[cut < size ? cut : size] = '\0';
    const char *pattern = text, *path = cut < size ? text + cut + 1 : "";
    char errbuf[256];
    int ok = glob_check(pattern, errbuf, sizeof errbuf) == 0;
    int m1 = glob_match(pattern, path);
    /* Matching is a pure function of its inputs. */
    if (glob_match(pattern, path) != m1)
        abort();
    /* A valid pattern without wildcards names itself. */
    if (ok && !strpbrk(pattern, "*?") && !glob_match(pattern, pattern))
        abort();
    free(text);
    return 0;
}
