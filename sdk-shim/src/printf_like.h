/*
 * printf_like.h - EMH_PRINTF_LIKE(fmt, args): lets the compiler check the
 * format strings of the host's printf-style functions.
 *
 * mingw-w64 builds use mingw's own C99 printf (__USE_MINGW_ANSI_STDIO, set
 * by the build), which GCC knows as gnu_printf; plain "printf" would make it
 * check against msvcrt's dialect and reject %zu.
 */
#ifndef EMH_PRINTF_LIKE_H
#define EMH_PRINTF_LIKE_H

#if defined(__MINGW32__)
#define EMH_PRINTF_LIKE(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__)
#define EMH_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define EMH_PRINTF_LIKE(fmt, args)
#endif

#endif /* EMH_PRINTF_LIKE_H */
