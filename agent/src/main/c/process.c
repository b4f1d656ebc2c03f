/* The steps every process Berth starts inside a container goes through last, in this
 * order: user and cwd resolution (inside the container's root), the environment, the
 * PATH lookup, the capability bounding set, uid/gid, capabilities, no_new_privs,
 * close-on-exec for everything but stdio, the optional start gate, seccomp, execve. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CAP_SYS_ADMIN_BIT (1ULL << 21)

void reset_signals(void)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/*
	 * Ignored dispositions survive execve: undo the shim's, and any the agent inherited (a
	 * daemon started from a shell with & ignores SIGINT and SIGQUIT, and a shell in the
	 * container could then never trap them).
	 */
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
}

void proc_setup_tty(int chan, unsigned rows, unsigned cols)
{
	/* /dev/ptmx of the container's root, so the slave is /dev/pts/N of its own devpts */
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		chan_fail(chan, EXIT_SETUP, "open /dev/ptmx: %s", strerror(errno));
	if (unlockpt(m) < 0)
		chan_fail(chan, EXIT_SETUP, "unlockpt: %s", strerror(errno));
	if (rows && cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		ioctl(m, TIOCSWINSZ, &ws);
	}
	/* TIOCGPTPEER opens the slave without a path lookup that could be redirected */
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (s < 0)
		chan_fail(chan, EXIT_SETUP, "open pty slave: %s", strerror(errno));
	if (setsid() < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
		chan_fail(chan, EXIT_SETUP, "set controlling terminal: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (dup2(s, i) < 0)
			chan_fail(chan, EXIT_SETUP, "dup2 pty: %s", strerror(errno));
	if (s > 2)
		close(s);
	if (chan_send(chan, CH_TTY, 0, NULL, m) < 0)
		chan_fail(chan, EXIT_SETUP, "send pty master: %s", strerror(errno));
	close(m);
}

static const char *env_get(const struct strlist *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], key, kl) && env->v[i][kl] == '=')
			return env->v[i] + kl + 1;
	return NULL;
}

static void mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			mkdir(path, 0755); /* EEXIST is fine; chdir reports real problems */
			*p = c;
			if (!c)
				break;
		}
	}
}

static void enter_cwd(int chan, const char *cwd)
{
	if (!cwd || !*cwd)
		cwd = "/";
	if (chdir(cwd) == 0)
		return;
	if (errno == ENOENT) {
		char *path = xstrdup(cwd);
		mkdir_p(path);
		free(path);
		if (chdir(cwd) == 0)
			return;
	}
	chan_fail(chan, EXIT_SETUP, "chdir to cwd (\"%s\") set in config: %s", cwd, strerror(errno));
}

