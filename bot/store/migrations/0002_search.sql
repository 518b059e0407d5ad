-- Lets the search title index pick up changed papers without scanning the whole table.
CREATE INDEX papers_updated_at ON papers(updated_at);
