/* tests/unit/test_event_validate.c — every schema rule of docs/events.md, with
 * the exact error code and field named, and the size limits at their edges. */
#include "test_event_helpers.h"

typedef struct vcase {
	const char *json;
	int code;           /* 0: valid */
	const char *field;  /* field named by the error */
} vcase;

#define MSG "\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"c\""
#define IMG "\"type\":\"image\",\"thread\":\"T\",\"url\":\"u\""

static const vcase cases[] = {
	/* type */
	{ "{}", CJ_EINVAL, "type" },
	{ "{\"type\":1}", CJ_EINVAL, "type" },
	{ "{\"type\":\"nope\"}", CJ_EINVAL, "type" },
	{ "{\"type\":\"unknown\"}", CJ_EINVAL, "type" },
	{ "{\"type\":\"MESSAGE\"}", CJ_EINVAL, "type" },
	/* message: required, types, enum */
	{ "{" MSG "}", 0, NULL },
	{ "{\"type\":\"message\",\"role\":\"user\",\"content\":\"c\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"content\":\"c\"}", CJ_EINVAL, "role" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\"}", CJ_EINVAL, "content" },
	{ "{\"type\":\"message\",\"thread\":5,\"role\":\"user\",\"content\":\"c\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"User\",\"content\":\"c\"}", CJ_EINVAL, "role" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":null,\"content\":\"c\"}", CJ_EINVAL, "role" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"tool\",\"content\":\"\"}", 0, NULL },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"system\",\"content\":[\"c\"]}", CJ_EINVAL, "content" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"content\":\"a\\nb\\u0001\"}", 0, NULL },
	{ "{" MSG ",\"server\":\"S\",\"channel\":\"C\",\"user\":\"U\",\"message_ts\":\"1.2\"}", 0, NULL },
	{ "{" MSG ",\"server\":null}", CJ_EINVAL, "server" },
	{ "{" MSG ",\"channel\":\"\"}", CJ_EINVAL, "channel" },
	{ "{" MSG ",\"user\":[]}", CJ_EINVAL, "user" },
	{ "{" MSG ",\"message_ts\":17}", CJ_EINVAL, "message_ts" },
	/* identifiers: no control characters, DEL included; other bytes fine */
	{ "{\"type\":\"message\",\"thread\":\"a\\tb\",\"role\":\"user\",\"content\":\"c\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"message\",\"thread\":\"a\\u007fb\",\"role\":\"user\",\"content\":\"c\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"message\",\"thread\":\"\\u00e9 \\u2603\",\"role\":\"user\",\"content\":\"c\"}", 0, NULL },
	{ "{\"type\":\"message\",\"thread\":\"\",\"role\":\"user\",\"content\":\"c\"}", CJ_EINVAL, "thread" },
	/* metadata / cost */
	{ "{" MSG ",\"metadata\":{}}", 0, NULL },
	{ "{" MSG ",\"metadata\":[]}", CJ_EINVAL, "metadata" },
	{ "{" MSG ",\"metadata\":\"x\"}", CJ_EINVAL, "metadata" },
	{ "{" MSG ",\"cost\":{}}", 0, NULL },
	{ "{" MSG ",\"cost\":{\"model\":\"m\",\"input_tokens\":0,\"output_tokens\":9,\"usd\":0}}", 0, NULL },
	{ "{" MSG ",\"cost\":{\"usd\":1.5e-3}}", 0, NULL },
	{ "{" MSG ",\"cost\":[]}", CJ_EINVAL, "cost" },
	{ "{" MSG ",\"cost\":{\"model\":1}}", CJ_EINVAL, "cost.model" },
	{ "{" MSG ",\"cost\":{\"model\":\"\"}}", CJ_EINVAL, "cost.model" },
	{ "{" MSG ",\"cost\":{\"input_tokens\":-1}}", CJ_EINVAL, "cost.input_tokens" },
	{ "{" MSG ",\"cost\":{\"input_tokens\":1.0}}", CJ_EINVAL, "cost.input_tokens" },
	{ "{" MSG ",\"cost\":{\"output_tokens\":\"3\"}}", CJ_EINVAL, "cost.output_tokens" },
	{ "{" MSG ",\"cost\":{\"usd\":-0.01}}", CJ_EINVAL, "cost.usd" },
	{ "{" MSG ",\"cost\":{\"usd\":\"1\"}}", CJ_EINVAL, "cost.usd" },
	{ "{" MSG ",\"cost\":{\"eur\":1}}", CJ_EINVAL, "cost.eur" },
	/* unknown fields are refused and named, even before a missing one */
	{ "{" MSG ",\"extra\":1}", CJ_EINVAL, "extra" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"contnet\":\"c\"}", CJ_EINVAL, "contnet" },
	{ "{\"type\":\"delete_thread\",\"thread\":\"T\",\"role\":\"user\"}", CJ_EINVAL, "role" },
	/* common optional fields */
	{ "{" MSG ",\"id\":\"k-1\",\"ts\":0}", 0, NULL },
	{ "{" MSG ",\"id\":\"\"}", CJ_EINVAL, "id" },
	{ "{" MSG ",\"id\":7}", CJ_EINVAL, "id" },
	{ "{" MSG ",\"id\":\"a\\nb\"}", CJ_EINVAL, "id" },
	{ "{" MSG ",\"ts\":\"2024-05-01T12:00:00+02:00\"}", 0, NULL },
	{ "{" MSG ",\"ts\":-5}", CJ_EINVAL, "ts" },
	{ "{" MSG ",\"ts\":1.5}", CJ_EINVAL, "ts" },
	{ "{" MSG ",\"ts\":\"yesterday\"}", CJ_EINVAL, "ts" },
	{ "{" MSG ",\"ts\":\"2024-13-01T00:00:00Z\"}", CJ_EINVAL, "ts" },
	{ "{" MSG ",\"ts\":null}", CJ_EINVAL, "ts" },
	/* image */
	{ "{" IMG "}", 0, NULL },
	{ "{\"type\":\"image\",\"thread\":\"T\"}", CJ_EINVAL, "url" },
	{ "{\"type\":\"image\",\"url\":\"u\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"image\",\"thread\":\"T\",\"url\":\"\"}", CJ_EINVAL, "url" },
	{ "{" IMG ",\"kind\":\"uploaded\"}", 0, NULL },
	{ "{" IMG ",\"kind\":\"generated\"}", 0, NULL },
	{ "{" IMG ",\"kind\":\"edited\"}", 0, NULL },
	{ "{" IMG ",\"kind\":\"drawn\"}", CJ_EINVAL, "kind" },
	{ "{" IMG ",\"prompt\":\"p\",\"analysis\":\"a\",\"original_analysis\":\"o\"}", 0, NULL },
	{ "{" IMG ",\"prompt\":1}", CJ_EINVAL, "prompt" },
	{ "{" IMG ",\"analysis\":{}}", CJ_EINVAL, "analysis" },
	{ "{" IMG ",\"original_analysis\":false}", CJ_EINVAL, "original_analysis" },
	{ "{" IMG ",\"blob\":\"0123456789abcdef0123456789abcdef\"}", 0, NULL },
	{ "{" IMG ",\"blob\":\"0123456789ABCDEF0123456789abcdef\"}", CJ_EINVAL, "blob" },
	{ "{" IMG ",\"blob\":\"0123456789abcdef0123456789abcde\"}", CJ_EINVAL, "blob" },
	{ "{" IMG ",\"blob\":\"0123456789abcdef0123456789abcdef0\"}", CJ_EINVAL, "blob" },
	{ "{" IMG ",\"blob\":\"0123456789abcdeg0123456789abcdef\"}", CJ_EINVAL, "blob" },
	{ "{" IMG ",\"thumbnail\":\"ffffffffffffffffffffffffffffffff\"}", 0, NULL },
	{ "{" IMG ",\"thumbnail\":32}", CJ_EINVAL, "thumbnail" },
	{ "{" IMG ",\"metadata\":{\"w\":1}}", 0, NULL },
	{ "{" IMG ",\"server\":\"S\"}", CJ_EINVAL, "server" },
	/* user */
	{ "{\"type\":\"user\",\"user\":\"U\"}", 0, NULL },
	{ "{\"type\":\"user\"}", CJ_EINVAL, "user" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"username\":\"\",\"timezone\":\"Europe/Paris\",\"tz_label\":\"CET\"}", 0, NULL },
	{ "{\"type\":\"user\",\"user\":\"U\",\"username\":1}", CJ_EINVAL, "username" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":null}", CJ_EINVAL, "timezone" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_label\":[]}", CJ_EINVAL, "tz_label" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":-64800}", 0, NULL },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":64800}", 0, NULL },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":64801}", CJ_EINVAL, "tz_offset" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":-64801}", CJ_EINVAL, "tz_offset" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":3600.0}", CJ_EINVAL, "tz_offset" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":\"+01:00\"}", CJ_EINVAL, "tz_offset" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"config\":{\"a\":[1,{\"b\":null}]}}", 0, NULL },
	{ "{\"type\":\"user\",\"user\":\"U\",\"config\":null}", CJ_EINVAL, "config" },
	/* thread_config */
	{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config\":{}}", 0, NULL },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\"}", CJ_EINVAL, "config" },
	{ "{\"type\":\"thread_config\",\"config\":{}}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config\":[]}", CJ_EINVAL, "config" },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config\":{},\"server\":\"S\",\"channel\":\"C\"}", 0, NULL },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config\":{},\"server\":\"\"}", CJ_EINVAL, "server" },
	/* delete_thread, clear_history */
	{ "{\"type\":\"delete_thread\",\"thread\":\"T\"}", 0, NULL },
	{ "{\"type\":\"delete_thread\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"delete_thread\",\"thread\":\"T\",\"server\":\"S\"}", CJ_EINVAL, "server" },
	{ "{\"type\":\"clear_history\",\"user\":\"U\"}", 0, NULL },
	{ "{\"type\":\"clear_history\",\"user\":\"U\",\"server\":\"S\"}", 0, NULL },
	{ "{\"type\":\"clear_history\",\"server\":\"S\"}", CJ_EINVAL, "user" },
	{ "{\"type\":\"clear_history\",\"user\":\"U\",\"server\":1}", CJ_EINVAL, "server" },
	/* purge */
	{ "{\"type\":\"purge\",\"before\":\"2024-01-01T00:00:00Z\"}", 0, NULL },
	{ "{\"type\":\"purge\",\"before\":1704067200000}", 0, NULL },
	{ "{\"type\":\"purge\"}", CJ_EINVAL, "before" },
	{ "{\"type\":\"purge\",\"before\":\"2024-01-01\"}", CJ_EINVAL, "before" },
	{ "{\"type\":\"purge\",\"before\":-1}", CJ_EINVAL, "before" },
	{ "{\"type\":\"purge\",\"before\":true}", CJ_EINVAL, "before" },
	{ "{\"type\":\"purge\",\"before\":1,\"thread\":\"T\",\"user\":\"U\",\"server\":\"S\"}", 0, NULL },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":[\"messages\"]}", 0, NULL },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":[\"metrics\",\"images\",\"messages\"]}", 0, NULL },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":[]}", CJ_EINVAL, "kinds" },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":\"messages\"}", CJ_EINVAL, "kinds" },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":[\"messages\",\"messages\"]}", CJ_EINVAL, "kinds" },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":[\"users\"]}", CJ_EINVAL, "kinds" },
	{ "{\"type\":\"purge\",\"before\":1,\"kinds\":[1]}", CJ_EINVAL, "kinds" },
	{ "{\"type\":\"purge\",\"before\":1,\"thread\":\"\"}", CJ_EINVAL, "thread" },
	/* setting */
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":null}", 0, NULL },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":[1,\"a\",{\"b\":false}]}", 0, NULL },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":\"s\",\"category\":\"c\",\"sensitive\":true,\"actor\":\"a\",\"description\":\"\"}", 0, NULL },
	{ "{\"type\":\"setting\",\"value\":1}", CJ_EINVAL, "key" },
	{ "{\"type\":\"setting\",\"key\":\"k\"}", CJ_EINVAL, "value" },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":1,\"sensitive\":1}", CJ_EINVAL, "sensitive" },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":1,\"sensitive\":\"true\"}", CJ_EINVAL, "sensitive" },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":1,\"actor\":\"\"}", CJ_EINVAL, "actor" },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":1,\"category\":2}", CJ_EINVAL, "category" },
	{ "{\"type\":\"setting\",\"key\":\"k\",\"value\":1,\"description\":{}}", CJ_EINVAL, "description" },
	{ "{\"type\":\"setting\",\"key\":\"\",\"value\":1}", CJ_EINVAL, "key" },
	/* metric */
	{ "{\"type\":\"metric\",\"name\":\"n\",\"value\":-3}", 0, NULL },
	{ "{\"type\":\"metric\",\"name\":\"n\",\"value\":2.5,\"unit\":\"ms\",\"tags\":{\"a\":\"b\"}}", 0, NULL },
	{ "{\"type\":\"metric\",\"name\":\"n\"}", CJ_EINVAL, "value" },
	{ "{\"type\":\"metric\",\"value\":1}", CJ_EINVAL, "name" },
	{ "{\"type\":\"metric\",\"name\":\"n\",\"value\":\"1\"}", CJ_EINVAL, "value" },
	{ "{\"type\":\"metric\",\"name\":\"n\",\"value\":null}", CJ_EINVAL, "value" },
	{ "{\"type\":\"metric\",\"name\":\"n\",\"value\":1,\"tags\":[]}", CJ_EINVAL, "tags" },
	{ "{\"type\":\"metric\",\"name\":\"n\",\"value\":1,\"unit\":5}", CJ_EINVAL, "unit" },
	/* 0.3: message fields */
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"developer\",\"content\":\"be brief\",\"name\":\"ops\"}", 0, NULL },
	{ "{" MSG ",\"reply_to\":\"m1\",\"parent\":\"m0\"}", 0, NULL },
	{ "{" MSG ",\"reply_to\":\"\"}", CJ_EINVAL, "reply_to" },
	{ "{" MSG ",\"parent\":7}", CJ_EINVAL, "parent" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"attachments\":[{\"blob\":"
	  "\"0123456789abcdef0123456789abcdef\",\"name\":\"a.pdf\",\"mime\":\"application/pdf\",\"size\":12},"
	  "{\"url\":\"https://x/y.png\"}]}", 0, NULL },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"attachments\":[{\"blob\":\"X\"}]}",
	  CJ_EINVAL, "attachments[0].blob" },
	{ "{" MSG ",\"attachments\":[{\"url\":\"\"}]}", CJ_EINVAL, "attachments[0].url" },
	{ "{" MSG ",\"attachments\":[{\"url\":\"u\",\"size\":-1}]}", CJ_EINVAL, "attachments[0].size" },
	{ "{" MSG ",\"attachments\":{}}", CJ_EINVAL, "attachments" },
	{ "{" MSG ",\"attachments\":[]}", CJ_EINVAL, "attachments" },
	{ "{" MSG ",\"attachments\":[{}]}", CJ_EINVAL, "attachments[0].blob" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\","
	  "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":1}\"}}]}",
	  0, NULL },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"21C\"}",
	  0, NULL },
	{ "{" MSG ",\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}",
	  CJ_EINVAL, "tool_calls[0].id" },
	{ "{" MSG ",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	  "\"arguments\":\"\",\"x\":1}}]}", CJ_EINVAL, "tool_calls[0].function.x" },
	{ "{" MSG ",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\"}]}", CJ_EINVAL, "tool_calls[0].function" },
	{ "{" MSG ",\"tool_call_id\":\"\"}", CJ_EINVAL, "tool_call_id" },
	{ "{" MSG ",\"name\":\"a\\tb\"}", CJ_EINVAL, "name" },
	{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\"}", CJ_EINVAL, "content" },
	{ "{" IMG ",\"message\":\"m1\"}", 0, NULL },
	{ "{" IMG ",\"message\":\"\"}", CJ_EINVAL, "message" },
	/* 0.3: user, thread_config, thread */
	{ "{\"type\":\"user\",\"user\":\"U\",\"display_name\":\"Ann\",\"is_bot\":false,"
	  "\"avatar_url\":\"https://a/b.png\",\"metadata\":{\"team\":\"x\"},\"timezone\":\"Europe/Berlin\"}", 0, NULL },
	{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":\"UTC\",\"config_patch\":{\"a\":null}}", 0, NULL },
	{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":\"Not/AZone\"}", CJ_EINVAL, "timezone" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":\"../../etc/passwd\"}", CJ_EINVAL, "timezone" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":\"\"}", CJ_EINVAL, "timezone" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":1}", CJ_EINVAL, "timezone" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"is_bot\":\"yes\"}", CJ_EINVAL, "is_bot" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"avatar_url\":\"\"}", CJ_EINVAL, "avatar_url" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"metadata\":[]}", CJ_EINVAL, "metadata" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"config\":{},\"config_patch\":{}}", CJ_EINVAL, "config_patch" },
	{ "{\"type\":\"user\",\"user\":\"U\",\"config_patch\":null}", CJ_EINVAL, "config_patch" },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config_patch\":{\"temperature\":null}}", 0, NULL },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\"}", CJ_EINVAL, "config" },
	{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config_patch\":[]}", CJ_EINVAL, "config_patch" },
	{ "{\"type\":\"thread\",\"thread\":\"T\"}", 0, NULL },
	{ "{\"type\":\"thread\",\"thread\":\"T\",\"title\":\"\",\"topic\":\"t\",\"metadata\":{},\"server\":\"S\",\"channel\":\"C\"}", 0, NULL },
	{ "{\"type\":\"thread\",\"title\":\"x\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"thread\",\"thread\":\"T\",\"config\":{}}", CJ_EINVAL, "config" },
	/* 0.3: events about one message */
	{ "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"m1\",\"content\":\"\",\"editor\":\"U\"}", 0, NULL },
	{ "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"m1\"}", CJ_EINVAL, "content" },
	{ "{\"type\":\"edit_message\",\"thread\":\"T\",\"content\":\"c\"}", CJ_EINVAL, "target" },
	{ "{\"type\":\"edit_message\",\"thread\":\"T\",\"target\":\"\",\"content\":\"c\"}", CJ_EINVAL, "target" },
	{ "{\"type\":\"edit_message\",\"target\":\"m1\",\"content\":\"c\"}", CJ_EINVAL, "thread" },
	{ "{\"type\":\"delete_message\",\"thread\":\"T\",\"target\":\"m1\"}", 0, NULL },
	{ "{\"type\":\"delete_message\",\"thread\":\"T\",\"target\":1}", CJ_EINVAL, "target" },
	{ "{\"type\":\"delete_message\",\"thread\":\"T\",\"target\":\"m\",\"content\":\"c\"}", CJ_EINVAL, "content" },
	{ "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"m\",\"emoji\":\"+1\",\"user\":\"U\"}", 0, NULL },
	{ "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"m\",\"emoji\":\"+1\",\"user\":\"U\",\"op\":\"remove\"}", 0, NULL },
	{ "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"m\",\"user\":\"U\"}", CJ_EINVAL, "emoji" },
	{ "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"m\",\"emoji\":\"+1\"}", CJ_EINVAL, "user" },
	{ "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"m\",\"emoji\":\"+1\",\"user\":\"U\",\"op\":\"flip\"}",
	  CJ_EINVAL, "op" },
	{ "{\"type\":\"redact_edits\",\"through_seq\":10}", 0, NULL },
	{ "{\"type\":\"redact_edits\",\"through_seq\":-1}", CJ_EINVAL, "through_seq" },
	{ "{\"type\":\"redact_edits\"}", CJ_EINVAL, "through_seq" },
};

