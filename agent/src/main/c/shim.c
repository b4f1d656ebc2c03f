/* The shim: starts the container's init, reports to the launcher, then serves shim.sock,
 * the container's stdio and logs in a single-threaded poll() loop until the init exits. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct shim shim;

static int report_fd = -1;
static bool in_state_dir; /* our cwd is state_dir: its files may be written */

/* ---------------------------------------------------------------- helpers */

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void proc_init(struct proc *p)
{
	memset(p, 0, sizeof(*p));
	p->chan = p->out_fd[0] = p->out_fd[1] = p->pty = p->in_fd = -1;
}

static void exit_status(int status, int *code, int *sig)
{
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	*code = *sig ? 128 + *sig : WEXITSTATUS(status);
}

static void report(const char *line)
{
	if (report_fd >= 0) {
		write_all(report_fd, line, strlen(line));
		close_fd(&report_fd);
	}
}

static void remove_state_files(void)
{
	unlink("shim.sock");
	unlink("shim.pid");
}

static void write_exit_file(int code, int sig, const char *error)
{
	struct buf b = {0};
	char head[160];
	int n = snprintf(head, sizeof(head),
			 "{\"exit_code\":%d,\"signal\":%d,\"finished_at_unix_nanos\":%lld,\"error\":\"", code,
			 sig, (long long)now_realtime_ns());
	buf_append(&b, head, (size_t)n);
	json_escape(&b, error, strlen(error));
	buf_append(&b, "\"}\n", 4); /* includes the terminating NUL */
	write_file_atomic("exit.json", b.data, true);
	buf_free(&b);
}

/* A start that failed before the loop: record it, report it, leave nothing behind. */
static void __attribute__((noreturn)) launch_fail(int code, const char *msg)
{
	if (shim.init.pid > 0 && !shim.init.exited) {
		kill(shim.init.pid, SIGKILL);
		waitpid(shim.init.pid, NULL, 0);
	}
	char *line = xasprintf("%s\n", msg);
	if (shim.log)
		log_write(shim.log, 1, line, strlen(line));
	if (in_state_dir) {
		write_exit_file(code, 0, msg);
		remove_state_files();
	}
	free(line);
	/* the report is one line: flatten any newline in the message */
	char *flat = xstrdup(msg);
	for (char *c = flat; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	line = xasprintf("failed %d %s\n", code, flat);
	report(line);
	_exit(0);
}

static void __attribute__((noreturn)) launch_fail_errno(const char *what)
{
	char *msg = xasprintf("%s: %s", what, strerror(errno));
	launch_fail(EXIT_SETUP, msg);
}

/* ---------------------------------------------------------------- output */

static void broadcast(char type, const char *data, size_t n)
{
	for (struct client *c = shim.clients; c; c = c->next)
		if (c->kind == C_ATTACH)
			client_send(c, type, data, n);
}

static void proc_output(struct proc *p, int stream, const char *data, size_t n)
{
	char type = stream ? 'E' : 'O';
	if (p->sess) {
		client_send(p->sess->client, type, data, n);
		return;
	}
	log_write(shim.log, stream, data, n);
	broadcast(type, data, n);
}

static void proc_close_output(struct proc *p, int stream)
{
	if (p->out_fd[stream] == p->pty)
		p->pty = -1;
	if (p->out_fd[stream] == p->in_fd)
		p->in_fd = -1;
	close_fd(&p->out_fd[stream]);
	if (!p->sess)
		log_flush_partial(shim.log, stream);
}

static void proc_check_chan(struct proc *p);

static void proc_read(struct proc *p, int stream)
{
	char data[READ_CHUNK];
	/* output proves the execve happened: learn that first, so P precedes O/E */
	if (!p->started && p->chan >= 0)
		proc_check_chan(p);
	ssize_t r = read(p->out_fd[stream], data, sizeof(data));
	if (r > 0)
		proc_output(p, stream, data, (size_t)r);
	else if (r == 0 || (errno != EAGAIN && errno != EINTR))
		proc_close_output(p, stream); /* EOF, or EIO from a pty whose slave is gone */
}

/* ---------------------------------------------------------------- stdin */

/* The process a client's I/C/R frames are for; NULL once its exec session has ended. */
static struct proc *client_target(struct client *c)
{
	if (c->kind == C_EXEC)
		return c->sess ? &c->sess->p : NULL;
	return &shim.init;
}

static void proc_stdin_service(struct proc *p)
{
	while (p->in_fd >= 0 && buf_size(&p->in_buf)) {
		ssize_t w = write(p->in_fd, p->in_buf.data + p->in_buf.off, buf_size(&p->in_buf));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			buf_consume(&p->in_buf, buf_size(&p->in_buf)); /* reader is gone */
			break;
		}
		buf_consume(&p->in_buf, (size_t)w);
	}
	if (p->in_close && !buf_size(&p->in_buf) && p->in_fd >= 0 && p->in_fd != p->pty)
		close_fd(&p->in_fd);
}

