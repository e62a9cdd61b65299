/* tools/verify_journal.c — verify's journal step in a forked child. LMDB
 * maps the journal and follows its page numbers without bounds
 * (docs/reliability.md, L9 and L16): on a damaged file any read through
 * LMDB may end in SIGBUS or SIGSEGV. The child opens the store, lets the
 * library walk the pages with bounds of its own first, and reads records,
 * ids and blobs through LMDB only when the walk found the structure sound;
 * if something still escapes, the child dies and verify reports the signal.
 * The parent forks before it opens anything (it has no threads yet), and
 * the child dies with the parent (PR_SET_PDEATHSIG): a verify killed by the
 * user leaves no check running. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include "verify_journal.h"
#include "cli.h"

static void add_error(verify_journal *r, const char *what)
{
	size_t n = strlen(r->error);
	snprintf(r->error + n, sizeof r->error - n, "%s%s", n ? "; " : "", what);
}

static void add_lib_error(verify_journal *r, int rc)
{
	add_error(r, *cj_error_last() ? cj_error_last() : cj_strerror(rc));
}

/* In the child: every check, in the order that keeps LMDB away from a
 * damaged structure. */
static void check_all(verify_journal *r, const char *store)
{
	cj_store *s;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	if ((r->open_rc = cj_store_open(&s, store, &o)) != 0) {
		/* The size check and the walk of what every open reads come
		 * first (journal/env.c): damage found there is CJ_ECORRUPT. */
		add_lib_error(r, r->open_rc);
		return;
	}
	int rc = cj_journal_check_pages(&r->pages, &r->bad_page, s);
	r->walked = rc != CJ_EINVAL;
	int ok = rc == 0 || !r->walked;
	if (rc != 0 && r->walked) {
		add_lib_error(r, rc);
		add_error(r, "records, ids and blobs not read (LMDB cannot read a damaged page safely)");
	}
	r->readable = ok;
	if (ok) {
		if ((rc = cj_journal_check(&r->checked, &r->first_bad, s)) != 0) {
			add_lib_error(r, rc);
			ok = 0;
		}
		uint64_t checked = 0, bad = 0;
		if ((rc = cj_journal_check_ids(&checked, &bad, s)) != 0) {
			add_lib_error(r, rc);
			ok = 0;
		}
		r->ids_checked = checked;
		r->ids_bad = bad;
		if ((rc = cj_blob_check(&r->blobs_checked, r->bad_blob, s)) != 0) {
			add_lib_error(r, rc);
			ok = 0;
		}
	}
	r->ok = ok;
	cj_store_close(s);
}

static void child(int fd, const char *store)
{
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	verify_journal r;
	memset(&r, 0, sizeof r);
	check_all(&r, store);
	const char *p = (const char *)&r;
	size_t left = sizeof r;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		p += n;
		left -= (size_t)n;
	}
	_exit(0);
}

static size_t read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int verify_journal_run(verify_journal *out, const char *store)
{
	memset(out, 0, sizeof *out);
	int fds[2];
	if (pipe(fds) != 0) {
		cli_fail("verify", "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL); /* the child must not write our buffered output again */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		cli_fail("verify", "cannot start the journal check: %s", strerror(e));
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], store);
	}
	close(fds[1]);
	size_t got = read_all(fds[0], out, sizeof *out);
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof *out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	memset(out, 0, sizeof *out);
	if (WIFSIGNALED(status)) {
		out->signal = WTERMSIG(status);
		snprintf(out->error, sizeof out->error, "reading the journal died of signal %d (%s): "
		         "the journal file is damaged where the page walk does not look", out->signal,
		         strsignal(out->signal));
	} else {
		snprintf(out->error, sizeof out->error, "the journal check ended without a report "
		         "(exit status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return 0;
}
