"""getdata: fetch a dataset from where it lives and log it as a versioned W&B artifact."""

__version__ = "0.1.0"

# The Python API. Imported here, not on first use: importing getdata's own fetch module
# (getdata/fetch.py) binds the package attribute `fetch` to that module, unless the function
# is bound last, as this line does once every submodule it needs is loaded.
# The readers' helper process (getdata.formats.contained) needs none of it: importing the API
# pulls in Hydra and the app (0.5 s), paid on every run's critical path.
if __import__("os").environ.get("GETDATA_FORMATS_HELPER") != "1":
    from .api import ConfigError, FetchResult, fetch  # noqa: E402

__all__ = ["ConfigError", "FetchResult", "__version__", "fetch"]
