/*
 * pagecheck.c - does a copy of a pagewriter file show that file as it was at
 * one single moment?
 *
 *   pagecheck COPY LOG [--original-pages N]
 *
 * A backup taken from a snapshot must be point-in-time consistent; one taken
 * by reading a live file usually is not, because the writer moves on while
 * the reader walks the file. This tool tells the two apart.
 *
 * Every page of COPY must be whole (magic, own index, checksum: see the
 * layout in pagewriter.c); a page that fails is torn. With gen[p] the
 * generation found in page p, the copy equals the file at moment G iff, for
 * every page, gen[p] is the last write to p at or before G. Page p therefore
 * allows G in [gen[p], next write to p after gen[p] - 1] (the upper end is
 * open if p was never written again), and the copy is consistent iff the
 * intersection of these intervals is not empty.
 *
 * Only "the next write to p after gen[p]" is needed, and the log is in
 * generation order, so one pass over the log finds it for every page: the
 * first record for p with a higher generation. Memory is O(pages), not
 * O(log), and a log of millions of records is read at disk speed.
 *
 * The log must be read after the copy was taken (running this tool afterwards
 * does that): the writer logs a generation before writing it, so then every
 * generation in the copy is in the log.
 *
 * Exit status: 0 consistent; 1 torn, inconsistent, or the wrong size;
 * 2 usage or I/O error, or a LOG that is not a pagewriter log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Must match pagewriter.c. */
#define PGWR_MAGIC "PGWR"
#define PGWR_SUM_SIZE 8
#define PGWR_MIN_PAGE 64
#define PGWR_MAX_PAGE (1u << 20)
#define PGWR_DEFAULT_PAGE 4096
#define LOG_RECORD_SIZE 16

#define READ_BATCH_BYTES (1u << 20)
#define LOG_BATCH_RECORDS 65536
#define TORN_REPORT_MAX 10 /* list this many torn pages, then only count */

#define NO_NEXT_WRITE UINT64_MAX

enum { CHECK_OK = 0, CHECK_FAILED = 1, CHECK_ERROR = 2 };

static uint32_t get_le32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int page_size_valid(uint64_t size)
{
    return size >= PGWR_MIN_PAGE && size <= PGWR_MAX_PAGE && (size & (size - 1)) == 0;
}

/* NULL when buf is whole page `page` (its generation in *gen), else why not. */
static const char *page_problem(const unsigned char *buf, uint32_t page_size, uint64_t page,
                                uint64_t *gen)
{
    if (memcmp(buf, PGWR_MAGIC, 4) != 0 || get_le32(buf + 4) != page_size)
        return "bad header";
    if (XXH64(buf, page_size - PGWR_SUM_SIZE, 0) != get_le64(buf + page_size - PGWR_SUM_SIZE))
        return "bad checksum";
    /* Checked after the checksum: a whole page at the wrong offset means the
     * copy misplaced it, which is no less wrong than a torn one. */
    if (get_le64(buf + 8) != page)
        return "holds another page";
    *gen = get_le64(buf + 16);
    return NULL;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO; /* shorter than fstat said: something is still writing it */
            return -1;
        }
        p += n, len -= (size_t)n, off += n;
    }
    return 0;
}

