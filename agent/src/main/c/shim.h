/* The shim's state, shared by shim.c (event loop, processes) and protocol.c (clients). */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include "launcher.h"

#define CLIENT_BUF_MAX (4u << 20) /* a client further behind than this is dropped */
#define FRAME_MAX (1u << 20)      /* largest frame a client may send */
#define DRAIN_MS 2000             /* how long output is drained after a process exits */
#define READ_CHUNK 65536

enum client_kind { C_NEW, C_WATCH, C_ATTACH, C_EXEC, C_CONTROL };

struct session;

struct client {
	int fd;
	enum client_kind kind;
	bool dead;         /* closed; freed at the end of the loop iteration */
	bool closing;      /* close once the output buffer is flushed */
	bool x_sent;       /* got its final frame */
	bool await_start;  /* sent S, waits for P or F+x */
	struct buf in, out;
	struct session *sess; /* C_EXEC only */
	struct client *next;
};

/* A process whose stdio the shim serves: the container's init or an exec'd process. */
struct proc {
	pid_t pid;
	struct session *sess; /* NULL for the init */
	int chan;             /* control channel, -1 after EOF */
	int out_fd[2];        /* stdout / stderr read ends; with a tty out_fd[0] is the pty */
	int pty;              /* pty master, or -1 */
	int in_fd;            /* where client input goes (pipe or pty), -1 if none */
	struct buf in_buf;
	bool in_close;        /* close stdin once in_buf is written */
	bool held;            /* init waits for CH_START */
	bool start_sent, started, exited;
	int status;           /* wait status */
	int64_t deadline;     /* end of output draining, after exit */
	int fail_code;        /* 0, or why it never started */
	char *fail_msg;
};

struct session {
	struct proc p;
	struct client *client;
	bool dead;
	struct session *next;
};

struct shim {
	struct config *cfg;
	int listen_fd, sig_fd;
	struct logger *log;
	struct proc init;
	struct client *clients;
	struct session *sessions;
	bool finished;        /* the init is gone, exit.json written */
	int exit_code, exit_signal;
	int64_t exit_deadline;
};

extern struct shim shim;

/* protocol.c */
void client_accept(void);
void client_read(struct client *c);
void client_flush(struct client *c);
void client_drop(struct client *c);
void client_send(struct client *c, char type, const void *payload, size_t n);
void client_send_i32(struct client *c, char type, int32_t v);
void client_send_exit(struct client *c, int code, int sig);
void client_fail(struct client *c, int code, const char *msg);
void clients_sweep(void);

/* shim.c: frame handlers */
void handle_frame(struct client *c, char type, const unsigned char *p, size_t n);

#endif