/* Finds the file execve should run, with Docker's messages and exit codes. */
static char *lookup_command(int chan, const char *name, const char *path_env)
{
	struct stat st;
	if (strchr(name, '/')) {
		if (stat(name, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				chan_fail(chan, EXIT_NOTFOUND, "exec: \"%s\": stat %s: no such file or directory",
					  name, name);
			chan_fail(chan, EXIT_NOEXEC, "exec: \"%s\": stat %s: %s", name, name, strerror(errno));
		}
		if (S_ISDIR(st.st_mode) || access(name, X_OK) < 0)
			chan_fail(chan, EXIT_NOEXEC, "exec: \"%s\": permission denied", name);
		return xstrdup(name);
	}
	char *dirs = xstrdup(path_env ? path_env : DEFAULT_PATH);
	for (char *d = dirs, *next; d; d = next) {
		next = strchr(d, ':');
		if (next)
			*next++ = 0;
		char *cand = xasprintf("%s/%s", *d ? d : ".", name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	chan_fail(chan, EXIT_NOTFOUND, "exec: \"%s\": executable file not found in $PATH", name);
}

static void drop_bounding_set(int chan, uint64_t keep)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (cap >= 64 || !(keep & (1ULL << cap)))
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
				chan_fail(chan, EXIT_SETUP, "drop capability %d: %s", cap, strerror(errno));
}

static int set_caps(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
	};
	return (int)syscall(SYS_capset, &hdr, data);
}

static void switch_user(int chan, const struct exec_user *u, bool keep_caps)
{
	/* keep the permitted set across setuid when seccomp still needs CAP_SYS_ADMIN */
	if (keep_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		chan_fail(chan, EXIT_SETUP, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (setgroups(u->ngroups, u->groups) < 0)
		chan_fail(chan, EXIT_SETUP, "setgroups: %s", strerror(errno));
	if (setgid(u->gid) < 0)
		chan_fail(chan, EXIT_SETUP, "setgid %u: %s", (unsigned)u->gid, strerror(errno));
	if (setuid(u->uid) < 0)
		chan_fail(chan, EXIT_SETUP, "setuid %u: %s", (unsigned)u->uid, strerror(errno));
}

static void wait_for_start(int chan)
{
	struct chan_msg m;
	if (chan_send(chan, CH_HELD, 0, NULL, -1) < 0)
		_exit(EXIT_SETUP);
	/* EOF means the shim is gone: nobody could ever start us */
	if (chan_recv(chan, &m, false) <= 0 || m.type != CH_START)
		_exit(EXIT_SETUP);
}

static void complete_env(struct proc_spec *p, const struct exec_user *u)
{
	if (!env_get(&p->env, "HOME"))
		strlist_add_own(&p->env, xasprintf("HOME=%s", u->home ? u->home : "/"));
	if (p->tty && !env_get(&p->env, "TERM"))
		strlist_add(&p->env, "TERM=xterm");
}

void proc_finish_and_exec(struct proc_spec *p)
{
	const struct config *cfg = p->cfg;
	int chan = p->chan;
	char *err = NULL;
	struct exec_user u;
	void *filter = NULL;

	if (cfg->seccomp && !(filter = seccomp_build(cfg, &err)))
		chan_fail(chan, EXIT_SETUP, "%s", err);
	if (user_resolve(p->user, &u, &err) < 0)
		chan_fail(chan, EXIT_SETUP, "%s", err);
	enter_cwd(chan, p->cwd);
	complete_env(p, &u);

	uint64_t caps = u.uid == 0 ? cfg->caps : 0;
	uint64_t inh = caps;
	/* Loading a filter needs no_new_privs or CAP_SYS_ADMIN; without the former, hold on
	 * to the latter until the filter is in, then drop it with a final capset. */
	bool hold_admin = filter && !cfg->no_new_privs && !(caps & CAP_SYS_ADMIN_BIT);

	drop_bounding_set(chan, cfg->caps);
	switch_user(chan, &u, hold_admin);
	char *path = lookup_command(chan, p->argv[0], env_get(&p->env, "PATH"));
	uint64_t now = hold_admin ? caps | CAP_SYS_ADMIN_BIT : caps;
	if (set_caps(now, now, inh) < 0)
		chan_fail(chan, EXIT_SETUP, "capset: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		chan_fail(chan, EXIT_SETUP, "clear ambient capabilities: %s", strerror(errno));
	if (cfg->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		chan_fail(chan, EXIT_SETUP, "no_new_privs: %s", strerror(errno));
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		chan_fail(chan, EXIT_SETUP, "close_range: %s", strerror(errno));
	if (p->wait_start)
		wait_for_start(chan);
	if (filter && seccomp_apply(filter) < 0)
		chan_fail(chan, EXIT_SETUP, "seccomp: %s", strerror(errno));
	if (hold_admin && set_caps(caps, caps, inh) < 0)
		chan_fail(chan, EXIT_SETUP, "capset after seccomp: %s", strerror(errno));

	execve(path, p->argv, p->env.v);
	if (errno == ENOENT)
		chan_fail(chan, EXIT_NOTFOUND, "exec: \"%s\": no such file or directory", p->argv[0]);
	if (errno == EACCES)
		chan_fail(chan, EXIT_NOEXEC, "exec: \"%s\": permission denied", p->argv[0]);
	chan_fail(chan, EXIT_NOEXEC, "exec: \"%s\": %s", p->argv[0], strerror(errno));
}