static void test_rule_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const vcase *c = &cases[i];
		if (c->code == 0) {
			cj_event_free(parse_ok(c->json));
			continue;
		}
		parse_err(c->json, c->code, c->field);
		/* Every field error message leads with the field. */
		char prefix[80];
		snprintf(prefix, sizeof prefix, "field '%s': ", c->field);
		if (strncmp(cj_error_last(), prefix, strlen(prefix)) != 0)
			fail_msg("%s: message '%s' does not start with %s", c->json, cj_error_last(),
			         prefix);
	}
}

/* The wording users see for the commonest mistakes. */
static void test_messages(void **state)
{
	(void)state;
	static const struct { const char *json, *msg; } m[] = {
		{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"bot\",\"content\":\"c\"}",
		  "field 'role': must be one of user, assistant, system, tool, developer" },
		{ "{" IMG ",\"kind\":\"x\"}", "field 'kind': must be one of uploaded, generated, edited" },
		{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\"}",
		  "field 'content': required (unless 'attachments' or 'tool_calls' is given)" },
		/* 0.3 */
		{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"attachments\":[{\"name\":\"a\"}]}",
		  "field 'attachments[0].blob': required (unless 'url' is given)" },
		{ "{" MSG ",\"attachments\":[]}",
		  "field 'attachments': must be a non-empty array of at most 256 objects" },
		{ "{" MSG ",\"attachments\":[{\"url\":\"u\"},\"x\"]}", "field 'attachments[1]': must be an object" },
		{ "{" MSG ",\"attachments\":[{\"url\":\"u\",\"mime\":\"a\\nb\"}]}",
		  "field 'attachments[0].mime': control character 0x0a at byte 1" },
		{ "{" MSG ",\"attachments\":[{\"url\":\"u\",\"path\":\"/x\"}]}",
		  "field 'attachments[0].path': unknown field" },
		{ "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\","
		  "\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
		  "field 'tool_calls[0].function.arguments': required" },
		{ "{" MSG ",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"code\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}",
		  "field 'tool_calls[0].type': must be one of function" },
		{ "{" MSG ",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
		  "\"arguments\":{}}}]}", "field 'tool_calls[0].function.arguments': must be a string" },
		{ "{\"type\":\"thread_config\",\"thread\":\"T\"}",
		  "field 'config': required (unless 'config_patch' is given)" },
		{ "{\"type\":\"thread_config\",\"thread\":\"T\",\"config\":{},\"config_patch\":{}}",
		  "field 'config_patch': cannot be given with 'config' (one replaces, the other patches)" },
		{ "{\"type\":\"user\",\"user\":\"U\",\"timezone\":\"Not/AZone\"}",
		  "field 'timezone': 'Not/AZone' is not a time zone of the tz database (like Europe/Berlin or UTC)" },
		{ "{\"type\":\"user\",\"user\":\"U\",\"nick\":\"n\"}",
		  "field 'nick': unknown field (put extra data in 'metadata')" },
		{ "{\"type\":\"reaction\",\"thread\":\"T\",\"target\":\"m\",\"emoji\":\"e\",\"user\":\"U\",\"op\":\"toggle\"}",
		  "field 'op': must be one of add, remove" },
		{ "{\"type\":\"edit_message\",\"thread\":\"T\",\"content\":\"c\"}", "field 'target': required" },
		{ "{\"type\":\"message\",\"thread\":1,\"role\":\"user\",\"content\":\"c\"}",
		  "field 'thread': must be a string" },
		{ "{" MSG ",\"extra\":1}", "field 'extra': unknown field (put extra data in 'metadata')" },
		{ "{\"type\":\"purge\",\"before\":1,\"extra\":1}", "field 'extra': unknown field" },
		{ "{" MSG ",\"cost\":{\"eur\":1}}", "field 'cost.eur': unknown field" },
		{ "{\"type\":\"message\",\"thread\":\"a\\nb\",\"role\":\"user\",\"content\":\"c\"}",
		  "field 'thread': control character 0x0a at byte 1" },
		{ "{" IMG ",\"blob\":\"x\"}", "field 'blob': must be a blob hash: 32 lowercase hex characters" },
		{ "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":99999}",
		  "field 'tz_offset': must be an integer number of seconds from -64800 to 64800" },
		{ "{\"type\":\"purge\",\"before\":\"soon\"}",
		  "field 'before': 'soon' is not an RFC 3339 time (like 2024-05-01T12:00:00.000Z or ...+02:00)" },
		{ "{\"type\":\"purge\",\"before\":-1}",
		  "field 'before': must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z" },
		{ "{\"type\":\"purge\",\"before\":[]}",
		  "field 'before': must be an RFC 3339 time string or integer milliseconds" },
		{ "{\"type\":\"wat\"}",
		  "field 'type': unknown event type 'wat' (known: message, image, user, thread_config, "
		  "delete_thread, clear_history, purge, setting, metric, edit_message, delete_message, "
		  "reaction, thread, redact_edits)" },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		cj_event *ev = NULL;
		assert_int_not_equal(cj_event_parse(&ev, m[i].json, strlen(m[i].json)), 0);
		assert_string_equal(cj_error_last(), m[i].msg);
	}
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A valid message event with content of n bytes, built through the C API. */
static cj_event *message_with(const char *field, size_t n)
{
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "message"), 0);
	assert_int_equal(cj_event_set_string(ev, "thread", "T"), 0);
	assert_int_equal(cj_event_set_string(ev, "role", "user"), 0);
	assert_int_equal(cj_event_set_string(ev, "content", "c"), 0);
	char *s = repeat('x', n);
	assert_int_equal(cj_event_set_string(ev, field, s), 0);
	free(s);
	return ev;
}

