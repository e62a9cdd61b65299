/* export/openai.c — a message row as the message of an OpenAI
 * chat-completions request (docs/export.md, "openai"; the shape is checked
 * against docs/schemas/openai-chat-messages.json by the tests):
 *
 *   role          as stored (system, developer, user, assistant, tool)
 *   name          when set, on every role but tool (the API has none there)
 *   content       the text; with attachments, an array of content parts: the
 *                 text, then per attachment an image_url part (a user's
 *                 image given by url) or a text part describing the file;
 *                 null for an assistant message of tool calls only
 *   tool_calls    on assistant messages, as stored
 *   tool_call_id  on tool messages ("" when it was never stored: 0.1/0.2
 *                 data; the API will refuse such a message)
 *
 * Nothing else (ids, times, metadata, costs) goes out: the API refuses
 * unknown keys. One function serves cj_export and the HTTP route. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "export_internal.h"

/* "[attachment: NAME (MIME, SIZE bytes) URL]" or "... blob HASH]". */
static json_t *describe(const json_t *a)
{
	const char *name = json_string_value(json_object_get(a, "name"));
	const char *mime = json_string_value(json_object_get(a, "mime"));
	const char *url = json_string_value(json_object_get(a, "url"));
	const char *blob = json_string_value(json_object_get(a, "blob"));
	const json_t *size = json_object_get(a, "size");
	char sz[40] = "";
	if (json_is_integer(size))
		snprintf(sz, sizeof sz, "%s%lld bytes", mime ? ", " : "", (long long)json_integer_value(size));
	char *text = NULL;
	int n = asprintf(&text, "[attachment: %s%s%s%s%s %s%s]", name ? name : "file",
	                 mime || *sz ? " (" : "", mime ? mime : "", sz, mime || *sz ? ")" : "",
	                 url ? "" : "blob ", url ? url : blob ? blob : "");
	if (n < 0)
		return NULL;
	json_t *part = json_pack("{s:s,s:s}", "type", "text", "text", text);
	free(text);
	return part;
}

static json_t *content_parts(const char *role, const char *text, const json_t *atts)
{
	json_t *parts = json_array();
	if (text && *text)
		json_array_append_new(parts, json_pack("{s:s,s:s}", "type", "text", "text", text));
	size_t i;
	const json_t *a;
	json_array_foreach(atts, i, a) {
		const char *url = json_string_value(json_object_get(a, "url"));
		const char *mime = json_string_value(json_object_get(a, "mime"));
		if (!strcmp(role, "user") && url && mime && !strncmp(mime, "image/", 6))
			json_array_append_new(parts, json_pack("{s:s,s:{s:s}}", "type", "image_url",
			                                       "image_url", "url", url));
		else
			json_array_append_new(parts, describe(a));
	}
	return parts;
}

int ex_openai_message(json_t **out, const json_t *row)
{
	*out = NULL;
	const char *role = json_string_value(json_object_get(row, "role"));
	json_int_t seq = json_integer_value(json_object_get(row, "seq"));
	if (!role)
		return cj_error_set(CJ_EINVAL, "role", "openai: message row %lld (index in the array "
		                    "or seq) has no role", (long long)seq);
	json_t *m = json_pack("{s:s}", "role", role);
	if (!m)
		return cj_error_set(CJ_ENOMEM, NULL, "openai: out of memory");
	const char *name = json_string_value(json_object_get(row, "name"));
	int tool = !strcmp(role, "tool"), assistant = !strcmp(role, "assistant");
	if (name && !tool)
		json_object_set_new(m, "name", json_string(name));
	const char *text = json_string_value(json_object_get(row, "content"));
	const json_t *atts = json_object_get(row, "attachments");
	if (json_is_array(atts) && json_array_size(atts))
		json_object_set_new(m, "content", content_parts(role, text, atts));
	else if (text)
		json_object_set_new(m, "content", json_string(text));
	else
		json_object_set_new(m, "content", assistant ? json_null() : json_string(""));
	const json_t *calls = json_object_get(row, "tool_calls");
	if (assistant && json_is_array(calls) && json_array_size(calls))
		json_object_set(m, "tool_calls", (json_t *)calls);
	if (tool) {
		const char *id = json_string_value(json_object_get(row, "tool_call_id"));
		json_object_set_new(m, "tool_call_id", json_string(id ? id : ""));
	}
	*out = m;
	return 0;
}

int cj_export_openai_messages(char **json_out, const char *rows_json)
{
	*json_out = NULL;
	json_error_t e;
	json_t *rows = rows_json ? json_loads(rows_json, 0, &e) : NULL;
	if (!json_is_array(rows)) {
		json_decref(rows);
		return cj_error_set(CJ_EINVAL, NULL, "openai: the message rows are not a JSON array%s%s",
		                    rows_json ? ": " : "", rows_json ? e.text : "");
	}
	json_t *msgs = json_array();
	size_t i;
	json_t *row;
	int rc = 0;
	json_array_foreach(rows, i, row) {
		json_t *m;
		if ((rc = ex_openai_message(&m, row)))
			break;
		json_array_append_new(msgs, m);
	}
	json_decref(rows);
	json_t *top = json_pack("{s:o}", "messages", msgs);
	char *out = rc || !top ? NULL : json_dumps(top, JSON_COMPACT);
	json_decref(top);
	if (rc)
		return rc;
	if (!out)
		return cj_error_set(CJ_ENOMEM, NULL, "openai: out of memory");
	*json_out = out;
	return 0;
}
