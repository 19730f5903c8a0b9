/* test_mtls.c - unit tests for lib/mtls.[ch]: the AutoMTLS identity
 * certificate (fields as go-plugin makes them) and the server and client TLS
 * contexts (pinned peer, ALPN h2), driven over a socketpair. */
#include <check.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "vault/mtls.h"

/* ---- helpers ---- */

static md_mtls_identity *new_id(void)
{
	md_mtls_identity *id = NULL;
	md_error err = {0};
	int rc = md_mtls_identity_new(&id, &err);
	ck_assert_msg(rc == MD_OK, "identity: %s", err.msg);
	ck_assert_ptr_nonnull(id);
	return id;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	ck_assert_ptr_nonnull(b);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert_ptr_nonnull(x);
	return x;
}

static X509 *id_cert(const md_mtls_identity *id)
{
	const char *pem = md_mtls_identity_cert_pem(id);
	ck_assert_ptr_nonnull(pem);
	return pem_cert(pem);
}

static SSL_CTX *server_ctx(const md_mtls_identity *id, const char *peer_pem)
{
	SSL_CTX *ctx = NULL;
	md_error err = {0};
	int rc = md_mtls_server_ctx(id, peer_pem, &ctx, &err);
	ck_assert_msg(rc == MD_OK, "server ctx: %s", err.msg);
	return ctx;
}

static SSL_CTX *client_ctx(const md_mtls_identity *id, const char *peer_pem)
{
	SSL_CTX *ctx = NULL;
	md_error err = {0};
	int rc = md_mtls_client_ctx(id, peer_pem, &ctx, &err);
	ck_assert_msg(rc == MD_OK, "client ctx: %s", err.msg);
	return ctx;
}

/* One handshake over a socketpair: the server side on a thread, the client
 * on the caller's. Each side, once through, exchanges one byte so that a
 * TLS 1.3 client learns of a server-side rejection of its certificate. */
struct hs_opts {
	const unsigned char *alpn; /* client ALPN list override */
	unsigned alpn_len;
	int no_alpn;               /* client sends no ALPN extension */
	const char *host;          /* client name check override */
	int max_version;           /* client max TLS version override */
};

struct hs_result {
	int server_ok, client_ok;
	int server_h2, client_h2;
	long server_verify, client_verify;
	unsigned long client_err; /* last OpenSSL error on the client side */
};

struct server_arg {
	SSL_CTX *ctx;
	int fd;
	struct hs_result *res;
};

static void *server_side(void *p)
{
	struct server_arg *a = p;
	SSL *ssl = SSL_new(a->ctx);
	SSL_set_fd(ssl, a->fd);
	if (SSL_accept(ssl) == 1) {
		a->res->server_h2 = md_mtls_alpn_is_h2(ssl);
		char c = 0;
		if (SSL_write(ssl, "s", 1) == 1 && SSL_read(ssl, &c, 1) == 1 && c == 'c')
			a->res->server_ok = 1;
	}
	a->res->server_verify = SSL_get_verify_result(ssl);
	SSL_free(ssl);
	shutdown(a->fd, SHUT_RDWR);
	close(a->fd);
	ERR_clear_error();
	return NULL;
}

static struct hs_result handshake(SSL_CTX *sctx, SSL_CTX *cctx, const struct hs_opts *o)
{
	struct hs_result res = {0};
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct server_arg a = {sctx, sv[0], &res};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, server_side, &a), 0);

	SSL *ssl = SSL_new(cctx);
	ck_assert_ptr_nonnull(ssl);
	SSL_set_fd(ssl, sv[1]);
	const char *host = o && o->host ? o->host : "localhost";
	SSL_set_tlsext_host_name(ssl, host);
	ck_assert_int_eq(SSL_set1_host(ssl, host), 1);
	if (o && o->alpn)
		ck_assert_int_eq(SSL_set_alpn_protos(ssl, o->alpn, o->alpn_len), 0);
	if (o && o->no_alpn)
		ck_assert_int_eq(SSL_set_alpn_protos(ssl, NULL, 0), 0);
	if (o && o->max_version)
		SSL_set_max_proto_version(ssl, o->max_version);
	if (SSL_connect(ssl) == 1) {
		res.client_h2 = md_mtls_alpn_is_h2(ssl);
		char c = 0;
		if (SSL_read(ssl, &c, 1) == 1 && c == 's' && SSL_write(ssl, "c", 1) == 1)
			res.client_ok = 1;
	}
	res.client_verify = SSL_get_verify_result(ssl);
	res.client_err = ERR_peek_last_error();
	SSL_free(ssl);
	shutdown(sv[1], SHUT_RDWR);
	close(sv[1]);
	ERR_clear_error();
	pthread_join(th, NULL);
	return res;
}