static void test_string_limits(void **state)
{
	(void)state;
	cj_limits lim = CJ_LIMITS_DEFAULT;
	/* Defaults: content up to 1 MiB, identifiers 1024, id 256. */
	cj_event *ev = message_with("content", (size_t)1 << 20);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	cj_event_free(ev);
	ev = message_with("content", ((size_t)1 << 20) + 1);
	expect_err(cj_event_validate(ev, NULL), CJ_ETOOBIG, "content", "content 1MiB+1");
	assert_string_equal(cj_error_last(),
	                    "field 'content': 1048577 bytes exceeds the limit of 1048576");
	cj_event_free(ev);

	ev = message_with("thread", 1024);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	cj_event_free(ev);
	ev = message_with("thread", 1025);
	expect_err(cj_event_validate(ev, NULL), CJ_ETOOBIG, "thread", "thread 1025");
	cj_event_free(ev);
	ev = message_with("message_ts", 1025);
	expect_err(cj_event_validate(ev, NULL), CJ_ETOOBIG, "message_ts", "message_ts 1025");
	cj_event_free(ev);
	ev = message_with("id", 256);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	cj_event_free(ev);
	ev = message_with("id", 257);
	expect_err(cj_event_validate(ev, NULL), CJ_ETOOBIG, "id", "id 257");
	cj_event_free(ev);

	/* Store limits are honoured: content and other strings separately. */
	lim.max_content = 10;
	lim.max_string = 5;
	ev = message_with("content", 10);
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	cj_event_free(ev);
	ev = message_with("content", 11);
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "content", "content over store limit");
	cj_event_free(ev);

	cj_event *img = parse_ok("{\"type\":\"image\",\"thread\":\"T\",\"prompt\":\"0123456789\","
	                         "\"analysis\":\"0123456789\",\"original_analysis\":\"0123456789\","
	                         "\"url\":\"12345\"}");
	assert_int_equal(cj_event_validate(img, &lim), 0);
	static const char *const fields[] = { "prompt", "analysis", "original_analysis" };
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		assert_int_equal(cj_event_set_string(img, fields[i], "0123456789A"), 0);
		expect_err(cj_event_validate(img, &lim), CJ_ETOOBIG, fields[i], fields[i]);
		assert_int_equal(cj_event_set_string(img, fields[i], "0123456789"), 0);
	}
	assert_int_equal(cj_event_set_string(img, "url", "123456"), 0);
	expect_err(cj_event_validate(img, &lim), CJ_ETOOBIG, "url", "url over max_string");
	cj_event_free(img);

	cj_event *set = parse_ok("{\"type\":\"setting\",\"key\":\"k\",\"value\":1,"
	                         "\"description\":\"123456\"}");
	expect_err(cj_event_validate(set, &lim), CJ_ETOOBIG, "description", "description");
	cj_event_free(set);
}

