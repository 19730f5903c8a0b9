/* mtls.c - see mtls.h.
 *
 * The identity mirrors go-plugin's generateCert(): a self-signed ECDSA
 * P-521 certificate that is its own CA. Peer verification is pinned: the
 * trust store holds only the peer's certificate and, on top of the chain
 * check, the leaf the peer presents must be byte-identical to it (go-plugin
 * hosts present exactly the certificate they put in PLUGIN_CLIENT_CERT).
 */
#include "vault/mtls.h"
#include "base/base64.h"
#include "base/rand.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* go-plugin: notBefore = now - 30 s, notAfter = notBefore + 262980 h. */
#define MTLS_BACKDATE_SECS 30L
#define MTLS_LIFETIME_SECS (262980L * 3600L)

struct md_mtls_identity {
	EVP_PKEY *key;
	X509 *cert;
	unsigned char *der;
	size_t der_len;
	char *b64; /* RawStdEncoding of der */
	char *pem;
};

static const unsigned char alpn_h2[] = {2, 'h', '2'};

/* ---- helpers ---- */

/* The most recent OpenSSL error, as text (for a one-line message). */
static const char *ossl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		return "no detail";
	ERR_error_string_n(e, buf, n);
	return buf;
}

static int ossl_fail(md_error *err, const char *what)
{
	char buf[256];
	md_err_set(err, MD_EFAIL, "mtls: %s: %s", what, ossl_reason(buf, sizeof buf));
	ERR_clear_error();
	return MD_EFAIL;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* Random serial of 128 bits (as Go's rand.Int(rand.Reader, 2^128)), never 0. */
static int set_random_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int rc = -1;
	do {
		if (md_rand_bytes(raw, sizeof raw) != 0)
			return -1;
		BN_free(bn);
		bn = BN_bin2bn(raw, (int)sizeof raw, NULL);
		if (bn == NULL)
			return -1;
	} while (BN_is_zero(bn));
	ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
	if (serial != NULL && X509_set_serialNumber(x, serial) == 1)
		rc = 0;
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}

static int set_name(X509 *x)
{
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				       (const unsigned char *)"HashiCorp", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)"localhost", -1, -1, 0) != 1)
		return -1;
	return X509_set_issuer_name(x, name) == 1 ? 0 : -1;
}

static int set_validity(X509 *x)
{
	time_t now = time(NULL);
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -MTLS_BACKDATE_SECS, &now) == NULL)
		return -1;
	long secs = MTLS_LIFETIME_SECS - MTLS_BACKDATE_SECS;
	if (X509_time_adj_ex(X509_getm_notAfter(x), (int)(secs / 86400), secs % 86400, &now) ==
	    NULL)
		return -1;
	return 0;
}

static int set_extensions(X509 *x)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    add_ext(x, &v3, NID_key_usage,
		    "critical,digitalSignature,keyEncipherment,keyAgreement,keyCertSign") != 0 ||
	    add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
	    add_ext(x, &v3, NID_subject_alt_name, "DNS:localhost") != 0 ||
	    add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0)
		return -1;
	return 0;
}

/* base64 without padding (Go's base64.RawStdEncoding), as a plain
 * string: a certificate is public. */
