-- The full-text index's vocabulary: one row per indexed term with the number of papers holding it
-- (`doc`), read by similar papers as document frequencies. A view over papers_fts: nothing to fill.
CREATE VIRTUAL TABLE papers_fts_vocab USING fts5vocab(papers_fts, 'row');
