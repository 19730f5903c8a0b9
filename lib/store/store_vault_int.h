/* store_vault_int.h - the interface between store_vault.c (KV v2) and
 * store_vault_auth.c (where the Vault client token comes from). Internal. */
#ifndef MD_STORE_VAULT_INT_H
#define MD_STORE_VAULT_INT_H

#include "base/error.h"
#include "net/http.h"
#include "base/secret.h"

typedef struct md_vault_auth md_vault_auth;
/* Finds the credentials (VAULT_TOKEN, ~/.vault-token, AppRole, Kubernetes);
 * nothing is sent. MD_EUSAGE naming the variables when there are none. */
int md_vault_auth_new(md_vault_auth **out, md_error *err);
void md_vault_auth_free(md_vault_auth *a);
/* The client token, logging in first (through a client made from o) if the
 * credentials are a login's. */
int md_vault_auth_token(md_vault_auth *a, const md_http_opts *o, const md_secret **tok,
			md_error *err);
/* "VAULT_TOKEN", "~/.vault-token", "AppRole login", "Kubernetes login". */
const char *md_vault_auth_source(const md_vault_auth *a);
/* A non-2xx answer as one error line (defined in store_vault.c). */
int md_vault_error(const md_http_resp *r, const char *what, md_error *err);

#endif