static int complain(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int complain(int status, const char *fmt, ...)
{
    va_list ap;
    fputs("pagecheck: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static int usage(void)
{
    fprintf(stderr, "usage: pagecheck COPY LOG [--original-pages N]\n");
    return CHECK_ERROR;
}

typedef struct copy_pages {
    uint32_t page_size;
    uint64_t count;
    uint64_t *gen; /* gen[p]: generation found in page p; owned */
} copy_pages;

/* Page size as page 0 states it; if page 0 is damaged, the default, and
 * page 0 will then be reported torn. */
static uint32_t guess_page_size(int fd, uint64_t file_size)
{
    unsigned char head[8];
    if (file_size < sizeof head || pread_full(fd, head, sizeof head, 0) != 0 ||
        memcmp(head, PGWR_MAGIC, 4) != 0 || !page_size_valid(get_le32(head + 4)))
        return PGWR_DEFAULT_PAGE;
    return get_le32(head + 4);
}

/* Read and verify every page of the copy at path. */
static int copy_load(const char *path, uint64_t expected_pages, copy_pages *copy)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return complain(CHECK_ERROR, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return complain(CHECK_ERROR, "cannot stat '%s': %s", path, strerror(errno));
    }
    uint64_t size = (uint64_t)st.st_size;
    copy->page_size = guess_page_size(fd, size);
    copy->count = size / copy->page_size;
    if (size == 0 || size % copy->page_size != 0) {
        close(fd);
        printf("wrong size: %" PRIu64 " bytes is not a whole number of %" PRIu32
               "-byte pages\n",
               size, copy->page_size);
        return CHECK_FAILED;
    }
    if (expected_pages && copy->count != expected_pages) {
        close(fd);
        printf("wrong size: %" PRIu64 " pages, the original has %" PRIu64 "\n", copy->count,
               expected_pages);
        return CHECK_FAILED;
    }

    uint64_t per_batch = READ_BATCH_BYTES / copy->page_size;
    unsigned char *buf = malloc((size_t)(per_batch * copy->page_size));
    copy->gen = malloc((size_t)copy->count * sizeof *copy->gen);
    if (!buf || !copy->gen) {
        free(buf);
        close(fd);
        return complain(CHECK_ERROR, "out of memory for %" PRIu64 " pages", copy->count);
    }
    uint64_t torn = 0;
    for (uint64_t first = 0; first < copy->count; first += per_batch) {
        uint64_t n = copy->count - first < per_batch ? copy->count - first : per_batch;
        if (pread_full(fd, buf, (size_t)(n * copy->page_size),
                       (off_t)(first * copy->page_size)) != 0) {
            int e = errno;
            free(buf);
            close(fd);
            return complain(CHECK_ERROR, "cannot read '%s': %s", path, strerror(e));
        }
        for (uint64_t i = 0; i < n; i++) {
            const char *why = page_problem(buf + i * copy->page_size, copy->page_size,
                                           first + i, &copy->gen[first + i]);
            if (why && ++torn <= TORN_REPORT_MAX)
                printf("torn page %" PRIu64 " (%s)\n", first + i, why);
        }
    }
    free(buf);
    close(fd);
    if (torn) {
        printf("torn: %" PRIu64 " of %" PRIu64 " pages\n", torn, copy->count);
        return CHECK_FAILED;
    }
    return CHECK_OK;
}

/*
 * One pass over the log: for every page, the first write after the
 * generation the copy holds (next[p], NO_NEXT_WRITE if none), whether the
 * copy's generation was ever written to that page (logged[p]), and the last
 * generation in the log.
 */
static int log_scan(const char *path, const copy_pages *copy, uint64_t *next,
                    unsigned char *logged, uint64_t *log_max)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return complain(CHECK_ERROR, "cannot open log '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return complain(CHECK_ERROR, "cannot stat log '%s': %s", path, strerror(errno));
    }
    /* Records appended after this point describe writes the copy cannot
     * hold, so the count is fixed now even if the writer is still running. A
     * partial last record is an append still in flight, logged before its
     * page write, so it cannot be in the copy either. */
    uint64_t records = (uint64_t)st.st_size / LOG_RECORD_SIZE;
    if (st.st_size % LOG_RECORD_SIZE)
        fprintf(stderr, "pagecheck: note: ignoring a partial record at the end of the log\n");

    unsigned char *buf = malloc((size_t)LOG_BATCH_RECORDS * LOG_RECORD_SIZE);
    if (!buf) {
        close(fd);
        return complain(CHECK_ERROR, "out of memory");
    }
    int rc = CHECK_OK;
    uint64_t prev = 0;
    for (uint64_t first = 0; rc == CHECK_OK && first < records; first += LOG_BATCH_RECORDS) {
        uint64_t n = records - first < LOG_BATCH_RECORDS ? records - first : LOG_BATCH_RECORDS;
        if (pread_full(fd, buf, (size_t)(n * LOG_RECORD_SIZE),
                       (off_t)(first * LOG_RECORD_SIZE)) != 0) {
            rc = complain(CHECK_ERROR, "cannot read log '%s': %s", path, strerror(errno));
            break;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t g = get_le64(buf + i * LOG_RECORD_SIZE);
            uint64_t p = get_le64(buf + i * LOG_RECORD_SIZE + 8);
            /* The one-pass search below is only right for a log in strictly
             * increasing generation order, which one writer guarantees. */
            if (g <= prev) {
                rc = complain(CHECK_ERROR,
                              "log '%s' record %" PRIu64 ": generation %" PRIu64
                              " after %" PRIu64 " (not a pagewriter log, or two writers)",
                              path, first + i, g, prev);
                break;
            }
            prev = g;
            if (p >= copy->count) {
                printf("wrong size: the log writes page %" PRIu64 " but the copy has %" PRIu64
                       " pages\n",
                       p, copy->count);
                rc = CHECK_FAILED;
                break;
            }
            if (g == copy->gen[p])
                logged[p] = 1;
            else if (g > copy->gen[p] && next[p] == NO_NEXT_WRITE)
                next[p] = g;
        }
    }
    free(buf);
    close(fd);
    *log_max = prev;
    return rc;
}

/* Intersect the per-page intervals and print the verdict. */
static int decide(const copy_pages *copy, const uint64_t *next, const unsigned char *logged,
                  uint64_t log_max)
{
    uint64_t lo = 0, hi = NO_NEXT_WRITE; /* the intersection so far */
    uint64_t lo_page = 0, hi_page = 0;   /* the pages that set each end */
    for (uint64_t p = 0; p < copy->count; p++) {
        uint64_t g = copy->gen[p];
        if (g != 0 && !logged[p]) {
            printf("inconsistent: page %" PRIu64 " holds generation %" PRIu64
                   ", which the log never wrote to it (log read before the copy, or the "
                   "wrong log?)\n",
                   p, g);
            return CHECK_FAILED;
        }
        if (g > lo || p == 0) {
            lo = g;
            lo_page = p;
        }
        if (next[p] != NO_NEXT_WRITE && next[p] - 1 < hi) {
            hi = next[p] - 1;
            hi_page = p;
        }
    }
    if (lo > hi) {
        printf("inconsistent: pages %" PRIu64 " (gen %" PRIu64 ") and %" PRIu64 " (gen %" PRIu64
               ") cannot coexist\n",
               lo_page, copy->gen[lo_page], hi_page, copy->gen[hi_page]);
        printf("  page %" PRIu64 " was rewritten at generation %" PRIu64
               ", before page %" PRIu64 " reached generation %" PRIu64 "\n",
               hi_page, next[hi_page], lo_page, copy->gen[lo_page]);
        return CHECK_FAILED;
    }
    /* Past the end of the log nothing changes, so the last logged generation
     * stands for every later moment. lo <= log_max: every generation in the
     * copy was found in the log. */
    if (hi > log_max)
        hi = log_max;
    printf("consistent: snapshot at generation in [%" PRIu64 ", %" PRIu64 "], pages %" PRIu64
           "\n",
           lo, hi, copy->count);
    return CHECK_OK;
}

int main(int argc, char **argv)
{
    const char *copy_path = NULL, *log_path = NULL;
    uint64_t expected_pages = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--original-pages") && i + 1 < argc) {
            char *end;
            const char *s = argv[++i];
            errno = 0;
            expected_pages = strtoull(s, &end, 10);
            if (*s < '0' || *s > '9' || *end || errno || expected_pages == 0)
                return complain(CHECK_ERROR, "bad --original-pages '%s'", s);
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage();
        } else if (!copy_path) {
            copy_path = argv[i];
        } else if (!log_path) {
            log_path = argv[i];
        } else {
            return usage();
        }
    }
    if (!copy_path || !log_path)
        return usage();

    copy_pages copy = {0};
    int rc = copy_load(copy_path, expected_pages, &copy);
    if (rc != CHECK_OK) {
        free(copy.gen);
        return rc;
    }
    uint64_t *next = malloc((size_t)copy.count * sizeof *next);
    unsigned char *logged = calloc((size_t)copy.count, 1);
    if (!next || !logged) {
        rc = complain(CHECK_ERROR, "out of memory for %" PRIu64 " pages", copy.count);
    } else {
        uint64_t log_max = 0;
        for (uint64_t p = 0; p < copy.count; p++)
            next[p] = NO_NEXT_WRITE;
        rc = log_scan(log_path, &copy, next, logged, &log_max);
        if (rc == CHECK_OK)
            rc = decide(&copy, next, logged, log_max);
    }
    free(next);
    free(logged);
    free(copy.gen);
    return rc;
}
