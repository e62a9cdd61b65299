/* export/markdown.c — a conversation for people (docs/export.md,
 * "markdown"):
 *
 *   # Title                                  (the thread's title, else its id)
 *
 *   Thread T1 · server S1 · channel general · topic: ...
 *
 *   ### Ann (U1) · user · 2026-11-22T10:00:00.000Z
 *
 *   > the text, every line quoted
 *
 *   *edited 2026-11-22T10:05:00.000Z*
 *
 *   - attachment: photo.png (image/png, 1234 bytes) https://...
 *
 *   Reactions: eyes 1, thumbsup 2
 *
 * Text that came from users never changes the document's structure: names,
 * titles and every other one-line value are escaped (control characters
 * and newlines become spaces, the inline metacharacters \ ` * _ { } [ ] ( )
 * # ! | ~ > get a backslash, '<' and '&' become entities), and message text is quoted line by line with
 * '<' written as "&lt;", so it keeps its own Markdown (emphasis, code) but
 * cannot start a heading of the document or inject HTML. */
#include <stdio.h>
#include <string.h>
#include "export_internal.h"

/* s on one line, every Markdown metacharacter escaped. */
static void inline_text(ex_out *w, const char *s)
{
	static const char punct[] = "\\`*_{}[]()#!|~>";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			ex_put(w, " ", 1);
		else if (*p == '<')
			ex_puts(w, "&lt;");
		else if (*p == '&')
			ex_puts(w, "&amp;");
		else if (strchr(punct, *p)) {
			char e[2] = { '\\', (char)*p };
			ex_put(w, e, 2);
		} else {
			ex_put(w, (const char *)p, 1);
		}
	}
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void ex_md_thread(ex_out *w, const ex_thread *t, int first)
{
	if (!first)
		ex_puts(w, "\n---\n\n");
	ex_puts(w, "# ");
	inline_text(w, t->title && *t->title ? t->title : t->thread);
	ex_puts(w, "\n\nThread ");
	inline_text(w, t->thread);
	const char *const extra[][2] = { { " · server ", t->server }, { " · channel ", t->channel },
	                                 { " · topic: ", t->topic } };
	for (size_t i = 0; i < 3; i++) {
		if (!extra[i][1] || !*extra[i][1])
			continue;
		ex_puts(w, extra[i][0]);
		inline_text(w, extra[i][1]);
	}
	ex_puts(w, "\n");
}

void ex_md_empty(ex_out *w) { ex_puts(w, "\n*(no messages)*\n"); }

/* The text quoted line by line; '<' as an entity, other control characters
 * (but tab) as spaces, CR dropped. */
static void quoted(ex_out *w, const char *s)
{
	ex_puts(w, "\n> ");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			ex_puts(w, "\n> ");
		else if (*p == '\r')
			continue;
		else if (*p == '<')
			ex_puts(w, "&lt;");
		else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			ex_put(w, " ", 1);
		else
			ex_put(w, (const char *)p, 1);
	}
	ex_puts(w, "\n");
}

/* "*WHAT VALUE*" on a paragraph of its own, if there is a value. */
static void note(ex_out *w, const char *what, const char *value)
{
	if (!value)
		return;
	ex_puts(w, "\n*");
	ex_puts(w, what);
	inline_text(w, value);
	ex_puts(w, "*\n");
}

static void attachment(ex_out *w, const json_t *a)
{
	const char *name = str(a, "name"), *mime = str(a, "mime"), *url = str(a, "url");
	const char *blob = str(a, "blob");
	const json_t *size = json_object_get(a, "size");
	ex_puts(w, "- attachment: ");
	inline_text(w, name ? name : "file");
	if (mime || json_is_integer(size)) {
		ex_puts(w, " (");
		if (mime)
			inline_text(w, mime);
		if (json_is_integer(size)) {
			char b[48];
			snprintf(b, sizeof b, "%s%lld bytes", mime ? ", " : "", (long long)json_integer_value(size));
			ex_puts(w, b);
		}
		ex_puts(w, ")");
	}
	if (url) {
		ex_puts(w, " ");
		inline_text(w, url);
	} else if (blob) {
		ex_puts(w, " blob ");
		inline_text(w, blob);
	}
	ex_puts(w, "\n");
}

void ex_md_message(ex_out *w, const json_t *row)
{
	const char *who = str(row, "display_name"), *user = str(row, "user"), *name = str(row, "name");
	const char *role = str(row, "role"), *ts = str(row, "ts"), *text = str(row, "content");
	/* "### Who (user) · role · time" (role and times pass the escaping
	 * unchanged: an enum, ISO 8601) */
	ex_puts(w, "\n### ");
	const char *shown = who ? who : name ? name : user;
	if (shown) {
		inline_text(w, shown);
		if (user && shown != user) {
			ex_puts(w, " (");
			inline_text(w, user);
			ex_puts(w, ")");
		}
		ex_puts(w, " · ");
	}
	inline_text(w, role ? role : "?");
	if (ts) {
		ex_puts(w, " · ");
		inline_text(w, ts);
	}
	ex_puts(w, "\n");
	if (text && *text)
		quoted(w, text);
	note(w, "edited ", str(row, "edited_ts"));
	const json_t *calls = json_object_get(row, "tool_calls");
	size_t i;
	const json_t *c;
	if (json_is_array(calls) && json_array_size(calls))
		ex_puts(w, "\n");
	json_array_foreach(calls, i, c) {
		const json_t *f = json_object_get(c, "function");
		ex_puts(w, "- tool call ");
		inline_text(w, str(c, "id") ? str(c, "id") : "?");
		ex_puts(w, ": ");
		inline_text(w, str(f, "name") ? str(f, "name") : "?");
		ex_puts(w, " ");
		inline_text(w, str(f, "arguments") ? str(f, "arguments") : "");
		ex_puts(w, "\n");
	}
	note(w, "answers tool call ", str(row, "tool_call_id"));
	const json_t *atts = json_object_get(row, "attachments");
	if (json_is_array(atts) && json_array_size(atts))
		ex_puts(w, "\n");
	json_array_foreach(atts, i, c)
		attachment(w, c);
	const json_t *reactions = json_object_get(row, "reactions");
	if (json_is_object(reactions) && json_object_size(reactions)) {
		/* keys sorted: the rows' object is ordered by emoji already */
		ex_puts(w, "\nReactions: ");
		const char *emoji;
		json_t *n;
		int k = 0;
		json_object_foreach((json_t *)reactions, emoji, n) {
			char b[32];
			if (k++)
				ex_puts(w, ", ");
			inline_text(w, emoji);
			snprintf(b, sizeof b, " %lld", (long long)json_integer_value(n));
			ex_puts(w, b);
		}
		ex_puts(w, "\n");
	}
}
