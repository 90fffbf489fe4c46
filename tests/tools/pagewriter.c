/*
 * pagewriter.c - a stand-in for Outlook whose file can be checked for
 * point-in-time consistency after it was copied.
 *
 *   pagewriter create FILE --pages N [--page-size BYTES]
 *   pagewriter run FILE --log LOG [--seconds S] [--rate PAGES_PER_SEC] [--seed N]
 *   pagewriter stat FILE
 *
 * The file is an array of fixed-size pages. Every page carries its own index
 * and a generation number, and ends in a checksum over the rest, so each page
 * proves by itself that it was written whole. "run" keeps the file open
 * read-write (as Outlook keeps a PST) and rewrites random pages, each write
 * with the next global generation. Before a page is written, the pair
 * {generation, page} is appended to LOG, so any generation a reader can see in
 * the file is already in the log; pagecheck uses the log to decide whether a
 * copy shows the file as it was at one single moment.
 *
 * Page layout (all integers little-endian, so a file means the same on any
 * machine):
 *   0   "PGWR"
 *   4   u32 page size     (lets pagecheck read a copy without being told)
 *   8   u64 page index
 *   16  u64 generation    (0 = written by "create")
 *   24  filler            (a PRNG stream seeded from index and generation)
 *   -8  u64 XXH64 of all bytes before it
 * The filler makes two generations of one page differ in every word, so a
 * page mixed from two writes fails its checksum wherever the halves meet.
 *
 * pagecheck.c repeats the layout constants and the page check; the self-test
 * (pagecheck_selftest.sh) fails if the two drift apart.
 *
 * Exit status: 0 done, 2 usage or I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Header-only use: the tools then need no libxxhash at link or run time. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define PGWR_MAGIC "PGWR"
#define PGWR_HEADER_SIZE 24
#define PGWR_SUM_SIZE 8
#define PGWR_MIN_PAGE 64
#define PGWR_MAX_PAGE (1u << 20)
#define PGWR_DEFAULT_PAGE 4096
#define LOG_RECORD_SIZE 16 /* u64 generation, u64 page */

/* Pages are read this many at a time when scanning, to keep syscalls few. */
#define SCAN_BATCH_BYTES (1u << 20)

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

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

/* splitmix64: tiny, and every output word depends on the whole seed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int page_size_valid(uint64_t size)
{
    return size >= PGWR_MIN_PAGE && size <= PGWR_MAX_PAGE && (size & (size - 1)) == 0;
}

/* Build the whole content of one page in buf (page_size bytes). */
static void page_fill(unsigned char *buf, uint32_t page_size, uint64_t page, uint64_t gen)
{
    memcpy(buf, PGWR_MAGIC, 4);
    put_le32(buf + 4, page_size);
    put_le64(buf + 8, page);
    put_le64(buf + 16, gen);
    uint64_t state = XXH64(buf + 8, 16, 0);
    for (uint32_t off = PGWR_HEADER_SIZE; off < page_size - PGWR_SUM_SIZE; off += 8)
        put_le64(buf + off, splitmix64(&state));
    put_le64(buf + page_size - PGWR_SUM_SIZE, XXH64(buf, page_size - PGWR_SUM_SIZE, 0));
}

/* 1 when buf is a whole, untorn page number `page`; its generation in *gen. */
static int page_valid(const unsigned char *buf, uint32_t page_size, uint64_t page,
                      uint64_t *gen)
{
    if (memcmp(buf, PGWR_MAGIC, 4) != 0 || get_le32(buf + 4) != page_size ||
        get_le64(buf + 8) != page)
        return 0;
    if (XXH64(buf, page_size - PGWR_SUM_SIZE, 0) !=
        get_le64(buf + page_size - PGWR_SUM_SIZE))
        return 0;
    *gen = get_le64(buf + 16);
    return 1;
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
            errno = EIO; /* the file shrank under us */
            return -1;
        }
        p += n, len -= (size_t)n, off += n;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
    const unsigned char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n, len -= (size_t)n, off += n;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_positive(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v > 0))
        return -1;
    *out = v;
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print the usage and return the usage-error status, for `return usage();`. */
static int usage(void)
{
    fprintf(stderr,
            "usage: pagewriter create FILE --pages N [--page-size BYTES]\n"
            "       pagewriter run FILE --log LOG [--seconds S] [--rate PAGES_PER_SEC] "
            "[--seed N]\n"
            "       pagewriter stat FILE\n");
    return 2;
}

