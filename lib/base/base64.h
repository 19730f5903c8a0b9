/* base64.h - the one base64 codec (RFC 4648, standard alphabet).
 *
 * Owns: encoding into and decoding from secret memory (what is encoded is
 * usually a token: a Kubernetes Secret's data), every intermediate byte
 * wiped. Padded output for Kubernetes, unpadded for go-plugin's
 * certificates; decoding is strict (padded, standard alphabet, as an API
 * server writes it).
 */
#ifndef MD_BASE64_H
#define MD_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "base/secret.h"

/* Replaces out's content with base64 of data[0..n), '='-padded if pad.
 * 0, or -1 out of memory. */
int md_b64_encode(md_secret *out, const void *data, size_t n, bool pad);
/* Replaces out's content with the decoding of s[0..n); -1 when s is not
 * padded standard base64 (or out of memory). */
int md_b64_decode(md_secret *out, const char *s, size_t n);

#endif