static void proc_close_stdin(struct proc *p)
{
	if (p->in_fd >= 0 && p->in_fd == p->pty) {
		/* a terminal has no EOF of its own: send its end-of-file character */
		struct termios t;
		char eof = tcgetattr(p->pty, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
		buf_append(&p->in_buf, &eof, 1);
	} else {
		p->in_close = true;
	}
	proc_stdin_service(p);
}

static void proc_resize(struct proc *p, const unsigned char *d, size_t n)
{
	if (p->pty < 0 || n < 4)
		return;
	struct winsize ws = {.ws_row = (unsigned short)(d[0] << 8 | d[1]),
			     .ws_col = (unsigned short)(d[2] << 8 | d[3])};
	ioctl(p->pty, TIOCSWINSZ, &ws);
}

/* ---------------------------------------------------------------- start */

static void init_started(void)
{
	shim.init.started = true;
	for (struct client *c = shim.clients; c; c = c->next)
		if (c->await_start) {
			c->await_start = false;
			client_send_i32(c, 'P', shim.init.pid);
		}
}

static void init_failed(int code, const char *msg)
{
	struct proc *p = &shim.init;
	p->fail_code = code;
	p->fail_msg = xstrdup(msg);
	for (struct client *c = shim.clients; c; c = c->next) {
		if (c->await_start)
			client_fail(c, code, msg);
		else if (c->kind == C_ATTACH)
			client_send(c, 'F', msg, strlen(msg));
	}
}

static void handle_start(struct client *c)
{
	struct proc *p = &shim.init;
	if (p->fail_code) {
		client_fail(c, p->fail_code, p->fail_msg);
	} else if (p->held && !p->start_sent) {
		p->start_sent = true;
		c->await_start = true;
		chan_send(p->chan, CH_START, 0, NULL, -1);
	} else if (p->start_sent && !p->started && !p->exited) {
		c->await_start = true;
	} else {
		client_send_i32(c, 'P', p->pid);
	}
}

/* ---------------------------------------------------------------- exec sessions */

static void session_fail(struct session *s, int code, const char *msg)
{
	client_fail(s->client, code, msg);
	s->p.fail_code = code;
}

static bool make_pipe(int fds[2], int shim_end)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return false;
	set_nonblock(fds[shim_end]);
	return true;
}

