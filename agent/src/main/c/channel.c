/* The control channel between the shim and the processes it forks: a SOCK_SEQPACKET
 * socketpair, so each message arrives whole. Both ends are close-on-exec, which makes a
 * successful execve visible to the shim as EOF. */
#include "launcher.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int chan_send(int sock, char type, int32_t code, const char *text, int fd)
{
	unsigned char msg[5 + sizeof(((struct chan_msg *)0)->text)];
	size_t tlen = text ? strnlen(text, sizeof(msg) - 6) : 0;
	msg[0] = (unsigned char)type;
	put_be32(msg + 1, (uint32_t)code);
	memcpy(msg + 5, text ? text : "", tlen);
	struct iovec iov = {.iov_base = msg, .iov_len = 5 + tlen};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t r;
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

int chan_recv(int sock, struct chan_msg *m, bool nonblock)
{
	unsigned char msg[5 + sizeof(m->text)];
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	ssize_t r;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return (int)r;
	m->fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&m->fd, CMSG_DATA(c), sizeof(int));
	if (r < 5) {
		errno = EPROTO;
		return -1;
	}
	m->type = (char)msg[0];
	m->code = (int32_t)get_be32(msg + 1);
	memcpy(m->text, msg + 5, (size_t)r - 5);
	m->text[r - 5] = 0;
	return 1;
}

void chan_fail(int sock, int code, const char *fmt, ...)
{
	char text[sizeof(((struct chan_msg *)0)->text)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	chan_send(sock, CH_FAIL, code, text, -1);
	_exit(code);
}