/* {"a":{"a":...{}}} nested n levels (n >= 1). */
static char *nested(int n)
{
	size_t len = (size_t)n * 6 + 8;
	char *s = malloc(len), *p = s;
	for (int i = 0; i < n - 1; i++)
		p += sprintf(p, "{\"a\":");
	p += sprintf(p, "{}");
	for (int i = 0; i < n - 1; i++)
		*p++ = '}';
	*p = '\0';
	return s;
}

static void test_object_depth(void **state)
{
	(void)state;
	cj_event *ev;
	assert_int_equal(cj_event_new(&ev, "thread_config"), 0);
	assert_int_equal(cj_event_set_string(ev, "thread", "T"), 0);
	char *s = nested(32);
	assert_int_equal(cj_event_set_json(ev, "config", s), 0);
	free(s);
	assert_int_equal(cj_event_validate(ev, NULL), 0);
	s = nested(33);
	assert_int_equal(cj_event_set_json(ev, "config", s), 0);
	free(s);
	expect_err(cj_event_validate(ev, NULL), CJ_ETOOBIG, "config", "depth 33");
	assert_string_equal(cj_error_last(), "field 'config': nested deeper than 32 levels");

	/* Arrays count as levels, as they do in the decoder. */
	assert_int_equal(cj_event_set_json(ev, "config", "{\"a\":[[[]]]}"), 0);
	cj_limits lim = CJ_LIMITS_DEFAULT;
	lim.max_depth = 4;
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	lim.max_depth = 3;
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "config", "depth 4 over 3");

	/* A store limit above what the decoder reads is capped at 63. */
	lim.max_depth = 1000;
	s = nested(63);
	assert_int_equal(cj_event_set_json(ev, "config", s), 0);
	free(s);
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	s = nested(64);
	assert_int_equal(cj_event_set_json(ev, "config", s), 0);
	free(s);
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "config", "depth 64 with cap");
	cj_event_free(ev);

	/* setting.value (any JSON) is held to the same limits. */
	assert_int_equal(cj_event_new(&ev, "setting"), 0);
	assert_int_equal(cj_event_set_string(ev, "key", "k"), 0);
	assert_int_equal(cj_event_set_json(ev, "value", "[[[[1]]]]"), 0);
	lim.max_depth = 3;
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "value", "value depth");
	cj_event_free(ev);
}

