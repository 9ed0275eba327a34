"""The corpus (tests/corpus/README.md): every file's accept/refuse decision, and every number the
description states checked against an independent whole-file reading (tests/corpus/reference.py).

All files go through ``describe_files`` in one contained batch, as a folder would, so the
crashing files (a SIGSEGV in pyarrow's JSON reader, a SIGABRT in its Parquet footer code) run
next to the others and must cost only themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from getdata.formats import describe_files
from getdata.formats.describe import Options
from tests.corpus import generated, reference

# Where getdata's decision still differs from the truth, and why (the test fails if this list
# is wrong in either direction, so an improvement must update it).
KNOWN_WRONG = {
    # Corrupt data pages behind a valid footer: getdata reads no data page, by design.
    "ARROW-GH-43605.parquet": "accepted",
    "ARROW-GH-45185.parquet": "accepted",
    "ARROW-GH-47662.parquet": "accepted",
    "ARROW-RS-GH-6229-DICTHEADER.parquet": "accepted",
    "ARROW-RS-GH-6229-LEVELS.parquet": "accepted",
    # Presto's map without a required key: pyarrow cannot open the file at all (in a folder it
    # is marked, not refusing the folder; inspect.unchecked=[parquet] accepts it alone).
    "incorrect_map_schema.parquet": "refused",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, bool, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("generated")
    files = reference.corpus_files(generated.write_all(folder), folder)
    described = describe_files([(p, p.name) for p, _ in files], Options(in_folder="mark"))
    return [(p, ok, d) for (p, ok), d in zip(files, described, strict=True)]


def test_corpus_is_all_there(corpus: list[tuple[Path, bool, dict[str, Any]]]) -> None:
    sets = {p.parent.name for p, _, _ in corpus}
    assert set(reference.SETS) <= sets and len(corpus) > 400


def test_accepts_the_valid_and_refuses_the_invalid(
    corpus: list[tuple[Path, bool, dict[str, Any]]],
) -> None:
    wrong = {}
    for path, valid, data in corpus:
        accepted = "invalid" not in data
        if accepted != valid:
            wrong[path.name] = "accepted" if accepted else "refused"
    assert wrong == KNOWN_WRONG


def test_every_number_stated_is_true(corpus: list[tuple[Path, bool, dict[str, Any]]]) -> None:
    compared = 0
    wrong = {}
    for path, valid, data in corpus:
        if not valid or "invalid" in data:
            continue
        truth = reference.reading(path)
        if truth is None:
            continue
        compared += 1
        found = reference.wrong_numbers(data, truth)
        if found:
            wrong[path.name] = found
    assert wrong == {}
    assert compared > 150  # the comparison ran on most of the corpus, not on nothing


def test_crashes_are_contained_and_named(corpus: list[tuple[Path, bool, dict[str, Any]]]) -> None:
    by_name = {p.name: d for p, _, d in corpus}
    assert by_name["deep_nesting.jsonl"]["invalid"] == (
        "deep_nesting.jsonl: the jsonl reader crashed (SIGSEGV) on this file"
    )
    # The abort is in the column statistics: the file is logged, said to be undescribed.
    assert by_name["encrypt_columns_plaintext_footer.parquet"] == {
        "format": "parquet",
        "size": 4795,
        "described": False,
    }
    assert by_name["uniform_encryption.parquet"]["encrypted"] is True


def test_issue_13_numbers(corpus: list[tuple[Path, bool, dict[str, Any]]]) -> None:
    by_name = {p.name: d for p, _, d in corpus}
    assert by_name["repeated_no_annotation.parquet"]["rows"] == 6
    truncated = by_name["binary_truncated_min_max.parquet"]["column_stats"]
    assert truncated["utf8_full_truncation"] == {
        "null_count": 0,
        "min_bound": "Al",
        "max_bound": "Kf",
    }
    assert "min" not in by_name["fixed_length_decimal.parquet"]["column_stats"]["value"]
    dup = by_name["duplicate_names.parquet"]["column_stats"]
    assert dup == {
        "a (column 1)": {"null_count": 1, "min": 1, "max": 3},
        "a (column 2)": {"null_count": 2, "min": 30, "max": 30},
    }
    # A null index, and two indices pointing at the null dictionary value.
    assert by_name["dictionary_nulls.arrow"]["column_stats"]["d"] == {"null_count": 3}
    assert by_name["run_end_encoded.arrow"]["column_stats"]["r"] == {"null_count": 3}
    assert by_name["unions.arrow"]["column_stats"] == {
        "sparse": {"null_count": 2},
        "dense": {"null_count": 2},
    }
    assert by_name["empty_array.json"]["rows"] == 0
    assert by_name["header_only_no_newline.csv"]["columns"] == 3
    assert by_name["latin1_header.csv"]["schema"][0]["name"] == "café"
    secret = by_name["secret_looking_values.csv"]["column_stats"]
    assert secret["k"]["max"] == "z" and secret["k"]["min"] == "token=abc"
    assert secret["v"]["min"] == "https://u:p@h/x?key=1"
