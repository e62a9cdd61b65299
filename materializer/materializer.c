/* materializer/materializer.c — the materializer thread of one store.
 *
 * One process per store materializes: the one holding the flock on
 * chat.sqlite-materializer.lock. It sleeps until the journal's writer signals
 * a commit, or until a look at the journal's last sequence number (every
 * JOURNAL_POLL_MS, a read transaction of a few microseconds) finds commits
 * of other processes, then applies batches (batch.c) bounded by count and
 * time, each in ONE transaction with the position. It is the only writer of the SQLite file and the only one to
 * checkpoint.
 *
 * Every other process is passive: its thread tries the lock every
 * TAKEOVER_MS, so when the materializing process dies or closes another takes
 * over within a second; meanwhile it follows the position on one persistent
 * read-only connection — every POLL_BUSY_MS while someone waits for a
 * position, every POLL_IDLE_MS otherwise — never by reopening the file.
 *
 * Waiting for a position: cji_mat_wait blocks a caller; a watch calls back
 * from this thread (a server suspends the request instead of a thread). */
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
#include "materializer/scrub.h"
#include "materializer/replay.h"
#include "common/err.h"
#include "common/timeutil.h"

#define BATCH_MAX 20000
#define BATCH_MS 250
#define JOURNAL_POLL_MS 5
#define TAKEOVER_MS 500
#define POLL_BUSY_MS 2
#define POLL_IDLE_MS 100
#define RETRY_MS 1000
/* Trickle coalescing: after a batch smaller than COALESCE_EVENTS, wait up to
 * COALESCE_MS for more commits before the next one. A lone synchronous writer
 * otherwise costs one SQLite transaction (~400 us of CPU on 2 shared cores)
 * per append; the first event after a quiet spell is applied at once. */
#define COALESCE_EVENTS 256
#define COALESCE_MS 4
/* The least backlog an empty projection is built in bulk for (a replay of
 * 100,000 events takes about 1.5 s here, their live batches about 2.5 s). */
#define BULK_MIN_EVENTS 100000
/* How long an in-place scrub waits for readers to leave the WAL. */
#define SCRUB_WAIT_MS 30000

struct cj_watch {
	struct cj_watch *next;
	uint64_t seq;
	void (*fn)(void *arg);
	void *arg;
	int fired;
};

