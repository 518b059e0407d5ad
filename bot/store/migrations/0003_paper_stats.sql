-- A narrow copy of the columns search filters and sorts on (one row per paper, keyed by papers.rowid
-- like papers_fts), so that ranking thousands of matches reads small rows instead of whole papers.
CREATE TABLE paper_stats (
    paper_rowid INTEGER PRIMARY KEY,
    upvotes     INTEGER NOT NULL,
    day         TEXT,
    has_code    INTEGER NOT NULL
);

INSERT INTO paper_stats (paper_rowid, upvotes, day, has_code)
SELECT rowid, upvotes, day, coalesce(github_repo, '') != '' FROM papers;

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
