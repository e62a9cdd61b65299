/* sink/sink.c — the sink's life: options, connecting (schema, the store
 * id's advisory lock, its registration and identity checks), one batch in
 * ONE PostgreSQL transaction with the position it reaches, and the run
 * loop that follows the journal and reconnects with backoff.
 *
 * Exactly once: a batch re-reads the position inside its transaction
 * (SELECT ... FOR UPDATE) and applies the records after it; the rows and
 * the new position commit together. A batch that fails is rolled back
 * whole and the iterator goes back to the committed position, so after a
 * crash, a lost connection or a PostgreSQL restart the next batch starts
 * where the last commit ended. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "sink_internal.h"

#define S SK_PG_SCHEMA "."
#define DEFAULT_BATCH_MAX 5000u
#define DEFAULT_BATCH_MS 250u
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define LOCK_WAIT_MS 10000      /* a killed sink's backend may hold the lock a moment */
#define FOLLOW_WAIT_MS 200      /* the run loop looks at stop this often */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleep ms, in slices, unless stop is asked. */
static void nap(cj_sink *k, unsigned ms)
{
	while (ms && !atomic_load(&k->stop)) {
		unsigned s = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)s * 1000000L };
		nanosleep(&ts, NULL);
		ms -= s;
	}
}

static int check_store_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 200)
		return cj_error_set(CJ_EINVAL, "store_id", "sink: store id must be 1..200 bytes");
	if (cj_utf8_check(id, n) != n)
		return cj_error_set(CJ_EINVAL, "store_id", "sink: store id is not valid UTF-8");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return cj_error_set(CJ_EINVAL, "store_id", "sink: store id has a control character "
			                    "at byte %zu", i);
	return 0;
}

/* "HOST:FOLDER" of this machine and the store. */
static void default_store_id(char *out, size_t n, const char *path)
{
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", path);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	const char *base = strrchr(p, '/');
	snprintf(out, n, "%s:%s", host, base ? base + 1 : p);
}

static void disconnect(cj_sink *k)
{
	if (k->pg)
		PQfinish(k->pg);
	k->pg = NULL;
	cj_journal_iter_free(k->it);
	k->it = NULL;
	sk_apply_discard(k);
}

