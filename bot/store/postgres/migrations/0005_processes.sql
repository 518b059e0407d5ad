-- The bot processes sharing this database: which shards each runs and when it was last seen alive.
-- Which one leads is not a column: it is whichever holds the leader's advisory lock, which Postgres
-- releases the moment that process's connection closes (a stale row cannot claim it).
CREATE TABLE processes (
    id           TEXT PRIMARY KEY,   -- random, per process start: host and pid may repeat across containers
    name         TEXT NOT NULL,      -- host:pid, for people
    backend_pid  INTEGER NOT NULL,
    shard_ids    TEXT NOT NULL,
    shard_count  INTEGER NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Settings written by any process wake the leader's schedulers at once (it LISTENs on this channel);
-- the notification is sent when the writing transaction commits.
CREATE FUNCTION paperboy_settings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('paperboy_settings', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER digest_settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON digest_settings
    FOR EACH STATEMENT EXECUTE FUNCTION paperboy_settings_changed();
CREATE TRIGGER subscriptions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION paperboy_settings_changed();
