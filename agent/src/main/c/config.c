/* Parser for the launcher's config file (README.md, "Config file"). */
#include "launcher.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#define MAX_FIELDS 16

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

struct parse_ctx {
	const char *path;
	int line;
	char *err; /* first error, owned */
};

static bool perr(struct parse_ctx *pc, const char *fmt, const char *arg)
{
	if (!pc->err) {
		char msg[512];
		snprintf(msg, sizeof(msg), fmt, arg);
		pc->err = xasprintf("%s:%d: %s", pc->path, pc->line, msg);
	}
	return false;
}

/* Decodes \\, \t and \n in place. */
static bool unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		r++;
		if (*r == '\\')
			*w++ = '\\';
		else if (*r == 't')
			*w++ = '\t';
		else if (*r == 'n')
			*w++ = '\n';
		else
			return false;
	}
	*w = 0;
	return true;
}

static bool parse_bool(struct parse_ctx *pc, const char *s, bool *out)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return perr(pc, "expected 0 or 1, got '%s'", s);
	*out = s[0] == '1';
	return true;
}

static bool parse_num(struct parse_ctx *pc, const char *s, long long min, long long max,
		      long long *out)
{
	if (!parse_long(s, min, max, out))
		return perr(pc, "bad number '%s'", s);
	return true;
}

