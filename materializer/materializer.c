/* materializer/materializer.c — the materializer thread. It sleeps until the
 * journal's writer signals a commit (or 1 s passes: another process may
 * append), then applies batches bounded by count and time, each in ONE
 * transaction with the journal position, so an event is applied exactly once
 * across crashes. Batches grow when it lags (up to 20,000 events or 250 ms).
 * It is the only writer of the SQLite file and the only one to checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "materializer/materializer.h"
#include "materializer/apply.h"
#include "materializer/db.h"
#include "journal/journal_internal.h"
#include "common/err.h"
#include "common/timeutil.h"

#define BATCH_MAX 20000
#define BATCH_MS 250

struct cji_materializer {
	cji_journal *journal;
	char path[4200];
	sqlite3 *db;
	cji_apply *apply;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t wake, applied;
	uint64_t position;
	int hint, stopping, paused, busy;
	int split_position;
	int lock_fd;    /* flock'd: one materializer per store across processes */
	int passive;    /* another process materializes; we only read the position */
	char error[512];
};

int cji_mat_new(cji_materializer **out, cji_journal *j, const char *sqlite_path)
{
	cji_materializer *m = calloc(1, sizeof *m);
	if (!m)
		return cji_err(CJ_ENOMEM, "out of memory");
	m->journal = j;
	m->lock_fd = -1;
	snprintf(m->path, sizeof m->path, "%s", sqlite_path);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->wake, NULL);
	pthread_cond_init(&m->applied, NULL);
	*out = m;
	return 0;
}

/* The position as stored. Read inside the batch's transaction, it makes a
 * second writer (which the lock file should prevent) unable to double-apply.
 * must_exist: a missing row is an error (else position 0). */
static int stored_position(sqlite3 *db, uint64_t *pos, int must_exist)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT seq FROM journal_position WHERE id = 1", -1, &st, NULL);
	if (rc)
		return cji_err_sqlite(rc, sqlite3_errmsg(db), "cannot read journal_position");
	*pos = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*pos = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW || (rc == SQLITE_DONE && !must_exist))
		return 0;
	return cji_err_sqlite(rc, sqlite3_errmsg(db), "journal_position has no row");
}

