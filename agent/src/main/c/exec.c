/* Exec sessions (the X frame): a helper forked by the shim joins the container's cgroups
 * and namespaces, then forks the process, which must be a child to be inside the pid
 * namespace. The helper reports the pid and exits; the shim, a subreaper, inherits it. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool parse_flag(const char *v, bool *out)
{
	if (strcmp(v, "0") && strcmp(v, "1"))
		return false;
	*out = v[0] == '1';
	return true;
}

static bool parse_size(const char *v, unsigned *out)
{
	long long n;
	if (!parse_long(v, 0, 65535, &n))
		return false;
	*out = (unsigned)n;
	return true;
}

static bool apply_exec_kv(struct exec_request *r, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return false;
	size_t kl = (size_t)(eq - kv);
	const char *v = eq + 1;
#define KEY(k) (kl == strlen(k) && !strncmp(kv, k, kl))
	if (KEY("tty"))
		return parse_flag(v, &r->tty);
	if (KEY("stdin"))
		return parse_flag(v, &r->stdin_open);
	if (KEY("rows"))
		return parse_size(v, &r->rows);
	if (KEY("cols"))
		return parse_size(v, &r->cols);
	if (KEY("user")) {
		free(r->user);
		r->user = xstrdup(v);
	} else if (KEY("cwd")) {
		free(r->cwd);
		r->cwd = xstrdup(v);
	} else if (KEY("env") && strchr(v, '=')) {
		strlist_add(&r->env, v);
	} else if (KEY("arg")) {
		strlist_add(&r->args, v);
	} else {
		return false;
	}
#undef KEY
	return true;
}

int exec_request_parse(const unsigned char *p, size_t n, struct exec_request *r, char **err)
{
	memset(r, 0, sizeof(*r));
	size_t i = 0;
	while (i < n) {
		const unsigned char *end = memchr(p + i, 0, n - i);
		size_t len = end ? (size_t)(end - (p + i)) : n - i;
		char *kv = xmalloc(len + 1);
		memcpy(kv, p + i, len);
		kv[len] = 0;
		bool ok = len == 0 || apply_exec_kv(r, kv);
		if (!ok)
			*err = xasprintf("bad exec parameter '%s'", kv);
		free(kv);
		if (!ok)
			return -1;
		i += len + 1;
	}
	if (r->args.n == 0) {
		*err = xstrdup("exec: no command given");
		return -1;
	}
	return 0;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void exec_request_free(struct exec_request *r)
{
	free(r->user);
	free(r->cwd);
	strlist_free(&r->env);
	strlist_free(&r->args);
}

/* The container's environment, with the exec's variables replacing or adding to it. */
static void merge_env(struct strlist *out, const struct strlist *base, const struct strlist *extra)
{
	for (size_t i = 0; i < base->n; i++)
		strlist_add(out, base->v[i]);
	for (size_t i = 0; i < extra->n; i++) {
		size_t kl = strcspn(extra->v[i], "=") + 1;
		size_t j;
		for (j = 0; j < out->n; j++)
			if (!strncmp(out->v[j], extra->v[i], kl))
				break;
		if (j < out->n) {
			free(out->v[j]);
			out->v[j] = xstrdup(extra->v[i]);
		} else {
			strlist_add(out, extra->v[i]);
		}
	}
}

/* Namespaces in joining order: the mount namespace last, because setns() into it also
 * moves our root and cwd into the container, after which /proc/PID/ns is out of reach. */
static const struct {
	const char *name;
	int flag;
} ns_order[] = {
	{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};
#define NS_COUNT (sizeof(ns_order) / sizeof(ns_order[0]))

static void join_container(int chan, const struct config *cfg, pid_t init_pid)
{
	int fds[NS_COUNT];
	for (size_t i = 0; i < NS_COUNT; i++) {
		fds[i] = -1;
		bool joined_net = ns_order[i].flag == CLONE_NEWNET && cfg->netns;
		if (!(cfg->ns_flags & ns_order[i].flag) && !joined_net)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init_pid, ns_order[i].name);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			chan_fail(chan, EXIT_SETUP, "open %s: %s", path, strerror(errno));
	}
	/* cgroups before the cgroup namespace, so that its root is the container's cgroup */
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (size_t i = 0; i < cfg->cgroups.n; i++) {
		char *procs = xasprintf("%s/cgroup.procs", cfg->cgroups.v[i]);
		if (write_file(procs, pid) < 0)
			chan_fail(chan, EXIT_SETUP, "join cgroup %s: %s", cfg->cgroups.v[i], strerror(errno));
		free(procs);
	}
	for (size_t i = 0; i < NS_COUNT; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], ns_order[i].flag) < 0)
			chan_fail(chan, EXIT_SETUP, "setns %s: %s", ns_order[i].name, strerror(errno));
		close(fds[i]);
	}
}

static void __attribute__((noreturn)) exec_process(const struct config *cfg,
						   const struct exec_request *r, int chan)
{
	if (r->tty)
		proc_setup_tty(chan, r->rows, r->cols);
	struct proc_spec p = {
		.cfg = cfg, .user = r->user ? r->user : cfg->user, .cwd = r->cwd ? r->cwd : cfg->cwd,
		.argv = r->args.v, .tty = r->tty, .chan = chan,
	};
	merge_env(&p.env, &cfg->env, &r->env);
	proc_finish_and_exec(&p);
}

pid_t exec_spawn(const struct config *cfg, pid_t init_pid, const struct exec_request *r,
		 const struct launch_fds *fds)
{
	pid_t helper = fork();
	if (helper != 0)
		return helper;
	int chan = fds->chan;
	for (size_t i = 0; i < fds->nclose; i++)
		close(fds->close_fds[i]);
	reset_signals();
	umask(022);
	join_container(chan, cfg, init_pid);
	if (!r->tty) {
		int src[3] = {fds->stdin_fd, fds->stdout_fd, fds->stderr_fd};
		for (int i = 0; i < 3; i++)
			if (dup2(src[i], i) < 0)
				chan_fail(chan, EXIT_SETUP, "dup2: %s", strerror(errno));
	}
	/* The process waits until we have reported its pid and closed our end of the
	 * channel: then its execve alone closes the channel, and the shim's EOF means
	 * "started" before any output can arrive. */
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0)
		chan_fail(chan, EXIT_SETUP, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		chan_fail(chan, EXIT_SETUP, "fork into the container: %s", strerror(errno));
	if (pid == 0) {
		char c;
		close(gate[1]);
		if (read(gate[0], &c, 1) < 0)
			_exit(EXIT_SETUP);
		close(gate[0]);
		exec_process(cfg, r, chan);
	}
	chan_send(chan, CH_PID, pid, NULL, -1);
	close(chan);
	_exit(0); /* closes gate[1]: the process reads EOF and goes on */
}
