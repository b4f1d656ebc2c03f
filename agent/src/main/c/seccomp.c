/* Builds the seccomp filter described by the config's seccomp lines with libseccomp. */
#include "launcher.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>

static int add_rule(scmp_filter_ctx ctx, const struct seccomp_rule *r, uint32_t def, char **err)
{
	int nr = seccomp_syscall_resolve_name(r->syscall);
	/* unknown here, or a pseudo number for a syscall other architectures have */
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	/* libseccomp refuses rules that repeat the default action; they change nothing */
	if (r->action == def)
		return 0;
	struct scmp_arg_cmp cmp[MAX_SECCOMP_CONDS];
	for (unsigned i = 0; i < r->ncond; i++) {
		cmp[i].arg = r->cond[i].index;
		cmp[i].op = (enum scmp_compare)r->cond[i].op;
		cmp[i].datum_a = r->cond[i].v1;
		cmp[i].datum_b = r->cond[i].v2;
	}
	int rc = seccomp_rule_add_array(ctx, r->action, nr, r->ncond, cmp);
	if (rc < 0) {
		*err = xasprintf("seccomp rule for %s: %s", r->syscall, strerror(-rc));
		return -1;
	}
	return 0;
}

void *seccomp_build(const struct config *cfg, char **err)
{
	scmp_filter_ctx ctx = seccomp_init(cfg->seccomp_default);
	if (!ctx) {
		*err = xstrdup("seccomp_init failed");
		return NULL;
	}
	/* no_new_privs is the config's decision, not libseccomp's */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
		*err = xstrdup("seccomp: cannot disable implicit no_new_privs");
		seccomp_release(ctx);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nrules; i++)
		if (add_rule(ctx, &cfg->rules[i], cfg->seccomp_default, err) < 0) {
			seccomp_release(ctx);
			return NULL;
		}
	return ctx;
}

int seccomp_apply(void *ctx)
{
	int rc = seccomp_load(ctx);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