/* ---- identity certificate ---- */

START_TEST(identity_key_is_p521)
{
	md_mtls_identity *id = new_id();
	X509 *x = id_cert(id);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	ck_assert_ptr_nonnull(pk);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
	char group[64] = "";
	ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
							sizeof group, NULL),
			 1);
	ck_assert_str_eq(group, "secp521r1");
	ck_assert_int_eq(EVP_PKEY_get_bits(pk), 521);
	/* Self-signed: its own key verifies it; ECDSA with SHA-512 as Go does. */
	ck_assert_int_eq(X509_verify(x, pk), 1);
	ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA512);
	ck_assert_int_eq(X509_get_version(x), 2); /* v3 */
	X509_free(x);
	md_mtls_identity_free(id);
}
END_TEST

START_TEST(identity_names)
{
	md_mtls_identity *id = new_id();
	X509 *x = id_cert(id);
	char buf[128];
	X509_NAME *subj = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_entry_count(subj), 2);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(subj, NID_commonName, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "localhost");
	ck_assert_int_gt(X509_NAME_get_text_by_NID(subj, NID_organizationName, buf, sizeof buf),
			 0);
	ck_assert_str_eq(buf, "HashiCorp");
	ck_assert_int_eq(X509_NAME_cmp(subj, X509_get_issuer_name(x)), 0);

	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(san);
	ck_assert_int_eq(sk_GENERAL_NAME_num(san), 1);
	GENERAL_NAME *g = sk_GENERAL_NAME_value(san, 0);
	ck_assert_int_eq(g->type, GEN_DNS);
	ck_assert_int_eq(ASN1_STRING_length(g->d.dNSName), 9);
	ck_assert_mem_eq(ASN1_STRING_get0_data(g->d.dNSName), "localhost", 9);
	GENERAL_NAMES_free(san);
	ck_assert_int_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	X509_free(x);
	md_mtls_identity_free(id);
}
END_TEST