/* Sets up the session's pipes (unless a tty) and channel, then forks the helper. */
static bool session_spawn(struct session *s, const struct exec_request *r, char **err)
{
	struct launch_fds fds = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	int sv[2], out[2] = {-1, -1}, errp[2] = {-1, -1}, in[2] = {-1, -1};
	bool ok = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0;
	if (ok && !r->tty) {
		ok = make_pipe(out, 0) && make_pipe(errp, 0) &&
		     (r->stdin_open ? make_pipe(in, 1)
				    : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	}
	if (!ok) {
		*err = xasprintf("exec: %s", strerror(errno));
		for (int i = 0; i < 2; i++)
			close_fd(&out[i]), close_fd(&errp[i]), close_fd(&in[i]);
		return false;
	}
	fds.chan = sv[1];
	fds.stdin_fd = in[0], fds.stdout_fd = out[1], fds.stderr_fd = errp[1];
	pid_t helper = exec_spawn(shim.cfg, shim.init.pid, r, &fds);
	close(sv[1]), close_fd(&in[0]), close_fd(&out[1]), close_fd(&errp[1]);
	s->p.chan = sv[0];
	s->p.out_fd[0] = out[0], s->p.out_fd[1] = errp[0], s->p.in_fd = in[1];
	if (helper < 0) {
		*err = xasprintf("exec: fork: %s", strerror(errno));
		return false;
	}
	return true;
}

static void session_free(struct session *s)
{
	close_fd(&s->p.chan);
	for (int i = 0; i < 2; i++)
		if (s->p.out_fd[i] != s->p.pty)
			close_fd(&s->p.out_fd[i]);
	if (s->p.in_fd != s->p.pty)
		close_fd(&s->p.in_fd);
	close_fd(&s->p.pty);
	buf_free(&s->p.in_buf);
	free(s->p.fail_msg);
	free(s);
}

static void start_exec(struct client *c, const unsigned char *payload, size_t n)
{
	struct exec_request r;
	char *err = NULL;
	if (shim.init.exited || !shim.init.started) {
		client_fail(c, EXIT_SETUP, "container is not running");
		return;
	}
	if (exec_request_parse(payload, n, &r, &err) < 0) {
		client_fail(c, EXIT_SETUP, err);
		free(err);
		exec_request_free(&r);
		return;
	}
	struct session *s = xmalloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	proc_init(&s->p);
	s->p.sess = s;
	s->client = c;
	c->sess = s;
	s->next = shim.sessions;
	shim.sessions = s;
	if (!session_spawn(s, &r, &err)) {
		session_fail(s, EXIT_SETUP, err);
		s->dead = true;
		free(err);
	}
	exec_request_free(&r);
}

static void session_started(struct session *s)
{
	if (s->p.fail_code) {
		s->dead = true; /* the client already has F and x */
		return;
	}
	if (s->p.pid <= 0) {
		session_fail(s, EXIT_SETUP, "exec: the helper process died");
		s->dead = true;
		return;
	}
	s->p.started = true;
	client_send_i32(s->client, 'P', s->p.pid);
}

/* ---------------------------------------------------------------- channel */

static void proc_chan_message(struct proc *p, const struct chan_msg *m)
{
	switch (m->type) {
	case CH_TTY:
		close_fd(&p->pty);
		p->pty = m->fd;
		set_nonblock(p->pty);
		p->out_fd[0] = p->pty;
		if (p->sess || shim.cfg->stdin_open)
			p->in_fd = p->pty;
		break;
	case CH_HELD:
		p->held = true;
		break;
	case CH_PID:
		p->pid = m->code;
		break;
	case CH_FAIL:
		if (p->sess)
			session_fail(p->sess, m->code, m->text);
		else
			init_failed(m->code, m->text);
		break;
	}
	if (m->fd >= 0 && m->type != CH_TTY)
		close(m->fd);
}

/* Reads what the channel has; EOF means every process holding it exec'd or died. */
static void proc_check_chan(struct proc *p)
{
	struct chan_msg m;
	int r;
	while ((r = chan_recv(p->chan, &m, true)) > 0)
		proc_chan_message(p, &m);
	if (r < 0 && errno == EAGAIN)
		return;
	close_fd(&p->chan);
	if (p->sess)
		session_started(p->sess);
	else if (!p->fail_code && !p->exited)
		init_started();
}

/* ---------------------------------------------------------------- children */

static void reap_children(void)
{
	struct signalfd_siginfo si;
	while (read(shim.sig_fd, &si, sizeof(si)) > 0)
		;
	/* an exec'd process can exit before its helper's CH_PID was read: read it now */
	for (struct session *s = shim.sessions; s; s = s->next)
		if (s->p.chan >= 0)
			proc_check_chan(&s->p);
	int status;
	pid_t pid;
	int64_t deadline = now_monotonic_ms() + DRAIN_MS;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct proc *p = NULL;
		if (pid == shim.init.pid)
			p = &shim.init;
		for (struct session *s = shim.sessions; s && !p; s = s->next)
			if (s->p.pid == pid)
				p = &s->p;
		if (!p || p->exited)
			continue; /* an exec helper, or an orphan we inherited as subreaper */
		p->exited = true;
		p->status = status;
		p->deadline = deadline;
	}
}

static bool proc_drained(struct proc *p, int64_t now)
{
	if (!p->exited || p->chan >= 0)
		return p->exited && now >= p->deadline;
	return (p->out_fd[0] < 0 && p->out_fd[1] < 0) || now >= p->deadline;
}

static void session_finish(struct session *s)
{
	int code, sig;
	exit_status(s->p.status, &code, &sig);
	client_send_exit(s->client, code, sig);
	if (s->client)
		s->client->sess = NULL;
	s->dead = true;
}

