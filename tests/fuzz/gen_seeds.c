/* tests/fuzz/gen_seeds.c — writes the seed corpora once (the files are then
 * committed): JSON texts for fuzz_event_json, and for fuzz_record_decode the
 * canonical bodies of the valid ones plus hand-made hostile bodies.
 * Usage: gen_seeds CORPUS_DIR   (writes CORPUS_DIR/{event_json,record_decode}) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "journal/event_internal.h"

static const struct { const char *name, *json; } texts[] = {
	{ "message-min", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"hi\"}" },
	{ "message-full", "{\"type\":\"message\",\"id\":\"m-1\",\"ts\":\"2024-05-01T12:00:00.250+02:00\","
	  "\"thread\":\"T1\",\"role\":\"assistant\",\"content\":\"Hello \\u2603 \\ud83d\\ude00\","
	  "\"server\":\"S1\",\"channel\":\"C1\",\"user\":\"U1\",\"message_ts\":\"1714567890.000100\","
	  "\"metadata\":{\"z\":1,\"a\":[1,2.5,\"x\",null,true,false,{\"k\":\"v\"}]},"
	  "\"cost\":{\"model\":\"gpt-4o\",\"input_tokens\":1200,\"output_tokens\":345,\"usd\":0.0123}}" },
	/* plain messages: what the projection reads without decoding (event_fields.c) */
	{ "message-plain", "{\"type\":\"message\",\"id\":\"m-3\",\"ts\":1714557600250,\"thread\":\"T1\","
	  "\"role\":\"user\",\"content\":\"caf\\u00e9 \\ud83d\\ude00\",\"server\":\"S1\",\"channel\":\"C1\","
	  "\"user\":\"U1\",\"message_ts\":\"1714567890.000100\",\"metadata\":{\"a\":[1,-2,2.5,null,{}],\"b\":\"x\"}}" },
	{ "message-plain-min", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"content\":\"\"}" },
	{ "image-full", "{\"type\":\"image\",\"id\":\"i-1\",\"ts\":1714557600250,\"thread\":\"T1\","
	  "\"url\":\"https://cdn.example/x.png\",\"kind\":\"generated\",\"prompt\":\"a cat\","
	  "\"analysis\":\"a cat on a mat\",\"original_analysis\":\"cat\",\"metadata\":{\"w\":1024},"
	  "\"blob\":\"0123456789abcdef0123456789abcdef\",\"thumbnail\":\"fedcba9876543210fedcba9876543210\"}" },
	{ "user-full", "{\"type\":\"user\",\"user\":\"U1\",\"username\":\"alice\",\"timezone\":\"Europe/Paris\","
	  "\"tz_label\":\"CEST\",\"tz_offset\":-7200,\"config\":{\"model\":\"x\",\"temperature\":0.7},"
	  "\"id\":\"u-1\",\"ts\":0}" },
	{ "thread-config", "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config\":{\"a\":{\"b\":1}},"
	  "\"server\":\"S1\",\"channel\":\"C1\",\"ts\":\"1970-01-01T00:00:00Z\"}" },
	{ "delete-thread", "{\"type\":\"delete_thread\",\"thread\":\"T1\",\"id\":\"d\",\"ts\":5}" },
	{ "clear-history", "{\"type\":\"clear_history\",\"user\":\"U1\",\"server\":\"S1\"}" },
	{ "purge", "{\"type\":\"purge\",\"before\":\"2024-01-01T00:00:00Z\"}" },
	{ "purge-int", "{\"type\":\"purge\",\"before\":1704067200000}" },
	{ "setting", "{\"type\":\"setting\",\"key\":\"bot.model\",\"value\":{\"x\":[1,2]},\"category\":\"llm\","
	  "\"sensitive\":true,\"actor\":\"admin\",\"description\":\"the model\"}" },
	{ "setting-null", "{\"type\":\"setting\",\"key\":\"k\",\"value\":null}" },
	{ "metric", "{\"type\":\"metric\",\"name\":\"latency\",\"value\":12.5,\"unit\":\"ms\","
	  "\"tags\":{\"route\":\"/chat\"}}" },
	{ "metric-ints", "{\"type\":\"metric\",\"name\":\"n\",\"value\":-9223372036854775808,"
	  "\"tags\":{\"a\":127,\"b\":128,\"c\":-33,\"d\":65536,\"e\":9223372036854775807,\"f\":-0.0,"
	  "\"g\":1e308,\"h\":5e-324}}" },
	{ "ts-offsets", "{\"type\":\"delete_thread\",\"thread\":\"T\",\"ts\":\"2000-02-29 23:59:60.123456789-05:30\"}" },
	{ "keys-order", "{\"ts\":1,\"thread\":\"T\",\"type\":\"message\",\"role\":\"tool\",\"content\":\"\","
	  "\"metadata\":{\"\\u00e9\":1,\"b\":2,\"B\":3,\"aa\":4,\"a\":5,\"\":6}}" },
	{ "deep-32", "{\"type\":\"user\",\"user\":\"u\",\"config\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
	  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"
	  "}}}}}}}}}}}}}}}}}" },
	/* 0.3: the chat model */
	{ "message-attachments", "{\"type\":\"message\",\"id\":\"m-2\",\"thread\":\"T1\",\"role\":\"user\","
	  "\"reply_to\":\"m-1\",\"parent\":\"m-0\",\"attachments\":[{\"blob\":\"0123456789abcdef0123456789abcdef\","
	  "\"name\":\"a.pdf\",\"mime\":\"application/pdf\",\"size\":1234},{\"url\":\"https://x/y.png\"}]}" },
	{ "message-tool-calls", "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"assistant\",\"name\":\"bot\","
	  "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	  "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":\"call_2\",\"type\":\"function\","
	  "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}" },
	{ "message-tool-result", "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"tool\","
	  "\"tool_call_id\":\"call_1\",\"content\":\"21C\"}" },
	{ "message-developer", "{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"developer\",\"content\":\"be brief\"}" },
	{ "image-of-message", "{\"type\":\"image\",\"thread\":\"T1\",\"url\":\"u\",\"message\":\"m-2\"}" },
	{ "user-profile", "{\"type\":\"user\",\"user\":\"U1\",\"display_name\":\"Ann\",\"is_bot\":true,"
	  "\"avatar_url\":\"https://a/b.png\",\"metadata\":{\"team\":[1]},\"timezone\":\"UTC\","
	  "\"config_patch\":{\"a\":null,\"b\":{\"c\":1}}}" },
	{ "thread-config-patch", "{\"type\":\"thread_config\",\"thread\":\"T1\",\"config_patch\":{\"x\":null}}" },
	{ "thread", "{\"type\":\"thread\",\"thread\":\"T1\",\"title\":\"Lights\",\"topic\":\"\","
	  "\"metadata\":{\"k\":1},\"server\":\"S\",\"channel\":\"C\"}" },
	{ "edit-message", "{\"type\":\"edit_message\",\"id\":\"m-1:edit:1\",\"thread\":\"T1\",\"target\":\"m-1\","
	  "\"content\":\"fixed\",\"editor\":\"U1\",\"ts\":1714557600000}" },
	{ "delete-message", "{\"type\":\"delete_message\",\"thread\":\"T1\",\"target\":\"m-1\"}" },
	{ "reaction", "{\"type\":\"reaction\",\"thread\":\"T1\",\"target\":\"m-1\",\"emoji\":\"+1\","
	  "\"user\":\"U2\",\"op\":\"remove\"}" },
	{ "redact-edits", "{\"type\":\"redact_edits\",\"through_seq\":42}" },
	{ "bad-attachment", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"attachments\":[{\"name\":\"x\"},7]}" },
	{ "bad-tool-call", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
	  "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":{}}}]}" },
	{ "bad-timezone", "{\"type\":\"user\",\"user\":\"U\",\"timezone\":\"../../etc/passwd\"}" },
	{ "bad-config-both", "{\"type\":\"user\",\"user\":\"U\",\"config\":{},\"config_patch\":{}}" },
	{ "bad-no-target", "{\"type\":\"reaction\",\"thread\":\"T\",\"emoji\":\"e\",\"user\":\"U\"}" },
	/* refused */
	{ "bad-role", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"bot\",\"content\":\"x\"}" },
	{ "bad-unknown-field", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"x\",\"extra\":1}" },
	{ "bad-type", "{\"type\":\"nope\"}" },
	{ "bad-no-type", "{\"thread\":\"T\"}" },
	{ "bad-dup", "{\"type\":\"purge\",\"before\":1,\"before\":2}" },
	{ "bad-nul", "{\"type\":\"delete_thread\",\"thread\":\"a\\u0000b\"}" },
	{ "bad-utf8", "{\"type\":\"delete_thread\",\"thread\":\"a\xff\xc0\xaf\"}" },
	{ "bad-surrogate", "{\"type\":\"delete_thread\",\"thread\":\"\\udc00\"}" },
	{ "bad-syntax", "{\"type\":\"purge\",\n\"before\":1,}" },
	{ "bad-array", "[{\"type\":\"purge\",\"before\":1}]" },
	{ "bad-ts", "{\"type\":\"delete_thread\",\"thread\":\"T\",\"ts\":\"2023-02-29T00:00:00Z\"}" },
	{ "bad-ts-neg", "{\"type\":\"delete_thread\",\"thread\":\"T\",\"ts\":-1}" },
	{ "bad-control", "{\"type\":\"delete_thread\",\"thread\":\"a\\tb\"}" },
	{ "bad-cost", "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"x\","
	  "\"cost\":{\"usd\":-1,\"input_tokens\":1.5}}" },
	{ "bad-hash", "{\"type\":\"image\",\"thread\":\"T\",\"url\":\"u\",\"blob\":\"ABCDEF0123456789abcdef0123456789\"}" },
	{ "bad-tz", "{\"type\":\"user\",\"user\":\"U\",\"tz_offset\":64801}" },
	{ "bad-deep-33", "{\"type\":\"metric\",\"name\":\"n\",\"value\":1,\"tags\":{\"a\":[[[[[[[[[[[[[[[["
	  "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}" },
	{ "bad-big-number", "{\"type\":\"metric\",\"name\":\"n\",\"value\":1e999}" },
};