static int ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	ck_assert_int_ge(i, 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

START_TEST(identity_usages)
{
	md_mtls_identity *id = new_id();
	X509 *x = id_cert(id);
	/* Basic constraints: CA true, critical, no path length. */
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	ck_assert_ptr_nonnull(bc);
	ck_assert_int_ne(bc->ca, 0);
	ck_assert_ptr_null(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);
	ck_assert_int_eq(ext_critical(x, NID_basic_constraints), 1);
	ck_assert_int_ne(X509_get_extension_flags(x) & EXFLAG_CA, 0);
	ck_assert_int_eq(X509_check_ca(x), 1);

	ck_assert_uint_eq(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT |
							 KU_KEY_AGREEMENT | KU_KEY_CERT_SIGN);
	ck_assert_int_eq(ext_critical(x, NID_key_usage), 1);
	ck_assert_int_eq(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	ck_assert_int_eq(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);
	X509_free(x);
	md_mtls_identity_free(id);
}
END_TEST

static BIGNUM *serial_of(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	ck_assert_ptr_nonnull(bn);
	ck_assert_int_eq(BN_is_negative(bn), 0);
	return bn;
}

START_TEST(identity_serial_random_128_bits)
{
	md_mtls_identity *a = new_id(), *b = new_id();
	X509 *xa = id_cert(a), *xb = id_cert(b);
	BIGNUM *sa = serial_of(xa), *sb = serial_of(xb);
	/* 128 random bits: at most 128, and below 96 with odds of 2^-32. */
	ck_assert_int_le(BN_num_bits(sa), 128);
	ck_assert_int_ge(BN_num_bits(sa), 96);
	ck_assert_int_le(BN_num_bits(sb), 128);
	ck_assert_int_ge(BN_num_bits(sb), 96);
	ck_assert_int_ne(BN_cmp(sa, sb), 0);
	/* Different keys too: each identity is fresh. */
	ck_assert_int_ne(EVP_PKEY_eq(X509_get0_pubkey(xa), X509_get0_pubkey(xb)), 1);
	ck_assert_str_ne(md_mtls_identity_cert_b64(a), md_mtls_identity_cert_b64(b));
	BN_free(sa);
	BN_free(sb);
	X509_free(xa);
	X509_free(xb);
	md_mtls_identity_free(a);
	md_mtls_identity_free(b);
}
END_TEST

START_TEST(identity_validity)
{
	md_mtls_identity *id = new_id();
	X509 *x = id_cert(id);
	time_t now = time(NULL);
	ASN1_TIME *t_now = ASN1_TIME_set(NULL, now);
	int days = 0, secs = 0;
	/* now - notBefore: about 30 s (>= 25 s, and not absurdly more). */
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), t_now), 1);
	long back = (long)days * 86400 + secs;
	ck_assert_int_ge(back, 25);
	ck_assert_int_le(back, 90);
	/* notAfter - notBefore: 262980 h (go-plugin), i.e. ~30 years. */
	ck_assert_int_eq(
		ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	long life = (long)days * 86400 + secs;
	ck_assert_int_ge(life, 262980L * 3600 - 120);
	ck_assert_int_le(life, 262980L * 3600 + 120);
	ck_assert_int_ge(days / 365, 29);
	ck_assert_int_le(days / 365, 30);
	ck_assert_int_lt(X509_cmp_time(X509_get0_notBefore(x), &now), 0);
	ck_assert_int_gt(X509_cmp_time(X509_get0_notAfter(x), &now), 0);
	ASN1_TIME_free(t_now);
	X509_free(x);
	md_mtls_identity_free(id);
}
END_TEST

START_TEST(identity_b64_is_raw_der)
{
	md_mtls_identity *id = new_id();
	const char *b64 = md_mtls_identity_cert_b64(id);
	ck_assert_ptr_nonnull(b64);
	ck_assert_ptr_null(strchr(b64, '='));
	ck_assert_ptr_null(strchr(b64, '\n'));
	size_t n = strlen(b64);
	ck_assert_uint_ne(n % 4, 1); /* a raw length that can exist */
	size_t pad = (4 - n % 4) % 4;
	char *padded = malloc(n + pad + 1);
	memcpy(padded, b64, n);
	memset(padded + n, '=', pad);
	padded[n + pad] = '\0';
	unsigned char *der = malloc(n + pad);
	int got = EVP_DecodeBlock(der, (unsigned char *)padded, (int)(n + pad));
	ck_assert_int_gt(got, 0);
	got -= (int)pad; /* DecodeBlock counts the padding as zero bytes */

	X509 *x = id_cert(id);
	unsigned char *want = NULL;
	int wn = i2d_X509(x, &want);
	ck_assert_int_eq(got, wn);
	ck_assert_mem_eq(der, want, (size_t)wn);
	/* And it parses on its own. */
	const unsigned char *p = der;
	X509 *y = d2i_X509(NULL, &p, got);
	ck_assert_ptr_nonnull(y);
	ck_assert_int_eq(X509_cmp(x, y), 0);
	X509_free(y);
	OPENSSL_free(want);
	X509_free(x);
	free(der);
	free(padded);
	md_mtls_identity_free(id);
}
END_TEST

/* ---- contexts ---- */

