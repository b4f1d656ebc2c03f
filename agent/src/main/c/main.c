/* berth-launcher run CONFIG: forks the shim and relays its one-line report. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Rewrites our argv in place so ps shows which container a shim belongs to. */
static void set_title(int argc, char **argv, const char *id)
{
	char *start = argv[0];
	char *end = argv[argc - 1] + strlen(argv[argc - 1]);
	size_t room = (size_t)(end - start);
	memset(start, 0, room);
	snprintf(start, room + 1, "berth-launcher shim %s", id);
}

/* Reads the shim's report: one line, and for a failure also until the shim has exited
 * (EOF), since "failed" promises that nothing of the container is left. */
static size_t read_report(int fd, char *line, size_t cap)
{
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, line + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		line[len] = 0;
		if (memchr(line, '\n', len) && strncmp(line, "failed", 6) != 0)
			break;
		if (len == cap - 1)
			break;
	}
	line[len] = 0;
	return len;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int pfd[2];
	if (argc != 3 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: berth-launcher run CONFIG\n");
		return 2;
	}
	if (config_load(argv[2], &cfg) < 0)
		return 2;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("berth-launcher: pipe");
		return 2;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("berth-launcher: fork");
		return 2;
	}
	if (pid == 0) {
		close(pfd[0]);
		set_title(argc, argv, cfg.id);
		shim_main(&cfg, pfd[1]);
	}
	close(pfd[1]);
	char line[2048];
	if (read_report(pfd[0], line, sizeof(line)) == 0) {
		printf("failed %d the shim exited without reporting\n", EXIT_SETUP);
		return 1;
	}
	fputs(line, stdout);
	return strncmp(line, "ok ", 3) == 0 ? 0 : 1;
}
