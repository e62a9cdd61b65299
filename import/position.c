/* import/position.c — where the import is and what went wrong: the current
 * file, line, byte and element (for every error and skip), the first
 * failure, skips with their reasons, progress, and the options the parsers
 * ask (max element, server, dry run). On a worker thread of a parallel plan
 * each call is logged instead (log.c) and replayed in order (replay.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "driver.h"

int imp_fail(imp *m, int rc, const char *fmt, ...)
{
	if (m->failed)
		return m->rc;
	if (m->rec && m->rec_failed)
		return m->rec_rc;
	char msg[sizeof m->err];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (m->rec)
		return rec_fail(m, rc, msg);
	memcpy(m->err, msg, sizeof m->err);
	m->failed = 1;
	m->rc = rc ? rc : CJ_EINVAL;
	return m->rc;
}

int imp_fail_scan(imp *m, const scan *s)
{
	return imp_fail(m, CJ_EINVAL, "%s", s->err);
}

int imp_file(imp *m, const char *name)
{
	if (m->rec)
		return rec_file(m, name);
	m->done_base += m->file_done;
	m->file_done = 0;
	m->file = rp_file_index(&m->rep, name);
	m->line = m->byte = 0;
	if (m->file < 0)
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	return 0;
}

void imp_at_elem(imp *m, uint64_t line, uint64_t byte, uint64_t elem_bytes)
{
	if (m->rec) {
		rec_at(m, line, byte, elem_bytes);
		return;
	}
	m->line = line;
	m->byte = byte;
	m->elem_bytes = elem_bytes;
}

void imp_at(imp *m, uint64_t line, uint64_t byte) { imp_at_elem(m, line, byte, 0); }

void imp_at_scan(imp *m, const scan *s) { imp_at_elem(m, s->elem_line, s->elem_off, s->elem_len); }

void imp_skip(imp *m, const char *kind, const char *fmt, ...)
{
	char why[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	imp_skip_text(m, kind ? (int)cj_event_type_from_name(kind) : 0, why);
}

void imp_skip_text(imp *m, int kind, const char *why)
{
	if (m->rec) {
		rec_skip(m, kind, why);
		return;
	}
	rp_seen(&m->rep, m->file, kind);
	rp_skip(&m->rep, m->file, kind, m->line, m->byte, why);
}

void imp_progress(imp *m, uint64_t file_done)
{
	if (m->rec) {
		rec_progress(m, file_done);
		return;
	}
	m->file_done = file_done;
	if (m->o->progress)
		m->o->progress(m->o->progress_arg, m->phase == PLAN ? "plan" : "import",
		               m->done_base + file_done, m->total_bytes);
}

uint64_t imp_max_element(const imp *m)
{
	return m->o->max_element ? m->o->max_element : (uint64_t)64 << 20;
}

const char *imp_server(const imp *m, const char *source_default)
{
	return m->o->server ? m->o->server : source_default;
}

int imp_dry_run(const imp *m) { return m->o->dry_run; }