static void init_finish(void)
{
	struct proc *p = &shim.init;
	int code, sig;
	for (int i = 0; i < 2; i++)
		if (p->out_fd[i] >= 0)
			proc_close_output(p, i);
	exit_status(p->status, &code, &sig);
	if (p->fail_code) {
		code = p->fail_code, sig = 0;
		char *line = xasprintf("%s\n", p->fail_msg);
		log_write(shim.log, 1, line, strlen(line));
		free(line);
	}
	write_exit_file(code, sig, p->fail_msg ? p->fail_msg : "");
	shim.finished = true;
	shim.exit_code = code;
	shim.exit_signal = sig;
	shim.exit_deadline = now_monotonic_ms() + DRAIN_MS;
	for (struct client *c = shim.clients; c; c = c->next)
		if (c->kind != C_EXEC)
			client_send_exit(c, code, sig);
}

static void check_processes(void)
{
	int64_t now = now_monotonic_ms();
	for (struct session *s = shim.sessions; s; s = s->next)
		if (!s->dead && proc_drained(&s->p, now))
			session_finish(s);
	if (!shim.finished && proc_drained(&shim.init, now))
		init_finish();
	for (struct session **pp = &shim.sessions; *pp;) {
		struct session *s = *pp;
		if (s->dead) {
			*pp = s->next;
			session_free(s);
		} else {
			pp = &s->next;
		}
	}
}

/* ---------------------------------------------------------------- frames */

void handle_frame(struct client *c, char type, const unsigned char *p, size_t n)
{
	if (c->kind == C_NEW) {
		c->kind = type == 'W' ? C_WATCH : type == 'A' ? C_ATTACH : type == 'X' ? C_EXEC : C_CONTROL;
		if (c->kind == C_EXEC) {
			start_exec(c, p, n);
			return;
		}
		if (c->kind != C_CONTROL) {
			if (shim.finished)
				client_send_exit(c, shim.exit_code, shim.exit_signal);
			return;
		}
	}
	struct proc *target = client_target(c);
	switch (type) {
	case 'S':
		handle_start(c);
		break;
	case 'I':
		if (!target || target->in_fd < 0)
			break; /* no stdin to write to */
		buf_append(&target->in_buf, p, n);
		proc_stdin_service(target);
		break;
	case 'C':
		if (target)
			proc_close_stdin(target);
		break;
	case 'R':
		if (target)
			proc_resize(target, p, n);
		break;
	case 'K':
		if (n >= 4 && !shim.init.exited)
			kill(shim.init.pid, (int)get_be32(p));
		break;
	default:
		client_drop(c); /* W, A, X after the first frame, or garbage */
		return;
	}
	/* after the end every connection gets its x, whatever it asked */
	if (shim.finished && c->kind != C_EXEC)
		client_send_exit(c, shim.exit_code, shim.exit_signal);
}

/* ---------------------------------------------------------------- event loop */

enum { EV_LISTEN, EV_SIGNAL, EV_CLIENT, EV_CHAN, EV_OUT, EV_IN };

struct watch {
	int kind, stream;
	void *ptr;
};

struct pollset {
	struct pollfd *fds;
	struct watch *w;
	size_t n, cap;
};

static void watch_fd(struct pollset *ps, int fd, short events, int kind, void *ptr, int stream)
{
	if (fd < 0 || !events)
		return;
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 32;
		ps->fds = xrealloc(ps->fds, ps->cap * sizeof(*ps->fds));
		ps->w = xrealloc(ps->w, ps->cap * sizeof(*ps->w));
	}
	ps->fds[ps->n] = (struct pollfd){.fd = fd, .events = events};
	ps->w[ps->n++] = (struct watch){.kind = kind, .stream = stream, .ptr = ptr};
}

static void watch_proc(struct pollset *ps, struct proc *p)
{
	watch_fd(ps, p->chan, POLLIN, EV_CHAN, p, 0);
	for (int i = 0; i < 2; i++)
		watch_fd(ps, p->out_fd[i], POLLIN, EV_OUT, p, i);
	if (buf_size(&p->in_buf))
		watch_fd(ps, p->in_fd, POLLOUT, EV_IN, p, 0);
}

static void build_pollset(struct pollset *ps)
{
	ps->n = 0;
	watch_fd(ps, shim.listen_fd, POLLIN, EV_LISTEN, NULL, 0);
	watch_fd(ps, shim.sig_fd, POLLIN, EV_SIGNAL, NULL, 0);
	watch_proc(ps, &shim.init);
	for (struct session *s = shim.sessions; s; s = s->next)
		watch_proc(ps, &s->p);
	for (struct client *c = shim.clients; c; c = c->next) {
		/* input waiting for a stuck stdin: stop reading this client (back-pressure) */
		struct proc *target = client_target(c);
		bool full = target && buf_size(&target->in_buf) > CLIENT_BUF_MAX;
		short ev = (short)((full ? 0 : POLLIN) | (buf_size(&c->out) ? POLLOUT : 0));
		watch_fd(ps, c->fd, ev, EV_CLIENT, c, 0);
	}
}

