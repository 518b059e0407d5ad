-- Papers, daily entries, full-text index, per-channel settings, deliveries and scrape history.
-- Dates are ISO-8601 text; instants are ISO-8601 text in UTC with an explicit offset.

CREATE TABLE papers (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    authors       TEXT NOT NULL DEFAULT '[]',      -- JSON list of names, in order
    summary       TEXT NOT NULL DEFAULT '',
    published     TEXT,
    day           TEXT,                            -- latest Daily Papers day it was featured
    upvotes       INTEGER NOT NULL DEFAULT 0,
    ai_summary    TEXT,
    ai_keywords   TEXT NOT NULL DEFAULT '[]',      -- JSON list
    github_repo   TEXT,
    github_stars  INTEGER,
    project_page  TEXT,
    thumbnail     TEXT,
    num_comments  INTEGER NOT NULL DEFAULT 0,
    organization  TEXT,
    first_seen    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX papers_day ON papers(day);
CREATE INDEX papers_upvotes ON papers(upvotes);
CREATE INDEX papers_title_nocase ON papers(title COLLATE NOCASE);

CREATE TABLE daily_entries (
    day        TEXT NOT NULL,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    upvotes    INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (day, paper_id)
) WITHOUT ROWID;
CREATE INDEX daily_entries_paper ON daily_entries(paper_id);

-- FTS5 over papers (authors and keywords flattened); triggers keep it in step with every write.
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, authors, keywords, summary, ai_summary,
    tokenize='porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts(rowid, title, authors, keywords, summary, ai_summary)
    VALUES (new.rowid, new.title,
            (SELECT group_concat(value, ' ; ') FROM json_each(new.authors)),
            (SELECT group_concat(value, ' ; ') FROM json_each(new.ai_keywords)),
            new.summary, coalesce(new.ai_summary, ''));
END;

CREATE TRIGGER papers_ad AFTER DELETE ON papers BEGIN
    DELETE FROM papers_fts WHERE rowid = old.rowid;
END;

CREATE TRIGGER papers_au AFTER UPDATE OF title, authors, ai_keywords, summary, ai_summary ON papers BEGIN
    DELETE FROM papers_fts WHERE rowid = old.rowid;
    INSERT INTO papers_fts(rowid, title, authors, keywords, summary, ai_summary)
    VALUES (new.rowid, new.title,
            (SELECT group_concat(value, ' ; ') FROM json_each(new.authors)),
            (SELECT group_concat(value, ' ; ') FROM json_each(new.ai_keywords)),
            new.summary, coalesce(new.ai_summary, ''));
END;

CREATE TABLE digest_settings (
    channel_id      INTEGER PRIMARY KEY,
    guild_id        INTEGER NOT NULL,
    time            TEXT NOT NULL,                 -- HH:MM local
    timezone        TEXT NOT NULL,
    top             INTEGER NOT NULL,
    min_upvotes     INTEGER NOT NULL DEFAULT 0,
    weekdays_only   INTEGER NOT NULL DEFAULT 0,
    style           TEXT NOT NULL DEFAULT 'compact',
    post_empty      INTEGER NOT NULL DEFAULT 1,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    created_at      TEXT NOT NULL,                 -- when the current settings took effect
    updated_at      TEXT NOT NULL
);
CREATE INDEX digest_settings_guild ON digest_settings(guild_id);

CREATE TABLE subscriptions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id           INTEGER NOT NULL,
    channel_id         INTEGER NOT NULL,
    query              TEXT NOT NULL,
    normalized         TEXT NOT NULL,
    created_by         INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    skip_digest_papers INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel_id, normalized)
);
CREATE INDEX subscriptions_guild ON subscriptions(guild_id);

CREATE TABLE deliveries (
    channel_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL,                 -- 'digest' | 'alert' | 'alert_batch'
    key             TEXT NOT NULL,                 -- day for digests, paper id for alerts, batch id
    status          TEXT NOT NULL,                 -- 'pending' | 'sent' | 'failed' | 'skipped'
    nonce           TEXT NOT NULL,
    message_id      INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    payload         TEXT,                          -- JSON: the message parts and what was sent
    batch           TEXT,                          -- the alert_batch key an alert row was sent in
    outcome         TEXT,                          -- short note shown to admins (late, missed, empty)
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    next_attempt_at TEXT,
    PRIMARY KEY (channel_id, kind, key)
);
CREATE INDEX deliveries_open ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_batch ON deliveries(batch) WHERE batch IS NOT NULL;

CREATE TABLE scrape_runs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    source   TEXT NOT NULL,
    day      TEXT,
    started  TEXT NOT NULL,
    finished TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    fetched  INTEGER NOT NULL DEFAULT 0,
    new      INTEGER NOT NULL DEFAULT 0,
    updated  INTEGER NOT NULL DEFAULT 0,
    skipped  INTEGER NOT NULL DEFAULT 0,
    error    TEXT
);
CREATE INDEX scrape_runs_day ON scrape_runs(day, finished);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
