/* ducklings.c - see ducklings.h. */
#include "motherduck/ducklings.h"
#include "base/log.h"
#include "base/validate.h"

#include <stdio.h>
#include <string.h>

static void dk_unset(md_duckling *d)
{
	memset(d, 0, sizeof *d);
	d->flock_size = d->cooldown_seconds = -1;
}

static int dk_size(const char *flag, const char *v, md_duckling *d, md_error *err)
{
	if (!v)
		return MD_OK;
	int rc = md_valid_instance_size(flag, v, err);
	if (!rc)
		snprintf(d->instance_size, sizeof d->instance_size, "%s", v);
	return rc;
}

int md_dk_parse(const md_dk_flags *f, md_dk_changes *c, md_error *err)
{
	dk_unset(&c->read_write);
	dk_unset(&c->read_scaling);
	if (!f->rw_size && !f->rw_cooldown && !f->rs_size && !f->rs_cooldown && !f->flock_size)
		return md_err_set(err, MD_EUSAGE, "ducklings set: nothing to change (give --rw-size, "
				  "--rw-cooldown, --rs-size, --flock-size or --rs-cooldown)");
	int rc = dk_size("--rw-size", f->rw_size, &c->read_write, err);
	if (!rc)
		rc = dk_size("--rs-size", f->rs_size, &c->read_scaling, err);
	if (!rc && f->flock_size)
		rc = md_valid_flock_size(f->flock_size, &c->read_scaling.flock_size, err);
	if (!rc && f->rw_cooldown)
		rc = md_valid_cooldown("--rw-cooldown", f->rw_cooldown,
				       &c->read_write.cooldown_seconds, err);
	if (!rc && f->rs_cooldown)
		rc = md_valid_cooldown("--rs-cooldown", f->rs_cooldown,
				       &c->read_scaling.cooldown_seconds, err);
	if (rc)
		return rc;
	if (strcmp(c->read_write.instance_size, "pulse") == 0 && c->read_write.cooldown_seconds >= 0)
		return md_err_set(err, MD_EUSAGE, "--rw-cooldown cannot be used with a pulse Duckling");
	if (strcmp(c->read_scaling.instance_size, "pulse") == 0 &&
	    c->read_scaling.cooldown_seconds >= 0)
		return md_err_set(err, MD_EUSAGE, "--rs-cooldown cannot be used with a pulse Duckling");
	return MD_OK;
}

static int dk_merge(const char *block, const char *flag, const md_duckling *cur,
		    const md_duckling *chg, md_duckling *out, md_error *err)
{
	*out = *cur;
	if (chg->instance_size[0])
		memcpy(out->instance_size, chg->instance_size, sizeof out->instance_size);
	if (chg->flock_size >= 0)
		out->flock_size = chg->flock_size;
	if (chg->cooldown_seconds >= 0)
		out->cooldown_seconds = chg->cooldown_seconds;
	if (strcmp(out->instance_size, "pulse") != 0 || out->cooldown_seconds < 0)
		return MD_OK;
	if (chg->cooldown_seconds >= 0)
		return md_err_set(err, MD_EUSAGE, "%s: the %s Duckling is pulse, which takes no "
				  "cooldown", flag, block);
	md_log_info("%s becomes pulse: dropping its cooldown_seconds (%lld)", block,
		    out->cooldown_seconds);
	out->cooldown_seconds = -1;
	return MD_OK;
}

int md_dk_apply(const md_ducklings *cur, const md_dk_changes *c, md_ducklings *out, md_error *err)
{
	int rc = dk_merge("read_write", "--rw-cooldown", &cur->read_write, &c->read_write,
			  &out->read_write, err);
	if (!rc)
		rc = dk_merge("read_scaling", "--rs-cooldown", &cur->read_scaling, &c->read_scaling,
			      &out->read_scaling, err);
	if (!rc && out->read_scaling.flock_size < 0)
		out->read_scaling.flock_size = 0; /* required by the API */
	out->read_write.flock_size = -1;
	return rc;
}

static int dk_line(md_secret *out, const char *label, const md_duckling *d)
{
	int rc = md_secret_appendf(out, "%-13s instance_size=%s", label,
				   d->instance_size[0] ? d->instance_size : "?");
	if (!rc && d->flock_size >= 0)
		rc = md_secret_appendf(out, " flock_size=%lld", d->flock_size);
	if (!rc && d->cooldown_seconds >= 0)
		rc = md_secret_appendf(out, " cooldown_seconds=%lld", d->cooldown_seconds);
	return rc ? rc : md_secret_append(out, "\n", 1);
}

int md_dk_text(md_secret *out, const md_ducklings *d)
{
	if (dk_line(out, "read_write:", &d->read_write))
		return -1;
	return dk_line(out, "read_scaling:", &d->read_scaling);
}
