/* api/http/head.c — the request head, before any route runs: framing that
 * a proxy in front could read differently from us (request smuggling), the
 * request id, and the client's address (X-Forwarded-For, believed from
 * trusted proxies only). Each check works on the headers libmicrohttpd
 * parsed; tests/http/test_http_fuzz.py throws mutated heads at them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "service.h"

typedef struct framing {
	unsigned content_length, transfer_encoding;
	const char *te;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	(void)kind;
	framing *f = cls;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		f->content_length++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->transfer_encoding++;
		f->te = value;
	}
	return MHD_YES;
}

/* libmicrohttpd 0.9.75 reads the first Content-Length and ignores the
 * others, and prefers Transfer-Encoding (any value) over Content-Length; a
 * proxy may pick the other one: the classic smuggling set-up. Refused. */
unsigned cjh_head_check(cjh_request *r)
{
	framing f = { 0, 0, NULL };
	MHD_get_connection_values(r->c, MHD_HEADER_KIND, count_framing, &f);
	if (f.content_length > 1) {
		cjh_set_error(r, 400, "more than one Content-Length header", NULL);
		return 400;
	}
	if (f.content_length && f.transfer_encoding) {
		cjh_set_error(r, 400, "both Content-Length and Transfer-Encoding: send one", NULL);
		return 400;
	}
	if (f.transfer_encoding > 1 || (f.te && strcasecmp(f.te, "chunked") != 0)) {
		cjh_set_error(r, 400, "Transfer-Encoding must be 'chunked' alone", NULL);
		return 400;
	}
	if (r->raw_nul_query) {
		cjh_set_error(r, 400, "the query string has an encoded NUL (%00)", NULL);
		return 400;
	}
	return 0;
}

int cjh_raw_has_nul(const char *uri, int *in_query)
{
	*in_query = 0;
	int in_path = 0, query = 0;
	for (const char *p = uri; *p; p++) {
		if (*p == '?')
			query = 1;
		else if (p[0] == '%' && p[1] == '0' && p[2] == '0') {
			if (query)
				*in_query = 1;
			else
				in_path = 1;
		}
	}
	return in_path;
}

static int id_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == ':' || ch == '/' || ch == '+' || ch == '=';
}

/* splitmix64: ids that do not repeat within a run and do not reveal the
 * request count. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void cjh_request_id(cjh_request *r)
{
	const char *v = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "X-Request-Id");
	size_t n = v ? strlen(v) : 0;
	int ok = n >= 1 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = id_char(v[i]);
	if (ok) {
		memcpy(r->request_id, v, n + 1);
		return;
	}
	uint64_t k = atomic_fetch_add(&r->sv->next_id, 1);
	snprintf(r->request_id, sizeof r->request_id, "%016llx",
	         (unsigned long long)mix(k ^ r->sv->id_salt));
}

int cjh_parse_net(cjh_net *out, const char *text)
{
	char ip[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	while (n && text[n - 1] == ' ')
		n--;
	while (n && *text == ' ') {
		text++;
		n--;
	}
	if (n == 0 || n >= sizeof ip)
		return -1;
	memcpy(ip, text, n);
	ip[n] = '\0';
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, ip, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		while (*end == ' ')
			end++;
		if (!slash[1] || *end || b < 0 || b > (long)out->bits)
			return -1;
		out->bits = (unsigned)b;
	}
	return 0;
}

static int net_has(const cjh_net *net, int family, const unsigned char *a)
{
	if (net->family != family)
		return 0;
	unsigned full = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, a, full) != 0)
		return 0;
	if (!rest)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (a[full] & mask);
}

static int trusted_bytes(const cjh_settings *set, int family, const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (family == AF_INET6 && !memcmp(a, mapped, 12)) {
		family = AF_INET; /* ::ffff:192.0.2.1 is 192.0.2.1 */
		a += 12;
	}
	for (size_t i = 0; i < set->nproxies; i++)
		if (net_has(&set->proxies[i], family, a))
			return 1;
	return 0;
}

int cjh_addr_trusted(const cjh_settings *set, const struct sockaddr *sa)
{
	if (!set->nproxies || !sa)
		return 0;
	if (sa->sa_family == AF_INET)
		return trusted_bytes(set, AF_INET, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return trusted_bytes(set, AF_INET6, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return 0;
}

/* One X-Forwarded-For entry as an address: 1 and *net filled, or 0. */
static int xff_entry(const char *p, size_t n, cjh_net *net, char text[64])
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= 64 || memchr(p, '/', n))
		return 0;
	memcpy(text, p, n);
	text[n] = '\0';
	if (cjh_parse_net(net, text) != 0)
		return 0;
	/* One spelling per address ("0:0::1" is "::1"): the per-address count
	 * must not be split by how an address is written. */
	inet_ntop(net->family, net->addr, text, 64);
	return 1;
}

typedef struct xff {
	const char *values[8];
	unsigned n;
} xff;

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	(void)kind;
	xff *x = cls;
	if (!strcasecmp(key, "X-Forwarded-For") && value && x->n < 8)
		x->values[x->n++] = value;
	return MHD_YES;
}

/* From a trusted proxy: X-Forwarded-For read from the right, past every
 * trusted proxy, to the first address that is not one: the client. Any
 * entry that is not an address stops the walk: the hop to its right (a
 * trusted proxy) is all we know. */
void cjh_client_address(cjh_request *r)
{
	snprintf(r->client, sizeof r->client, "%s", cjh_conn_peer(r->conn));
	r->proxied = cjh_conn_from_proxy(r->conn);
	if (!r->proxied)
		return;
	xff x = { { NULL }, 0 };
	MHD_get_connection_values(r->c, MHD_HEADER_KIND, collect_xff, &x);
	for (unsigned h = x.n; h-- > 0;) {
		const char *v = x.values[h];
		size_t end = strlen(v);
		for (;;) {
			size_t start = end;
			while (start > 0 && v[start - 1] != ',')
				start--;
			cjh_net net;
			char text[64];
			if (!xff_entry(v + start, end - start, &net, text))
				return;
			snprintf(r->client, sizeof r->client, "%s", text);
			if (!trusted_bytes(&r->sv->set, net.family, net.addr))
				return;
			if (start == 0)
				break;
			end = start - 1;
		}
	}
}
