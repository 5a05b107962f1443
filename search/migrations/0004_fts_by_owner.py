"""
SQLite's full-text index, partitioned by owner: the FTS5 table also indexes
``owner_id``, and every query requires the searcher's own, so a search reads
only the searcher's entries (an empty account searching "the" read every
account's, 60 ms at 60,000 passages; now 0.1 ms). A prefix index on 2, 3 and
4 characters keeps short prefixes ("th"*) from merging every term that
starts with them. PostgreSQL's index is unchanged.
"""

from importlib import import_module

from django.db import migrations

# The index 0002 made, dropped here and made again going back.
before = import_module("search.migrations.0002_full_text")

TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"

FORWARD = [
    *before.SQLITE_BACKWARD,
    "CREATE VIRTUAL TABLE search_passage_fts USING fts5("
    f"terms, owner_id, content='search_passage', content_rowid='id', {TOKENIZE}, prefix='2 3 4')",
    "CREATE TRIGGER search_passage_fts_insert AFTER INSERT ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(rowid, terms, owner_id) VALUES (new.id, new.terms, new.owner_id); END",
    "CREATE TRIGGER search_passage_fts_delete AFTER DELETE ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(search_passage_fts, rowid, terms, owner_id) "
    "VALUES ('delete', old.id, old.terms, old.owner_id); END",
    "CREATE TRIGGER search_passage_fts_update AFTER UPDATE OF terms ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(search_passage_fts, rowid, terms, owner_id) "
    "VALUES ('delete', old.id, old.terms, old.owner_id); "
    "INSERT INTO search_passage_fts(rowid, terms, owner_id) VALUES (new.id, new.terms, new.owner_id); END",
    "INSERT INTO search_passage_fts(search_passage_fts) VALUES ('rebuild')",
]
BACKWARD = [*before.SQLITE_BACKWARD, *before.SQLITE_FORWARD]


def _run(schema_editor, statements):
    if schema_editor.connection.vendor == "sqlite":
        for statement in statements:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("search", "0003_vector_space")]

    operations = [
        migrations.RunPython(
            lambda apps, schema_editor: _run(schema_editor, FORWARD),
            lambda apps, schema_editor: _run(schema_editor, BACKWARD),
        )
    ]
