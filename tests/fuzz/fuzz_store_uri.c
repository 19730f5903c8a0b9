/* fuzz_store_uri.c - libFuzzer target for the store URI parser: lib/net/uri.c
 * (libcurl's URL API plus the empty-authority rule) and every store's
 * checks of the parts (md_store_open: file://, vault://, k8s://), then
 * the store's identity and description. Nothing is contacted: opening a
 * store only parses and validates.
 *
 * Properties checked besides memory safety: a parsed URI's parts hold no
 * control character, its path is empty or starts with '/', and an opened
 * store's description is the input itself (or its first 511 bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "net/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	md_uri u;
	md_error err = {0};
	if (md_uri_parse(text, &u, &err) == MD_OK) {
		const char *parts[] = {u.scheme, u.host, u.port, u.path, u.query};
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
			for (const char *p = parts[i]; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					abort();
		if (u.path[0] && u.path[0] != '/' && strcmp(u.scheme, "file") != 0)
			abort();
	}
	md_store *st = NULL;
	if (md_store_open(text, NULL, &st, &err) == MD_OK) {
		/* The description is the URI as given (cut at 511 bytes). */
		const char *d = md_store_describe(st);
		if (strncmp(d, text, strlen(d)) != 0 || !md_store_identity(st)[0])
			abort();
		md_store_free(st);
	}
	free(text);
	return 0;
}
