/*
 * pstcheck - check PST files by the MS-PST spec (plugin/core/pst_check.h)
 * from the command line: the same checker `verify` runs on backups.
 *
 *   pstcheck FILE...
 *
 * Prints one line per problem ("FILE: 0xOFFSET: what") and a summary line
 * per file. Exit 0 when every file is clean, 1 when any has problems, 2
 * when any could not be read (or usage).
 */
#include <stdio.h>

#include "pst_check.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pstcheck FILE...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        pst_report rep;
        ps_err err;
        ps_status s = pst_check_file(argv[i], NULL, &rep, &err);
        if (s != PS_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err.msg);
            rc = 2;
        } else {
            for (size_t k = 0; k < rep.problem_count; k++)
                printf("%s: 0x%llx: %s\n", argv[i], (unsigned long long)rep.problems[k].offset,
                       rep.problems[k].what);
            if (rep.problems_dropped)
                printf("%s: ... and %zu more problems\n", argv[i], rep.problems_dropped);
            size_t total = rep.problem_count + rep.problems_dropped;
            printf("%s: %s, wVer %u, %llu B-tree pages, %llu map pages, %llu blocks, %llu bytes allocated but unused: %s",
                   argv[i], rep.format == PST_FORMAT_UNICODE ? "Unicode"
                            : rep.format == PST_FORMAT_ANSI  ? "ANSI"
                                                             : "unknown format",
                   rep.wver, (unsigned long long)rep.pages_checked,
                   (unsigned long long)rep.map_pages_checked,
                   (unsigned long long)rep.blocks_checked, (unsigned long long)rep.unreferenced_bytes, total ? "" : "OK\n");
            if (total)
                printf("%zu problem(s)\n", total);
            if (total && rc == 0)
                rc = 1;
        }
        pst_report_free(&rep);
    }
    return rc;
}