static char *b64_raw(const unsigned char *p, size_t n)
{
	_cleanup_secret_ md_secret *b = md_secret_new(4 * ((n + 2) / 3));
	if (!b || md_b64_encode(b, p, n, false) < 0)
		return NULL;
	return strdup(md_secret_str(b));
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (b != NULL && PEM_write_bio_X509(b, x) == 1) {
		char *data = NULL;
		long n = BIO_get_mem_data(b, &data);
		if (n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* ---- identity ---- */

int md_mtls_identity_new(md_mtls_identity **out, md_error *err)
{
	*out = NULL;
	md_mtls_identity *id = calloc(1, sizeof *id);
	if (id == NULL)
		return md_err_set(err, MD_EFAIL, "mtls: out of memory");

	id->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	if (id->key == NULL) {
		md_mtls_identity_free(id);
		return ossl_fail(err, "generating the P-521 key");
	}
	id->cert = X509_new();
	if (id->cert == NULL || X509_set_version(id->cert, 2) != 1 ||
	    set_random_serial(id->cert) != 0 || set_name(id->cert) != 0 ||
	    set_validity(id->cert) != 0 || X509_set_pubkey(id->cert, id->key) != 1 ||
	    set_extensions(id->cert) != 0) {
		md_mtls_identity_free(id);
		return ossl_fail(err, "building the certificate");
	}
	if (X509_sign(id->cert, id->key, EVP_sha512()) <= 0) {
		md_mtls_identity_free(id);
		return ossl_fail(err, "signing the certificate");
	}
	int n = i2d_X509(id->cert, &id->der);
	if (n <= 0) {
		md_mtls_identity_free(id);
		return ossl_fail(err, "encoding the certificate");
	}
	id->der_len = (size_t)n;
	id->b64 = b64_raw(id->der, id->der_len);
	id->pem = cert_pem(id->cert);
	if (id->b64 == NULL || id->pem == NULL) {
		md_mtls_identity_free(id);
		return ossl_fail(err, "encoding the certificate");
	}
	*out = id;
	return MD_OK;
}

void md_mtls_identity_free(md_mtls_identity *id)
{
	if (id == NULL)
		return;
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	OPENSSL_free(id->der);
	free(id->b64);
	free(id->pem);
	free(id);
}

const char *md_mtls_identity_cert_b64(const md_mtls_identity *id)
{
	return id->b64;
}

const char *md_mtls_identity_cert_pem(const md_mtls_identity *id)
{
	return id->pem;
}

/* ---- TLS contexts ---- */

/* The pinned peer certificate hangs off the SSL_CTX as ex_data, so it is
 * freed with the context. */
static int pin_idx = -1;
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	X509_free(ptr);
}

static void pin_init(void)
{
	pin_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
}

static int same_der(X509 *a, X509 *b)
{
	unsigned char *da = NULL, *db = NULL;
	int na = i2d_X509(a, &da), nb = i2d_X509(b, &db);
	int same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

/* Replaces OpenSSL's chain verification: the usual check against the store
 * (which holds only the pinned certificate), then the leaf must be it. */
static int verify_pinned(X509_STORE_CTX *xs, void *arg)
{
	X509 *pin = arg;
	if (X509_verify_cert(xs) != 1)
		return 0;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	if (leaf == NULL || pin == NULL || !same_der(leaf, pin)) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	return 1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	unsigned int i = 0;
	while (i < inlen) {
		unsigned int n = in[i];
		if (n == 0 || i + 1 + n > inlen)
			break;
		if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int md_mtls_alpn_is_h2(const SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return p != NULL && n == 2 && memcmp(p, "h2", 2) == 0;
}

static X509 *parse_peer(const char *pem, md_error *err)
{
	if (pem == NULL || pem[0] == '\0') {
		md_err_set(err, MD_EUSAGE, "mtls: the peer certificate (PLUGIN_CLIENT_CERT) is empty");
		return NULL;
	}
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (x == NULL) {
		ERR_clear_error();
		md_err_set(err, MD_EUSAGE,
			   "mtls: the peer certificate (PLUGIN_CLIENT_CERT) is not a PEM certificate");
	}
	return x;
}

/* What both sides share: version floor, own identity, pinned trust. */
static int ctx_common(SSL_CTX *ctx, const md_mtls_identity *id, const char *peer_pem,
		      md_error *err)
{
	if (pthread_once(&pin_once, pin_init) != 0 || pin_idx < 0)
		return md_err_set(err, MD_EFAIL, "mtls: no ex_data index");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return ossl_fail(err, "setting TLS 1.2 as the minimum");
	if (SSL_CTX_use_certificate(ctx, id->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, id->key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		return ossl_fail(err, "loading the identity");

	X509 *peer = parse_peer(peer_pem, err);
	if (peer == NULL)
		return err != NULL ? (int)err->code : MD_EUSAGE;
	X509_STORE *store = X509_STORE_new();
	if (store == NULL || X509_STORE_add_cert(store, peer) != 1) {
		X509_STORE_free(store);
		X509_free(peer);
		return ossl_fail(err, "building the trust store");
	}
	SSL_CTX_set_cert_store(ctx, store); /* ctx owns it now */
	if (SSL_CTX_set_ex_data(ctx, pin_idx, peer) != 1) {
		X509_free(peer);
		return ossl_fail(err, "pinning the peer certificate");
	}
	SSL_CTX_set_cert_verify_callback(ctx, verify_pinned, peer);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	return MD_OK;
}

int md_mtls_server_ctx(const md_mtls_identity *id, const char *peer_pem, SSL_CTX **out,
		       md_error *err)
{
	*out = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return ossl_fail(err, "creating the server context");
	int rc = ctx_common(ctx, id, peer_pem, err);
	if (rc != MD_OK) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	*out = ctx;
	return MD_OK;
}

int md_mtls_client_ctx(const md_mtls_identity *id, const char *peer_pem, SSL_CTX **out,
		       md_error *err)
{
	*out = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return ossl_fail(err, "creating the client context");
	int rc = ctx_common(ctx, id, peer_pem, err);
	if (rc != MD_OK) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Default name check; md_grpc_client_dial sets it per connection too. */
	if (X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), "localhost", 0) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof alpn_h2) != 0) {
		SSL_CTX_free(ctx);
		return ossl_fail(err, "configuring the client context");
	}
	*out = ctx;
	return MD_OK;
}