static int poll_timeout(void)
{
	int64_t next = -1;
	if (shim.finished)
		next = shim.exit_deadline;
	else if (shim.init.exited)
		next = shim.init.deadline;
	for (struct session *s = shim.sessions; s; s = s->next)
		if (s->p.exited && (next < 0 || s->p.deadline < next))
			next = s->p.deadline;
	if (next < 0)
		return -1;
	int64_t left = next - now_monotonic_ms();
	return left < 0 ? 0 : (int)left;
}

static void dispatch(const struct pollfd *pfd, const struct watch *w)
{
	struct proc *p = w->ptr;
	struct client *c = w->ptr;
	switch (w->kind) {
	case EV_LISTEN:
		client_accept();
		break;
	case EV_SIGNAL:
		reap_children();
		break;
	case EV_CLIENT:
		if (c->dead)
			break;
		if (pfd->revents & POLLOUT)
			client_flush(c);
		if (!c->dead && pfd->revents & (POLLIN | POLLHUP | POLLERR))
			client_read(c);
		break;
	case EV_CHAN:
		if (p->chan == pfd->fd)
			proc_check_chan(p);
		break;
	case EV_OUT:
		if (p->out_fd[w->stream] == pfd->fd)
			proc_read(p, w->stream);
		break;
	case EV_IN:
		if (p->in_fd == pfd->fd)
			proc_stdin_service(p);
		break;
	}
}

static bool all_flushed(void)
{
	for (struct client *c = shim.clients; c; c = c->next)
		if (c->closing && !c->dead)
			return false;
	return shim.sessions == NULL;
}

static void __attribute__((noreturn)) event_loop(void)
{
	struct pollset ps = {0};
	for (;;) {
		build_pollset(&ps);
		int n = poll(ps.fds, ps.n, poll_timeout());
		if (n < 0 && errno != EINTR)
			break;
		for (size_t i = 0; n > 0 && i < ps.n; i++)
			if (ps.fds[i].revents)
				dispatch(&ps.fds[i], &ps.w[i]);
		for (struct session *s = shim.sessions; s; s = s->next)
			proc_stdin_service(&s->p);
		check_processes();
		clients_sweep();
		if (shim.finished && (all_flushed() || now_monotonic_ms() >= shim.exit_deadline))
			break;
	}
	remove_state_files();
	_exit(0);
}

/* ---------------------------------------------------------------- launch */

/* Puts PID into each cgroup directory of LIST. */
static int join_cgroups(const struct strlist *list, pid_t pid, const char **failed)
{
	char v[16];
	snprintf(v, sizeof(v), "%d", (int)pid);
	for (size_t i = 0; i < list->n; i++) {
		char *procs = xasprintf("%s/cgroup.procs", list->v[i]);
		int rc = write_file(procs, v);
		free(procs);
		if (rc < 0) {
			*failed = list->v[i];
			return -1;
		}
	}
	return 0;
}

/* Detaches from the launcher: own session, no inherited stdio, own cgroups. */
static void become_shim(const struct config *cfg)
{
	setsid();
	/* hold nothing of our caller's (e.g. the agent's pipes) for the container's lifetime */
	if (report_fd > 3)
		syscall(SYS_close_range, 3U, (unsigned)report_fd - 1, 0U);
	syscall(SYS_close_range, (unsigned)report_fd + 1, ~0U, 0U);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3; i++)
		dup2(null, i);
	if (null > 2)
		close(null);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* orphans of exec'd processes must come back to us, to be reaped and reported */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	char name[16];
	snprintf(name, sizeof(name), "shim-%s", cfg->id);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST)
		launch_fail_errno("create state_dir");
	if (chdir(cfg->state_dir) < 0)
		launch_fail_errno("chdir to state_dir");
	in_state_dir = true;
}

static void open_listener(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	/* relative to state_dir (our cwd), so a long state_dir fits into sun_path */
	strcpy(sa.sun_path, "shim.sock");
	shim.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (shim.listen_fd < 0)
		launch_fail_errno("socket");
	unlink(sa.sun_path);
	mode_t old = umask(0177); /* mode 0600 from the start: no window for others */
	int rc = bind(shim.listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(shim.listen_fd, 64) < 0)
		launch_fail_errno("bind shim.sock");
}

