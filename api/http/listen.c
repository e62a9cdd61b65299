/* api/http/listen.c — where to listen: HOST:PORT (numeric port, [v6]:PORT)
 * or unix:PATH (bound here with mode 0600; a stale socket of an earlier run
 * is replaced, any other file is refused). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "service.h"

int cjh_parse_listen(const char *spec, cjh_listen *ls)
{
	memset(ls, 0, sizeof *ls);
	ls->unix_fd = -1;
	if (!strncmp(spec, "unix:", 5)) {
		const char *path = spec + 5;
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		if (!*path || strlen(path) >= sizeof un.sun_path)
			return cj_error_set(CJ_EINVAL, NULL, "listen: bad unix socket path '%s'", path);
		strcpy(un.sun_path, path);
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode))
				return cj_error_set(CJ_EEXIST, NULL, "listen: %s exists and is not a socket", path);
			unlink(path); /* a stale socket of an earlier run */
		}
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) != 0 || listen(fd, 128) != 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return cj_error_set(CJ_EIO, NULL, "listen: cannot bind %s: %s", path, strerror(e));
		}
		chmod(path, 0600);
		ls->unix_fd = fd;
		snprintf(ls->text, sizeof ls->text, "unix:%s", path);
		return 0;
	}
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec)
		return cj_error_set(CJ_EINVAL, NULL, "listen: expected HOST:PORT or unix:PATH, got '%s'", spec);
	size_t hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		return cj_error_set(CJ_EINVAL, NULL, "listen: host too long");
	memcpy(host, spec, hl);
	host[hl] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return cj_error_set(CJ_EINVAL, NULL, "listen: bad port in '%s'", spec);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
	int g = getaddrinfo(host, colon + 1, &hints, &ai);
	if (g)
		return cj_error_set(CJ_EINVAL, NULL, "listen: cannot resolve '%s': %s", host, gai_strerror(g));
	memcpy(&ls->addr, ai->ai_addr, ai->ai_addrlen);
	ls->len = ai->ai_addrlen;
	ls->v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return 0;
}
