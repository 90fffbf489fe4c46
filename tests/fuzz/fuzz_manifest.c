/* The manifest: any file in the state folder is untrusted input. A manifest
 * that loads must survive a save and a reload unchanged in size. */
#include "fuzz_support.h"
#include "manifest.h"

static size_t count(const ps_manifest *m)
{
    size_t n = 0;
    for (ps_manifest_entry *e = m->entries; e; e = e->hh.next)
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path("manifest.json");
    const char *again = fuzz_scratch_path("resaved.json");
    fuzz_write_file(path, data, size);
    ps_manifest m = {0};
    ps_err err;
    ps_status s = manifest_load(path, &m, &err);
    if (s == PS_OK) {
        if (manifest_save(&m, again, "/dest", &err) == PS_OK) {
            ps_manifest m2 = {0};
            if (manifest_load(again, &m2, &err) != PS_OK || count(&m2) != count(&m))
                abort(); /* what we write we must read back */
            manifest_free(&m2);
        }
        manifest_free(&m);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
