"""A tiny sqlite-backed note store."""


class NoteStore:
    def __init__(self, conn):
        self.conn = conn
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")

    def add(self, title, body):
        self.conn.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (title, body))

    def all(self):
        rows = self.conn.execute("SELECT id, title, body FROM notes ORDER BY id").fetchall()
        return [{"id": i, "title": t, "body": b} for i, t, b in rows]
