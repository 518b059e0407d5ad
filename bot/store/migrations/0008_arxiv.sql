-- A second source, arXiv: what it knows of a paper, its categories as a searchable list, and each
-- category's daily announcement in listing order. Papers stored so far came from Hugging Face.
ALTER TABLE papers ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';            -- JSON list, primary first
ALTER TABLE papers ADD COLUMN sources TEXT NOT NULL DEFAULT '["huggingface"]';  -- JSON list
ALTER TABLE papers ADD COLUMN comments TEXT;
ALTER TABLE papers ADD COLUMN journal_ref TEXT;
ALTER TABLE papers ADD COLUMN version INTEGER;                                 -- latest version seen
ALTER TABLE papers ADD COLUMN updated TEXT;                                    -- its date

-- One row per (category, paper), the category folded to lower case, for `category:` filters, and one per
-- (archive, paper) keyed 'cs.*' for `category:cs.*`; kept in step with papers by triggers, keyed by
-- papers.rowid like paper_stats. Each row carries the paper's upvotes, day and code flag, so that listing
-- a category in either order reads one index.
CREATE TABLE paper_categories (
    category    TEXT NOT NULL,
    paper_rowid INTEGER NOT NULL,
    upvotes     INTEGER NOT NULL,
    day         TEXT,
    has_code    INTEGER NOT NULL,
    PRIMARY KEY (category, paper_rowid)
) WITHOUT ROWID;
CREATE INDEX paper_categories_paper ON paper_categories (paper_rowid);
CREATE INDEX paper_categories_top ON paper_categories (category, upvotes, day);
CREATE INDEX paper_categories_new ON paper_categories (category, day, upvotes);

CREATE TRIGGER paper_categories_ai AFTER INSERT ON papers BEGIN
    INSERT OR IGNORE INTO paper_categories (category, paper_rowid, upvotes, day, has_code)
    SELECT name, new.rowid, new.upvotes, new.day, coalesce(new.github_repo, '') != ''
    FROM (
        SELECT lower(value) AS name FROM json_each(new.categories)
        UNION
        SELECT lower(substr(value, 1, instr(value, '.'))) || '*' FROM json_each(new.categories)
        WHERE instr(value, '.') > 1
    );
END;

CREATE TRIGGER paper_categories_au AFTER UPDATE OF categories ON papers BEGIN
    DELETE FROM paper_categories WHERE paper_rowid = old.rowid;
    INSERT OR IGNORE INTO paper_categories (category, paper_rowid, upvotes, day, has_code)
    SELECT name, new.rowid, new.upvotes, new.day, coalesce(new.github_repo, '') != ''
    FROM (
        SELECT lower(value) AS name FROM json_each(new.categories)
        UNION
        SELECT lower(substr(value, 1, instr(value, '.'))) || '*' FROM json_each(new.categories)
        WHERE instr(value, '.') > 1
    );
END;

CREATE TRIGGER paper_categories_stats AFTER UPDATE OF upvotes, day, github_repo ON papers BEGIN
    UPDATE paper_categories
    SET upvotes = new.upvotes, day = new.day, has_code = coalesce(new.github_repo, '') != ''
    WHERE paper_rowid = new.rowid;
END;

CREATE TRIGGER paper_categories_ad AFTER DELETE ON papers BEGIN
    DELETE FROM paper_categories WHERE paper_rowid = old.rowid;
END;

-- A category's announcement of one day: new submissions and cross-lists, in listing order. A paper's
-- first listing (here or in daily_entries) is when keyword alerts see it.
CREATE TABLE arxiv_listings (
    category   TEXT NOT NULL,
    day        TEXT NOT NULL,
    position   INTEGER NOT NULL,
    paper_id   TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,                   -- 'new' | 'cross'
    first_seen TEXT NOT NULL,
    PRIMARY KEY (category, day, paper_id)
);
CREATE INDEX arxiv_listings_paper ON arxiv_listings (paper_id);
CREATE INDEX arxiv_listings_first_seen ON arxiv_listings (first_seen);

-- A digest per source: an arXiv digest shows one category's announcement, narrowed by a query.
ALTER TABLE digest_settings ADD COLUMN source TEXT NOT NULL DEFAULT 'huggingface';
ALTER TABLE digest_settings ADD COLUMN category TEXT;
ALTER TABLE digest_settings ADD COLUMN query TEXT;
