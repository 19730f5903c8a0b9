/* rotate_batch.h - rotating many roles at once (`rotate --config`).
 *
 * Owns: running md_rotate for every role of a config with at most
 * `parallel` roles in flight, and carrying every HTTP request of every
 * role (API and stores) over one libcurl multi handle (http_multi.h): one
 * I/O thread, one connection cache. Why threads around a multi handle
 * rather than one hand-written state machine: each role runs the very same
 * straight-line md_rotate the one-role command and the fault matrix prove,
 * so the invariants (no store pointing to a revoked token, a rerun
 * converges) hold per role without a second implementation. A role worker
 * only waits on its own transfer; the multi thread does all the I/O.
 *
 * Every store of every role is opened (parsed, nothing contacted) before
 * the first role starts, and credentials taken from the environment are
 * taken then, in the calling thread.
 */
#ifndef MD_ROTATE_BATCH_H
#define MD_ROTATE_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "net/http.h"
#include "deliver/rotate.h"
#include "deliver/rotconf.h"
#include "store/store.h"

#define MD_ROTB_PARALLEL_DEFAULT 8
#define MD_ROTB_PARALLEL_MAX 256

typedef struct {
	const md_rotconf *conf;
	const md_http_opts *api;   /* the API client's options (base URL, admin token, ...) */
	const md_store_opts *stores; /* the stores' timeout and retries (multi: the batch's) */
	const char *state_dir;
	bool force;
	int parallel;              /* 1..MD_ROTB_PARALLEL_MAX */
	/* Called once per role as it finishes, from a worker thread, one call
	 * at a time (the batch serialises them). e carries the role's error
	 * (code MD_OK when it did not fail). */
	void (*on_done)(void *ud, const md_rotconf_role *role, const md_rot_result *res,
			const md_error *e);
	void *ud;
} md_rotb_req;

typedef struct {
	size_t total, rotated, fresh, skipped, failed;
	int exit_code; /* 0; or the failed roles' shared code; else MD_EFAIL */
} md_rotb_summary;

/* Opens every store, then runs every role. A store URI that does not open
 * is MD_EUSAGE (or its own code) before any role starts; otherwise MD_OK
 * and the summary says how the roles ended. */
int md_rotb_run(const md_rotb_req *rq, md_rotb_summary *sum, md_error *err);

#endif