int cji_mat_apply_batch(uint64_t *applied, sqlite3 *db, cji_apply *a, cji_journal *j,
                        uint64_t from, unsigned max, unsigned max_ms, int split_position)
{
	*applied = 0;
	cj_journal_iter *it;
	int rc = cji_journal_iter_new(&it, j, from + 1);
	if (rc)
		return rc;
	if ((rc = cji_db_exec(db, "BEGIN IMMEDIATE", "materializer: begin"))) {
		cji_journal_iter_free(it);
		return rc;
	}
	uint64_t stored;
	if ((rc = stored_position(db, &stored, 1)) || stored != from) {
		cji_journal_iter_free(it);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc ? rc : cji_err(CJ_EBUSY, "projection position is %llu, expected %llu: "
		                         "another writer changed it", (unsigned long long)stored,
		                         (unsigned long long)from);
	}
	uint64_t n = 0;
	uint64_t deadline = max_ms ? cji_mono_ns() + (uint64_t)max_ms * 1000000u : UINT64_MAX;
	cj_record rec;
	while (n < max) {
		rc = cji_journal_iter_next(&rec, it);
		if (rc <= 0)
			break;
		if (rec.seq != from + n + 1) {
			rc = cji_err(CJ_ECORRUPT, "journal gap: expected sequence %llu, found %llu",
			             (unsigned long long)(from + n + 1), (unsigned long long)rec.seq);
			break;
		}
		if ((rc = cji_apply_event(a, rec.seq, rec.event, rec.ts_ms)))
			break;
		n++;
		if ((n & 255) == 0 && cji_mono_ns() > deadline)
			break;
	}
	cji_journal_iter_free(it);
	if (rc < 0 || n == 0) {
		cji_apply_discard(a);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc < 0 ? rc : 0;
	}
	if (split_position) {
		/* Negative control only: rows and position in two transactions. */
		if ((rc = cji_apply_flush(a)) || (rc = cji_db_exec(db, "COMMIT", "materializer: commit")))
			return rc;
		/* Widens the negative-control window (tests/crash/test_crash_materialize.c):
		 * a kill -9 in these 2 ms leaves committed rows beyond the position. */
		struct timespec gap = { 0, 2000000 };
		nanosleep(&gap, NULL);
		if ((rc = cji_db_exec(db, "BEGIN IMMEDIATE", "materializer: begin")))
			return rc;
	}
	if ((rc = cji_apply_position(a, from + n, cji_now_ms())) ||
	    (rc = cji_db_exec(db, "COMMIT", "materializer: commit"))) {
		cji_apply_discard(a);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	*applied = n;
	return 0;
}

static void set_error(cji_materializer *m, int rc)
{
	pthread_mutex_lock(&m->mu);
	if (rc)
		snprintf(m->error, sizeof m->error, "%s (%s)", cj_error_last(), cj_strerror(rc));
	else
		m->error[0] = '\0';
	pthread_mutex_unlock(&m->mu);
}

static void *mat_main(void *arg)
{
	cji_materializer *m = arg;
	int dirty = 0;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->stopping && (m->paused || !m->hint)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&m->wake, &m->mu, &ts) != 0 && !m->paused)
				break; /* poll: another process may have appended */
		}
		if (m->stopping)
			break;
		m->hint = 0;
		m->busy = 1;
		uint64_t from = m->position;
		int split = m->split_position;
		pthread_mutex_unlock(&m->mu);

		uint64_t n = 0;
		int rc = m->db ? cji_mat_apply_batch(&n, m->db, m->apply, m->journal, from, BATCH_MAX, BATCH_MS, split)
		               : cji_err(CJ_EIO, "projection %s is not open", m->path);
		set_error(m, rc);
		if (!rc && !n && dirty) {
			/* Idle: checkpoint now rather than in the middle of a burst. */
			sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			dirty = 0;
		}
		pthread_mutex_lock(&m->mu);
		m->busy = 0;
		if (n) {
			m->position = from + n;
			m->hint = 1; /* more may be waiting */
			dirty = 1;
			pthread_cond_broadcast(&m->applied);
		}
		if (rc) {
			/* Stopped progress (corrupt record, disk full...): retry in a while. */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&m->wake, &m->mu, &ts);
		}
		pthread_cond_broadcast(&m->applied);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static int open_db(cji_materializer *m)
{
	int rc = cji_db_open_rw(&m->db, m->path);
	if (rc)
		return rc;
	uint64_t pos = 0, last = 0;
	if ((rc = stored_position(m->db, &pos, 0)) || (rc = cji_journal_last_seq(&last, m->journal)))
		goto fail;
	if (pos > last) {
		rc = cji_err(CJ_EAHEAD, "%s is ahead of the journal (position %llu, journal ends at %llu): "
		             "a restored or damaged store; run 'chatjournal replay'", m->path,
		             (unsigned long long)pos, (unsigned long long)last);
		goto fail;
	}
	if ((rc = cji_apply_new(&m->apply, m->db, m->journal)))
		goto fail;
	m->position = pos;
	return 0;
fail:
	sqlite3_close(m->db);
	m->db = NULL;
	return rc;
}

/* 1 if we hold the store's materializer lock, 0 if another process does. */
static int take_lock(cji_materializer *m)
{
	char p[4300];
	snprintf(p, sizeof p, "%s-materializer.lock", m->path);
	m->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock_fd < 0)
		return cji_err_errno(errno, "cannot open %s", p);
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	if (errno == EWOULDBLOCK)
		return 0;
	return cji_err_errno(errno, "cannot lock %s", p);
}

static int stored_position_ro(cji_materializer *m, uint64_t *pos)
{
	sqlite3 *db;
	int rc = cji_db_open_ro(&db, m->path);
	if (rc)
		return rc;
	rc = stored_position(db, pos, 1);
	sqlite3_close(db);
	return rc;
}