static bool parse_namespace(struct parse_ctx *pc, struct config *cfg, const char *s)
{
	static const struct { const char *name; int flag; } ns[] = {
		{"pid", CLONE_NEWPID}, {"mount", CLONE_NEWNS}, {"uts", CLONE_NEWUTS},
		{"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
	};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		if (!strcmp(s, ns[i].name)) {
			cfg->ns_flags |= ns[i].flag;
			return true;
		}
	return perr(pc, "unknown namespace '%s'", s);
}

static bool parse_mount_flags(struct parse_ctx *pc, struct mount_entry *m, char *s)
{
	static const struct { const char *name; unsigned long flag; bool prop; } fl[] = {
		{"bind", MS_BIND, false}, {"rbind", MS_BIND | MS_REC, false},
		{"ro", MS_RDONLY, false}, {"nosuid", MS_NOSUID, false}, {"nodev", MS_NODEV, false},
		{"noexec", MS_NOEXEC, false}, {"relatime", MS_RELATIME, false},
		{"strictatime", MS_STRICTATIME, false}, {"private", MS_PRIVATE, true},
		{"rprivate", MS_PRIVATE | MS_REC, true},
	};
	if (!strcmp(s, "-"))
		return true;
	for (char *save, *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
			if (!strcmp(tok, fl[i].name))
				break;
		if (i == sizeof(fl) / sizeof(fl[0]))
			return perr(pc, "unknown mount flag '%s'", tok);
		if (fl[i].prop)
			m->propagation |= fl[i].flag;
		else
			m->flags |= fl[i].flag;
	}
	return true;
}

static char *dash_null(const char *s)
{
	return strcmp(s, "-") ? xstrdup(s) : NULL;
}

static bool parse_mount(struct parse_ctx *pc, struct config *cfg, char **f)
{
	struct mount_entry m = {0};
	if (f[2][0] != '/')
		return perr(pc, "mount target '%s' must be absolute", f[2]);
	if (!parse_mount_flags(pc, &m, f[4]))
		return false;
	m.source = xstrdup(f[1]);
	m.target = xstrdup(f[2]);
	m.fstype = dash_null(f[3]);
	m.data = dash_null(f[5]);
	cfg->mounts = xrealloc(cfg->mounts, (cfg->nmounts + 1) * sizeof(m));
	cfg->mounts[cfg->nmounts++] = m;
	return true;
}

static bool parse_device(struct parse_ctx *pc, struct config *cfg, char **f)
{
	struct device_entry d = {0};
	long long major, minor, uid, gid;
	char *end;
	if (strcmp(f[2], "c") && strcmp(f[2], "b"))
		return perr(pc, "device type must be c or b, got '%s'", f[2]);
	unsigned long mode = strtoul(f[5], &end, 8);
	if (*end || end == f[5] || mode > 07777)
		return perr(pc, "bad device mode '%s'", f[5]);
	if (!parse_num(pc, f[3], 0, 0xfffff, &major) || !parse_num(pc, f[4], 0, 0xfffff, &minor) ||
	    !parse_num(pc, f[6], 0, 0xffffffffLL, &uid) || !parse_num(pc, f[7], 0, 0xffffffffLL, &gid))
		return false;
	d.path = xstrdup(f[1]);
	d.block = f[2][0] == 'b';
	d.major = (unsigned)major, d.minor = (unsigned)minor;
	d.mode = (mode_t)mode, d.uid = (uid_t)uid, d.gid = (gid_t)gid;
	cfg->devices = xrealloc(cfg->devices, (cfg->ndevices + 1) * sizeof(d));
	cfg->devices[cfg->ndevices++] = d;
	return true;
}

static bool parse_cap(struct parse_ctx *pc, struct config *cfg, const char *s)
{
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (!strcmp(s, cap_names[i])) {
			cfg->caps |= 1ULL << i;
			return true;
		}
	return perr(pc, "unknown capability '%s'", s);
}

static bool parse_seccomp_action(struct parse_ctx *pc, const char *s, uint32_t *out)
{
	long long n;
	if (!strcmp(s, "allow"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(s, "kill"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strncmp(s, "errno:", 6) && parse_long(s + 6, 0, 4095, &n))
		*out = SCMP_ACT_ERRNO((uint32_t)n);
	else
		return perr(pc, "bad seccomp action '%s'", s);
	return true;
}

static bool parse_seccomp_default(struct parse_ctx *pc, struct config *cfg, char **f, int nf)
{
	long long n;
	cfg->seccomp = true;
	if (!strcmp(f[1], "errno") && nf == 3 && parse_long(f[2], 0, 4095, &n))
		cfg->seccomp_default = SCMP_ACT_ERRNO((uint32_t)n);
	else if (nf == 2 && (!strcmp(f[1], "allow") || !strcmp(f[1], "kill")))
		return parse_seccomp_action(pc, f[1], &cfg->seccomp_default);
	else
		return perr(pc, "bad seccomp_default '%s'", f[1]);
	return true;
}

static bool parse_seccomp_cond(struct parse_ctx *pc, char *s, struct seccomp_cond *c)
{
	static const struct { const char *name; int op; } ops[] = {
		{"eq", SCMP_CMP_EQ}, {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE},
		{"gt", SCMP_CMP_GT}, {"ge", SCMP_CMP_GE}, {"masked_eq", SCMP_CMP_MASKED_EQ},
	};
	char *parts[4] = {0};
	int n = 0;
	for (char *save, *t = strtok_r(s, ":", &save); t && n < 4; t = strtok_r(NULL, ":", &save))
		parts[n++] = t;
	if (n < 3)
		return perr(pc, "bad seccomp condition '%s'", s);
	char *end;
	unsigned long idx = strtoul(parts[0], &end, 10);
	if (*end || idx > 5)
		return perr(pc, "bad seccomp argument index '%s'", parts[0]);
	c->index = (unsigned)idx;
	c->op = -1;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(parts[1], ops[i].name))
			c->op = ops[i].op;
	if (c->op < 0)
		return perr(pc, "bad seccomp operator '%s'", parts[1]);
	errno = 0;
	c->v1 = strtoull(parts[2], &end, 0);
	if (errno || *end)
		return perr(pc, "bad seccomp value '%s'", parts[2]);
	c->v2 = 0;
	if (parts[3]) {
		c->v2 = strtoull(parts[3], &end, 0);
		if (errno || *end)
			return perr(pc, "bad seccomp value '%s'", parts[3]);
	}
	return true;
}

static bool parse_seccomp_rule(struct parse_ctx *pc, struct config *cfg, char **f, int nf)
{
	struct seccomp_rule r = {0};
	if (nf - 3 > MAX_SECCOMP_CONDS)
		return perr(pc, "too many seccomp conditions%s", "");
	if (!parse_seccomp_action(pc, f[1], &r.action))
		return false;
	for (int i = 3; i < nf; i++)
		if (!parse_seccomp_cond(pc, f[i], &r.cond[r.ncond++]))
			return false;
	r.syscall = xstrdup(f[2]);
	cfg->seccomp = true;
	cfg->rules = xrealloc(cfg->rules, (cfg->nrules + 1) * sizeof(r));
	cfg->rules[cfg->nrules++] = r;
	return true;
}

/* Field counts include the directive name. */
struct directive {
	const char *name;
	int nfields; /* exact field count, or -N for "at least N" */
};

static const struct directive directives[] = {
	{"version", 2}, {"id", 2}, {"state_dir", 2}, {"rootfs", 2}, {"namespace", 2},
	{"hostname", 2}, {"cgroup", 2}, {"shim_cgroup", 2}, {"mount", 6}, {"device", 8},
	{"symlink", 3}, {"mask", 2}, {"readonly", 2}, {"cwd", 2}, {"user", 2}, {"env", 2},
	{"arg", 2}, {"tty", 2}, {"stdin", 2}, {"wait_start", 2}, {"cap", 2},
	{"no_new_privs", 2}, {"seccomp_default", -2}, {"seccomp", -3}, {"log_max_size", 2},
	{"log_max_files", 2}, {"oom_score_adj", 2}, {"netns", 2},
};

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(s);
}

static bool apply_directive(struct parse_ctx *pc, struct config *cfg, char **f, int nf)
{
	const char *d = f[0];
	long long n;
	if (!strcmp(d, "version"))
		return strcmp(f[1], "1") ? perr(pc, "unsupported version '%s'", f[1]) : true;
	if (!strcmp(d, "id"))
		set_str(&cfg->id, f[1]);
	else if (!strcmp(d, "state_dir"))
		set_str(&cfg->state_dir, f[1]);
	else if (!strcmp(d, "rootfs"))
		set_str(&cfg->rootfs, f[1]);
	else if (!strcmp(d, "namespace"))
		return parse_namespace(pc, cfg, f[1]);
	else if (!strcmp(d, "netns"))
		set_str(&cfg->netns, f[1]);
	else if (!strcmp(d, "hostname"))
		set_str(&cfg->hostname, f[1]);
	else if (!strcmp(d, "cgroup"))
		strlist_add(&cfg->cgroups, f[1]);
	else if (!strcmp(d, "shim_cgroup"))
		strlist_add(&cfg->shim_cgroups, f[1]);
	else if (!strcmp(d, "mount"))
		return parse_mount(pc, cfg, f);
	else if (!strcmp(d, "device"))
		return parse_device(pc, cfg, f);
	else if (!strcmp(d, "symlink")) {
		cfg->symlinks = xrealloc(cfg->symlinks, (cfg->nsymlinks + 1) * sizeof(*cfg->symlinks));
		cfg->symlinks[cfg->nsymlinks].target = xstrdup(f[1]);
		cfg->symlinks[cfg->nsymlinks++].linkpath = xstrdup(f[2]);
	} else if (!strcmp(d, "mask"))
		strlist_add(&cfg->masks, f[1]);
	else if (!strcmp(d, "readonly"))
		strlist_add(&cfg->readonly, f[1]);
	else if (!strcmp(d, "cwd"))
		set_str(&cfg->cwd, f[1]);
	else if (!strcmp(d, "user"))
		set_str(&cfg->user, f[1]);
	else if (!strcmp(d, "env"))
		strlist_add(&cfg->env, f[1]);
	else if (!strcmp(d, "arg"))
		strlist_add(&cfg->args, f[1]);
	else if (!strcmp(d, "tty"))
		return parse_bool(pc, f[1], &cfg->tty);
	else if (!strcmp(d, "stdin"))
		return parse_bool(pc, f[1], &cfg->stdin_open);
	else if (!strcmp(d, "wait_start"))
		return parse_bool(pc, f[1], &cfg->wait_start);
	else if (!strcmp(d, "no_new_privs"))
		return parse_bool(pc, f[1], &cfg->no_new_privs);
	else if (!strcmp(d, "cap"))
		return parse_cap(pc, cfg, f[1]);
	else if (!strcmp(d, "seccomp_default"))
		return parse_seccomp_default(pc, cfg, f, nf);
	else if (!strcmp(d, "seccomp"))
		return parse_seccomp_rule(pc, cfg, f, nf);
	else if (!strcmp(d, "log_max_size")) {
		if (!parse_num(pc, f[1], 0, INT64_MAX, &n))
			return false;
		cfg->log_max_size = n;
	} else if (!strcmp(d, "log_max_files")) {
		if (!parse_num(pc, f[1], 1, 1000, &n))
			return false;
		cfg->log_max_files = (int)n;
	} else if (!strcmp(d, "oom_score_adj")) {
		if (!parse_num(pc, f[1], -1000, 1000, &n))
			return false;
		cfg->has_oom_score_adj = true;
		cfg->oom_score_adj = (int)n;
	}
	return true;
}

static bool parse_line(struct parse_ctx *pc, struct config *cfg, char *line, bool first)
{
	char *f[MAX_FIELDS];
	int nf = 0;
	for (char *p = line;; ) {
		if (nf == MAX_FIELDS)
			return perr(pc, "too many fields%s", "");
		f[nf++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = 0;
		p = tab + 1;
	}
	for (int i = 0; i < nf; i++)
		if (!unescape(f[i]))
			return perr(pc, "bad escape in '%s'", f[i]);
	const struct directive *d = NULL;
	for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++)
		if (!strcmp(f[0], directives[i].name))
			d = &directives[i];
	if (!d)
		return perr(pc, "unknown directive '%s'", f[0]);
	if (first != !strcmp(f[0], "version"))
		return perr(pc, "'version' must be the first directive, got '%s'", f[0]);
	if (d->nfields > 0 ? nf != d->nfields : nf < -d->nfields)
		return perr(pc, "wrong number of fields for '%s'", f[0]);
	return apply_directive(pc, cfg, f, nf);
}

static bool check_required(struct parse_ctx *pc, const struct config *cfg)
{
	pc->line = 0;
	if (!cfg->state_dir)
		return perr(pc, "missing '%s'", "state_dir");
	if (!cfg->rootfs)
		return perr(pc, "missing '%s'", "rootfs");
	if (cfg->args.n == 0)
		return perr(pc, "missing '%s'", "arg");
	if (cfg->netns && (cfg->ns_flags & CLONE_NEWNET))
		return perr(pc, "'netns' and 'namespace net' exclude each other%s", "");
	return true;
}

int config_load(const char *path, struct config *cfg)
{
	struct parse_ctx pc = {.path = path};
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "berth-launcher: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_max_files = 1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool first = true, ok = true;
	while (ok && (len = getline(&line, &cap, f)) >= 0) {
		pc.line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		ok = parse_line(&pc, cfg, line, first);
		first = false;
	}
	free(line);
	fclose(f);
	if (ok && first)
		ok = perr(&pc, "empty config%s", "");
	if (ok)
		ok = check_required(&pc, cfg);
	if (!cfg->id)
		cfg->id = xstrdup("");
	if (!ok) {
		fprintf(stderr, "berth-launcher: %s\n", pc.err);
		free(pc.err);
		return -1;
	}
	return 0;
}
