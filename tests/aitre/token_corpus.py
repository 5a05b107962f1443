"""
Texts of the kinds people send and models write, for measuring the site's
token estimates against a server's own counts (tests/aitre/test_tokens.py).
"""

PROSE = (
    "The committee met on Tuesday to review the proposal for the new library wing. After a long discussion "
    "about costs, timelines and the needs of the neighbourhood, most members agreed that the plan was sound, "
    "although several asked for a second opinion on the foundations. The chair promised a written summary "
    "by the end of the week, and the meeting closed shortly after six o'clock."
)

NUMBERED_LIST = "\n".join(f"{n}. Step {n}: check item {n * 7} of {n * 13}" for n in range(1, 41))

CODE = '''def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping closed intervals, sorted by start."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


if __name__ == "__main__":
    print(merge_intervals([(1, 3), (2, 6), (8, 10), (15, 18)]))
'''

MARKDOWN_TABLE = """| Region | Q1 | Q2 | Q3 | Q4 |
|---|---:|---:|---:|---:|
| North | 1,204 | 1,377 | 1,512 | 1,698 |
| South | 987 | 1,045 | 1,130 | 1,210 |
| East | 2,311 | 2,250 | 2,402 | 2,588 |
| West | 1,755 | 1,802 | 1,866 | 1,940 |

**Total growth:** 14.2 % year on year; _West_ grew the least."""

JSON_DATA = (
    '{"orders": [{"id": 10231, "customer": "ACME-77", "items": [{"sku": "X-100", "qty": 3, "price": 19.99}, '
    '{"sku": "Y-220", "qty": 1, "price": 249.0}], "status": "shipped", "created": "2026-03-14T09:26:53Z"}, '
    '{"id": 10232, "customer": "GLOBEX-12", "items": [{"sku": "Z-9", "qty": 12, "price": 2.5}], '
    '"status": "pending", "created": "2026-03-14T10:02:11Z"}]}'
)

CHINESE = (
    "人工智能正在改变我们的工作和生活方式。许多公司已经开始使用大型语言模型来回答客户的问题、撰写报告和分析数据。"
    "然而，这些模型也会犯错误，因此人们需要仔细检查它们的输出，并在必要时加以修改。"
)

MIXED = (
    "Deploy with `gunicorn -c aitre_web/gunicorn.conf.py aitre_web.wsgi` on port 8000; set DATABASE_URL=postgres://"
    "user@db:5432/site and REDIS_URL=redis://cache:6379/0. 然后运行 migrate 命令。 Ça marche aussi en français, "
    "mit Umlauten: Größe, Übergröße — and emoji 🚀✨."
)

CORPUS = {
    "prose": PROSE,
    "numbered list": NUMBERED_LIST,
    "code": CODE,
    "markdown table": MARKDOWN_TABLE,
    "JSON": JSON_DATA,
    "Chinese": CHINESE,
    "mixed": MIXED,
}
