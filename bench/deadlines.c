/* deadlines.c - wall-clock numbers that tests no longer assert (a test makes
 * no claim about wall time; `make bench` measures it):
 *   - how promptly an md_http_multi driver that never ran a transfer stops
 *     when freed, also when it is already waiting in its poll
 *     (tests/unit/test_http_multi.c's free_unused_stops checks that it
 *     stops): a lost wake-up costs the driver's 1 s poll timeout a round.
 * Prints one JSON object: {"multi_free_rounds", "multi_free_ms",
 * "multi_free_worst_ms"}. */
#include <stdio.h>
#include <time.h>

#include "base/error.h"
#include "net/http_multi.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(void)
{
	enum { ROUNDS = 20 };
	struct timespec pause = {0, 30 * 1000000L};
	double total = 0, worst = 0;
	for (int i = 0; i < ROUNDS; i++) {
		md_http_multi *m = NULL;
		md_error err = {0};
		if (md_http_multi_new(0, &m, &err) != MD_OK) {
			fprintf(stderr, "deadlines: %s\n", err.msg);
			return 1;
		}
		nanosleep(&pause, NULL); /* the driver reaches its poll */
		double t0 = now_ms();
		md_http_multi_free(m);
		double ms = now_ms() - t0;
		total += ms;
		if (ms > worst)
			worst = ms;
	}
	printf("{\"multi_free_rounds\": %d, \"multi_free_ms\": %.1f, \"multi_free_worst_ms\": %.1f}\n",
	       ROUNDS, total, worst);
	return 0;
}
