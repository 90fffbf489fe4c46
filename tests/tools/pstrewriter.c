/*
 * pstrewriter.c - keep a real PST "in use" without changing a byte of it.
 *
 *   pstrewriter FILE [--seconds S] [--seed N] [--rate REWRITES_PER_SEC]
 *
 * Outlook holds its PST open read-write and writes to it now and then, so a
 * backup that reads the file in place sees its mtime move and must either use
 * a snapshot or give up. This tool reproduces that on a sample PST: it keeps
 * FILE open O_RDWR and rewrites random 4 KiB-aligned ranges with the bytes
 * they already hold (pread, then pwrite of the same buffer). The content
 * stays a valid PST, byte for byte, so a test can still compare the backup
 * with the original, while every write bumps the mtime like a real one.
 *
 * It runs until S seconds have passed (default: until told) or SIGTERM/SIGINT
 * arrives, then prints "pstrewriter: N rewrites" and exits 0. Exit 2 on usage
 * or I/O errors, or when FILE does not look like a PST.
 *
 * Nothing else must write FILE meanwhile: a write landing between our read
 * and our write would be undone.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 4 KiB is the filesystem block that copy-on-write snapshots and reflinks
 * track, so aligned ranges exercise exactly what a snapshot must freeze.
 * Up to 64 KiB at once, like Outlook flushing several pages together. */
#define BLOCK_SIZE 4096
#define MAX_BLOCKS_PER_REWRITE 16

/* Every PST and OST starts with this ("!BDN"), whatever its version. */
static const unsigned char pst_magic[4] = {'!', 'B', 'D', 'N'};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int complain(const char *fmt, ...)
{
    va_list ap;
    fputs("pstrewriter: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: pstrewriter FILE [--seconds S] [--seed N] [--rate REWRITES_PER_SEC]\n");
    return 2;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_positive(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || *end || !(v > 0))
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Read len bytes at off; 0 bytes read means the file shrank, an error here. */
static int pread_full(int fd, unsigned char *p, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n, len -= (size_t)n, off += n;
    }
    return 0;
}

static int pwrite_full(int fd, const unsigned char *p, size_t len, off_t off)
{
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

static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    double seconds = 0, rate = 0;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            bad = parse_positive(argv[++i], &seconds);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            bad = parse_positive(argv[++i], &rate);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            bad = parse_u64(argv[++i], &seed);
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return usage();
        else if (!path)
            path = argv[i];
        else
            return usage();
        if (bad)
            return complain("bad value '%s' for %s", argv[i], argv[i - 1]);
    }
    if (!path)
        return usage();

    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return complain("cannot open '%s' read-write: %s", path, strerror(errno));
    struct stat st;
    unsigned char magic[sizeof pst_magic];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof magic ||
        pread_full(fd, magic, sizeof magic, 0) != 0 ||
        memcmp(magic, pst_magic, sizeof magic) != 0) {
        close(fd);
        return complain("'%s' is not a PST file (no \"!BDN\" at its start)", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t blocks = (size + BLOCK_SIZE - 1) / BLOCK_SIZE;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a rate-limit sleep must end as soon as we are asked to stop. */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
        close(fd);
        return complain("cannot install signal handlers: %s", strerror(errno));
    }

    static unsigned char buf[BLOCK_SIZE * MAX_BLOCKS_PER_REWRITE];
    uint64_t rng = seed, rewrites = 0;
    double start = now_seconds(), next_slot = start;
    double interval = rate > 0 ? 1.0 / rate : 0;
    int rc = 0;
    while (!stop_requested) {
        double now = now_seconds();
        if (seconds > 0 && now - start >= seconds)
            break;
        if (interval > 0) {
            if (now - next_slot > 0.1)
                next_slot = now; /* after a pause, do not burst to catch up */
            if (next_slot > now) {
                sleep_until(next_slot);
                continue;
            }
            next_slot += interval;
        }
        uint64_t first = splitmix64(&rng) % blocks;
        uint64_t count = 1 + splitmix64(&rng) % MAX_BLOCKS_PER_REWRITE;
        uint64_t off = first * BLOCK_SIZE;
        uint64_t len = count * BLOCK_SIZE;
        if (len > size - off)
            len = size - off; /* the last block may be short: never grow the file */
        /* The stop flag is only looked at between rewrites, so a signal
         * never leaves a range read but not written back. */
        if (pread_full(fd, buf, (size_t)len, (off_t)off) != 0 ||
            pwrite_full(fd, buf, (size_t)len, (off_t)off) != 0) {
            rc = complain("rewrite of %" PRIu64 " bytes at %" PRIu64 " failed: %s", len, off,
                          strerror(errno));
            break;
        }
        rewrites++;
    }
    if (close(fd) != 0 && rc == 0)
        rc = complain("close '%s' failed: %s", path, strerror(errno));
    printf("pstrewriter: %" PRIu64 " rewrites\n", rewrites);
    return rc;
}
