/* POSIX implementation of platform.h: Outlook profiles. */
#include <stdlib.h>

#include "../platform.h"

ps_status pf_outlook_profile_psts(const char *user_sid, pf_path_list *out, ps_err *err)
{
    /* Outlook exists only on Windows and keeps its profiles in the user's
     * registry hive; no Linux or macOS mail client stores PSTs in a way we
     * could find, so the profile step has nothing to add here and the
     * source folders are all there is. */
    (void)user_sid;
    (void)err;
    out->paths = NULL;
    out->count = 0;
    return PS_OK;
}

void pf_path_list_free(pf_path_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    list->paths = NULL;
    list->count = 0;
}
