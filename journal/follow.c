/* journal/follow.c — waiting for new commits (the iterator's follow mode).
 *
 * A waiter sleeps on one condition variable per journal. This process's
 * writer wakes every waiter right after a durable commit (the commit's last
 * sequence number is the news). Commits of other processes tell nobody: while
 * anyone waits, exactly one waiter at a time polls the journal's last
 * sequence number (a read transaction of a few microseconds) every
 * CJI_FOLLOW_POLL_MS and wakes the others when it moved. With no waiter
 * nothing runs at all; with many, the cost is still one poll per interval.
 *
 * A compaction's folder swap needs nothing here: the poll's read
 * transaction follows the swap like any other (env.c), and sequence numbers
 * survive compaction unchanged. */
#include <errno.h>
#include <time.h>
#include "journal/journal_internal.h"
#include "common/err.h"
#include "common/timeutil.h"

void cji_follow_init(cji_follow *f)
{
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	f->last = 0;
	f->waiters = 0;
	f->polling = 0;
	f->polls = 0;
}

void cji_follow_destroy(cji_follow *f)
{
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->mu);
}

/* f->mu held: a newer last sequence number wakes every waiter. */
static void note_last(cji_follow *f, uint64_t seq)
{
	if (seq > f->last) {
		f->last = seq;
		if (f->waiters)
			pthread_cond_broadcast(&f->cond);
	}
}

void cji_follow_committed(cji_journal *j, uint64_t seq)
{
	pthread_mutex_lock(&j->follow.mu);
	note_last(&j->follow, seq);
	pthread_mutex_unlock(&j->follow.mu);
}

static struct timespec mono_at(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	return ts;
}

int cji_journal_wait_past(cji_journal *j, uint64_t seq, int timeout_ms)
{
	cji_follow *f = &j->follow;
	uint64_t now = cji_mono_ns();
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
	int rc = 0, poller = 0;
	pthread_mutex_lock(&f->mu);
	f->waiters++;
	for (;;) {
		if (f->last > seq) {
			rc = 1;
			break;
		}
		now = cji_mono_ns();
		if (now >= deadline)
			break;
		if (!f->polling) {
			f->polling = 1;
			poller = 1;
		}
		uint64_t until = deadline;
		if (poller && now + (uint64_t)CJI_FOLLOW_POLL_MS * 1000000u < until)
			until = now + (uint64_t)CJI_FOLLOW_POLL_MS * 1000000u;
		struct timespec ts = mono_at(until);
		int w = until == UINT64_MAX ? pthread_cond_wait(&f->cond, &f->mu)
		                            : pthread_cond_timedwait(&f->cond, &f->mu, &ts);
		if (!poller || w != ETIMEDOUT || f->last > seq)
			continue;
		/* The poller's interval passed with no news from this process:
		 * look for other processes' commits. */
		f->polls++;
		pthread_mutex_unlock(&f->mu);
		uint64_t last = 0;
		int r = cji_journal_last_seq(&last, j);
		pthread_mutex_lock(&f->mu);
		if (r) {
			rc = r;
			break;
		}
		note_last(f, last);
	}
	if (poller) {
		/* Hand the polling over to a waiter that stays. */
		f->polling = 0;
		if (f->waiters > 1)
			pthread_cond_broadcast(&f->cond);
	}
	f->waiters--;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int cji_journal_wait_after(uint64_t *last_out, cji_journal *j, uint64_t after, int timeout_ms)
{
	/* One look of our own first (news from another process since the last
	 * poll), then wait. */
	uint64_t last = 0;
	int rc = cji_journal_last_seq(&last, j);
	if (rc)
		return rc;
	cji_follow_committed(j, last);
	if (last <= after) {
		if ((rc = cji_journal_wait_past(j, after, timeout_ms)) < 0)
			return rc;
		pthread_mutex_lock(&j->follow.mu);
		last = j->follow.last;
		pthread_mutex_unlock(&j->follow.mu);
	} else {
		rc = 1;
	}
	*last_out = last;
	return rc;
}

int cji_journal_iter_wait(cj_journal_iter *it, int timeout_ms)
{
	int rc = cji_journal_iter_ready(it);
	if (rc)
		return rc;
	uint64_t last;
	return cji_journal_wait_after(&last, cji_journal_iter_journal(it),
	                              cji_journal_iter_next_seq(it) - 1, timeout_ms);
}