static void test_object_size(void **state)
{
	(void)state;
	/* {"k":"xxxx..."}: map 1 + key 2 + str of n: encoded size known exactly. */
	cj_limits lim = CJ_LIMITS_DEFAULT;
	lim.max_object = 100;
	cj_event *ev = parse_ok("{\"type\":\"metric\",\"name\":\"n\",\"value\":1}");
	char *x = repeat('x', 95);  /* str8: 2 + 95 = 97; total 1 + 2 + 97 = 100 */
	json_t *tags = json_pack("{ss}", "k", x);
	json_object_set_new(ev->obj, "tags", tags);
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	lim.max_object = 99;
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "tags", "tags 100 > 99");
	assert_string_equal(cj_error_last(),
	                    "field 'tags': encoded size 100 bytes exceeds the limit of 99");
	free(x);
	cj_event_free(ev);

	/* Default 1 MiB for metadata. */
	ev = parse_ok("{" MSG "}");
	x = repeat('y', (size_t)1 << 20);
	json_object_set_new(ev->obj, "metadata", json_pack("{ss}", "k", x));
	expect_err(cj_event_validate(ev, NULL), CJ_ETOOBIG, "metadata", "metadata 1MiB");
	free(x);
	cj_event_free(ev);
}

static void test_event_size_names_largest(void **state)
{
	(void)state;
	cj_limits lim = CJ_LIMITS_DEFAULT;
	lim.max_event = 236;  /* its encoded size, checked against the encoder in test_event_codec */
	cj_event *ev = parse_ok("{" MSG ",\"metadata\":{\"a\":\"0123456789012345678901234567890123456789"
	                        "0123456789012345678901234567890123456789\"},"
	                        "\"server\":\"0123456789012345678901234567890123456789\","
	                        "\"channel\":\"0123456789012345678901234567890123456789\"}");
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	lim.max_event = 235;
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "metadata", "event over 235");
	assert_string_equal(cj_error_last(), "field 'metadata': the event's encoded size 236 bytes "
	                                     "exceeds the limit of 235 (this is its largest field)");
	cj_event_free(ev);
}

