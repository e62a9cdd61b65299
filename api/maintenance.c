/* api/maintenance.c — the store's housekeeping schedule (retention,
 * compaction, backups), run by `serve` on a thread or by a caller with its
 * own clock. What is due is decided from the times each task last ran, kept
 * in STORE/maintenance.json; only the process that materializes the store
 * (the materializer lock's holder) does anything. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "chatjournal/maintenance.h"
#include "chatjournal/backup.h"
#include "api/store_internal.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

#define DAY_MS INT64_C(86400000)
#define STATE_FILE "maintenance.json"
#define DEFAULT_TICK_MS 30000u
#define DEFAULT_PENDING_MS 300000u

/* When each task last ran (ms since the epoch; 0: never). */
typedef struct state {
	int64_t retention_ms;
	int64_t compaction_ms;
	int64_t backup_ms;
} state;

static const struct { const char *key; size_t off; } STATE_KEYS[] = {
	{ "retention_ms", offsetof(state, retention_ms) },
	{ "compaction_ms", offsetof(state, compaction_ms) },
	{ "backup_ms", offsetof(state, backup_ms) },
};
#define NSTATE (sizeof STATE_KEYS / sizeof STATE_KEYS[0])

struct cj_maintenance {
	cj_store *s;
	cj_maintenance_options o;
	char *backup_dir;
	char path[4200];           /* STORE/maintenance.json */
	state st;
	int passes;                /* passes that found this process the holder */
	int64_t pending_ms;        /* when the redactable bytes were last measured */
	pthread_t thread;
	int started;
	int stopping;
	pthread_mutex_t mu;
	pthread_cond_t wake;
};

static void say(cj_maintenance *m, const char *fmt, ...) CJI_PRINTF(2, 3);
static void say(cj_maintenance *m, const char *fmt, ...)
{
	if (!m->o.log)
		return;
	char line[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	m->o.log(m->o.log_arg, line);
}

/* A missing file is a schedule that never ran; a damaged one is said once
 * and treated the same (the worst outcome is a task run early). */
static void load_state(cj_maintenance *m)
{
	memset(&m->st, 0, sizeof m->st);
	char *text = NULL;
	size_t len;
	if (cji_read_file(m->path, 1 << 16, &text, &len) != 0) {
		cj_error_clear();
		return;
	}
	json_error_t jerr;
	json_t *o = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(o)) {
		say(m, "maintenance: %s is not a JSON object (line %d: %s); starting afresh", m->path,
		    jerr.line, jerr.text);
		json_decref(o);
		return;
	}
	for (size_t i = 0; i < NSTATE; i++) {
		json_t *v = json_object_get(o, STATE_KEYS[i].key);
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			*(int64_t *)((char *)&m->st + STATE_KEYS[i].off) = json_integer_value(v);
	}
	json_decref(o);
}

static int save_state(cj_maintenance *m)
{
	json_t *o = json_object();
	for (size_t i = 0; i < NSTATE; i++)
		json_object_set_new(o, STATE_KEYS[i].key,
		                    json_integer(*(int64_t *)((char *)&m->st + STATE_KEYS[i].off)));
	char *text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(o);
	if (!text)
		return cji_err(CJ_ENOMEM, "out of memory");
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	memcpy(line + n, "\n", 2);
	int rc = cji_write_file_atomic(m->path, line, n + 1);
	free(line);
	return rc;
}

