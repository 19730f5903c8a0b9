/* error.c - see error.h. */
#include "base/error.h"
#include "base/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


int md_err_set(md_error *err, md_code code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->cause = MD_CAUSE_NONE; /* a new error: its setter names a cause */
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

void md_err_prefix(md_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	char pre[MD_ERR_MSG_MAX], old[MD_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	md_secret_format_line(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	size_t pl = strnlen(pre, sizeof pre - 1);
	if (pl > sizeof err->msg - 3)
		pl = sizeof err->msg - 3;
	memcpy(err->msg, pre, pl);
	memcpy(err->msg + pl, ": ", 2);
	size_t room = sizeof err->msg - pl - 3;
	size_t ol = strnlen(old, room);
	memcpy(err->msg + pl + 2, old, ol);
	err->msg[pl + 2 + ol] = '\0';
}

void md_err_clear(md_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

int md_err_exit_code(const md_error *err)
{
	if (!err)
		return MD_EFAIL;
	switch (err->code) {
	case MD_OK: case MD_EFAIL: case MD_EUSAGE: case MD_EAUTH:
	case MD_ENOTFOUND: case MD_ECONFLICT: case MD_ETRANSIENT: case MD_ESTORE:
	case MD_EPARTIAL: case MD_ESTUCK:
		return (int)err->code;
	}
	return MD_EFAIL;
}

const char *md_err_code_name(md_code code)
{
	switch (code) {
	case MD_OK: return "ok";
	case MD_EFAIL: return "error";
	case MD_EUSAGE: return "usage";
	case MD_EAUTH: return "auth";
	case MD_ENOTFOUND: return "not_found";
	case MD_ECONFLICT: return "conflict";
	case MD_ETRANSIENT: return "transient";
	case MD_ESTORE: return "store";
	case MD_EPARTIAL: return "partial";
	case MD_ESTUCK: return "stuck";
	}
	return "error";
}
