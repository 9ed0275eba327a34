"""The data folder: the workspace of one run (lock, partials, staging, content-addressed kept
versions), archives unpacked safely, and the process's private temporary folder."""
