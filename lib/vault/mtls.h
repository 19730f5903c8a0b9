/* mtls.h - go-plugin's AutoMTLS, as the plugin side does it.
 *
 * Owns: the plugin's identity (a fresh self-signed ECDSA P-521 certificate:
 * CN=localhost, O=HashiCorp, SAN DNS localhost, CA basic constraints, EKU
 * serverAuth+clientAuth, key usage digitalSignature|keyEncipherment|
 * keyAgreement|certSign, random 128-bit serial, valid from now-30s for about
 * 30 years), its DER as base64 without padding for the handshake line, and
 * the two TLS contexts: server (TLS >= 1.2, requires a client certificate
 * and accepts exactly the one in PLUGIN_CLIENT_CERT, selects ALPN h2 and
 * refuses peers without it) and client (presents the identity, trusts
 * exactly PLUGIN_CLIENT_CERT, offers ALPN h2, checks name "localhost").
 */
#ifndef MD_MTLS_H
#define MD_MTLS_H

#include <openssl/ssl.h>

#include "base/error.h"

typedef struct md_mtls_identity md_mtls_identity;

int md_mtls_identity_new(md_mtls_identity **out, md_error *err);
void md_mtls_identity_free(md_mtls_identity *id);
/* base64 (RawStdEncoding: no padding) of the certificate's DER. */
const char *md_mtls_identity_cert_b64(const md_mtls_identity *id);
/* PEM text of the certificate (public; for tests and diagnostics). */
const char *md_mtls_identity_cert_pem(const md_mtls_identity *id);

/* peer_pem: the host's certificate (PEM text of PLUGIN_CLIENT_CERT). */
int md_mtls_server_ctx(const md_mtls_identity *id, const char *peer_pem, SSL_CTX **out,
		       md_error *err);
int md_mtls_client_ctx(const md_mtls_identity *id, const char *peer_pem, SSL_CTX **out,
		       md_error *err);

/* True when the handshake on ssl negotiated ALPN "h2". A server must check
 * this after the handshake: a client that sends no ALPN extension at all
 * never reaches the ALPN callback (which refuses only clients offering
 * protocols without h2), so the handshake succeeds without ALPN. */
int md_mtls_alpn_is_h2(const SSL *ssl);

#endif
