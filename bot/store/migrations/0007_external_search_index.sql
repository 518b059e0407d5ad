-- The full-text index keeps no second copy of the text: papers_fts reads its columns from `papers`
-- (through the view papers_fts_source) instead of storing them. Its rows are keyed by papers.seq, an
-- INTEGER PRIMARY KEY (the rowid under a name), so that no VACUUM can renumber papers under the index.
-- papers_fts_title indexes titles alone, without stemming: the title lookups (typos, missing words,
-- autocomplete) read it from disk. Rebuilding `papers` runs with foreign keys off (see Store.migrate),
-- so the rows pointing at papers stay; the rowids are kept, so paper_stats stays keyed right.

DROP TRIGGER papers_ai;
DROP TRIGGER papers_ad;
DROP TRIGGER papers_au;
DROP TRIGGER paper_stats_ai;
DROP TRIGGER paper_stats_au;
DROP TRIGGER paper_stats_ad;
DROP TABLE papers_fts_vocab;
DROP TABLE papers_fts;

CREATE TABLE papers_rebuilt (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
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
INSERT INTO papers_rebuilt (
    seq, id, title, authors, summary, published, day, upvotes, ai_summary, ai_keywords, github_repo,
    github_stars, project_page, thumbnail, num_comments, organization, first_seen, updated_at
)
SELECT rowid, id, title, authors, summary, published, day, upvotes, ai_summary, ai_keywords, github_repo,
       github_stars, project_page, thumbnail, num_comments, organization, first_seen, updated_at
FROM papers ORDER BY rowid;
DROP TABLE papers;
ALTER TABLE papers_rebuilt RENAME TO papers;
CREATE INDEX papers_day ON papers(day);
CREATE INDEX papers_upvotes ON papers(upvotes);
CREATE INDEX papers_title_nocase ON papers(title COLLATE NOCASE);
CREATE INDEX papers_updated_at ON papers(updated_at);

-- The text of each papers_fts column, as the triggers below write it (authors and keywords flattened).
CREATE VIEW papers_fts_source AS
SELECT seq, title,
       (SELECT group_concat(value, ' ; ') FROM json_each(authors)) AS authors,
       (SELECT group_concat(value, ' ; ') FROM json_each(ai_keywords)) AS keywords,
       summary, coalesce(ai_summary, '') AS ai_summary
FROM papers;

CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, authors, keywords, summary, ai_summary,
    content='papers_fts_source', content_rowid='seq',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO papers_fts (rowid, title, authors, keywords, summary, ai_summary)
SELECT seq, title, authors, keywords, summary, ai_summary FROM papers_fts_source ORDER BY seq;
CREATE VIRTUAL TABLE papers_fts_vocab USING fts5vocab(papers_fts, 'row');

CREATE VIRTUAL TABLE papers_fts_title USING fts5(
    title, content='papers', content_rowid='seq', tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO papers_fts_title (papers_fts_title) VALUES ('rebuild');
CREATE VIRTUAL TABLE papers_fts_title_vocab USING fts5vocab(papers_fts_title, 'row');

-- An external-content index forgets a row only when told the text it indexed: the old values.
CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts(rowid, title, authors, keywords, summary, ai_summary)
    VALUES (new.rowid, new.title,
            (SELECT group_concat(value, ' ; ') FROM json_each(new.authors)),
            (SELECT group_concat(value, ' ; ') FROM json_each(new.ai_keywords)),
            new.summary, coalesce(new.ai_summary, ''));
    INSERT INTO papers_fts_title(rowid, title) VALUES (new.rowid, new.title);
END;

CREATE TRIGGER papers_ad AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, authors, keywords, summary, ai_summary)
    VALUES ('delete', old.rowid, old.title,
            (SELECT group_concat(value, ' ; ') FROM json_each(old.authors)),
            (SELECT group_concat(value, ' ; ') FROM json_each(old.ai_keywords)),
            old.summary, coalesce(old.ai_summary, ''));
    INSERT INTO papers_fts_title(papers_fts_title, rowid, title) VALUES ('delete', old.rowid, old.title);
END;

CREATE TRIGGER papers_au AFTER UPDATE OF title, authors, ai_keywords, summary, ai_summary ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, authors, keywords, summary, ai_summary)
    VALUES ('delete', old.rowid, old.title,
            (SELECT group_concat(value, ' ; ') FROM json_each(old.authors)),
            (SELECT group_concat(value, ' ; ') FROM json_each(old.ai_keywords)),
            old.summary, coalesce(old.ai_summary, ''));
    INSERT INTO papers_fts(rowid, title, authors, keywords, summary, ai_summary)
    VALUES (new.rowid, new.title,
            (SELECT group_concat(value, ' ; ') FROM json_each(new.authors)),
            (SELECT group_concat(value, ' ; ') FROM json_each(new.ai_keywords)),
            new.summary, coalesce(new.ai_summary, ''));
END;

CREATE TRIGGER papers_title_au AFTER UPDATE OF title ON papers BEGIN
    INSERT INTO papers_fts_title(papers_fts_title, rowid, title) VALUES ('delete', old.rowid, old.title);
    INSERT INTO papers_fts_title(rowid, title) VALUES (new.rowid, new.title);
END;

CREATE TRIGGER paper_stats_ai AFTER INSERT ON papers BEGIN
    INSERT INTO paper_stats (paper_rowid, upvotes, day, has_code)
    VALUES (new.rowid, new.upvotes, new.day, coalesce(new.github_repo, '') != '');
END;

CREATE TRIGGER paper_stats_au AFTER UPDATE OF upvotes, day, github_repo ON papers BEGIN
    UPDATE paper_stats
    SET upvotes = new.upvotes, day = new.day, has_code = coalesce(new.github_repo, '') != ''
    WHERE paper_rowid = new.rowid;
END;

CREATE TRIGGER paper_stats_ad AFTER DELETE ON papers BEGIN
    DELETE FROM paper_stats WHERE paper_rowid = old.rowid;
END;