START_TEST(ctx_rejects_bad_peer_pem)
{
	md_mtls_identity *id = new_id();
	SSL_CTX *ctx = NULL;
	md_error err = {0};
	ck_assert_int_eq(md_mtls_server_ctx(id, "not a certificate", &ctx, &err), MD_EUSAGE);
	ck_assert_ptr_null(ctx);
	ck_assert_str_ne(err.msg, "");
	ck_assert_int_eq(md_mtls_client_ctx(id, "", &ctx, &err), MD_EUSAGE);
	ck_assert_ptr_null(ctx);
	md_mtls_identity_free(id);
}
END_TEST

START_TEST(handshake_ok_with_h2)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	struct hs_result r = handshake(sctx, cctx, NULL);
	ck_assert_int_eq(r.server_ok, 1);
	ck_assert_int_eq(r.client_ok, 1);
	ck_assert_int_eq(r.server_h2, 1);
	ck_assert_int_eq(r.client_h2, 1);
	ck_assert_int_eq(r.server_verify, X509_V_OK);
	ck_assert_int_eq(r.client_verify, X509_V_OK);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

START_TEST(handshake_fails_other_client_cert)
{
	md_mtls_identity *s = new_id(), *c = new_id(), *other = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	/* The client trusts the server, but presents a different identity. */
	SSL_CTX *cctx = client_ctx(other, md_mtls_identity_cert_pem(s));
	struct hs_result r = handshake(sctx, cctx, NULL);
	ck_assert_int_eq(r.server_ok, 0);
	ck_assert_int_eq(r.client_ok, 0);
	ck_assert_int_ne(r.server_verify, X509_V_OK);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
	md_mtls_identity_free(other);
}
END_TEST

START_TEST(handshake_fails_without_client_cert)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	X509 *sx = id_cert(s);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), sx);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(cctx, (const unsigned char *)"\x02h2", 3);
	struct hs_result r = handshake(sctx, cctx, NULL);
	ck_assert_int_eq(r.server_ok, 0);
	ck_assert_int_eq(r.client_ok, 0);
	X509_free(sx);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

/* A leaf signed by the pinned certificate's own key chains to the trusted
 * certificate, yet is not the pinned one: refused. */
START_TEST(handshake_fails_leaf_signed_by_pinned)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *c_ctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	EVP_PKEY *ca_key = SSL_CTX_get0_privatekey(c_ctx);
	X509 *ca = SSL_CTX_get0_certificate(c_ctx);

	EVP_PKEY *leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(leaf_key);
	X509 *leaf = X509_new();
	X509_set_version(leaf, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(leaf), 4242);
	X509_gmtime_adj(X509_getm_notBefore(leaf), -60);
	X509_gmtime_adj(X509_getm_notAfter(leaf), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(leaf, X509_get_subject_name(ca));
	X509_set_pubkey(leaf, leaf_key);
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, ca, leaf, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth");
	X509_add_ext(leaf, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(leaf, ca_key, EVP_sha256()), 0);

	/* Sanity: it does chain to the pinned certificate. */
	X509_STORE *st = X509_STORE_new();
	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	X509_STORE_CTX_init(xs, st, leaf, NULL);
	ck_assert_int_eq(X509_verify_cert(xs), 1);
	X509_STORE_CTX_free(xs);
	X509_STORE_free(st);

	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	ck_assert_int_eq(SSL_CTX_use_certificate(cctx, leaf), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(cctx, leaf_key), 1);
	X509 *sx = id_cert(s);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), sx);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(cctx, (const unsigned char *)"\x02h2", 3);

	struct hs_result r = handshake(sctx, cctx, NULL);
	ck_assert_int_eq(r.server_ok, 0);
	ck_assert_int_eq(r.client_ok, 0);
	ck_assert_int_eq(r.server_verify, X509_V_ERR_CERT_REJECTED);

	X509_free(sx);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	SSL_CTX_free(cctx);
	SSL_CTX_free(c_ctx);
	SSL_CTX_free(sctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

START_TEST(handshake_fails_client_trusts_other)
{
	md_mtls_identity *s = new_id(), *c = new_id(), *other = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(other));
	struct hs_result r = handshake(sctx, cctx, NULL);
	ck_assert_int_eq(r.client_ok, 0);
	ck_assert_int_eq(r.server_ok, 0);
	ck_assert_int_ne(r.client_verify, X509_V_OK);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
	md_mtls_identity_free(other);
}
END_TEST