/* The identity of journal record 1 ("type:ts_ms"), "" for an empty journal. */
static int journal_identity(cj_sink *k, char out[64])
{
	out[0] = '\0';
	cj_event *ev;
	cj_record rec;
	int rc = cj_journal_get(&ev, &rec, k->store, 1);
	if (rc == CJ_ENOTFOUND) {
		cj_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	snprintf(out, 64, "%s:%lld", cj_event_type_name(rec.type), (long long)rec.ts_ms);
	cj_event_free(ev);
	return 0;
}

/* Register the store id (position 0) or read its position, and check that
 * PostgreSQL's rows can be this journal's. */
static int register_store(cj_sink *k)
{
	const char *p[1] = { k->store_id };
	PGresult *res;
	int rc = sk_exec(NULL, k, "register the store id", 0,
	                 "INSERT INTO " S "sink_position (store_id, seq) VALUES ($1, 0)"
	                 " ON CONFLICT (store_id) DO NOTHING", 1, p);
	if (!rc)
		rc = sk_exec(&res, k, "read the position", 0,
		             "SELECT seq, first_event FROM " S "sink_position WHERE store_id = $1", 1, p);
	if (rc)
		return rc;
	k->pos = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	char pg_first[64];
	snprintf(pg_first, sizeof pg_first, "%s", PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
	PQclear(res);
	uint64_t last;
	if ((rc = cj_journal_last_seq(&last, k->store)) || (rc = journal_identity(k, k->first_event)))
		return rc;
	if (*pg_first && *k->first_event && strcmp(pg_first, k->first_event))
		return cj_error_set(CJ_ECONFLICT, "store_id", "sink %s: PostgreSQL holds another journal "
		                    "under this store id (its first event is %s, this journal's is %s): "
		                    "choose another --store-id", k->store_id, pg_first, k->first_event);
	if (k->pos > last)
		return cj_error_set(CJ_EAHEAD, NULL, "sink %s: PostgreSQL is ahead of the journal "
		                    "(position %llu, the journal ends at %llu): a restored store, or "
		                    "another store's id", k->store_id, (unsigned long long)k->pos,
		                    (unsigned long long)last);
	return 0;
}

/* Connect and get ready to apply: schema, lock, registration, iterator. */
static int connect_pg(cj_sink *k)
{
	disconnect(k);
	k->transient = 0;
	k->pg = PQconnectdb(k->dsn);
	if (!k->pg || PQstatus(k->pg) != CONNECTION_OK) {
		/* The server answered FATAL (no such database or role, refused
		 * authentication): that will not pass, unless it is starting,
		 * stopping or full. Anything else (refused, no socket) may. */
		const char *m = k->pg ? PQerrorMessage(k->pg) : "";
		int fatal = strstr(m, "FATAL:") && !strstr(m, "the database system is") &&
		            !strstr(m, "too many") && !strstr(m, "terminating connection");
		int rc = sk_pg_error(k, NULL, "cannot connect", 0);
		k->transient = !fatal;
		disconnect(k);
		return rc;
	}
	PQclear(PQexec(k->pg, "SET application_name = 'chatjournal-sink'"));
	int rc = sk_schema_ensure(k);
	if (rc)
		goto fail;
	const char *p[1] = { k->store_id };
	uint64_t until = now_ms() + LOCK_WAIT_MS;
	for (;;) {
		PGresult *res;
		if ((rc = sk_exec(&res, k, "lock the store id", 0,
		                  "SELECT pg_try_advisory_lock(7567231, hashtext($1))", 1, p)))
			goto fail;
		int got = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (got)
			break;
		if (now_ms() > until || atomic_load(&k->stop)) {
			rc = cj_error_set(CJ_EBUSY, "store_id", "sink %s: another sink is applying this "
			                  "store id (it holds its advisory lock)", k->store_id);
			goto fail;
		}
		nap(k, 100);
	}
	if ((rc = register_store(k)))
		goto fail;
	if ((rc = cj_journal_iter_new(&k->it, k->store, k->pos + 1)))
		goto fail;
	return 0;
fail:
	disconnect(k);
	return rc;
}

int cj_sink_open(cj_sink **out, cj_store *s, const cj_sink_options *o)
{
	*out = NULL;
	if (!s || !o)
		return cj_error_set(CJ_EINVAL, NULL, "sink: no store or no options");
	if (o->version != CJ_SINK_OPTIONS_VERSION)
		return cj_error_set(CJ_EINVAL, NULL, "sink options version %u, this build knows %u "
		                    "(use CJ_SINK_OPTIONS_INIT)", o->version, CJ_SINK_OPTIONS_VERSION);
	if (!o->dsn || strlen(o->dsn) >= 4096)
		return cj_error_set(CJ_EINVAL, "dsn", "sink: no DSN (or one over 4095 bytes)");
	char *err = NULL;
	PQconninfoOption *ci = PQconninfoParse(o->dsn, &err);
	if (!ci) {
		int rc = cj_error_set(CJ_EINVAL, "dsn", "sink: bad DSN: %s",
		                      err ? strtok(err, "\n") : "out of memory");
		PQfreemem(err);
		return rc;
	}
	PQconninfoFree(ci);
	cj_sink *k = calloc(1, sizeof *k);
	if (!k)
		return cj_error_set(CJ_ENOMEM, NULL, "out of memory");
	k->store = s;
	k->o = *o;
	snprintf(k->dsn, sizeof k->dsn, "%s", o->dsn);
	k->o.dsn = k->dsn;
	if (o->store_id)
		snprintf(k->store_id, sizeof k->store_id, "%s", o->store_id);
	else
		default_store_id(k->store_id, sizeof k->store_id, cj_store_path(s));
	k->o.store_id = k->store_id;
	if (!k->o.batch_max)
		k->o.batch_max = DEFAULT_BATCH_MAX;
	if (!k->o.batch_ms)
		k->o.batch_ms = DEFAULT_BATCH_MS;
	int rc = check_store_id(o->store_id ? o->store_id : k->store_id);
	if (rc) {
		free(k);
		return rc;
	}
	/* One attempt now, so that a wrong database, an old server or a schema
	 * of another version is said at once; an unreachable server is not an
	 * error yet (cj_sink_run waits for it). */
	rc = connect_pg(k);
	if (rc && !k->transient) {
		cj_sink_close(k);
		return rc;
	}
	if (rc) {
		sk_log(k, "%s", cj_error_last());
		cj_error_clear();
	} else {
		sk_log(k, "sink %s: connected; position %llu", k->store_id, (unsigned long long)k->pos);
	}
	*out = k;
	return 0;
}

/* Roll back the batch in hand and go back to the committed position. */
static int batch_failed(cj_sink *k, int rc)
{
	if (k->pg && PQstatus(k->pg) == CONNECTION_OK)
		PQclear(PQexec(k->pg, "ROLLBACK"));
	sk_apply_discard(k);
	cj_journal_iter_free(k->it);
	k->it = NULL;
	if (cj_journal_iter_new(&k->it, k->store, k->pos + 1) != 0)
		k->transient = 0;
	return rc;
}

/* One batch: the records the journal has after the position, up to
 * batch_max or batch_ms, in one transaction with the position. */
static int batch(cj_sink *k, uint64_t *applied)
{
	*applied = 0;
	cj_record rec;
	int r = cj_journal_iter_next(&rec, k->it);
	if (r <= 0) {
		if (r < 0) {
			k->transient = 0;
			return batch_failed(k, r);
		}
		return 0;
	}
	char pos[32];
	snprintf(pos, sizeof pos, "%llu", (unsigned long long)k->pos);
	const char *p[2] = { k->store_id, pos };
	PGresult *res;
	int rc = sk_exec(NULL, k, "begin", 0, "BEGIN", 0, NULL);
	if (!rc)
		rc = sk_exec(&res, k, "read the position", 0, "SELECT seq FROM " S "sink_position"
		             " WHERE store_id = $1 FOR UPDATE", 1, p);
	if (rc)
		return batch_failed(k, rc);
	uint64_t stored = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : UINT64_MAX;
	PQclear(res);
	if (stored != k->pos) {
		k->transient = 0;
		return batch_failed(k, cj_error_set(CJ_EBUSY, NULL, "sink %s: the position in PostgreSQL "
		                                    "is %llu, expected %llu: another writer changed it",
		                                    k->store_id, (unsigned long long)stored,
		                                    (unsigned long long)k->pos));
	}
	uint64_t n = 0, deadline = now_ms() + k->o.batch_ms;
	k->batch_first = rec.seq;
	for (;;) {
		if (rec.seq != k->pos + n + 1) {
			k->transient = 0;
			return batch_failed(k, cj_error_set(CJ_ECORRUPT, NULL, "sink %s: journal gap: "
			                                    "expected record %llu, found %llu", k->store_id,
			                                    (unsigned long long)(k->pos + n + 1),
			                                    (unsigned long long)rec.seq));
		}
		k->transient = 0;
		if ((rc = sk_apply_event(k, &rec)))
			return batch_failed(k, rc);
		n++;
		if (n >= k->o.batch_max || ((n & 255) == 0 && now_ms() > deadline))
			break;
		r = cj_journal_iter_next(&rec, k->it);
		if (r == 0)
			break;
		if (r < 0) {
			k->transient = 0;
			return batch_failed(k, r);
		}
	}
	k->transient = 0;
	if ((rc = sk_apply_settle(k)))
		return batch_failed(k, rc);
	char last[32];
	snprintf(last, sizeof last, "%llu", (unsigned long long)(k->pos + n));
	const char *q[3] = { k->store_id, last, k->pos == 0 ? k->first_event : NULL };
	if (k->pos == 0 && !*k->first_event && (rc = journal_identity(k, k->first_event)))
		return batch_failed(k, rc);
	if (k->o.test_split_position) {
		/* Negative control only (tests/sink): rows and position in two
		 * transactions, with a window between them for a kill. */
		if ((rc = sk_exec(NULL, k, "commit", 0, "COMMIT", 0, NULL)))
			return batch_failed(k, rc);
		nap(k, 5);
		if ((rc = sk_exec(NULL, k, "begin", 0, "BEGIN", 0, NULL)))
			return batch_failed(k, rc);
	}
	if ((rc = sk_exec(NULL, k, "write the position", 0, "UPDATE " S "sink_position SET seq = $2,"
	                  " updated = now(), first_event = coalesce(first_event, $3)"
	                  " WHERE store_id = $1", 3, q)) ||
	    (rc = sk_exec(NULL, k, "commit", 0, "COMMIT", 0, NULL)))
		return batch_failed(k, rc);
	k->pos += n;
	*applied = n;
	return 0;
}

int cj_sink_step(uint64_t *applied, cj_sink *k)
{
	if (applied)
		*applied = 0;
	if (!k)
		return cj_error_set(CJ_EINVAL, NULL, "sink: NULL");
	if (!k->pg) {
		int rc = connect_pg(k);
		if (rc)
			return rc;
	}
	uint64_t total = 0, n;
	int rc;
	do {
		rc = batch(k, &n);
		total += n;
	} while (!rc && n > 0 && !atomic_load(&k->stop));
	if (applied)
		*applied = total;
	return rc;
}

int cj_sink_run(cj_sink *k, int once)
{
	if (!k)
		return cj_error_set(CJ_EINVAL, NULL, "sink: NULL");
	uint64_t target = UINT64_MAX;
	int rc;
	if (once && (rc = cj_journal_last_seq(&target, k->store)))
		return rc;
	unsigned backoff = BACKOFF_MIN_MS;
	uint64_t down_since = 0;
	atomic_store(&k->stop, 0);
	while (!atomic_load(&k->stop)) {
		if (!k->pg) {
			rc = connect_pg(k);
			if (rc && !k->transient)
				return rc;
			if (rc) {
				uint64_t now = now_ms();
				if (!down_since)
					down_since = now;
				if (k->o.give_up_ms > 0 && now - down_since >= (uint64_t)k->o.give_up_ms) {
					char why[512];
					snprintf(why, sizeof why, "%s", cj_error_last());
					return cj_error_set(CJ_ETIMEOUT, NULL, "sink %s: gave up after %d ms without "
					                    "PostgreSQL: %s", k->store_id, k->o.give_up_ms, why);
				}
				sk_log(k, "%s; retrying in %u ms", cj_error_last(), backoff);
				cj_error_clear();
				nap(k, backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			if (down_since)
				sk_log(k, "sink %s: connected again; position %llu", k->store_id,
				       (unsigned long long)k->pos);
			down_since = 0;
			backoff = BACKOFF_MIN_MS;
		}
		if (once && k->pos >= target)
			return 0;
		uint64_t n;
		rc = batch(k, &n);
		if (rc && k->transient) {
			sk_log(k, "%s; reconnecting", cj_error_last());
			cj_error_clear();
			disconnect(k);
			continue;
		}
		if (rc)
			return rc;
		if (n == 0 && (rc = cj_journal_iter_wait(k->it, FOLLOW_WAIT_MS)) < 0)
			return rc;
	}
	return 0;
}

void cj_sink_stop(cj_sink *k)
{
	if (k)
		atomic_store(&k->stop, 1);
}

int cj_sink_position(uint64_t *out, cj_sink *k)
{
	*out = 0;
	if (!k)
		return cj_error_set(CJ_EINVAL, NULL, "sink: NULL");
	*out = k->pos;
	return 0;
}

const char *cj_sink_store_id(const cj_sink *k) { return k ? k->store_id : NULL; }

void cj_sink_close(cj_sink *k)
{
	if (!k)
		return;
	disconnect(k);
	sk_apply_free(k);
	free(k);
}
