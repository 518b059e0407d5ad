-- Weekly digests: how often a channel's digest posts and, for a weekly one, on which day (0 = Monday).
-- Existing digests stay daily.
ALTER TABLE digest_settings ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily';
ALTER TABLE digest_settings ADD COLUMN weekday INTEGER NOT NULL DEFAULT 0;
