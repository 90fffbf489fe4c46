#include "plugin_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_os.h"

/* The oldest module ABI this host still understands. Raise it only when a
 * release drops support for old plugins. */
#define EMH_OLDEST_MODULE_ABI 1u

static int check_module(const char *path, const em_module *m, char *errbuf, size_t errlen)
{
    if (!m) {
        snprintf(errbuf, errlen, "plugin '%s': entry point returned success but no module", path);
        return -1;
    }
    if (m->abi_version > EM_ABI_VERSION) {
        snprintf(errbuf, errlen,
                 "plugin '%s' was built for plugin ABI %u, but this host speaks ABI %u: "
                 "upgrade emhost or use an older build of the plugin",
                 path, m->abi_version, EM_ABI_VERSION);
        return -1;
    }
    if (m->abi_version < EMH_OLDEST_MODULE_ABI) {
        snprintf(errbuf, errlen, "plugin '%s' uses plugin ABI %u, older than the oldest this host supports (%u)",
                 path, m->abi_version, EMH_OLDEST_MODULE_ABI);
        return -1;
    }
    if (m->struct_size < offsetof(em_module, shutdown) + sizeof m->shutdown) {
        snprintf(errbuf, errlen, "plugin '%s': module descriptor too small (%u bytes) for ABI %u",
                 path, m->struct_size, m->abi_version);
        return -1;
    }
    if (!m->name || !m->version || (m->action_count && !m->actions)) {
        snprintf(errbuf, errlen, "plugin '%s': module descriptor lacks name, version or actions", path);
        return -1;
    }
    for (size_t i = 0; i < m->action_count; i++) {
        const em_action *a = &m->actions[i];
        if (a->struct_size < offsetof(em_action, destroy) + sizeof a->destroy || !a->id ||
            !a->display_name || !a->version || !a->parameter_schema_json || !a->create ||
            !a->run || !a->destroy) {
            snprintf(errbuf, errlen, "plugin '%s': action #%zu is incomplete (needs id, display name, "
                     "version, schema, create, run, destroy)", path, i);
            return -1;
        }
    }
    return 0;
}

int emh_plugin_load(const char *path, const em_host_api *host, emh_plugin **out, char *errbuf,
                    size_t errlen)
{
    *out = NULL;
    char why[1024] = "";
    void *lib = hos_dl_open(path, why, sizeof why);
    if (!lib) {
        snprintf(errbuf, errlen, "cannot load plugin '%s': %s", path, why);
        return -1;
    }
    em_module_init_fn init;
    /* POSIX blesses converting dlsym's object pointer to a function pointer;
     * memcpy keeps -Wpedantic quiet about it. */
    void *sym = hos_dl_sym(lib, EM_MODULE_ENTRY_NAME);
    if (!sym) {
        snprintf(errbuf, errlen, "'%s' is not an emhost plugin: it does not export %s", path,
                 EM_MODULE_ENTRY_NAME);
        hos_dl_close(lib);
        return -1;
    }
    memcpy(&init, &sym, sizeof init);
    const em_module *module = NULL;
    char perr[1024] = "";
    em_status st = init(EM_ABI_VERSION, host, &module, perr, sizeof perr);
    if (st != EM_OK) {
        snprintf(errbuf, errlen, "plugin '%s' refused to load%s: %s", path,
                 st == EM_ERR_ABI ? " (ABI version)" : "", perr[0] ? perr : "no reason given");
        hos_dl_close(lib);
        return -1;
    }
    if (check_module(path, module, errbuf, errlen) != 0) {
        hos_dl_close(lib);
        return -1;
    }
    emh_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        hos_dl_close(lib);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    p->lib = lib;
    p->module = module;
    *out = p;
    return 0;
}

const em_action *emh_plugin_find_action(const emh_plugin *p, const char *id)
{
    for (size_t i = 0; i < p->module->action_count; i++)
        if (strcmp(p->module->actions[i].id, id) == 0)
            return &p->module->actions[i];
    return NULL;
}

void emh_plugin_unload(emh_plugin *p)
{
    if (!p)
        return;
    hos_dl_close(p->lib);
    free(p->path);
    free(p);
}
