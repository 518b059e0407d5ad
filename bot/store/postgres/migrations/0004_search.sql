-- Search on Postgres: a weighted tsvector of each paper (GIN), a folded title key for pg_trgm, and how
-- many papers hold each term (what similar papers weigh terms by).
-- Both columns are computed by the store in Python from the project's own folding and Porter stems (the
-- tokens FTS5 indexes on SQLite), never by Postgres: rows that have none yet (every row stored before this
-- migration) are filled by the store right after migrating, and `paperboy db check` reports any left.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE papers ADD COLUMN search_vector tsvector, ADD COLUMN title_key TEXT;
-- Kept in the row (compressed) rather than in the TOAST table: a search reads the vectors of many rows, and
-- each read from TOAST costs an index lookup and several page reads (3-4x slower at 100k papers).
ALTER TABLE papers ALTER COLUMN search_vector SET STORAGE MAIN;
CREATE INDEX papers_search ON papers USING gin (search_vector);
CREATE INDEX papers_title_trigrams ON papers USING gin (title_key gin_trgm_ops);
CREATE INDEX papers_title_key ON papers (title_key COLLATE "C");
CREATE INDEX papers_unindexed ON papers (seq) WHERE search_vector IS NULL;

-- One row per term (a stem; an AI-summary lexeme counts for the plain stem): the papers holding it.
CREATE TABLE search_terms (
    term   TEXT COLLATE "C" PRIMARY KEY,
    papers INTEGER NOT NULL
);

-- Each trigger counts the terms of the rows a statement changed, once per row and term: +1 for a new
-- vector, -1 for the one it replaced or deleted. Rows are taken in term order, so that writers meet the
-- same rows in the same order. Most updates move upvotes alone and change no vector.
CREATE FUNCTION search_terms_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms AS t (term, papers)
    SELECT term, sum(sign)::integer
    FROM (
        SELECT DISTINCT changed.seq, changed.sign,
               CASE WHEN lexeme LIKE '~%' THEN substr(lexeme, 2) ELSE lexeme END AS term
        FROM (SELECT seq, search_vector, 1 FROM new_rows WHERE search_vector IS NOT NULL) AS changed (seq, vector, sign),
             unnest(tsvector_to_array(changed.vector)) AS lexeme
    ) AS held
    GROUP BY term
    HAVING sum(sign) <> 0
    ORDER BY term
    ON CONFLICT (term) DO UPDATE SET papers = t.papers + excluded.papers;
    RETURN NULL;
END $$;

CREATE FUNCTION search_terms_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms AS t (term, papers)
    SELECT term, sum(sign)::integer
    FROM (
        SELECT DISTINCT changed.seq, changed.sign,
               CASE WHEN lexeme LIKE '~%' THEN substr(lexeme, 2) ELSE lexeme END AS term
        FROM (SELECT seq, search_vector, -1 FROM old_rows WHERE search_vector IS NOT NULL) AS changed (seq, vector, sign),
             unnest(tsvector_to_array(changed.vector)) AS lexeme
    ) AS held
    GROUP BY term
    HAVING sum(sign) <> 0
    ORDER BY term
    ON CONFLICT (term) DO UPDATE SET papers = t.papers + excluded.papers;
    RETURN NULL;
END $$;

CREATE FUNCTION search_terms_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms AS t (term, papers)
    SELECT term, sum(sign)::integer
    FROM (
        SELECT DISTINCT changed.seq, changed.sign,
               CASE WHEN lexeme LIKE '~%' THEN substr(lexeme, 2) ELSE lexeme END AS term
        FROM (SELECT o.seq, o.search_vector, -1 FROM old_rows o JOIN new_rows n USING (seq)
              WHERE o.search_vector IS DISTINCT FROM n.search_vector AND o.search_vector IS NOT NULL
              UNION ALL
              SELECT n.seq, n.search_vector, 1 FROM old_rows o JOIN new_rows n USING (seq)
              WHERE o.search_vector IS DISTINCT FROM n.search_vector AND n.search_vector IS NOT NULL) AS changed (seq, vector, sign),
             unnest(tsvector_to_array(changed.vector)) AS lexeme
    ) AS held
    GROUP BY term
    HAVING sum(sign) <> 0
    ORDER BY term
    ON CONFLICT (term) DO UPDATE SET papers = t.papers + excluded.papers;
    RETURN NULL;
END $$;

CREATE TRIGGER papers_search_terms_insert AFTER INSERT ON papers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_terms_inserted();
CREATE TRIGGER papers_search_terms_delete AFTER DELETE ON papers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_terms_deleted();
CREATE TRIGGER papers_search_terms_update AFTER UPDATE ON papers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_terms_updated();
