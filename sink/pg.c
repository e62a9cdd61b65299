/* sink/pg.c — libpq calls and the one mapping of PostgreSQL failures to
 * CJ codes: a lost connection, a server shutting down or out of resources
 * may pass (the sink reconnects and retries the batch: k->transient);
 * anything else (a constraint, a bad value) stops the sink with the record
 * named. */
#include <stdio.h>
#include <string.h>
#include "sink_internal.h"

/* SQLSTATE classes that pass: 08 connection exception, 53 insufficient
 * resources, 57 operator intervention (admin shutdown, cannot connect now),
 * 58 system error, 40 transaction rollback (serialization, deadlock). */
static int transient_state(const char *state)
{
	static const char *const pass[] = { "08", "53", "57", "58", "40" };
	if (!state || strlen(state) < 2)
		return 0;
	for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
		if (!strncmp(state, pass[i], 2))
			return 1;
	return 0;
}

int sk_pg_error(cj_sink *k, const PGresult *res, const char *what, uint64_t seq)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	if (!msg || !*msg)
		msg = k->pg ? PQerrorMessage(k->pg) : "not connected";
	char clean[600];
	snprintf(clean, sizeof clean, "%s", msg);
	for (char *p = clean; *p; p++)
		if (*p == '\n')
			*p = (p[1] ? ' ' : '\0');
	/* No SQLSTATE: libpq's own failure (the connection broke, possibly
	 * before libpq marked it bad): the server refused nothing. */
	k->transient = !k->pg || PQstatus(k->pg) != CONNECTION_OK || !state || !*state ||
	               transient_state(state);
	char where[400];
	if (seq)
		snprintf(where, sizeof where, "%s (journal record %llu)", what, (unsigned long long)seq);
	else
		snprintf(where, sizeof where, "%s", what);
	what = where;
	return cj_error_set(k->transient ? CJ_EIO : CJ_EDB, NULL, "sink %s: %s: %s%s%s%s", k->store_id,
	                    what, state ? "SQLSTATE " : "", state ? state : "", state ? ": " : "", clean);
}

int sk_exec(PGresult **out, cj_sink *k, const char *what, uint64_t seq, const char *sql, int n,
            const char *const *params)
{
	if (out)
		*out = NULL;
	if (!k->pg) {
		k->transient = 1;
		return cj_error_set(CJ_EIO, NULL, "sink %s: %s: not connected", k->store_id, what);
	}
	PGresult *res = n ? PQexecParams(k->pg, sql, n, NULL, params, NULL, NULL, 0)
	                  : PQexec(k->pg, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	int rc = sk_pg_error(k, res, what, seq);
	PQclear(res);
	return rc;
}

int sk_copy(cj_sink *k, const char *table, const char *cols, const char *data, size_t len)
{
	char sql[1024];
	snprintf(sql, sizeof sql, "COPY " SK_PG_SCHEMA ".%s (store_id, %s) FROM STDIN", table, cols);
	PGresult *res = PQexec(k->pg, sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		int rc = sk_pg_error(k, res, "COPY", k->batch_first);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	int ok = 1;
	/* PQputCopyData takes at most INT_MAX bytes per call. */
	for (size_t off = 0; off < len && ok;) {
		size_t n = len - off > ((size_t)1 << 30) ? ((size_t)1 << 30) : len - off;
		ok = PQputCopyData(k->pg, data + off, (int)n) == 1;
		off += n;
	}
	if (PQputCopyEnd(k->pg, ok ? NULL : "sink: sending rows failed") != 1)
		ok = 0;
	int rc = 0;
	while ((res = PQgetResult(k->pg))) {
		if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = sk_pg_error(k, res, table, k->batch_first);
		PQclear(res);
	}
	if (!rc && !ok)
		rc = sk_pg_error(k, NULL, table, k->batch_first);
	return rc;
}
