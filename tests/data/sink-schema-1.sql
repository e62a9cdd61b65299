-- tests/data/sink-schema-1.sql — a PostgreSQL sink database at sink schema
-- version 1, written by the sink of commit ac0a069 (before event schema 0.3)
-- from tests/data/store-main-717fc9f under two store ids, old-a and old-b
-- (pg_dump --schema=chatjournal). tests/sink/test_sink.py (Upgrade) loads it
-- and checks that a newer sink migrates it. Never regenerate it with a newer build.
--
-- PostgreSQL database dump
--

\restrict YvCraSxOxv0KGX0Ty3bka36AiqVPx1SaGbEko6BK2UeXcj0g9DW5kb0dEOK1VfE

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: chatjournal; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA chatjournal;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: blobs; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.blobs (
    store_id text NOT NULL,
    blob text NOT NULL,
    size bigint,
    mime_type text,
    first_seq bigint NOT NULL
);


--
-- Name: config_changes; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.config_changes (
    store_id text NOT NULL,
    seq bigint NOT NULL,
    scope text NOT NULL,
    subject text NOT NULL,
    actor text,
    old_value jsonb,
    new_value jsonb,
    sensitive boolean NOT NULL,
    ts_ms bigint NOT NULL,
    ts timestamp with time zone NOT NULL
);


--
-- Name: message_costs; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.message_costs (
    store_id text NOT NULL,
    seq bigint NOT NULL,
    "user" text,
    model text,
    input_tokens bigint,
    output_tokens bigint,
    usd double precision,
    ts_ms bigint NOT NULL,
    day date NOT NULL
);


--
-- Name: costs_by_user_day; Type: VIEW; Schema: chatjournal; Owner: -
--

CREATE VIEW chatjournal.costs_by_user_day AS
 SELECT message_costs.store_id,
    message_costs."user",
    message_costs.day,
    count(*) AS messages,
    sum(message_costs.input_tokens) AS input_tokens,
    sum(message_costs.output_tokens) AS output_tokens,
    sum(message_costs.usd) AS usd
   FROM chatjournal.message_costs
  GROUP BY message_costs.store_id, message_costs."user", message_costs.day;


--
-- Name: images; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.images (
    store_id text NOT NULL,
    seq bigint NOT NULL,
    thread text NOT NULL,
    url text NOT NULL,
    kind text,
    prompt text,
    analysis text,
    original_analysis text,
    metadata jsonb,
    blob text,
    thumbnail text,
    has_thumbnail boolean NOT NULL,
    id text,
    ts_ms bigint NOT NULL,
    ts timestamp with time zone NOT NULL,
    fts tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "left"(((COALESCE(prompt, ''::text) || ' '::text) || COALESCE(analysis, ''::text)), 65536))) STORED
);


--
-- Name: messages; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.messages (
    store_id text NOT NULL,
    seq bigint NOT NULL,
    thread text NOT NULL,
    "user" text,
    role text NOT NULL,
    content text NOT NULL,
    server text,
    channel text,
    message_ts text,
    metadata jsonb,
    id text,
    ts_ms bigint NOT NULL,
    ts timestamp with time zone NOT NULL,
    fts tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "left"(content, 65536))) STORED
);


--
-- Name: metrics; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.metrics (
    store_id text NOT NULL,
    seq bigint NOT NULL,
    name text NOT NULL,
    value double precision NOT NULL,
    unit text,
    tags jsonb,
    ts_ms bigint NOT NULL,
    ts timestamp with time zone NOT NULL
);


--
-- Name: schema_version; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.schema_version (
    id integer NOT NULL,
    version integer NOT NULL,
    CONSTRAINT schema_version_id_check CHECK ((id = 1))
);


--
-- Name: settings; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.settings (
    store_id text NOT NULL,
    key text NOT NULL,
    value jsonb NOT NULL,
    category text,
    sensitive boolean NOT NULL,
    actor text,
    description text,
    updated_ms bigint NOT NULL,
    updated timestamp with time zone NOT NULL,
    seq bigint NOT NULL
);


