/* berth-launcher: shared declarations. See README.md for the contract with the agent. */
#ifndef BERTH_LAUNCHER_H
#define BERTH_LAUNCHER_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Docker's exit codes for a container that never ran its command. */
#define EXIT_SETUP 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

/* ---- util.c ---- */

struct strlist {
	char **v; /* NULL-terminated, so it can be passed as argv/envp */
	size_t n, cap;
};

struct buf {
	char *data;
	size_t off, len, cap; /* valid bytes are data[off, len) */
};

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void strlist_add(struct strlist *l, const char *s);
void strlist_add_own(struct strlist *l, char *s);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_consume(struct buf *b, size_t n);
static inline size_t buf_size(const struct buf *b) { return b->len - b->off; }
void buf_free(struct buf *b);
void json_escape(struct buf *out, const char *s, size_t n);
int write_all(int fd, const void *data, size_t n);
int write_file(const char *path, const char *data);
int write_file_atomic(const char *path, const char *data, bool sync);
bool parse_long(const char *s, long long min, long long max, long long *out);
void put_be32(unsigned char *p, uint32_t v);
uint32_t get_be32(const unsigned char *p);
int64_t now_realtime_ns(void);
int64_t now_monotonic_ms(void);

/* ---- config.c ---- */

struct mount_entry {
	char *source, *target, *fstype, *data;
	unsigned long flags;       /* MS_* flags for the mount itself */
	unsigned long propagation; /* MS_PRIVATE (| MS_REC), applied afterwards */
};

struct device_entry {
	char *path;
	bool block;
	unsigned major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct symlink_entry {
	char *target, *linkpath;
};

#define MAX_SECCOMP_CONDS 6
struct seccomp_cond {
	unsigned index;
	int op; /* enum scmp_compare */
	uint64_t v1, v2;
};

struct seccomp_rule {
	uint32_t action;
	char *syscall;
	unsigned ncond;
	struct seccomp_cond cond[MAX_SECCOMP_CONDS];
};

struct config {
	char *id, *state_dir, *rootfs, *hostname, *cwd, *user;
	int ns_flags; /* CLONE_NEW* */
	char *netns; /* a network namespace to join (its pinned nsfs file) instead of a new one */
	struct strlist cgroups, shim_cgroups, masks, readonly, env, args;
	struct mount_entry *mounts;
	size_t nmounts;
	struct device_entry *devices;
	size_t ndevices;
	struct symlink_entry *symlinks;
	size_t nsymlinks;
	bool tty, stdin_open, wait_start, no_new_privs;
	uint64_t caps; /* bit n: keep capability n */
	bool seccomp;
	uint32_t seccomp_default;
	struct seccomp_rule *rules;
	size_t nrules;
	long long log_max_size;
	int log_max_files;
	bool has_oom_score_adj;
	int oom_score_adj;
};

/* Parses CONFIG; on error prints a message to stderr and returns -1. */
int config_load(const char *path, struct config *cfg);

/* ---- seccomp.c ---- */

/* Builds the filter (not loaded yet); returns an opaque context or NULL with *err set. */
void *seccomp_build(const struct config *cfg, char **err);
int seccomp_apply(void *ctx);

/* ---- user.c ---- */

struct exec_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	char *home; /* NULL when the user has no passwd entry */
};

/* Resolves SPEC against /etc/passwd and /etc/group of the current root. */
int user_resolve(const char *spec, struct exec_user *u, char **err);

/* ---- channel.c: the SOCK_SEQPACKET control channel between the shim and its children ---- */

enum {
	CH_FAIL = 'F',    /* child -> shim: i32 code + message; the child then exits */
	CH_TTY = 'T',     /* child -> shim: the pty master, as SCM_RIGHTS */
	CH_HELD = 'R',    /* child -> shim: set up, held until CH_START (wait_start) */
	CH_PID = 'p',     /* exec helper -> shim: i32 host pid of the exec'd process */
	CH_GO = 'G',      /* shim -> init: cgroups joined, go on */
	CH_START = 'S',   /* shim -> init: execve now */
};

struct chan_msg {
	char type;
	int32_t code; /* CH_FAIL code, CH_PID pid */
	char text[1024];
	int fd; /* received descriptor, or -1 */
};

int chan_send(int sock, char type, int32_t code, const char *text, int fd);
/* Returns 1 with a message, 0 on EOF, -1 on error (errno: EAGAIN with MSG_DONTWAIT). */
int chan_recv(int sock, struct chan_msg *m, bool nonblock);
/* Reports a setup failure to the shim and exits with CODE. */
void chan_fail(int sock, int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* ---- process.c: the last steps shared by the container init and exec'd processes ---- */

struct proc_spec {
	const struct config *cfg;
	const char *user;    /* NULL: root */
	const char *cwd;     /* NULL: / */
	struct strlist env;  /* owned by the caller, may be extended */
	char **argv;
	bool tty;
	bool wait_start;     /* block on the channel for CH_START before the final steps */
	int chan;
};

/* Open a pty master from the current root's devpts, make its slave our controlling
 * terminal and stdio, and hand the master to the shim. Exits via chan_fail on error. */
void proc_setup_tty(int chan, unsigned rows, unsigned cols);
/* user, cwd, env, PATH lookup, capabilities, no_new_privs, seccomp, execve: never returns. */
void proc_finish_and_exec(struct proc_spec *p) __attribute__((noreturn));
void reset_signals(void);

/* ---- container.c ---- */

struct launch_fds {
	int chan;                 /* child's end of the channel */
	int stdin_fd, stdout_fd, stderr_fd; /* child's stdio when not a tty */
	int close_fds[16];        /* shim-side descriptors the child must not keep */
	size_t nclose;
};

/* clone()s the container init; returns its pid or -1. */
pid_t container_clone(const struct config *cfg, const struct launch_fds *fds);

/* ---- exec.c ---- */

struct exec_request {
	bool tty, stdin_open;
	unsigned rows, cols;
	char *user, *cwd;
	struct strlist env, args;
};

int exec_request_parse(const unsigned char *p, size_t n, struct exec_request *r, char **err);
void exec_request_free(struct exec_request *r);
/* Forks the helper that joins the container and forks the process; returns the helper's pid. */
pid_t exec_spawn(const struct config *cfg, pid_t init_pid, const struct exec_request *r,
		 const struct launch_fds *fds);

/* ---- log.c ---- */

struct logger;
struct logger *log_open(const char *dir, long long max_size, int max_files);
/* stream: 0 stdout, 1 stderr */
void log_write(struct logger *lg, int stream, const char *data, size_t n);
void log_flush_partial(struct logger *lg, int stream);

/* ---- shim.c ---- */

/* Runs in the forked shim: starts the container, reports to REPORT_FD, serves until exit. */
void shim_main(struct config *cfg, int report_fd) __attribute__((noreturn));

#endif