/* Hostile and odd bodies for the decoder. */
#define TYPE_KEY 0xa4, 't', 'y', 'p', 'e'
static const struct { const char *name; uint8_t b[24]; size_t n; } bodies[] = {
	{ "arr32-lie", { 0x81, TYPE_KEY, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 }, 12 },
	{ "map32-lie", { 0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0 }, 12 },
	{ "str32-lie", { 0x81, TYPE_KEY, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c' }, 10 },
	{ "str16-lie", { 0x81, TYPE_KEY, 0xda, 0x01, 0x00, 'a' }, 9 },
	{ "map16-lie", { 0x81, TYPE_KEY, 0xde, 0x00, 0x02, 0xa1, 'a', 0xc0 }, 10 },
	{ "bin8", { 0x81, TYPE_KEY, 0xc4, 0x01, 'x' }, 9 },
	{ "ext8", { 0x81, TYPE_KEY, 0xc7, 0x01, 0x05, 'x' }, 10 },
	{ "fixext", { 0x81, TYPE_KEY, 0xd4, 0x05, 'x' }, 9 },
	{ "never-used", { 0x81, TYPE_KEY, 0xc1 }, 7 },
	{ "int-key", { 0x81, 0x01, 0xc0 }, 3 },
	{ "nan", { 0x81, TYPE_KEY, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0 }, 15 },
	{ "inf32", { 0x81, TYPE_KEY, 0xca, 0x7f, 0x80, 0, 0 }, 11 },
	{ "float32-ok", { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'f', 0xca, 0x3f, 0xc0, 0, 0 }, 15 },
	{ "uint64-big", { 0x81, TYPE_KEY, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 15 },
	{ "noncanon-int", { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'i', 0xd3, 0, 0, 0, 0, 0, 0, 0, 5 }, 19 },
	{ "bad-utf8", { 0x81, TYPE_KEY, 0xa2, 0xc0, 0xaf }, 9 },
	{ "nul-str", { 0x81, TYPE_KEY, 0xa3, 'a', 0, 'b' }, 10 },
	{ "dup-key", { 0x83, TYPE_KEY, 0xa1, 't', 0xa1, 'a', 0x01, 0xa1, 'a', 0x02 }, 14 },
	{ "trailing", { 0x81, TYPE_KEY, 0xa1, 't', 0xc0 }, 9 },
	{ "not-map", { 0x91, 0xc0 }, 2 },
	{ "empty-map", { 0x80 }, 1 },
	{ "type-int", { 0x81, TYPE_KEY, 0x01 }, 7 },
	{ "ts-string", { 0x82, 0xa2, 't', 's', 0xa3, 'b', 'a', 'd', TYPE_KEY, 0xa1, 't' }, 15 },
	{ "ts-neg", { 0x82, 0xa2, 't', 's', 0xff, TYPE_KEY, 0xa1, 't' }, 12 },
	{ "deep", { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'v', 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
	            0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91 }, 19 },
	{ "truncated-map", { 0x83, TYPE_KEY, 0xa1, 't' }, 8 },
	{ "empty", { 0 }, 0 },
};

static int write_file(const char *dir, const char *name, const char *ext, const void *p, size_t n)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* {"type":"t","v":[[...[1]...]]}: levels arrays deep, a scalar inside the
 * deepest; 63 is the most the decoder reads below the event map. */
static int write_deep(const char *dir, const char *name, int levels)
{
	uint8_t b[128];
	static const uint8_t head[] = { 0x82, TYPE_KEY, 0xa1, 't', 0xa1, 'v' };
	size_t n = sizeof head;
	memcpy(b, head, n);
	for (int i = 0; i < levels && n < sizeof b - 1; i++)
		b[n++] = 0x91;
	b[n++] = 0x01;
	return write_file(dir, name, ".mp", b, n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	char jdir[900], mdir[900];
	snprintf(jdir, sizeof jdir, "%s/event_json", argv[1]);
	snprintf(mdir, sizeof mdir, "%s/record_decode", argv[1]);
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		if (write_file(jdir, texts[i].name, ".json", texts[i].json, strlen(texts[i].json)))
			return 1;
		cj_event *ev = NULL;
		if (cj_event_parse(&ev, texts[i].json, strlen(texts[i].json)) != 0) {
			if (strncmp(texts[i].name, "bad-", 4) != 0)
				fprintf(stderr, "%s: %s\n", texts[i].name, cj_error_last());
			continue;
		}
		cji_buf b = CJI_BUF_INIT;
		int64_t ts;
		int has;
		if (cji_event_encode(ev, &b, &ts, &has) != 0 ||
		    write_file(mdir, texts[i].name, ".mp", b.data, b.len))
			return 1;
		/* A truncated copy too: the decoder's commonest damage. */
		char name[128];
		snprintf(name, sizeof name, "trunc-%s", texts[i].name);
		if (write_file(mdir, name, ".mp", b.data, b.len / 2))
			return 1;
		cji_buf_free(&b);
		cj_event_free(ev);
	}
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		if (write_file(mdir, bodies[i].name, ".mp", bodies[i].b, bodies[i].n))
			return 1;
	if (write_deep(mdir, "deep-63-scalar", 63) || write_deep(mdir, "deep-64", 64))
		return 1;
	return 0;
}
