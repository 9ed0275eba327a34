"""getdata: fetch a dataset from where it lives and log it as a versioned W&B artifact."""

__version__ = "0.1.0"
