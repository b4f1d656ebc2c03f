/* The container's init: created by clone() with the new namespaces, it builds the
 * container's root filesystem and then goes through proc_finish_and_exec(). */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Opens PATH relative to ROOTFD as if ROOTFD were "/": symlinks and ".." can never lead
 * outside it, and /proc magic links are refused (runc CVE-2024-21626 and friends). */
static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Splits PATH into its parent directory and last component (both allocated). */
static void split_path(const char *path, char **dir, char **base)
{
	char *d = xstrdup(path);
	size_t n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = 0;
	char *slash = strrchr(d, '/');
	*base = xstrdup(slash ? slash + 1 : d);
	if (!slash)
		strcpy(d, "/");
	else if (slash == d)
		slash[1] = 0;
	else
		*slash = 0;
	*dir = d;
}

/* Opens (O_PATH) the directory that will hold PATH's last component, creating missing
 * directories on the way, all without leaving the root. */
static int open_parent_in_root(int rootfd, const char *path, char **dir, char **base);

static int ensure_in_root(int rootfd, const char *path, bool as_file)
{
	int fd = open_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char *dir, *base;
	int parent = open_parent_in_root(rootfd, path, &dir, &base);
	if (parent < 0) {
		free(dir);
		free(base);
		return -1;
	}
	int rc;
	if (as_file) {
		/* O_EXCL never follows a symlink planted at the last component */
		rc = openat(parent, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (rc >= 0)
			close(rc);
	} else {
		rc = mkdirat(parent, base, 0755);
	}
	int saved = errno;
	close(parent);
	free(dir);
	free(base);
	if (rc < 0 && saved != EEXIST) {
		errno = saved;
		return -1;
	}
	return open_in_root(rootfd, path, O_PATH);
}

static int open_parent_in_root(int rootfd, const char *path, char **dir, char **base)
{
	split_path(path, dir, base);
	if (!strcmp(*dir, "/"))
		return open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
	return ensure_in_root(rootfd, *dir, false);
}

static void remount_via_fd(int chan, int rootfd, const struct mount_entry *m)
{
	unsigned long rest = m->flags & ~(MS_BIND | MS_REC);
	bool remount = (m->flags & MS_BIND) && rest;
	if (!remount && !m->propagation)
		return;
	/* reopen: the earlier descriptor still points below the new mount */
	int fd = open_in_root(rootfd, m->target, O_PATH);
	if (fd < 0)
		chan_fail(chan, EXIT_SETUP, "reopen mount target %s: %s", m->target, strerror(errno));
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (remount && mount(NULL, proc, NULL, MS_REMOUNT | MS_BIND | rest, NULL) < 0)
		chan_fail(chan, EXIT_SETUP, "remount %s: %s", m->target, strerror(errno));
	if (m->propagation && mount(NULL, proc, NULL, m->propagation, NULL) < 0)
		chan_fail(chan, EXIT_SETUP, "set propagation of %s: %s", m->target, strerror(errno));
	close(fd);
}

static void do_mount(int chan, int rootfd, const struct mount_entry *m)
{
	bool bind = m->flags & MS_BIND;
	bool as_file = false;
	if (bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			chan_fail(chan, EXIT_SETUP, "mount source %s: %s", m->source, strerror(errno));
		as_file = !S_ISDIR(st.st_mode);
	}
	int fd = ensure_in_root(rootfd, m->target, as_file);
	if (fd < 0)
		chan_fail(chan, EXIT_SETUP, "mount target %s: %s", m->target, strerror(errno));
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	unsigned long flags = bind ? m->flags & (MS_BIND | MS_REC) : m->flags;
	if (mount(m->source, proc, m->fstype, flags, bind ? NULL : m->data) < 0)
		chan_fail(chan, EXIT_SETUP, "mount %s on %s: %s", m->source, m->target, strerror(errno));
	close(fd);
	remount_via_fd(chan, rootfd, m);
}

static void make_device(int chan, int rootfd, const struct device_entry *d)
{
	char *dir, *base;
	int parent = open_parent_in_root(rootfd, d->path, &dir, &base);
	if (parent < 0)
		chan_fail(chan, EXIT_SETUP, "device %s: %s", d->path, strerror(errno));
	mode_t type = d->block ? S_IFBLK : S_IFCHR;
	if (mknodat(parent, base, type | d->mode, makedev(d->major, d->minor)) == 0) {
		if (fchownat(parent, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(parent, base, d->mode, 0) < 0)
			chan_fail(chan, EXIT_SETUP, "device %s: %s", d->path, strerror(errno));
	} else if (errno != EEXIST) {
		chan_fail(chan, EXIT_SETUP, "mknod %s: %s", d->path, strerror(errno));
	}
	close(parent);
	free(dir);
	free(base);
}

static void make_symlink(int chan, int rootfd, const struct symlink_entry *s)
{
	char *dir, *base;
	int parent = open_parent_in_root(rootfd, s->linkpath, &dir, &base);
	if (parent < 0 || (symlinkat(s->target, parent, base) < 0 && errno != EEXIST))
		chan_fail(chan, EXIT_SETUP, "symlink %s: %s", s->linkpath, strerror(errno));
	close(parent);
	free(dir);
	free(base);
}

/* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
 * only the new root, without needing a directory for the old one inside the image. */
static void pivot_into(int chan, int rootfd)
{
	if (fchdir(rootfd) < 0)
		chan_fail(chan, EXIT_SETUP, "chdir to rootfs: %s", strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		chan_fail(chan, EXIT_SETUP, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		chan_fail(chan, EXIT_SETUP, "detach old root: %s", strerror(errno));
	if (chdir("/") < 0)
		chan_fail(chan, EXIT_SETUP, "chdir /: %s", strerror(errno));
}

static void mask_paths(int chan, const struct strlist *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			chan_fail(chan, EXIT_SETUP, "mask %s: %s", p, strerror(errno));
		}
		int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL)
					     : mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (rc < 0)
			chan_fail(chan, EXIT_SETUP, "mask %s: %s", p, strerror(errno));
	}
}

static void readonly_paths(int chan, const struct strlist *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		const char *p = paths->v[i];
		struct statvfs sv;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			chan_fail(chan, EXIT_SETUP, "readonly %s: %s", p, strerror(errno));
		}
		/* keep nosuid/nodev/noexec of the original mount (e.g. /proc) on the bind */
		unsigned long keep = 0;
		if (statvfs(p, &sv) == 0)
			keep = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
			       (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
		if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
			chan_fail(chan, EXIT_SETUP, "readonly %s: %s", p, strerror(errno));
	}
}