--
-- Name: sink_position; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.sink_position (
    store_id text NOT NULL,
    seq bigint NOT NULL,
    first_event text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: threads; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.threads (
    store_id text NOT NULL,
    thread text NOT NULL,
    server text,
    channel text,
    config jsonb,
    created_ms bigint NOT NULL,
    created timestamp with time zone NOT NULL,
    last_activity_ms bigint NOT NULL,
    last_activity timestamp with time zone NOT NULL,
    message_count bigint DEFAULT 0 NOT NULL,
    seq bigint NOT NULL
);


--
-- Name: user_threads; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.user_threads (
    store_id text NOT NULL,
    "user" text NOT NULL,
    thread text NOT NULL,
    last_activity_ms bigint NOT NULL,
    message_count bigint NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: chatjournal; Owner: -
--

CREATE TABLE chatjournal.users (
    store_id text NOT NULL,
    "user" text NOT NULL,
    username text,
    timezone text,
    tz_label text,
    tz_offset integer,
    config jsonb,
    first_seen_ms bigint NOT NULL,
    first_seen timestamp with time zone NOT NULL,
    last_seen_ms bigint NOT NULL,
    last_seen timestamp with time zone NOT NULL,
    seq bigint NOT NULL
);


--
-- Data for Name: blobs; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.blobs (store_id, blob, size, mime_type, first_seq) FROM stdin;
old-a	5d2de976f9d72ddcba139bc7d78b42df	32	application/octet-stream	7
old-b	5d2de976f9d72ddcba139bc7d78b42df	32	application/octet-stream	7
\.


--
-- Data for Name: config_changes; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.config_changes (store_id, seq, scope, subject, actor, old_value, new_value, sensitive, ts_ms, ts) FROM stdin;
old-a	1	user	U1	\N	\N	{"model": "m1", "style": {"emoji": true}}	f	1740819600000	2025-03-01 09:00:00+00
old-a	3	thread	T1	\N	\N	{"name": "general", "topic": "chat"}	f	1740819602000	2025-03-01 09:00:02+00
old-a	11	setting	api.key	ops	\N	"***"	t	1740913200000	2025-03-02 11:00:00+00
old-a	12	setting	bot.name	\N	\N	"keeper"	f	1740913201000	2025-03-02 11:00:01+00
old-b	1	user	U1	\N	\N	{"model": "m1", "style": {"emoji": true}}	f	1740819600000	2025-03-01 09:00:00+00
old-b	3	thread	T1	\N	\N	{"name": "general", "topic": "chat"}	f	1740819602000	2025-03-01 09:00:02+00
old-b	11	setting	api.key	ops	\N	"***"	t	1740913200000	2025-03-02 11:00:00+00
old-b	12	setting	bot.name	\N	\N	"keeper"	f	1740913201000	2025-03-02 11:00:01+00
\.


--
-- Data for Name: images; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.images (store_id, seq, thread, url, kind, prompt, analysis, original_analysis, metadata, blob, thumbnail, has_thumbnail, id, ts_ms, ts) FROM stdin;
old-a	7	T1	https://cdn.example/a.png	generated	lighthouse at dusk	a tall tower	\N	\N	5d2de976f9d72ddcba139bc7d78b42df	\N	f	i1	1740819720000	2025-03-01 09:02:00+00
old-b	7	T1	https://cdn.example/a.png	generated	lighthouse at dusk	a tall tower	\N	\N	5d2de976f9d72ddcba139bc7d78b42df	\N	f	i1	1740819720000	2025-03-01 09:02:00+00
\.


--
-- Data for Name: message_costs; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.message_costs (store_id, seq, "user", model, input_tokens, output_tokens, usd, ts_ms, day) FROM stdin;
old-a	5	\N	gpt-x	12	5	0.0004	1740819665000	2025-03-01
old-b	5	\N	gpt-x	12	5	0.0004	1740819665000	2025-03-01
\.


--
-- Data for Name: messages; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.messages (store_id, seq, thread, "user", role, content, server, channel, message_ts, metadata, id, ts_ms, ts) FROM stdin;
old-a	4	T1	U1	user	the lighthouse keeper waves	S1	C1	\N	{"mentions": ["U2"]}	m1	1740819660000	2025-03-01 09:01:00+00
old-a	5	T1	\N	assistant	ahoy from the tower	\N	\N	\N	\N	m2	1740819665000	2025-03-01 09:01:05+00
old-a	6	T1	\N	tool	{"temp":21}	\N	\N	\N	\N	m3	1740819666000	2025-03-01 09:01:06+00
old-a	8	T2	U2	user	Grüße aus Köln, 日本語	S1	\N	\N	\N	m4	1740909600000	2025-03-02 10:00:00+00
old-a	18	T2	\N	assistant	after the deletions	\N	\N	\N	\N	m7	1740963600000	2025-03-03 01:00:00+00
old-b	4	T1	U1	user	the lighthouse keeper waves	S1	C1	\N	{"mentions": ["U2"]}	m1	1740819660000	2025-03-01 09:01:00+00
old-b	5	T1	\N	assistant	ahoy from the tower	\N	\N	\N	\N	m2	1740819665000	2025-03-01 09:01:05+00
old-b	6	T1	\N	tool	{"temp":21}	\N	\N	\N	\N	m3	1740819666000	2025-03-01 09:01:06+00
old-b	8	T2	U2	user	Grüße aus Köln, 日本語	S1	\N	\N	\N	m4	1740909600000	2025-03-02 10:00:00+00
old-b	18	T2	\N	assistant	after the deletions	\N	\N	\N	\N	m7	1740963600000	2025-03-03 01:00:00+00
\.


--
-- Data for Name: metrics; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.metrics (store_id, seq, name, value, unit, tags, ts_ms, ts) FROM stdin;
old-a	13	latency_ms	12.5	ms	{"route": "chat"}	1740913202000	2025-03-02 11:00:02+00
old-b	13	latency_ms	12.5	ms	{"route": "chat"}	1740913202000	2025-03-02 11:00:02+00
\.


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.schema_version (id, version) FROM stdin;
1	1
\.


--
-- Data for Name: settings; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.settings (store_id, key, value, category, sensitive, actor, description, updated_ms, updated, seq) FROM stdin;
old-a	api.key	"***"	\N	t	ops	\N	1740913200000	2025-03-02 11:00:00+00	11
old-a	bot.name	"keeper"	ui	f	\N	\N	1740913201000	2025-03-02 11:00:01+00	12
old-b	api.key	"***"	\N	t	ops	\N	1740913200000	2025-03-02 11:00:00+00	11
old-b	bot.name	"keeper"	ui	f	\N	\N	1740913201000	2025-03-02 11:00:01+00	12
\.


--
-- Data for Name: sink_position; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.sink_position (store_id, seq, first_event, created, updated) FROM stdin;
old-a	18	user:1740819600000	2026-11-28 11:36:17.617953+00	2026-11-28 11:36:17.618662+00
old-b	18	user:1740819600000	2026-11-28 11:36:17.646809+00	2026-11-28 11:36:17.647441+00
\.


--
-- Data for Name: threads; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.threads (store_id, thread, server, channel, config, created_ms, created, last_activity_ms, last_activity, message_count, seq) FROM stdin;
old-a	T3	S2	\N	\N	1740909900000	2025-03-02 10:05:00+00	1740909900000	2025-03-02 10:05:00+00	0	9
old-a	T1	S1	C1	{"name": "general", "topic": "chat"}	1740819602000	2025-03-01 09:00:02+00	1740819720000	2025-03-01 09:02:00+00	3	14
old-a	T2	S1	\N	\N	1740909600000	2025-03-02 10:00:00+00	1740963600000	2025-03-03 01:00:00+00	2	18
old-b	T3	S2	\N	\N	1740909900000	2025-03-02 10:05:00+00	1740909900000	2025-03-02 10:05:00+00	0	9
old-b	T1	S1	C1	{"name": "general", "topic": "chat"}	1740819602000	2025-03-01 09:00:02+00	1740819720000	2025-03-01 09:02:00+00	3	14
old-b	T2	S1	\N	\N	1740909600000	2025-03-02 10:00:00+00	1740963600000	2025-03-03 01:00:00+00	2	18
\.


--
-- Data for Name: user_threads; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.user_threads (store_id, "user", thread, last_activity_ms, message_count) FROM stdin;
old-a	U2	T2	1740909600000	1
old-a	U1	T1	1740819660000	1
old-b	U2	T2	1740909600000	1
old-b	U1	T1	1740819660000	1
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: chatjournal; Owner: -
--

COPY chatjournal.users (store_id, "user", username, timezone, tz_label, tz_offset, config, first_seen_ms, first_seen, last_seen_ms, last_seen, seq) FROM stdin;
old-a	U1	alice	Europe/Paris	CEST	7200	{"model": "m1", "style": {"emoji": true}}	1740819600000	2025-03-01 09:00:00+00	1740909960000	2025-03-02 10:06:00+00	14
old-a	U2	bob	Not/AZone	\N	\N	\N	1740819601000	2025-03-01 09:00:01+00	1740909900000	2025-03-02 10:05:00+00	9
old-b	U1	alice	Europe/Paris	CEST	7200	{"model": "m1", "style": {"emoji": true}}	1740819600000	2025-03-01 09:00:00+00	1740909960000	2025-03-02 10:06:00+00	14
old-b	U2	bob	Not/AZone	\N	\N	\N	1740819601000	2025-03-01 09:00:01+00	1740909900000	2025-03-02 10:05:00+00	9
\.


--
-- Name: blobs blobs_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.blobs
    ADD CONSTRAINT blobs_pkey PRIMARY KEY (store_id, blob);


--
-- Name: config_changes config_changes_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.config_changes
    ADD CONSTRAINT config_changes_pkey PRIMARY KEY (store_id, seq);


--
-- Name: images images_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.images
    ADD CONSTRAINT images_pkey PRIMARY KEY (store_id, seq);


--
-- Name: message_costs message_costs_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.message_costs
    ADD CONSTRAINT message_costs_pkey PRIMARY KEY (store_id, seq);


--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (store_id, seq);


--
-- Name: metrics metrics_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.metrics
    ADD CONSTRAINT metrics_pkey PRIMARY KEY (store_id, seq);


--
-- Name: schema_version schema_version_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (id);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (store_id, key);


--
-- Name: sink_position sink_position_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.sink_position
    ADD CONSTRAINT sink_position_pkey PRIMARY KEY (store_id);


--
-- Name: threads threads_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.threads
    ADD CONSTRAINT threads_pkey PRIMARY KEY (store_id, thread);


--
-- Name: user_threads user_threads_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.user_threads
    ADD CONSTRAINT user_threads_pkey PRIMARY KEY (store_id, "user", thread);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: chatjournal; Owner: -
--

ALTER TABLE ONLY chatjournal.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (store_id, "user");


--
-- Name: config_changes_by_subject; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX config_changes_by_subject ON chatjournal.config_changes USING btree (store_id, scope, subject, seq);


--
-- Name: images_by_blob; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX images_by_blob ON chatjournal.images USING btree (store_id, blob) WHERE (blob IS NOT NULL);


--
-- Name: images_by_thread; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX images_by_thread ON chatjournal.images USING btree (store_id, thread, seq);


--
-- Name: images_by_thumbnail; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX images_by_thumbnail ON chatjournal.images USING btree (store_id, thumbnail) WHERE (thumbnail IS NOT NULL);


--
-- Name: images_fts; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX images_fts ON chatjournal.images USING gin (fts);


--
-- Name: message_costs_by_day; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX message_costs_by_day ON chatjournal.message_costs USING btree (store_id, day);


--
-- Name: message_costs_by_user_day; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX message_costs_by_user_day ON chatjournal.message_costs USING btree (store_id, "user", day);


--
-- Name: messages_by_thread; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX messages_by_thread ON chatjournal.messages USING btree (store_id, thread, seq);


--
-- Name: messages_by_time; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX messages_by_time ON chatjournal.messages USING btree (store_id, ts_ms);


--
-- Name: messages_by_user; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX messages_by_user ON chatjournal.messages USING btree (store_id, "user", server);


--
-- Name: messages_fts; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX messages_fts ON chatjournal.messages USING gin (fts);


--
-- Name: metrics_by_name_time; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX metrics_by_name_time ON chatjournal.metrics USING btree (store_id, name, ts_ms);


--
-- Name: threads_by_activity; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX threads_by_activity ON chatjournal.threads USING btree (store_id, last_activity_ms);


--
-- Name: user_threads_by_activity; Type: INDEX; Schema: chatjournal; Owner: -
--

CREATE INDEX user_threads_by_activity ON chatjournal.user_threads USING btree (store_id, "user", last_activity_ms);


--
-- PostgreSQL database dump complete
--

\unrestrict YvCraSxOxv0KGX0Ty3bka36AiqVPx1SaGbEko6BK2UeXcj0g9DW5kb0dEOK1VfE

