/* Win32 implementation of platform.h: clocks, I/O priority, process facts. */
#include <stdio.h>

#include "pf_win32.h"

#include <bcrypt.h>

uint64_t pf_monotonic_ms(void) { return GetTickCount64(); }

int64_t pf_wall_ns(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    return pfw_filetime_ns(ft);
}

void pf_sleep_ms(uint32_t ms) { Sleep(ms); }

static void format_time(int64_t wall_ns, int local, const char *fmt, char *buf, size_t len)
{
    FILETIME ft = pfw_ns_filetime(wall_ns);
    SYSTEMTIME utc, t;
    if (!FileTimeToSystemTime(&ft, &utc) ||
        (local && !SystemTimeToTzSpecificLocalTime(NULL, &utc, &t))) {
        snprintf(buf, len, "0000-00-00");
        return;
    }
    if (!local)
        t = utc;
    snprintf(buf, len, fmt, t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute, t.wSecond);
}

void pf_format_local_time(int64_t wall_ns, char *buf, size_t len)
{
    format_time(wall_ns, 1, "%04u-%02u-%02u %02u%02u%02u", buf, len);
}

void pf_format_utc_time(int64_t wall_ns, char *buf, size_t len)
{
    format_time(wall_ns, 0, "%04u-%02u-%02uT%02u:%02u:%02uZ", buf, len);
}

/* Windows sets the I/O priority hint per handle, not per thread: the
 * thread's wish is remembered here and applied to each handle it opens. */
static _Thread_local int t_low_io;

ps_status pf_io_priority_low(ps_err *err)
{
    (void)err;
    t_low_io = 1;
    return PS_OK;
}

void pfw_apply_io_priority(HANDLE h)
{
    if (!t_low_io)
        return;
    /* Low, not VeryLow: VeryLow is for defragmenters and can starve the
     * copy for minutes on a busy disk. A refusal (a file system without
     * priorities) only costs speed for the user, so it is ignored. */
    FILE_IO_PRIORITY_HINT_INFO hint = {.PriorityHint = IoPriorityHintLow};
    (void)SetFileInformationByHandle(h, FileIoPriorityHintInfo, &hint, sizeof hint);
}

uint64_t pf_random_u64(void)
{
    uint64_t v = 0;
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, (PUCHAR)&v, sizeof v,
                                        BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        /* Only uniqueness matters (names); creating files checks clashes. */
        LARGE_INTEGER c;
        QueryPerformanceCounter(&c);
        v = (uint64_t)c.QuadPart ^ ((uint64_t)GetCurrentProcessId() << 32) ^
            (uint64_t)pf_wall_ns();
    }
    return v;
}

unsigned long pf_process_id(void) { return (unsigned long)GetCurrentProcessId(); }
