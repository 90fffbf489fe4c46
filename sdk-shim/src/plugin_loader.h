/*
 * plugin_loader.h - load a plugin library, negotiate the ABI version and find
 * its actions.
 *
 * Ownership: emh_plugin_load returns a handle freed by emh_plugin_unload; the
 * module and actions it exposes are the plugin's and valid until unload.
 */
#ifndef EMH_PLUGIN_LOADER_H
#define EMH_PLUGIN_LOADER_H

#include "em_action.h"

typedef struct emh_plugin {
    char *path;
    void *lib;
    const em_module *module;
} emh_plugin;

/* Load `path` and call its entry point with this host's ABI version and
 * services. Errors name the file and say what is wrong: not loadable, no
 * entry point, refused by the plugin, too new for this host, malformed
 * module. Returns 0 or -1. */
int emh_plugin_load(const char *path, const em_host_api *host, emh_plugin **out, char *errbuf,
                    size_t errlen);
/* NULL when the plugin has no action with that id. */
const em_action *emh_plugin_find_action(const emh_plugin *p, const char *id);
void emh_plugin_unload(emh_plugin *p);

#endif
