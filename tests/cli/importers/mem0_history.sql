-- mem0's history database (mem0/memory/storage.py, SQLiteManager): one row per event.
CREATE TABLE history (
    id           TEXT PRIMARY KEY,
    memory_id    TEXT,
    old_memory   TEXT,
    new_memory   TEXT,
    event        TEXT,
    created_at   DATETIME,
    updated_at   DATETIME,
    is_deleted   INTEGER,
    actor_id     TEXT,
    role         TEXT
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    session_scope TEXT,
    role TEXT,
    content TEXT,
    name TEXT,
    created_at DATETIME
);
INSERT INTO history VALUES
 ('h1', 'm-lives', NULL, 'Lives in Berlin', 'ADD', '2024-05-01T10:00:00-07:00', NULL, 0, NULL, NULL),
 ('h2', 'm-lives', 'Lives in Berlin', 'Lives in Lisbon', 'UPDATE', '2024-05-01T10:00:00-07:00', '2024-06-15T09:00:00-07:00', 0, NULL, NULL),
 ('h3', 'm-dog', NULL, 'Has a dog called Pastel', 'ADD', '2024-05-03T18:30:00-07:00', NULL, 0, 'maya', 'user'),
 ('h4', 'm-job', NULL, 'Works at the bakery', 'ADD', '2024-05-04T08:00:00-07:00', NULL, 0, NULL, NULL),
 ('h5', 'm-job', 'Works at the bakery', NULL, 'DELETE', '2024-05-04T08:00:00-07:00', '2024-07-01T08:00:00-07:00', 1, NULL, NULL);
INSERT INTO messages VALUES ('x1', 'user_id=maya', 'user', 'I moved to Lisbon', NULL, '2024-06-15T09:00:00-07:00');
