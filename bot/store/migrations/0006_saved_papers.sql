-- Members' reading lists: the papers each member saved, newest first by `id`. A paper removed from the
-- cache leaves every list with it.
CREATE TABLE saved_papers (
    id        INTEGER PRIMARY KEY,
    member_id INTEGER NOT NULL,
    paper_id  TEXT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    saved_at  TEXT NOT NULL,
    UNIQUE (member_id, paper_id)
);
CREATE INDEX saved_papers_member ON saved_papers (member_id, id);
