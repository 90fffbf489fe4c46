/*
 * fault.h - numbered fault points for the crash tests. Compiled in only
 * when PSTSNAP_FAULT_INJECTION is defined (a CMake option that release
 * builds never set); otherwise FAULT_POINT costs nothing.
 *
 * Each FAULT_POINT reached increments a process-wide counter. With
 * PSTSNAP_FAULT_KILL_AT=N in the environment the process kills itself
 * (SIGKILL: no cleanup, like a power cut or a task-manager kill) at the Nth
 * point, or with PSTSNAP_FAULT_KILL_AT=NAME#K at the Kth point called NAME;
 * with PSTSNAP_FAULT_TRACE=FILE every point reached is appended to FILE as
 * "N name", so a test can count the points and aim at each. While tracing or
 * killing, every write of the POSIX layer is made in two halves with the
 * point "write.torn" between them (a torn write). PSTSNAP_FAULT_PAUSE_AT=
 * NAME[#K]:MS sleeps MS milliseconds at the Kth point called NAME, so a
 * test can change files under a paused run.
 *
 * The same build reads PSTSNAP_FAULT_ERROR (plugin/platform/posix/
 * pf_fault_posix.c) to make chosen reads, writes, flushes, opens and renames
 * fail with an errno or transfer only half their bytes.
 */
#ifndef PS_FAULT_H
#define PS_FAULT_H

#ifdef PSTSNAP_FAULT_INJECTION
void fault_point(const char *name);
#define FAULT_POINT(name) fault_point(name)
#else
#define FAULT_POINT(name) ((void)0)
#endif

#endif
