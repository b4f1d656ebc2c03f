/* shim.sock connections: framing (type byte, u32 BE length, payload) and non-blocking,
 * bounded output buffers, so a slow or dead client can never stall the shim. */
#include "shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void client_accept(void)
{
	for (;;) {
		int fd = accept4(shim.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error such as EMFILE */
		struct client *c = xmalloc(sizeof(*c));
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->next = shim.clients;
		shim.clients = c;
	}
}

void client_drop(struct client *c)
{
	if (c->dead)
		return;
	close(c->fd);
	c->dead = true;
	if (c->sess) {
		c->sess->client = NULL;
		/* nobody can send input any more: let a reading process see EOF */
		c->sess->p.in_close = true;
	}
}

void client_flush(struct client *c)
{
	while (!c->dead && buf_size(&c->out)) {
		ssize_t w = send(c->fd, c->out.data + c->out.off, buf_size(&c->out), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				client_drop(c); /* EPIPE, ECONNRESET: only this client goes */
			return;
		}
		buf_consume(&c->out, (size_t)w);
	}
	if (!c->dead && c->closing && !buf_size(&c->out))
		client_drop(c);
}

void client_send(struct client *c, char type, const void *payload, size_t n)
{
	if (!c || c->dead || c->x_sent)
		return;
	unsigned char hdr[5];
	hdr[0] = (unsigned char)type;
	put_be32(hdr + 1, (uint32_t)n);
	buf_append(&c->out, hdr, sizeof(hdr));
	buf_append(&c->out, payload, n);
	if (buf_size(&c->out) > CLIENT_BUF_MAX) {
		client_drop(c);
		return;
	}
	client_flush(c);
}

void client_send_i32(struct client *c, char type, int32_t v)
{
	unsigned char p[4];
	put_be32(p, (uint32_t)v);
	client_send(c, type, p, sizeof(p));
}

void client_send_exit(struct client *c, int code, int sig)
{
	unsigned char p[8];
	put_be32(p, (uint32_t)code);
	put_be32(p + 4, (uint32_t)sig);
	client_send(c, 'x', p, sizeof(p));
	if (c && !c->dead) {
		c->x_sent = true;
		c->closing = true;
		client_flush(c);
	}
}

void client_fail(struct client *c, int code, const char *msg)
{
	client_send(c, 'F', msg, strlen(msg));
	client_send_exit(c, code, 0);
}

static void parse_frames(struct client *c)
{
	while (!c->dead && buf_size(&c->in) >= 5) {
		const unsigned char *h = (const unsigned char *)c->in.data + c->in.off;
		uint32_t len = get_be32(h + 1);
		if (len > FRAME_MAX) {
			client_drop(c);
			return;
		}
		if (buf_size(&c->in) < 5 + (size_t)len)
			return;
		handle_frame(c, (char)h[0], h + 5, len);
		buf_consume(&c->in, 5 + (size_t)len);
	}
}

void client_read(struct client *c)
{
	char tmp[READ_CHUNK];
	ssize_t r = read(c->fd, tmp, sizeof(tmp));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_drop(c);
		return;
	}
	buf_append(&c->in, tmp, (size_t)r);
	parse_frames(c);
}

void clients_sweep(void)
{
	for (struct client **pp = &shim.clients; *pp;) {
		struct client *c = *pp;
		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
	}
}
