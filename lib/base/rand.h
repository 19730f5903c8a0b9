/* rand.h - randomness for names, temporary files and retry jitter.
 *
 * Owns: md_rand_bytes(), straight from the kernel (getrandom), so that no
 * crypto library has to be loaded to pick a name.
 */
#ifndef MD_RAND_H
#define MD_RAND_H

#include <stddef.h>

/* 0 on success, -1 if the kernel gave no randomness. */
int md_rand_bytes(void *buf, size_t n);

#endif