/* The decoder reads at most CJI_DECODE_MAX_NODES values: validation keeps
 * every event it accepts under that, whatever the store's size limits. */
static void test_node_cap(void **state)
{
	(void)state;
	cj_limits lim = CJ_LIMITS_DEFAULT;
	lim.max_object = (size_t)64 << 20;
	lim.max_event = (size_t)64 << 20;
	cj_event *ev = parse_ok("{" MSG "}");
	json_t *arr = json_array();
	for (unsigned i = 0; i < CJI_DECODE_MAX_NODES - 20; i++)
		json_array_append_new(arr, json_integer(i & 0x7f));
	json_object_set_new(ev->obj, "metadata", json_pack("{so}", "a", arr));
	assert_int_equal(cj_event_validate(ev, &lim), 0);
	for (unsigned i = 0; i < 20; i++)
		json_array_append_new(arr, json_integer(0));
	expect_err(cj_event_validate(ev, &lim), CJ_ETOOBIG, "metadata", "node cap");
	cj_event_free(ev);
}

static void test_validate_args(void **state)
{
	(void)state;
	assert_int_equal(cj_event_validate(NULL, NULL), CJ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_object_depth),
		cmocka_unit_test(test_object_size),
		cmocka_unit_test(test_event_size_names_largest),
		cmocka_unit_test(test_node_cap),
		cmocka_unit_test(test_validate_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
