/* tests/crash/harness.c — the fork/pipe harness of the kill -9 loops (see
 * harness.h). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "testutil.h"

void ch_say(int fd, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, line, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(5);
		}
		line += n;
		len -= (size_t)n;
	}
}

void ch_sayf(int fd, const char *fmt, ...)
{
	char line[PIPE_BUF];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof line)
		_exit(5);
	ch_say(fd, line, (size_t)len);
}

int ch_spawn(ch_child *c, void (*body)(void *arg, int fd), void *arg)
{
	c->pid = -1;
	c->fd = -1;
	c->plen = 0;
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		body(arg, fds[1]);
		_exit(9);
	}
	close(fds[1]);
	c->pid = pid;
	c->fd = fds[0];
	return 0;
}

/* Split a chunk into lines; a line's start may wait in c->partial. */
static void feed(ch_child *c, const char *p, size_t n, ch_line_fn on_line, void *ctx)
{
	for (size_t k = 0; k < n; k++) {
		if (p[k] == '\n') {
			c->partial[c->plen] = '\0';
			on_line(ctx, c->partial);
			c->plen = 0;
		} else if (c->plen + 1 < sizeof c->partial) {
			c->partial[c->plen++] = p[k];
		}
	}
}

int ch_pump(ch_child *c, uint64_t deadline_ns, ch_line_fn on_line, ch_want_fn want, void *ctx)
{
	for (;;) {
		if (want && want(ctx))
			return 1;
		int timeout = -1;
		if (deadline_ns) {
			uint64_t now = tu_now_ns();
			if (now >= deadline_ns)
				return 0;
			timeout = (int)((deadline_ns - now + 999999) / 1000000);
		}
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, timeout) <= 0)
			continue; /* EINTR, or the deadline: asked again above */
		char chunk[65536];
		ssize_t n = read(c->fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0; /* end of file: the child is gone */
		feed(c, chunk, (size_t)n, on_line, ctx);
	}
}

int ch_kill(ch_child *c, int *status, ch_line_fn on_line, void *ctx)
{
	kill(c->pid, SIGKILL);
	*status = 0;
	pid_t w = waitpid(c->pid, status, 0);
	if (w == c->pid)
		ch_pump(c, 0, on_line, NULL, ctx);
	close(c->fd);
	c->fd = -1;
	if (w != c->pid)
		return -1;
	return WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
}

void ch_abandon(ch_child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->fd);
	c->fd = -1;
}

uint64_t ch_seed(void)
{
	uint64_t seed = tu_env_ulong("CJ_CRASH_SEED", 0);
	return seed ? seed : tu_now_ns() | 1;
}