START_TEST(handshake_fails_wrong_name)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	struct hs_opts o = {.host = "example.com"};
	struct hs_result r = handshake(sctx, cctx, &o);
	ck_assert_int_eq(r.client_ok, 0);
	ck_assert_int_eq(r.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

START_TEST(server_refuses_alpn_without_h2)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	static const unsigned char http11[] = "\x08http/1.1\x02h3";
	struct hs_opts o = {.alpn = http11, .alpn_len = sizeof http11 - 1};
	struct hs_result r = handshake(sctx, cctx, &o);
	ck_assert_int_eq(r.server_ok, 0);
	ck_assert_int_eq(r.client_ok, 0);
	ck_assert_int_eq(ERR_GET_REASON(r.client_err), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

START_TEST(server_selects_h2_among_others)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	static const unsigned char list[] = "\x08http/1.1\x02h2";
	struct hs_opts o = {.alpn = list, .alpn_len = sizeof list - 1};
	struct hs_result r = handshake(sctx, cctx, &o);
	ck_assert_int_eq(r.server_ok, 1);
	ck_assert_int_eq(r.server_h2, 1);
	ck_assert_int_eq(r.client_h2, 1);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

/* No ALPN extension at all: the callback never runs, so the handshake
 * passes; md_mtls_alpn_is_h2 is how the server notices. */
START_TEST(no_alpn_detected_after_handshake)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	struct hs_opts o = {.no_alpn = 1};
	struct hs_result r = handshake(sctx, cctx, &o);
	ck_assert_int_eq(r.server_h2, 0);
	ck_assert_int_eq(r.client_h2, 0);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

START_TEST(server_refuses_tls11)
{
	md_mtls_identity *s = new_id(), *c = new_id();
	SSL_CTX *sctx = server_ctx(s, md_mtls_identity_cert_pem(c));
	SSL_CTX *cctx = client_ctx(c, md_mtls_identity_cert_pem(s));
	SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
	SSL_CTX_set_security_level(cctx, 0);
	struct hs_opts o = {.max_version = TLS1_1_VERSION};
	struct hs_result r = handshake(sctx, cctx, &o);
	ck_assert_int_eq(r.server_ok, 0);
	ck_assert_int_eq(r.client_ok, 0);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	md_mtls_identity_free(s);
	md_mtls_identity_free(c);
}
END_TEST

static Suite *mtls_suite(void)
{
	Suite *s = suite_create("mtls");
	TCase *tc = tcase_create("identity");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, identity_key_is_p521);
	tcase_add_test(tc, identity_names);
	tcase_add_test(tc, identity_usages);
	tcase_add_test(tc, identity_serial_random_128_bits);
	tcase_add_test(tc, identity_validity);
	tcase_add_test(tc, identity_b64_is_raw_der);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, ctx_rejects_bad_peer_pem);
	tcase_add_test(tc, handshake_ok_with_h2);
	tcase_add_test(tc, handshake_fails_other_client_cert);
	tcase_add_test(tc, handshake_fails_without_client_cert);
	tcase_add_test(tc, handshake_fails_leaf_signed_by_pinned);
	tcase_add_test(tc, handshake_fails_client_trusts_other);
	tcase_add_test(tc, handshake_fails_wrong_name);
	tcase_add_test(tc, server_refuses_alpn_without_h2);
	tcase_add_test(tc, server_selects_h2_among_others);
	tcase_add_test(tc, no_alpn_detected_after_handshake);
	tcase_add_test(tc, server_refuses_tls11);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mtls_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
