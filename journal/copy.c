/* journal/copy.c — the journal copy of a backup: one compacted LMDB copy
 * (journal/env.c, under the gate) written by a helper thread into a pipe;
 * the calling thread reads the pipe, hashes the bytes (the XXH3-128 of the
 * manifest, with no second reading pass), writes them to the file the
 * caller opened 0600 and writes that back as it grows (flush-behind,
 * common/fsutil.h). The pipe is the brake: LMDB's copy can run no further
 * ahead of the disk than the pipe holds, so the backup never leaves a long
 * backlog of dirty pages for the appends' fsyncs on the same disk to wait
 * behind. The file is fsynced at the end (docs/reliability.md, L11). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include "journal/journal_internal.h"
#include "journal/keys.h"
#include "common/err.h"
#include "common/fsutil.h"

#define CHUNK ((size_t)1 << 20)
#define PIPE_BYTES (1 << 20)
#define REPORT_NS 100000000ull   /* how often progress is reported */
#define ATTEMPTS 3               /* copies started over after another process's growth */

typedef struct copy_job {
	cji_env *env;
	int wfd;                 /* the pipe's write end: closed when the copy ends */
	int rc;                  /* raw LMDB code */
} copy_job;

static void *copy_main(void *arg)
{
	copy_job *c = arg;
	c->rc = cji_env_copy_once(c->env, c->wfd);
	close(c->wfd);
	return NULL;
}

/* Bytes in use in the map (the copy's size at most), and room for the
 * appends that come during the copy: this process cannot grow the map
 * while the copy holds the gate, so a map over three quarters full is
 * grown once before. Only a writing handle grows: a read-only one does not
 * hold up another process's growth (docs/reliability.md, L5). */
static uint64_t prepare(cji_journal *j)
{
	MDB_txn *txn;
	if (cji_env_read_begin(&j->env, &txn) != 0) {
		cj_error_clear();
		return 0;
	}
	MDB_envinfo info;
	MDB_stat st;
	mdb_env_info(j->env.env, &info);
	mdb_env_stat(j->env.env, &st);
	cji_env_read_end(&j->env, txn);
	uint64_t used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	if (!j->env.read_only && used > info.me_mapsize / 4 * 3 && cji_env_grow(&j->env) != 0)
		cj_error_clear(); /* at the ceiling: appends will say so themselves */
	return used;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

typedef struct sink {
	int fd;
	uint8_t *buf;
	XXH3_state_t *hash;
	uint64_t written, flushed, total;
	cj_progress_fn progress;
	void *arg;
} sink;

/* One copy: the helper writes the pipe, this thread drains it into the
 * file. Returns the LMDB code of the copy (*werr: errno of our own write,
 * which wins). */
static int attempt(cji_journal *j, sink *s, int *werr)
{
	int p[2];
	*werr = 0;
	if (pipe2(p, O_CLOEXEC) != 0) {
		*werr = errno;
		return 0;
	}
	fcntl(p[0], F_SETPIPE_SZ, PIPE_BYTES); /* fewer wake-ups; advice only */
	copy_job c = { &j->env, p[1], 0 };
	pthread_t t;
	if (pthread_create(&t, NULL, copy_main, &c) != 0) {
		close(p[0]);
		close(p[1]);
		*werr = ENOMEM;
		return 0;
	}
	uint64_t last = 0;
	for (;;) {
		ssize_t n = read(p[0], s->buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			*werr = errno;
		if (n <= 0)
			break;
		XXH3_128bits_update(s->hash, s->buf, (size_t)n);
		if ((*werr = write_all(s->fd, s->buf, (size_t)n)))
			break;  /* closing the read end stops the copy (EPIPE) */
		s->written += (uint64_t)n;
		cji_flush_behind(s->fd, &s->flushed, s->written);
		uint64_t now = mono_ns();
		if (s->progress && now - last >= REPORT_NS) {
			last = now;
			s->progress(s->written, s->total, s->arg);
		}
	}
	close(p[0]);
	pthread_join(t, NULL);
	return c.rc;
}

int cji_journal_copy(char hex_out[33], uint64_t *size_out, cji_journal *j, int fd,
                     cj_progress_fn progress, void *arg)
{
	*size_out = 0;
	sink s = { fd, malloc(CHUNK), XXH3_createState(), 0, 0, prepare(j), progress, arg };
	int rc = !s.buf || !s.hash ? cji_err(CJ_ENOMEM, "out of memory") : 0;
	int mrc = MDB_MAP_RESIZED, werr = 0;
	for (int i = 0; !rc && i < ATTEMPTS && mrc == MDB_MAP_RESIZED; i++) {
		if (i) /* another process grew the map before the copy began */
			cji_env_adopt_resize(&j->env);
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			rc = cji_err_errno(errno, "journal %s: cannot rewind its copy", j->env.dir);
			break;
		}
		XXH3_128bits_reset(s.hash);
		s.written = s.flushed = 0;
		mrc = attempt(j, &s, &werr);
		if (werr)
			rc = cji_err_errno(werr, "journal %s: cannot write its copy", j->env.dir);
	}
	if (!rc && mrc)
		rc = cji_err_mdb(mrc, "journal %s: copy failed", j->env.dir);
	if (!rc && fsync(fd) != 0)
		rc = cji_err_errno(errno, "journal %s: cannot fsync its copy", j->env.dir);
	if (!rc) {
		XXH128_hash_t d = XXH3_128bits_digest(s.hash);
		uint8_t key[16];
		cji_put_be64(key, d.high64);
		cji_put_be64(key + 8, d.low64);
		cji_blob_hex(key, hex_out);
		*size_out = s.written;
		if (progress)
			progress(s.written, s.written, arg);
	}
	free(s.buf);
	XXH3_freeState(s.hash);
	return rc;
}