static void setup_rootfs(int chan, const struct config *cfg)
{
	/* nothing done here may propagate back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		chan_fail(chan, EXIT_SETUP, "make / rprivate: %s", strerror(errno));
	/* pivot_root needs the new root to be a mount point */
	if (mount(cfg->rootfs, cfg->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		chan_fail(chan, EXIT_SETUP, "bind rootfs %s: %s", cfg->rootfs, strerror(errno));
	int rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		chan_fail(chan, EXIT_SETUP, "open rootfs %s: %s", cfg->rootfs, strerror(errno));
	for (size_t i = 0; i < cfg->nmounts; i++)
		do_mount(chan, rootfd, &cfg->mounts[i]);
	for (size_t i = 0; i < cfg->ndevices; i++)
		make_device(chan, rootfd, &cfg->devices[i]);
	for (size_t i = 0; i < cfg->nsymlinks; i++)
		make_symlink(chan, rootfd, &cfg->symlinks[i]);
	pivot_into(chan, rootfd);
	close(rootfd);
	mask_paths(chan, &cfg->masks);
	readonly_paths(chan, &cfg->readonly);
}

static void setup_stdio(int chan, const struct launch_fds *fds)
{
	int src[3] = {fds->stdin_fd, fds->stdout_fd, fds->stderr_fd};
	for (int i = 0; i < 3; i++)
		if (dup2(src[i], i) < 0)
			chan_fail(chan, EXIT_SETUP, "dup2: %s", strerror(errno));
}

static void write_oom_score_adj(int chan, int adj)
{
	char v[16];
	snprintf(v, sizeof(v), "%d", adj);
	if (write_file("/proc/self/oom_score_adj", v) < 0)
		chan_fail(chan, EXIT_SETUP, "oom_score_adj: %s", strerror(errno));
}

/* The agent built and configured the network namespace (veth, addresses, routes) before
 * the launch and pinned it in a file: joining it here, while the host's paths are still
 * reachable, puts the container on that network before any of its code runs. */
static void join_netns(int chan, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		chan_fail(chan, EXIT_SETUP, "open network namespace %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0)
		chan_fail(chan, EXIT_SETUP, "join network namespace %s: %s", path, strerror(errno));
	close(fd);
}

static void __attribute__((noreturn)) container_main(const struct config *cfg,
						     const struct launch_fds *fds)
{
	int chan = fds->chan;
	struct chan_msg m;
	for (size_t i = 0; i < fds->nclose; i++)
		close(fds->close_fds[i]);
	reset_signals();
	umask(022);
	/* Only the launcher's own code runs until GO, while the shim moves us into the
	 * container's cgroups: building the rootfs overlaps that (slow) step. */
	if (!cfg->tty)
		setup_stdio(chan, fds);
	if (cfg->netns)
		join_netns(chan, cfg->netns);
	setup_rootfs(chan, cfg);
	if (cfg->hostname && (cfg->ns_flags & CLONE_NEWUTS) &&
	    sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		chan_fail(chan, EXIT_SETUP, "sethostname: %s", strerror(errno));
	/* from here on we are in the container's cgroups: nothing below escapes the limits, and
	 * the cgroup namespace is rooted at them */
	if (chan_recv(chan, &m, false) <= 0 || m.type != CH_GO)
		_exit(EXIT_SETUP);
	if ((cfg->ns_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
		chan_fail(chan, EXIT_SETUP, "unshare cgroup namespace: %s", strerror(errno));
	if (cfg->has_oom_score_adj)
		write_oom_score_adj(chan, cfg->oom_score_adj);
	if (cfg->tty)
		proc_setup_tty(chan, 0, 0);
	struct proc_spec p = {
		.cfg = cfg, .user = cfg->user, .cwd = cfg->cwd, .argv = cfg->args.v,
		.tty = cfg->tty, .wait_start = cfg->wait_start, .chan = chan,
	};
	for (size_t i = 0; i < cfg->env.n; i++)
		strlist_add(&p.env, cfg->env.v[i]);
	proc_finish_and_exec(&p);
}

pid_t container_clone(const struct config *cfg, const struct launch_fds *fds)
{
	if (!(cfg->ns_flags & CLONE_NEWNS)) {
		errno = EINVAL; /* pivot_root would change the host's root */
		return -1;
	}
	/* like fork(), but with new namespaces; the cgroup one comes later (see above) */
	unsigned long flags = (unsigned long)(cfg->ns_flags & ~CLONE_NEWCGROUP) | SIGCHLD;
	pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid == 0)
		container_main(cfg, fds);
	return pid;
}
