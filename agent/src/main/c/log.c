/* container.log in Docker's json-file format, with size-based rotation. */
#include "launcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 16384 /* Docker splits longer lines into partial messages */

struct logger {
	char *path;
	int fd;
	long long size, max_size;
	int max_files;
	struct buf partial[2]; /* the unfinished line of stdout, stderr */
	struct buf out;        /* encoded entries not yet written */
	char stamp[40];        /* timestamp of the chunk being logged */
};

static int open_log(struct logger *lg, bool truncate)
{
	lg->fd = open(lg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0),
		      0640);
	struct stat st;
	lg->size = lg->fd >= 0 && fstat(lg->fd, &st) == 0 ? st.st_size : 0;
	return lg->fd;
}

struct logger *log_open(const char *dir, long long max_size, int max_files)
{
	struct logger *lg = xmalloc(sizeof(*lg));
	memset(lg, 0, sizeof(*lg));
	lg->path = xasprintf("%s/container.log", dir);
	lg->max_size = max_size;
	lg->max_files = max_files;
	if (open_log(lg, false) < 0) {
		free(lg->path);
		free(lg);
		return NULL;
	}
	return lg;
}

static void flush_out(struct logger *lg)
{
	/* a full disk must not stop the container: output is dropped instead */
	if (lg->fd >= 0 && buf_size(&lg->out) && write_all(lg->fd, lg->out.data + lg->out.off, buf_size(&lg->out)) == 0)
		lg->size += (long long)buf_size(&lg->out);
	buf_consume(&lg->out, buf_size(&lg->out));
}

/* container.log.(n-2) -> .(n-1), ..., container.log -> .1; a single file is truncated. */
static void rotate(struct logger *lg)
{
	flush_out(lg);
	if (lg->fd >= 0)
		close(lg->fd);
	for (int i = lg->max_files - 1; i >= 1; i--) {
		char *from = i == 1 ? xstrdup(lg->path) : xasprintf("%s.%d", lg->path, i - 1);
		char *to = xasprintf("%s.%d", lg->path, i);
		rename(from, to);
		free(from);
		free(to);
	}
	open_log(lg, lg->max_files <= 1);
}

static void set_stamp(struct logger *lg)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(lg->stamp, sizeof(lg->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(lg->stamp + n, sizeof(lg->stamp) - n, ".%09ldZ", ts.tv_nsec);
}

static void emit(struct logger *lg, int stream, const char *data, size_t n)
{
	struct buf entry = {0};
	buf_append(&entry, "{\"log\":\"", 8);
	json_escape(&entry, data, n);
	const char *tail = stream ? "\",\"stream\":\"stderr\",\"time\":\"" : "\",\"stream\":\"stdout\",\"time\":\"";
	buf_append(&entry, tail, strlen(tail));
	buf_append(&entry, lg->stamp, strlen(lg->stamp));
	buf_append(&entry, "\"}\n", 3);
	long long pending = lg->size + (long long)buf_size(&lg->out);
	if (lg->max_size > 0 && pending > 0 && pending + (long long)entry.len > lg->max_size)
		rotate(lg);
	buf_append(&lg->out, entry.data, entry.len);
	buf_free(&entry);
}

static void emit_partial(struct logger *lg, int stream)
{
	struct buf *p = &lg->partial[stream];
	if (buf_size(p))
		emit(lg, stream, p->data + p->off, buf_size(p));
	buf_consume(p, buf_size(p));
}

void log_write(struct logger *lg, int stream, const char *data, size_t n)
{
	struct buf *p = &lg->partial[stream];
	set_stamp(lg);
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) + 1 : n;
		size_t room = LOG_LINE_MAX - buf_size(p);
		if (take > room)
			take = room;
		buf_append(p, data, take);
		data += take;
		n -= take;
		if (p->data[p->len - 1] == '\n' || buf_size(p) == LOG_LINE_MAX)
			emit_partial(lg, stream);
	}
	flush_out(lg);
}

void log_flush_partial(struct logger *lg, int stream)
{
	set_stamp(lg);
	emit_partial(lg, stream);
	flush_out(lg);
}
