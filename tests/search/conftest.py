import pytest

from search import embedding, vectors
from usage.models import Price


@pytest.fixture(autouse=True)
def fresh_search():
    """Each test reads the admin's settings anew and keeps no vectors from the last one."""
    embedding.forget_settings()
    vectors.forget()
    yield
    embedding.forget_settings()
    vectors.forget()


@pytest.fixture
def embedding_prices(db) -> None:
    for model in ("text-embedding-3-large", "text-embedding-3-small"):
        Price.objects.create(model=model, unit=Price.Unit.TOKENS, input_price="0.13")
