from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFiles(CompressedManifestStaticFilesStorage):  # type: ignore[misc]  # whitenoise ships no types
    """
    Hashed, compressed static files, with the imports between the chat's ES
    modules rewritten to the hashed names too: a deploy never pairs a cached
    module with another version of what it imports.
    """

    support_js_module_import_aggregation = True