static void open_signalfd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	shim.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (shim.sig_fd < 0)
		launch_fail_errno("signalfd");
}

/* Creates the init's stdio: pipes (shim ends non-blocking), or nothing for a tty, whose
 * master the init sends over the channel. */
static void make_stdio(struct launch_fds *fds)
{
	struct proc *p = &shim.init;
	int out[2], err[2], in[2];
	if (shim.cfg->tty)
		return;
	if (!make_pipe(out, 0) || !make_pipe(err, 0))
		launch_fail_errno("pipe");
	if (shim.cfg->stdin_open) {
		if (!make_pipe(in, 1))
			launch_fail_errno("pipe");
		p->in_fd = in[1];
		fds->stdin_fd = in[0];
	} else if ((fds->stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		launch_fail_errno("open /dev/null");
	}
	p->out_fd[0] = out[0], p->out_fd[1] = err[0];
	fds->stdout_fd = out[1], fds->stderr_fd = err[1];
}

static void close_child_ends(struct launch_fds *fds)
{
	close_fd(&fds->chan);
	close_fd(&fds->stdin_fd);
	close_fd(&fds->stdout_fd);
	close_fd(&fds->stderr_fd);
}

/* Waits for the init to exec (EOF), to be held for S, or to fail. */
static void await_init(void)
{
	struct proc *p = &shim.init;
	struct chan_msg m;
	int r;
	while ((r = chan_recv(p->chan, &m, false)) > 0) {
		if (m.type == CH_FAIL) {
			waitpid(p->pid, NULL, 0);
			p->exited = true;
			launch_fail(m.code, m.text);
		}
		proc_chan_message(p, &m);
		if (p->held)
			return;
	}
	close_fd(&p->chan);
	p->started = true;
}

/* A cgroup join failed: the init's own failure, if it had one, says more (it may have died
 * before we could move it); otherwise report the join. Kills and reaps the init. */
static void __attribute__((noreturn)) init_join_failed(char *what)
{
	struct proc *p = &shim.init;
	struct chan_msg m;
	int saved = errno;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->exited = true;
	if (chan_recv(p->chan, &m, true) > 0 && m.type == CH_FAIL)
		launch_fail(m.code, m.text);
	errno = saved;
	launch_fail_errno(what);
}

static void start_init(void)
{
	struct proc *p = &shim.init;
	struct launch_fds fds = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	int sv[2];
	make_stdio(&fds);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		launch_fail_errno("socketpair");
	p->chan = sv[0];
	fds.chan = sv[1];
	/* what the init must not hold while it may wait for S: nothing of the shim's */
	int mine[] = {shim.listen_fd, shim.sig_fd, report_fd, p->chan, p->out_fd[0], p->out_fd[1],
		      p->in_fd};
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		if (mine[i] >= 0)
			fds.close_fds[fds.nclose++] = mine[i];
	p->pid = container_clone(shim.cfg, &fds);
	if (p->pid < 0)
		launch_fail_errno("clone");
	close_child_ends(&fds);
	/*
	 * The init builds its rootfs meanwhile: on cgroup v1 the first cgroup.procs write after
	 * an idle moment waits for an RCU grace period (several ms), and this way the two overlap.
	 * Only then do we leave the agent's cgroup ourselves (that write is fast by now).
	 */
	const char *bad;
	if (join_cgroups(&shim.cfg->cgroups, p->pid, &bad) < 0)
		init_join_failed(xasprintf("join cgroup %s", bad));
	if (join_cgroups(&shim.cfg->shim_cgroups, getpid(), &bad) < 0)
		init_join_failed(xasprintf("join shim cgroup %s", bad));
	chan_send(p->chan, CH_GO, 0, NULL, -1);
	await_init();
}

void shim_main(struct config *cfg, int rfd)
{
	report_fd = rfd;
	shim.cfg = cfg;
	shim.listen_fd = shim.sig_fd = -1;
	proc_init(&shim.init);
	become_shim(cfg);
	shim.log = log_open(".", cfg->log_max_size, cfg->log_max_files);
	if (!shim.log)
		launch_fail_errno("open container.log");
	open_listener();
	open_signalfd();
	start_init();
	char *ids = xasprintf("%d %d\n", (int)getpid(), (int)shim.init.pid);
	if (write_file_atomic("shim.pid", ids, false) < 0)
		launch_fail_errno("write shim.pid");
	char *line = xasprintf("ok %s", ids);
	report(line);
	free(line);
	free(ids);
	event_loop();
}
