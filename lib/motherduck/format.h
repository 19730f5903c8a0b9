/* format.h - how a minted token is written out, and read back.
 *
 * Owns: the output formats of `token create` (token, env, dotenv, json), the
 * env-variable quoting, and md_fmt_read_token(), which takes a token back out
 * of any of those formats (for `exec --from`). Output goes to an md_secret.
 */
#ifndef MD_FORMAT_H
#define MD_FORMAT_H

#include "motherduck/api.h"
#include "base/error.h"
#include "base/secret.h"

typedef enum { MD_FMT_TOKEN, MD_FMT_ENV, MD_FMT_DOTENV, MD_FMT_JSON } md_fmt;

int md_fmt_parse(const char *s, md_fmt *out, md_error *err);
/* Appends the token in format f; var is the variable name for env/dotenv
 * (NULL: MOTHERDUCK_TOKEN). */
int md_fmt_token(md_secret *out, md_fmt f, const md_token *t, const char *username,
		 const char *var);
/* Extracts the token from content in any md_fmt (detected); meta (may be
 * NULL) gets what the format records. The result is watched. */
int md_fmt_read_token(const md_secret *content, md_secret *token, md_token_meta *meta,
		      md_error *err);
/* Token metadata as a JSON object (no secret). */
void md_fmt_meta_json(md_jw *w, const md_token_meta *m);

#endif
