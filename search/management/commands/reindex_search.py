"""
``manage.py reindex_search``: passages for every final message that has
none, then every owner's passages queued for embedding with the current
model (run by the worker). ``--now`` embeds here instead, without a worker.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from search import embedding, indexing
from search.models import Passage


class Command(BaseCommand):
    help = "Index every message for search, and (re-)embed what the current embedding model has not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", action="store_true", help="embed in this process rather than in the worker")

    def handle(self, *args: Any, **options: Any) -> None:
        captured = 0
        while caught := indexing.sweep_passages():
            captured += caught
        self.stdout.write(f"{captured} passages added.")
        space = embedding.vector_space()
        if space is None:
            self.stdout.write(
                "No model with the embeddings capability is offered: passages are searched by words only."
            )
            return
        if options["now"]:
            owners = Passage.objects.values_list("owner_id", flat=True).distinct()
            done = sum(embedding.embed_pending(owner_id) for owner_id in list(owners))
            self.stdout.write(f"{done} passages embedded with {space.model}.")
        else:
            self.stdout.write(
                f"Embedding with {space.model} queued for {embedding.reindex()} users (run by the worker)."
            )
