/* cleanup.h - scope-bound ownership for the plain owned things: heap memory
 * and file descriptors.
 *
 * Owns: the `_cleanup_X_` attributes (GCC and Clang's cleanup attribute,
 * as systemd uses it) for memory from malloc and for descriptors, so every
 * early return frees and closes what it must. Every owned type of lib/ has
 * its own next to its free function: _cleanup_secret_ (secret.h),
 * _cleanup_json_ (json.h), _cleanup_http_ and _cleanup_resp_ (net/http.h),
 * _cleanup_store_ and _cleanup_store_value_ (store/store.h),
 * _cleanup_token_ (motherduck/api.h).
 */
#ifndef MD_CLEANUP_H
#define MD_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

static inline void md_freep(void *p)
{
	free(*(void **)p);
	*(void **)p = NULL;
}

static inline void md_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

#define _cleanup_free_ __attribute__((cleanup(md_freep)))
/* Initialise to -1 (or a descriptor): -1 is never closed. */
#define _cleanup_fd_ __attribute__((cleanup(md_closep)))

#endif
