/* time.h - the one reader of timestamps, and the one clock for durations.
 *
 * Owns: parsing RFC 3339 timestamps as the API, stores and caches write
 * them ("YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)", offsets honoured, no
 * zone meaning UTC): one parser, so one timestamp is one instant
 * everywhere; and the monotonic milliseconds every elapsed time and
 * deadline is measured in, with the sleep that goes with them.
 */
#ifndef MD_TIME_H
#define MD_TIME_H

#include <time.h>

/* 0 and *out (seconds since the epoch), or -1. */
int md_time_parse(const char *s, time_t *out);
/* Milliseconds on the monotonic clock (never jumps with the wall clock). */
long long md_time_now_ms(void);
/* Sleeps ms milliseconds, resuming after signals. */
void md_time_sleep_ms(long long ms);

#endif