/* Report a failure on stderr and return the error status. */
static int complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int complain(const char *fmt, ...)
{
    va_list ap;
    fputs("pagewriter: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

typedef struct pagefile {
    int fd;
    uint32_t page_size;
    uint64_t pages;
} pagefile;

/* Open an existing page file and learn its geometry from page 0. */
static int pagefile_open(const char *path, int flags, pagefile *pf)
{
    unsigned char head[8];
    struct stat st;
    pf->fd = open(path, flags | O_CLOEXEC);
    if (pf->fd < 0) {
        complain("cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fstat(pf->fd, &st) != 0) {
        complain("cannot stat '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (st.st_size < (off_t)sizeof head) {
        complain("'%s' is not a pagewriter file (too short)", path);
        goto fail;
    }
    if (pread_full(pf->fd, head, sizeof head, 0) != 0) {
        complain("cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    pf->page_size = get_le32(head + 4);
    if (memcmp(head, PGWR_MAGIC, 4) != 0 || !page_size_valid(pf->page_size) ||
        st.st_size % pf->page_size != 0) {
        complain("'%s' is not a pagewriter file", path);
        goto fail;
    }
    pf->pages = (uint64_t)st.st_size / pf->page_size;
    return 0;
fail:
    close(pf->fd);
    pf->fd = -1;
    return -1;
}

/* Highest generation among the whole pages, and how many pages are torn. */
static int pagefile_scan(const pagefile *pf, uint64_t *max_gen, uint64_t *torn)
{
    uint64_t per_batch = SCAN_BATCH_BYTES / pf->page_size;
    unsigned char *buf = malloc((size_t)(per_batch * pf->page_size));
    if (!buf) {
        complain("out of memory");
        return -1;
    }
    *max_gen = 0;
    *torn = 0;
    for (uint64_t first = 0; first < pf->pages; first += per_batch) {
        uint64_t n = pf->pages - first < per_batch ? pf->pages - first : per_batch;
        if (pread_full(pf->fd, buf, (size_t)(n * pf->page_size),
                       (off_t)(first * pf->page_size)) != 0) {
            complain("read failed: %s", strerror(errno));
            free(buf);
            return -1;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t gen;
            if (!page_valid(buf + i * pf->page_size, pf->page_size, first + i, &gen))
                (*torn)++;
            else if (gen > *max_gen)
                *max_gen = gen;
        }
    }
    free(buf);
    return 0;
}

static int cmd_create(int argc, char **argv)
{
    uint64_t pages = 0, page_size = PGWR_DEFAULT_PAGE;
    if (argc < 1)
        return usage();
    const char *path = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pages") && i + 1 < argc) {
            if (parse_u64(argv[++i], &pages) != 0 || pages == 0)
                return complain("bad --pages '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--page-size") && i + 1 < argc) {
            if (parse_u64(argv[++i], &page_size) != 0 || !page_size_valid(page_size))
                return complain("--page-size must be a power of two from %u to %u",
                                PGWR_MIN_PAGE, PGWR_MAX_PAGE);
        } else {
            return usage();
        }
    }
    if (pages == 0)
        return usage();

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return complain("cannot create '%s': %s", path, strerror(errno));
    unsigned char *buf = malloc((size_t)page_size);
    int rc = buf ? 0 : complain("out of memory");
    for (uint64_t p = 0; rc == 0 && p < pages; p++) {
        page_fill(buf, (uint32_t)page_size, p, 0);
        if (pwrite_full(fd, buf, (size_t)page_size, (off_t)(p * page_size)) != 0)
            rc = complain("write to '%s' failed: %s", path, strerror(errno));
    }
    if (close(fd) != 0 && rc == 0)
        rc = complain("close '%s' failed: %s", path, strerror(errno));
    free(buf);
    return rc;
}

/*
 * Open LOG for appending and return the last generation it holds. The log is
 * locked so that two writers can never interleave records: the checker relies
 * on generations in the log being strictly increasing.
 */
static int log_open(const char *path, uint64_t *last_gen)
{
    struct stat st;
    unsigned char rec[LOG_RECORD_SIZE];
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        complain("cannot open log '%s': %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        complain("log '%s' is in use by another writer", path);
        goto fail;
    }
    if (fstat(fd, &st) != 0) {
        complain("cannot stat log '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* A partial record would shift every record appended after it. */
    if (st.st_size % LOG_RECORD_SIZE != 0) {
        complain("log '%s' ends in a partial record", path);
        goto fail;
    }
    *last_gen = 0;
    if (st.st_size > 0) {
        if (pread_full(fd, rec, sizeof rec, st.st_size - LOG_RECORD_SIZE) != 0) {
            complain("cannot read log '%s': %s", path, strerror(errno));
            goto fail;
        }
        *last_gen = get_le64(rec);
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a rate-limit sleep must end as soon as we are asked to stop. */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    return 0;
}

/* Sleep until the absolute CLOCK_MONOTONIC time t (seconds); a signal ends it early. */
static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int cmd_run(int argc, char **argv)
{
    const char *log_path = NULL;
    double seconds = 0, rate = 0;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (argc < 1)
        return usage();
    const char *path = argv[0];
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "--log") && i + 1 < argc)
            log_path = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            bad = parse_positive(argv[++i], &seconds);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            bad = parse_positive(argv[++i], &rate);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            bad = parse_u64(argv[++i], &seed);
        else
            return usage();
        if (bad)
            return complain("bad value '%s' for %s", argv[i], argv[i - 1]);
    }
    if (!log_path)
        return usage();

    pagefile pf;
    if (pagefile_open(path, O_RDWR, &pf) != 0)
        return 2;
    uint64_t file_max, torn, log_last;
    if (pagefile_scan(&pf, &file_max, &torn) != 0) {
        close(pf.fd);
        return 2;
    }
    if (torn)
        complain("warning: %" PRIu64 " torn page(s) in '%s'", torn, path);
    int log_fd = log_open(log_path, &log_last);
    if (log_fd < 0) {
        close(pf.fd);
        return 2;
    }
    /* Continue after both: the log may hold a record whose page write never
     * happened (a writer killed between the two), and generations must stay
     * unique across runs. */
    uint64_t gen = (file_max > log_last ? file_max : log_last) + 1;
    uint64_t first_gen = gen;
    unsigned char *page = malloc(pf.page_size);
    if (!page || install_stop_handlers() != 0) {
        complain("cannot start: %s", page ? strerror(errno) : "no memory");
        free(page);
        close(log_fd);
        close(pf.fd);
        return 2;
    }

    uint64_t rng = seed;
    double start = now_seconds(), next_slot = start;
    double interval = rate > 0 ? 1.0 / rate : 0;
    int rc = 0;
    while (!stop_requested) {
        double now = now_seconds();
        if (seconds > 0 && now - start >= seconds)
            break;
        if (interval > 0) {
            /* After a long pause (SIGSTOP, a loaded machine) start a fresh
             * schedule instead of bursting to catch up. */
            if (now - next_slot > 0.1)
                next_slot = now;
            if (next_slot > now) {
                sleep_until(next_slot);
                continue; /* re-check the stop flag and the deadline */
            }
            next_slot += interval;
        }
        uint64_t p = splitmix64(&rng) % pf.pages;
        unsigned char rec[LOG_RECORD_SIZE];
        put_le64(rec, gen);
        put_le64(rec + 8, p);
        /* Log first: whoever sees generation `gen` in the file must find it
         * in the log. One write(2) on an O_APPEND fd, so records never split. */
        ssize_t n = write(log_fd, rec, sizeof rec);
        if (n != (ssize_t)sizeof rec) {
            rc = complain("log append failed: %s", n < 0 ? strerror(errno) : "short write");
            break;
        }
        page_fill(page, pf.page_size, p, gen);
        if (pwrite_full(pf.fd, page, pf.page_size, (off_t)(p * pf.page_size)) != 0) {
            rc = complain("write of page %" PRIu64 " failed: %s", p, strerror(errno));
            break;
        }
        gen++;
    }

    /* The seed is printed so that a failing run can be replayed. */
    if (gen > first_gen)
        printf("pagewriter: %" PRIu64 " writes, generations %" PRIu64 "..%" PRIu64
               ", seed %" PRIu64 "\n",
               gen - first_gen, first_gen, gen - 1, seed);
    else
        printf("pagewriter: 0 writes, seed %" PRIu64 "\n", seed);
    free(page);
    if (close(log_fd) != 0 || close(pf.fd) != 0)
        rc = complain("close failed: %s", strerror(errno));
    return rc;
}

static int cmd_stat(int argc, char **argv)
{
    if (argc != 1)
        return usage();
    pagefile pf;
    uint64_t max_gen, torn;
    if (pagefile_open(argv[0], O_RDONLY, &pf) != 0)
        return 2;
    int rc = pagefile_scan(&pf, &max_gen, &torn) == 0 ? 0 : 2;
    close(pf.fd);
    if (rc == 0)
        printf("pages %" PRIu64 " page_size %" PRIu32 " max_generation %" PRIu64
               " torn %" PRIu64 "\n",
               pf.pages, pf.page_size, max_gen, torn);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (!strcmp(argv[1], "create"))
        return cmd_create(argc - 2, argv + 2);
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 2, argv + 2);
    if (!strcmp(argv[1], "stat"))
        return cmd_stat(argc - 2, argv + 2);
    return usage();
}