int cj_maintenance_new(cj_maintenance **out, cj_store *s, const cj_maintenance_options *opts)
{
	*out = NULL;
	if (!s)
		return cji_err(CJ_EINVAL, "maintenance: no store");
	if (!s->mat)
		return cji_err(CJ_EPERM, "maintenance: the store is open read-only");
	cj_maintenance_options o = CJ_MAINTENANCE_OPTIONS_INIT;
	if (opts) {
		if (opts->version < 1 || opts->version > CJ_MAINTENANCE_OPTIONS_VERSION)
			return cji_err(CJ_EINVAL, "maintenance: options version %u unknown", opts->version);
		o = *opts;
	}
	if (o.backup_every_ms < 0)
		return cji_err(CJ_EINVAL, "maintenance: backup_every_ms is negative");
	if (!o.tick_ms)
		o.tick_ms = DEFAULT_TICK_MS;
	if (!o.pending_every_ms)
		o.pending_every_ms = DEFAULT_PENDING_MS;
	cj_maintenance *m = calloc(1, sizeof *m);
	if (!m)
		return cji_err(CJ_ENOMEM, "out of memory");
	m->s = s;
	m->o = o;
	if (o.backup_dir && !(m->backup_dir = strdup(o.backup_dir))) {
		free(m);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	m->o.backup_dir = m->backup_dir;
	int rc = cji_path_join(m->path, sizeof m->path, cj_store_path(s), STATE_FILE);
	if (rc) {
		free(m->backup_dir);
		free(m);
		return rc;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->wake, NULL);
	load_state(m);
	*out = m;
	return 0;
}

/* ---- the tasks ------------------------------------------------------ */

static int run_retention(cj_maintenance_report *r, cj_maintenance *m, int64_t now)
{
	int rc = cj_retention_apply(&r->retention, m->s, now);
	if (rc) {
		say(m, "retention: failed: %s", cj_error_last());
		return rc;
	}
	r->retention_ran = 1;
	m->st.retention_ms = now;
	if (r->retention.purges || r->retention.threads_deleted)
		say(m, "retention: %llu purge(s) removing %llu messages, %llu images, %llu metrics; "
		    "%llu idle thread(s) deleted (last event %llu)",
		    (unsigned long long)r->retention.purges, (unsigned long long)r->retention.messages,
		    (unsigned long long)r->retention.images, (unsigned long long)r->retention.metrics,
		    (unsigned long long)r->retention.threads_deleted,
		    (unsigned long long)r->retention.last_seq);
	return 0;
}

/* Due by the interval (and something to redact: compacting nothing would
 * still copy the whole journal), or by the threshold. */
static int run_compaction(cj_maintenance_report *r, cj_maintenance *m, int64_t now)
{
	cj_compact_schedule sch;
	int rc = cj_compact_schedule_get(&sch, m->s);
	if (rc)
		return rc;
	if (!m->st.compaction_ms)
		m->st.compaction_ms = now; /* a new schedule: the first interval starts now */
	int by_interval = sch.interval_s &&
	                  now - m->st.compaction_ms >= (int64_t)sch.interval_s * 1000;
	int measure = by_interval ||
	              (sch.threshold_bytes && (!m->pending_ms ||
	                                       now - m->pending_ms >= (int64_t)m->o.pending_every_ms));
	if (!measure)
		return 0;
	uint64_t records = 0;
	if ((rc = cj_compact_pending(&r->pending_bytes, &records, m->s))) {
		say(m, "compaction: measuring what is redactable failed: %s", cj_error_last());
		return rc;
	}
	r->pending_measured = 1;
	m->pending_ms = now;
	int by_threshold = sch.threshold_bytes && r->pending_bytes >= sch.threshold_bytes;
	if (!by_threshold && !(by_interval && r->pending_bytes > 0)) {
		if (by_interval)
			m->st.compaction_ms = now; /* nothing to redact: the interval starts again */
		return 0;
	}
	if ((rc = cj_compact(&r->compaction, m->s, NULL))) {
		say(m, "compaction: failed: %s", cj_error_last());
		return rc;
	}
	r->compaction_ran = 1;
	m->st.compaction_ms = now;
	say(m, "compaction (%s): %llu messages, %llu images, %llu settings redacted, %llu blobs "
	    "deleted; journal %llu -> %llu bytes; appends paused %llu ms; %.1f s",
	    by_threshold ? "past the threshold" : "daily",
	    (unsigned long long)r->compaction.messages, (unsigned long long)r->compaction.images,
	    (unsigned long long)r->compaction.settings, (unsigned long long)r->compaction.blobs,
	    (unsigned long long)r->compaction.file_before,
	    (unsigned long long)r->compaction.file_after,
	    (unsigned long long)r->compaction.pause_ms, r->compaction.seconds);
	return 0;
}

static int run_backup(cj_maintenance_report *r, cj_maintenance *m, int64_t now)
{
	if (m->st.backup_ms && now - m->st.backup_ms < m->o.backup_every_ms)
		return 0;
	cj_backup_options bo = CJ_BACKUP_OPTIONS_INIT;
	bo.dir = m->backup_dir;
	char *manifest = NULL;
	int rc = cj_backup(&manifest, m->s, &bo);
	if (rc) {
		say(m, "backup: failed: %s", cj_error_last());
		return rc;
	}
	json_t *mj = json_loads(manifest, 0, NULL);
	snprintf(r->backup_path, sizeof r->backup_path, "%s",
	         json_string_value(json_object_get(mj, "path")) ?
	         json_string_value(json_object_get(mj, "path")) : "");
	json_decref(mj);
	free(manifest);
	r->backup_ran = 1;
	m->st.backup_ms = now;
	say(m, "backup: %s", r->backup_path);
	/* Prune to the store's retention.backup_keep_days, in the folder the
	 * backups go to. */
	char *pruned = NULL;
	const char *where = m->backup_dir ? m->backup_dir : cj_store_path(m->s);
	if ((rc = cj_backup_prune(&pruned, where, (int)m->s->conf.backup_keep_days, now))) {
		say(m, "backup: pruning %s failed: %s", where, cj_error_last());
		return rc;
	}
	json_t *pj = json_loads(pruned, 0, NULL);
	r->backups_pruned = (unsigned)json_array_size(json_object_get(pj, "removed"));
	json_decref(pj);
	free(pruned);
	if (r->backups_pruned)
		say(m, "backup: %u backup(s) older than %u days removed", r->backups_pruned,
		    m->s->conf.backup_keep_days);
	return 0;
}

int cj_maintenance_run(cj_maintenance_report *out, cj_maintenance *m, int64_t now_ms)
{
	cj_maintenance_report local;
	cj_maintenance_report *r = out ? out : &local;
	memset(r, 0, sizeof *r);
	if (!m)
		return cji_err(CJ_EINVAL, "maintenance: no schedule");
	cj_health h;
	int rc = cj_store_health(&h, m->s);
	if (rc)
		return rc;
	if (!h.materializing)
		return 0; /* another process materializes: it maintains too */
	r->holder = 1;
	state before = m->st;
	if (!m->o.no_retention && (m->passes == 0 || now_ms - m->st.retention_ms >= DAY_MS))
		r->errors += run_retention(r, m, now_ms) != 0;
	if (!m->o.no_compaction)
		r->errors += run_compaction(r, m, now_ms) != 0;
	if (m->o.backup_every_ms > 0)
		r->errors += run_backup(r, m, now_ms) != 0;
	m->passes++;
	cj_error_clear();
	if (memcmp(&before, &m->st, sizeof before) != 0 && (rc = save_state(m)) != 0) {
		say(m, "maintenance: cannot record when tasks ran in %s: %s", m->path, cj_error_last());
		return rc;
	}
	return 0;
}

/* ---- the thread ----------------------------------------------------- */

static void *thread_main(void *arg)
{
	cj_maintenance *m = arg;
	pthread_mutex_lock(&m->mu);
	while (!m->stopping) {
		pthread_mutex_unlock(&m->mu);
		cj_maintenance_run(NULL, m, cji_now_ms());
		pthread_mutex_lock(&m->mu);
		struct timespec ts = cji_deadline_ms(m->o.tick_ms);
		while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int cj_maintenance_start(cj_maintenance *m)
{
	if (!m)
		return cji_err(CJ_EINVAL, "maintenance: no schedule");
	if (m->started)
		return cji_err(CJ_EBUSY, "maintenance: already started");
	int e = pthread_create(&m->thread, NULL, thread_main, m);
	if (e)
		return cji_err(CJ_ENOMEM, "maintenance: cannot start its thread (%s)", strerror(e));
	m->started = 1;
	return 0;
}

void cj_maintenance_free(cj_maintenance *m)
{
	if (!m)
		return;
	if (m->started) {
		pthread_mutex_lock(&m->mu);
		m->stopping = 1;
		pthread_cond_broadcast(&m->wake);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->wake);
	free(m->backup_dir);
	free(m);
}