int cji_mat_start(cji_materializer *m)
{
	int rc = take_lock(m);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		m->passive = 1;
		return stored_position_ro(m, &m->position);
	}
	rc = open_db(m);
	if (rc)
		return rc;
	m->hint = 1;
	if (pthread_create(&m->thread, NULL, mat_main, m) != 0) {
		cji_apply_free(m->apply);
		sqlite3_close(m->db);
		m->db = NULL;
		return cji_err(CJ_ENOMEM, "cannot start the materializer thread");
	}
	m->running = 1;
	return 0;
}

void cji_mat_notify(void *arg)
{
	cji_materializer *m = arg;
	pthread_mutex_lock(&m->mu);
	m->hint = 1;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->mu);
}

static void close_db(cji_materializer *m)
{
	cji_apply_free(m->apply);
	m->apply = NULL;
	if (m->db) {
		sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		sqlite3_close(m->db);
		m->db = NULL;
	}
}

void cji_mat_free(cji_materializer *m)
{
	if (!m)
		return;
	if (m->running) {
		pthread_mutex_lock(&m->mu);
		m->stopping = 1;
		pthread_cond_broadcast(&m->wake);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	close_db(m);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	pthread_cond_destroy(&m->wake);
	pthread_cond_destroy(&m->applied);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

uint64_t cji_mat_position(cji_materializer *m)
{
	if (m->passive) {
		uint64_t p = 0;
		if (stored_position_ro(m, &p) == 0)
			return p;
		cj_error_clear();
	}
	pthread_mutex_lock(&m->mu);
	uint64_t p = m->position;
	pthread_mutex_unlock(&m->mu);
	return p;
}

static int wait_passive(cji_materializer *m, uint64_t seq, int timeout_ms)
{
	uint64_t end = cji_mono_ns() + (uint64_t)timeout_ms * 1000000u, pos = 0;
	for (;;) {
		int rc = stored_position_ro(m, &pos);
		if (rc)
			return rc;
		if (pos >= seq)
			return 0;
		if (cji_mono_ns() >= end)
			return cji_err(CJ_ETIMEOUT, "projection at %llu has not reached %llu within %d ms",
			               (unsigned long long)pos, (unsigned long long)seq, timeout_ms);
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
}

int cji_mat_wait(cji_materializer *m, uint64_t seq, int timeout_ms)
{
	if (m->passive)
		return wait_passive(m, seq, timeout_ms);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->mu);
	int rc = 0;
	while (m->position < seq) {
		if (m->stopping) {
			rc = CJ_ECLOSED;
			break;
		}
		if (pthread_cond_timedwait(&m->applied, &m->mu, &ts) != 0 && m->position < seq) {
			rc = CJ_ETIMEOUT;
			break;
		}
	}
	uint64_t pos = m->position;
	pthread_mutex_unlock(&m->mu);
	if (rc == CJ_ETIMEOUT)
		return cji_err(rc, "projection at %llu has not reached %llu within %d ms",
		               (unsigned long long)pos, (unsigned long long)seq, timeout_ms);
	if (rc)
		return cji_err(rc, "store is closing");
	return 0;
}

void cji_mat_error(cji_materializer *m, char *buf, size_t n)
{
	pthread_mutex_lock(&m->mu);
	snprintf(buf, n, "%s", m->error);
	pthread_mutex_unlock(&m->mu);
}

void cji_mat_set_split_position(cji_materializer *m, int on)
{
	pthread_mutex_lock(&m->mu);
	m->split_position = on;
	pthread_mutex_unlock(&m->mu);
}

int cji_mat_is_passive(cji_materializer *m) { return m->passive; }

void cji_mat_pause(cji_materializer *m)
{
	if (m->passive)
		return;
	pthread_mutex_lock(&m->mu);
	m->paused = 1;
	while (m->busy)
		pthread_cond_wait(&m->applied, &m->mu);
	pthread_mutex_unlock(&m->mu);
	/* The connection must be closed before the file is replaced. */
	close_db(m);
}

int cji_mat_resume(cji_materializer *m)
{
	if (m->passive)
		return 0;
	int rc = open_db(m);
	pthread_mutex_lock(&m->mu);
	m->paused = 0;
	m->hint = 1;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->mu);
	return rc;
}