struct cji_materializer {
	cji_journal *journal;
	char path[4200];
	sqlite3 *db;            /* the writer connection (active only) */
	sqlite3 *ro;            /* the passive thread's reader */
	sqlite3_stmt *ro_pos;
	cji_file_id ro_file;    /* the file ro was opened on */
	void (*on_replace)(void *arg); /* the file at path was replaced (scrub) */
	void *on_replace_arg;
	cji_apply *apply;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t wake, applied;
	uint64_t position;
	uint64_t advanced_ns;   /* when the position last moved (or the thread began) */
	int hint, stopping, paused, busy;
	int deferred;           /* the owner asked to hold applying (cji_mat_defer): nothing closes */
	int split_position;
	int lock_fd;            /* flock'd while active: one materializer per store */
	int passive;            /* another process materializes */
	unsigned waiters;       /* blocked in cji_mat_wait (passive: poll fast) */
	uint64_t last_batch;    /* events of the last batch (coalescing) */
	struct cj_watch *watches;
	char error[512];
	int scrub_pending;      /* a compaction swapped the journal: scrub the projection */
	int scrubbing;          /* a scrub is running (it began after the swap that asked) */
	uint64_t scrubs;        /* scrubs done by this thread */
	int scrub_rc;           /* outcome of the last one */
	uint64_t scrub_ns;      /* how long the last one took */
	int scrub_claimed;      /* a compaction of this process asked for the scrub
	                           its swap would ask for (cji_mat_scrub_start) */
	int bulk_tried;         /* the catch-up from nothing was considered (once) */
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

/* ---- state shared with callers (m->mu held) ----------------------------- */

static void set_error(cji_materializer *m, int rc)
{
	pthread_mutex_lock(&m->mu);
	if (rc)
		snprintf(m->error, sizeof m->error, "%s (%s)", cj_error_last(), cj_strerror(rc));
	else
		m->error[0] = '\0';
	pthread_mutex_unlock(&m->mu);
}

/* The position moved to pos: wake blocked waiters, fire due watches. Their
 * callbacks run here, with m->mu held: they only wake someone up. */
static void advance(cji_materializer *m, uint64_t pos)
{
	if (pos != m->position) {
		m->position = pos;
		m->advanced_ns = cji_mono_ns();
	}
	for (struct cj_watch **w = &m->watches; *w;) {
		if ((*w)->seq <= pos || m->stopping) {
			struct cj_watch *due = *w;
			*w = due->next;
			due->fired = 1;
			due->fn(due->arg);
		} else {
			w = &(*w)->next;
		}
	}
	pthread_cond_broadcast(&m->applied);
}

static void sleep_ms(cji_materializer *m, unsigned ms)
{
	struct timespec ts = cji_deadline_ms(ms);
	pthread_cond_timedwait(&m->wake, &m->mu, &ts);
}

/* ---- becoming the materializer ----------------------------------------- */

/* 1 if we now hold the store's materializer lock, 0 if another process does. */
static int take_lock(cji_materializer *m)
{
	if (m->lock_fd < 0) {
		char p[4300];
		snprintf(p, sizeof p, "%s-materializer.lock", m->path);
		m->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (m->lock_fd < 0)
			return cji_err_errno(errno, "cannot open %s", p);
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	if (errno == EWOULDBLOCK)
		return 0;
	return cji_err_errno(errno, "cannot lock %s-materializer.lock", m->path);
}

static void release_lock(cji_materializer *m)
{
	if (m->lock_fd >= 0) {
		close(m->lock_fd); /* drops the flock */
		m->lock_fd = -1;
	}
}

static void close_ro(cji_materializer *m)
{
	sqlite3_finalize(m->ro_pos);
	m->ro_pos = NULL;
	sqlite3_close(m->ro);
	m->ro = NULL;
}

/* The writer connection, checked against the journal. */
static int open_db(cji_materializer *m)
{
	int rc = cji_db_open_rw(&m->db, m->path);
	if (rc)
		return rc;
	uint64_t pos = 0, last = 0;
	if ((rc = cji_mat_stored_position(&pos, m->db, 0)) ||
	    (rc = cji_journal_last_seq(&last, m->journal)))
		goto fail;
	if (pos > last) {
		rc = cji_err(CJ_EAHEAD, "%s is ahead of the journal (position %llu, journal ends at %llu): "
		             "a restored or damaged store; run 'chatjournal replay'", m->path,
		             (unsigned long long)pos, (unsigned long long)last);
		goto fail;
	}
	if ((rc = cji_apply_new(&m->apply, m->db, m->journal)))
		goto fail;
	pthread_mutex_lock(&m->mu);
	advance(m, pos);
	pthread_mutex_unlock(&m->mu);
	return 0;
fail:
	sqlite3_close(m->db);
	m->db = NULL;
	return rc;
}

static void close_db(cji_materializer *m)
{
	cji_apply_free(m->apply);
	m->apply = NULL;
	if (m->db) {
		/* Everything into the file, and the WAL emptied if no reader of any
		 * process is in it (no waiting: busy is fine). Readers that open the
		 * file next then look no page up in a WAL index: a history read at
		 * 1M messages spent 4% of its instructions there. */
		sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		sqlite3_busy_timeout(m->db, 0);
		sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(m->db);
		m->db = NULL;
	}
}

/* Passive: the stored position through the persistent reader (each query is
 * its own read transaction, so it sees the latest commit). A scrub of the
 * materializing process replaces the file: the reader follows (and so do
 * this process's readers, through on_replace). */
static int read_position(cji_materializer *m, uint64_t *pos)
{
	int rc = 0;
	if (m->ro && !cji_file_id_eq(m->ro_file, cji_scrub_file_id(m->path))) {
		close_ro(m);
		if (m->on_replace)
			m->on_replace(m->on_replace_arg);
	}
	if (!m->ro) {
		m->ro_file = cji_scrub_file_id(m->path);
		rc = cji_db_open_ro(&m->ro, m->path);
	}
	if (!rc && !m->ro_pos)
		rc = cji_db_prepare(m->ro, "SELECT seq FROM journal_position WHERE id = 1", &m->ro_pos);
	if (rc) {
		close_ro(m);
		return rc;
	}
	rc = sqlite3_step(m->ro_pos);
	*pos = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(m->ro_pos, 0) : 0;
	sqlite3_reset(m->ro_pos);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	rc = cji_err_sqlite(rc, sqlite3_errmsg(m->ro), "%s: cannot read the position", m->path);
	close_ro(m);
	return rc;
}

/* What a killed replay in place, bulk build or scrub of the lock's holder
 * left beside the file (docs/operations.md, "Leftovers"): removed by the
 * process that takes the lock, before its thread can build there again. */
static void remove_leftovers(cji_materializer *m)
{
	static const char *const tmps[] = { CJI_REPLAY_TMP_SUFFIX, CJI_SCRUB_TMP_SUFFIX,
	                                    CJI_REPLAY_TMP_SUFFIX CJI_REPLAY_FTS_SUFFIX };
	for (size_t i = 0; i < sizeof tmps / sizeof tmps[0]; i++) {
		char tmp[4400];
		if (snprintf(tmp, sizeof tmp, "%s%s", m->path, tmps[i]) < (int)sizeof tmp) {
			unlink(tmp);
			cji_db_unlink_sidecars(tmp);
		}
	}
}

/* Try to become the materializer: 1 active now, 0 still passive, or an error
 * (we hold the lock but cannot use the file: the lock is released again). */
static int try_takeover(cji_materializer *m)
{
	int rc = take_lock(m);
	if (rc <= 0)
		return rc;
	close_ro(m);
	remove_leftovers(m);
	if ((rc = open_db(m))) {
		release_lock(m);
		return rc;
	}
	pthread_mutex_lock(&m->mu);
	m->passive = 0;
	m->hint = 1;
	pthread_mutex_unlock(&m->mu);
	return 1;
}

/* ---- the thread --------------------------------------------------------- */

/* One step of a passive thread (m->mu held on entry and exit). */
static void passive_step(cji_materializer *m, uint64_t *next_try_ns)
{
	uint64_t now = cji_mono_ns();
	if (!m->paused && now >= *next_try_ns) {
		*next_try_ns = now + (uint64_t)TAKEOVER_MS * 1000000u;
		pthread_mutex_unlock(&m->mu);
		int rc = try_takeover(m);
		set_error(m, rc < 0 ? rc : 0);
		pthread_mutex_lock(&m->mu);
		if (rc == 1)
			return;
	}
	pthread_mutex_unlock(&m->mu);
	uint64_t pos = 0;
	int rc = read_position(m, &pos);
	pthread_mutex_lock(&m->mu);
	if (rc == 0)
		advance(m, pos);
	unsigned ms = m->waiters || m->watches ? POLL_BUSY_MS : POLL_IDLE_MS;
	if (!m->stopping)
		sleep_ms(m, rc ? RETRY_MS : ms);
}

/* Sleep COALESCE_MS whatever wakes us meanwhile (m->mu held); only stop or
 * pause cut it short. */
static void coalesce(cji_materializer *m)
{
	struct timespec ts = cji_deadline_ms(COALESCE_MS);
	while (!m->stopping && !m->paused)
		if (pthread_cond_timedwait(&m->wake, &m->mu, &ts) != 0)
			break;
}

/* Put the file built at tmp in place of the projection: the writer closes
 * without a checkpoint (tmp holds what its WAL has), the file is renamed
 * over (scrub.h), readers are told, the writer reopens on it. */
static int swap_in(cji_materializer *m, const char *tmp)
{
	int rc;
	sqlite3_db_config(m->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	cji_apply_free(m->apply);
	m->apply = NULL;
	sqlite3_close(m->db);
	m->db = NULL;
	if ((rc = cji_scrub_put_in_place(tmp, m->path)))
		unlink(tmp);
	else if (m->on_replace)
		m->on_replace(m->on_replace_arg);
	int r = open_db(m);
	return rc ? rc : r;
}

/* After a compaction: leave no deleted byte in the projection's files
 * (docs/operations.md, "Compaction"). A file whose writers zeroed deletions
 * as they went is scrubbed in place (scrub.h); any other gets a scrubbed
 * copy built beside the file (scrub.c) that takes its place (swap_in), and
 * readers move to it (on_replace here, the file's identity in other
 * processes). Nothing is applied meanwhile: the copy holds the position it
 * had. */
static int scrub(cji_materializer *m)
{
	int zeroed = 0;
	int rc = cji_scrub_zeroed(&zeroed, m->db);
	if (rc || zeroed)
		return rc ? rc : cji_scrub_in_place(m->db, SCRUB_WAIT_MS);
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s%s", m->path, CJI_SCRUB_TMP_SUFFIX);
	rc = cji_scrub_build(m->db, m->path, tmp);
	return rc ? rc : swap_in(m, tmp);
}

/* ---- catching up from nothing -------------------------------------------- */

/* Between two chunks of the bulk build: stop? It counts as progress for
 * the health check (the position only moves at the swap; a chunk takes a
 * few seconds, the stall limit is CJ_HEALTH_STALL_MS). */
static int stop_bulk(void *arg)
{
	cji_materializer *m = arg;
	pthread_mutex_lock(&m->mu);
	m->advanced_ns = cji_mono_ns();
	int stop = m->stopping || m->paused || m->deferred || m->scrub_pending;
	pthread_mutex_unlock(&m->mu);
	return stop;
}

/* A projection that has applied nothing, with at least BULK_MIN_EVENTS
 * journal records waiting, is built the way a replay builds one (replay.h:
 * indexes at the end, FTS5 on a thread of its own) beside the file and put
 * in its place; the live batches take it from there. Stopped between
 * chunks by a close, a pause, a deferral or a scrub; a failure leaves the
 * live batches to apply (and report) what it could not. */
static void bulk_catch_up(cji_materializer *m)
{
	uint64_t last = 0;
	int rc = cji_journal_last_seq(&last, m->journal);
	if (rc || last < BULK_MIN_EVENTS) {
		cj_error_clear();
		return;
	}
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s%s", m->path, CJI_REPLAY_TMP_SUFFIX);
	if ((rc = cji_replay_build_until(m->journal, tmp, last, 0, stop_bulk, m)) == 0)
		rc = swap_in(m, tmp);
	if (rc && m->db)
		cj_error_clear();
	else
		set_error(m, rc);
}

void cji_mat_set_on_replace(cji_materializer *m, void (*fn)(void *arg), void *arg)
{
	m->on_replace = fn;
	m->on_replace_arg = arg;
}

void cji_mat_request_scrub(void *arg)
{
	cji_materializer *m = arg;
	pthread_mutex_lock(&m->mu);
	if (!m->scrub_claimed) {
		m->scrub_pending = 1;
		m->hint = 1;
		pthread_cond_broadcast(&m->wake);
	}
	pthread_mutex_unlock(&m->mu);
}

int cji_mat_scrub_start(uint64_t *ticket, cji_materializer *m)
{
	*ticket = 0;
	pthread_mutex_lock(&m->mu);
	if (m->passive || !m->running) {
		pthread_mutex_unlock(&m->mu);
		return 1;
	}
	/* One already asked for (by an earlier swap) and not begun, or running
	 * now, sees this state or a later one: it serves this caller too. */
	*ticket = m->scrubs + 1;
	m->scrub_claimed = 1;
	if (!m->scrub_pending && !m->scrubbing) {
		m->scrub_pending = 1;
		m->hint = 1;
		pthread_cond_broadcast(&m->wake);
	}
	pthread_mutex_unlock(&m->mu);
	return 0;
}

int cji_mat_scrub_wait(uint64_t *ms, cji_materializer *m, uint64_t ticket, int timeout_ms)
{
	*ms = 0;
	pthread_mutex_lock(&m->mu);
	uint64_t want = ticket;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	int rc = 0;
	while (m->scrubs < want && !rc) {
		if (m->stopping || m->passive) {
			rc = m->stopping ? CJ_ECLOSED : 1;
			break;
		}
		if (pthread_cond_timedwait(&m->applied, &m->mu, &dl) != 0 && m->scrubs < want)
			rc = CJ_ETIMEOUT;
	}
	int out = rc ? rc : m->scrub_rc;
	m->scrub_claimed = 0;
	*ms = m->scrub_ns / 1000000u;
	char err[512];
	snprintf(err, sizeof err, "%s", m->error);
	pthread_mutex_unlock(&m->mu);
	if (out < 0)
		return cji_err(out, "projection scrub: %s", out == CJ_ETIMEOUT ? "timed out" :
		               out == CJ_ECLOSED ? "the store is closing" : err);
	return out;
}

/* One step of the materializing thread (m->mu held on entry and exit). */
static void active_step(cji_materializer *m, int *dirty)
{
	if (m->scrub_pending && !m->paused && !m->stopping && m->db) {
		m->scrub_pending = 0;
		m->busy = 1;
		m->scrubbing = 1;
		pthread_mutex_unlock(&m->mu);
		uint64_t t0 = cji_mono_ns();
		int rc = scrub(m);
		set_error(m, rc);
		pthread_mutex_lock(&m->mu);
		m->busy = 0;
		m->scrubbing = 0;
		m->scrubs++;
		m->scrub_rc = rc;
		m->scrub_ns = cji_mono_ns() - t0;
		*dirty = 0;
		pthread_cond_broadcast(&m->applied);
	}
	while (!m->stopping && (m->paused || m->deferred || !m->hint)) {
		struct timespec ts = cji_deadline_ms(JOURNAL_POLL_MS);
		if (pthread_cond_timedwait(&m->wake, &m->mu, &ts) == 0 || m->paused || m->deferred)
			continue;
		/* Other processes append without telling us: look at the journal. */
		uint64_t last = 0, pos = m->position;
		pthread_mutex_unlock(&m->mu);
		int rc = cji_journal_last_seq(&last, m->journal);
		pthread_mutex_lock(&m->mu);
		if (rc)
			cj_error_clear();
		if (rc || last > pos)
			m->hint = 1; /* an error is for the batch to report */
	}
	if (m->stopping)
		return;
	if (m->last_batch > 0 && m->last_batch < COALESCE_EVENTS && !m->paused && !m->deferred)
		coalesce(m);
	if (m->stopping || m->paused || m->deferred)
		return;
	if (!m->bulk_tried && m->position == 0 && m->db) {
		m->bulk_tried = 1;
		m->busy = 1;
		pthread_mutex_unlock(&m->mu);
		bulk_catch_up(m);
		pthread_mutex_lock(&m->mu);
		m->busy = 0;
		pthread_cond_broadcast(&m->applied);
		return;
	}
	m->hint = 0;
	m->busy = 1;
	uint64_t from = m->position;
	cji_batch_limits lim = { BATCH_MAX, BATCH_MS, m->split_position, 0 };
	pthread_mutex_unlock(&m->mu);

	uint64_t n = 0;
	int rc = m->db ? cji_mat_apply_batch(&n, m->db, m->apply, m->journal, from, &lim)
	               : cji_err(CJ_EIO, "projection %s is not open", m->path);
	set_error(m, rc);
	if (!rc && !n && *dirty) {
		/* Idle: checkpoint now rather than in the middle of a burst. */
		sqlite3_wal_checkpoint_v2(m->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		*dirty = 0;
	}
	pthread_mutex_lock(&m->mu);
	m->busy = 0;
	m->last_batch = n;
	if (n) {
		m->hint = 1; /* more may be waiting */
		*dirty = 1;
	}
	advance(m, from + n);
	if (rc && !m->stopping)
		sleep_ms(m, RETRY_MS); /* stopped progress (corrupt record, disk full...) */
}

static void *mat_main(void *arg)
{
	cji_materializer *m = arg;
	int dirty = 0;
	uint64_t next_try = 0;
	pthread_mutex_lock(&m->mu);
	while (!m->stopping) {
		if (m->passive)
			passive_step(m, &next_try);
		else
			active_step(m, &dirty);
	}
	advance(m, m->position); /* fires every watch: the store is closing */
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int cji_mat_start(cji_materializer *m)
{
	int rc = take_lock(m);
	if (rc < 0)
		return rc;
	m->advanced_ns = cji_mono_ns();
	if (rc == 0) {
		m->passive = 1;
		if ((rc = read_position(m, &m->position)))
			return rc;
	} else {
		remove_leftovers(m);
		if ((rc = open_db(m)))
			return rc;
	}
	m->hint = 1;
	if (pthread_create(&m->thread, NULL, mat_main, m) != 0) {
		close_db(m);
		close_ro(m);
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
	close_ro(m);
	release_lock(m);
	pthread_cond_destroy(&m->wake);
	pthread_cond_destroy(&m->applied);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- what callers ask ---------------------------------------------------- */

uint64_t cji_mat_position(cji_materializer *m)
{
	pthread_mutex_lock(&m->mu);
	uint64_t p = m->position;
	pthread_mutex_unlock(&m->mu);
	return p;
}

int cji_mat_wait(cji_materializer *m, uint64_t seq, int timeout_ms)
{
	struct timespec ts = cji_deadline_ms(timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&m->mu);
	int rc = 0;
	m->waiters++;
	pthread_cond_broadcast(&m->wake); /* a passive thread polls faster now */
	while (m->position < seq) {
		if (m->stopping || !m->running) {
			rc = CJ_ECLOSED;
			break;
		}
		if (pthread_cond_timedwait(&m->applied, &m->mu, &ts) != 0 && m->position < seq) {
			rc = CJ_ETIMEOUT;
			break;
		}
	}
	m->waiters--;
	uint64_t pos = m->position;
	pthread_mutex_unlock(&m->mu);
	if (rc == CJ_ETIMEOUT)
		return cji_err(rc, "projection at %llu has not reached %llu within %d ms",
		               (unsigned long long)pos, (unsigned long long)seq, timeout_ms);
	if (rc)
		return cji_err(rc, "store is closing");
	return 0;
}

int cji_mat_watch(cji_watch **out, cji_materializer *m, uint64_t seq, void (*fn)(void *arg),
                  void *arg)
{
	*out = NULL;
	pthread_mutex_lock(&m->mu);
	if (m->position >= seq) {
		pthread_mutex_unlock(&m->mu);
		return 1;
	}
	if (m->stopping || !m->running) {
		pthread_mutex_unlock(&m->mu);
		return cji_err(CJ_ECLOSED, "store is closing");
	}
	cji_watch *w = calloc(1, sizeof *w);
	if (!w) {
		pthread_mutex_unlock(&m->mu);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	w->seq = seq;
	w->fn = fn;
	w->arg = arg;
	w->next = m->watches;
	m->watches = w;
	pthread_cond_broadcast(&m->wake); /* a passive thread polls faster now */
	pthread_mutex_unlock(&m->mu);
	*out = w;
	return 0;
}

void cji_mat_unwatch(cji_materializer *m, cji_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&m->mu);
	for (cji_watch **p = &m->watches; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	free(w);
}

void cji_mat_status(cji_mat_state *out, cji_materializer *m)
{
	pthread_mutex_lock(&m->mu);
	out->position = m->position;
	out->active = !m->passive;
	out->still_ms = (cji_mono_ns() - m->advanced_ns) / 1000000u;
	snprintf(out->error, sizeof out->error, "%s", m->error);
	pthread_mutex_unlock(&m->mu);
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

int cji_mat_is_progressing(cji_materializer *m)
{
	pthread_mutex_lock(&m->mu);
	int p = m->running && !m->paused && !m->stopping;
	pthread_mutex_unlock(&m->mu);
	return p;
}

int cji_mat_is_passive(cji_materializer *m)
{
	pthread_mutex_lock(&m->mu);
	int p = m->passive;
	pthread_mutex_unlock(&m->mu);
	return p;
}

void cji_mat_defer(cji_materializer *m, int on)
{
	pthread_mutex_lock(&m->mu);
	m->deferred = on != 0;
	m->hint = 1;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->mu);
}

void cji_mat_pause(cji_materializer *m)
{
	pthread_mutex_lock(&m->mu);
	m->paused = 1;
	while (m->busy)
		pthread_cond_wait(&m->applied, &m->mu);
	int passive = m->passive;
	pthread_mutex_unlock(&m->mu);
	/* The connection must be closed before the file is replaced. */
	if (!passive)
		close_db(m);
}

int cji_mat_resume(cji_materializer *m)
{
	int rc = cji_mat_is_passive(m) ? 0 : open_db(m);
	pthread_mutex_lock(&m->mu);
	m->paused = 0;
	m->hint = 1;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->mu);
	return rc;
}
