-- A second source, arXiv: what it knows of a paper, its categories as a searchable list, and each
-- category's daily announcement in listing order. Papers stored so far came from Hugging Face.
ALTER TABLE papers ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';            -- JSON list, primary first
ALTER TABLE papers ADD COLUMN sources TEXT NOT NULL DEFAULT '["huggingface"]';  -- JSON list
ALTER TABLE papers ADD COLUMN comments TEXT;
ALTER TABLE papers ADD COLUMN journal_ref TEXT;
ALTER TABLE papers ADD COLUMN version INTEGER;                                 -- latest version seen
ALTER TABLE papers ADD COLUMN updated TEXT;                                    -- its date

-- One row per (category, paper), the category folded to lower case, for `category:` filters; kept in
-- step with papers.categories by a trigger. Byte order, so that a prefix is a range of the index.
CREATE TABLE paper_categories (
    category TEXT COLLATE "C" NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    PRIMARY KEY (category, paper_id)
);
CREATE INDEX paper_categories_paper ON paper_categories (paper_id);

CREATE FUNCTION paper_categories_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM paper_categories WHERE paper_id = OLD.id;
    END IF;
    INSERT INTO paper_categories (category, paper_id)
    SELECT DISTINCT lower(value), NEW.id FROM jsonb_array_elements_text(NEW.categories::jsonb) AS value
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER paper_categories_ai AFTER INSERT ON papers
    FOR EACH ROW EXECUTE FUNCTION paper_categories_sync();
CREATE TRIGGER paper_categories_au AFTER UPDATE OF categories ON papers
    FOR EACH ROW EXECUTE FUNCTION paper_categories_sync();

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
