#include "compare.h"

#include "platform.h"

int ps_mtime_is_racy(int64_t mtime_ns, int64_t frozen_ns)
{
    return mtime_ns >= frozen_ns - PF_MTIME_SLACK_NS;
}

ps_verdict compare_candidate(const ps_candidate *c, const ps_manifest_entry *last,
                             const char *final_path, int64_t min_interval_s, int64_t now_ns)
{
    if (!last)
        return PS_CHANGED;
    pf_stat dest;
    /* A sync client that replaced or deleted our copy leaves other metadata
     * behind; our own publish recorded exactly what it left. The interval
     * does not apply: the user has no good backup now. */
    if (pf_lstat(final_path, &dest, NULL) != PS_OK || dest.kind != PF_KIND_FILE ||
        dest.size != last->dest_size || dest.mtime_ns != last->dest_mtime_ns)
        return PS_DEST_MISMATCH;
    if (c->st.size == last->size && c->st.mtime_ns == last->mtime_ns &&
        !ps_mtime_is_racy(last->mtime_ns, last->frozen_ns))
        return PS_UNCHANGED;
    if (min_interval_s > 0 && now_ns - last->backed_up_ns < min_interval_s * 1000000000LL)
        return PS_TOO_SOON;
    return PS_CHANGED;
}
