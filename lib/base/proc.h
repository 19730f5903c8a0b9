/* proc.h - process start-up hygiene and what a command we run gets back.
 *
 * Owns: the first thing main() does in mdcred, the plugin and the emulator
 * (descriptors 0, 1 and 2 made sure to be open, on /dev/null where the
 * caller had closed them, and which ones were closed remembered), which
 * descriptors the process was started with (the caller's to pass on), the
 * process state the caller started us with (RLIMIT_CORE, every signal's
 * disposition, the signal mask), mdcred's own protections against core
 * dumps and ptrace, and putting the caller's state back just before execve
 * so those protections and mdcred's signal choices never reach the command.
 * libc only.
 */
#ifndef MD_PROC_H
#define MD_PROC_H

#include <stdbool.h>

/* md_proc_start flags. */
#define MD_PROC_HARDEN 0x1 /* no core file, no ptrace by peers (PR_SET_DUMPABLE 0) */

/* Call first thing in main(), before anything opens a descriptor: opens
 * /dev/null on a closed 0, 1 or 2 (so no socket or file of ours can become
 * stdout), saves the caller's state, hardens (MD_PROC_HARDEN) and notes the
 * inherited descriptors (the caller's to pass on). -1 (errno set) if a
 * closed standard descriptor could not be opened: the caller should exit. */
int md_proc_start(unsigned flags);
/* Marks every open descriptor close-on-exec but those the process was
 * started with (sockets libcurl opened, files we read), so a command we run
 * inherits exactly what we inherited. */
void md_proc_cloexec_own_fds(void);
/* Was fd (0, 1 or 2) closed when the process started? */
bool md_proc_fd_was_closed(int fd);

/* Puts back the caller's RLIMIT_CORE (soft and hard), signal dispositions
 * and signal mask, remembering the current ones. Async-signal-safe: it runs
 * in a forked child too. Call right before execve. */
void md_proc_restore_for_exec(void);
/* After an execve that failed: mdcred's own state again (SIGPIPE ignored,
 * no core file), as it was before md_proc_restore_for_exec. */
void md_proc_exec_failed(void);

#endif
