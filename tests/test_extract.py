"""getdata.extract on real archives built here: good ones unpack byte for byte, hostile ones are
refused with a one-line message, and a refusal never leaves ``dest`` or a temporary folder behind.
"""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path
from typing import Optional

import pytest

import getdata.store.unpack as extract_mod
from getdata.errors import GetDataError, IntegrityError
from getdata.store.extract import Limits, archive_kind, extract

# Nested folders, an empty file, binary bytes: what a dataset folder looks like.
FILES: dict[str, bytes] = {
    "a.txt": b"hello\n",
    "empty.txt": b"",
    "sub/b.bin": bytes(range(256)) * 100,
    "sub/deeper/c.csv": b"x,y\n1,2\n3,4\n",
}
ZEROS = 5 * 2**20  # a ~5 MB member of zeros: deflates to a few KB, a small "bomb"
SMALL = Limits(max_files=100, max_bytes=10 * 2**20, max_ratio=100)

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _indir(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return folder


def _tree(dest: Path) -> dict[str, bytes]:
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def _member(name: str, data: bytes = b"", type_: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    return (name, data, type_, link)


def make_tar(path: Path, members: list[tuple], mode: str = "w") -> Path:
    """A tar of (name, data, type, linkname) members, written as given (no name cleaning)."""
    with tarfile.open(path, mode) as tf:
        for name, data, type_, link in members:
            info = tarfile.TarInfo(name)
            info.type = type_
            info.linkname = link
            info.size = len(data) if type_ == tarfile.REGTYPE else 0
            if type_ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return path


def make_zip(
    path: Path,
    members: list[tuple[str, bytes]],
    mode_bits: Optional[dict[str, int]] = None,
    method: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A zip of (name, data) members, names as given; ``mode_bits`` sets a member's Unix mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on the duplicate names we write on purpose
        with zipfile.ZipFile(path, "w", method) as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name)
                info.compress_type = method
                if mode_bits and name in mode_bits:
                    info.create_system = 3  # Unix, so the mode bits mean what they say
                    info.external_attr = mode_bits[name] << 16
                zf.writestr(info, data)
    return path


def refused(
    tmp_path: Path, archive: Path, limits: Optional[Limits] = None, error: type = IntegrityError
) -> str:
    """Extract, expect a refusal, check nothing stayed behind; the message."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    dest = out / "data"
    with pytest.raises(error) as caught:
        extract(archive, dest, limits)
    message = str(caught.value)
    assert "\n" not in message
    assert not dest.exists()
    assert list(out.iterdir()) == [], "a temporary folder stayed behind"
    return message


def unpacked(tmp_path: Path, archive: Path, limits: Optional[Limits] = None) -> Path:
    dest = tmp_path / "out" / "data"
    written = extract(archive, dest, limits)
    tree = _tree(dest)
    assert [p.as_posix() for p in written] == sorted(tree)
    assert all(not p.is_absolute() for p in written)
    assert [p.name for p in dest.parent.iterdir()] == ["data"], "a temporary folder stayed behind"
    return dest


# --------------------------------------------------------------------------------------------
# archive_kind
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("data.zip", "zip"),
        ("DATA.ZIP", "zip"),
        ("data.tar", "tar"),
        ("data.tar.gz", "tar.gz"),
        ("data.tgz", "tar.gz"),
        ("data.tar.bz2", "tar.bz2"),
        ("data.tbz2", "tar.bz2"),
        ("data.tar.xz", "tar.xz"),
        ("data.txz", "tar.xz"),
        ("data.csv.gz", "gz"),
        ("data.csv", None),
        ("data.parquet", None),
        ("data.7z", None),
        ("tarball", None),
    ],
)
def test_archive_kind(name: str, kind: Optional[str]) -> None:
    assert archive_kind(name) == kind


# --------------------------------------------------------------------------------------------
# Good archives
# --------------------------------------------------------------------------------------------


def test_zip_unpacks_byte_for_byte(tmp_path: Path) -> None:
    members = [("sub/", b""), ("emptydir/", b""), *FILES.items()]
    archive = make_zip(_indir(tmp_path) / "data.zip", members)
    dest = unpacked(tmp_path, archive)
    assert _tree(dest) == FILES
    assert (dest / "emptydir").is_dir()


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [("tar", "w"), ("tar.gz", "w:gz"), ("tgz", "w:gz"), ("tar.bz2", "w:bz2"), ("tar.xz", "w:xz")],
)
def test_tar_unpacks_byte_for_byte(tmp_path: Path, suffix: str, mode: str) -> None:
    # As `tar -C folder -c .` writes it: "./" first, then "./"-prefixed names and folders.
    members = [
        _member("./", type_=tarfile.DIRTYPE),
        _member("./sub", type_=tarfile.DIRTYPE),
        _member("./emptydir", type_=tarfile.DIRTYPE),
        *(_member(f"./{name}", data) for name, data in FILES.items()),
    ]
    archive = make_tar(_indir(tmp_path) / f"data.{suffix}", members, mode)
    dest = unpacked(tmp_path, archive)
    assert _tree(dest) == FILES
    assert (dest / "emptydir").is_dir()


def test_single_gz_unpacks_to_its_name_without_gz(tmp_path: Path) -> None:
    data = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(50_000))
    archive = _indir(tmp_path) / "table.csv.gz"
    archive.write_bytes(gzip.compress(data))
    dest = unpacked(tmp_path, archive)
    assert _tree(dest) == {"table.csv": data}


def test_small_very_compressible_archive_is_not_a_bomb(tmp_path: Path) -> None:
    # 512 KiB of zeros in a ~600-byte zip is "900x compressed", but under RATIO_FLOOR.
    archive = make_zip(_indir(tmp_path) / "blank.zip", [("blank.bin", bytes(2**19))])
    dest = unpacked(tmp_path, archive, Limits(max_ratio=10))
    assert _tree(dest) == {"blank.bin": bytes(2**19)}


def test_limits_at_exactly_the_limit_pass(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "data.zip", list(FILES.items()))
    total = sum(len(v) for v in FILES.values())
    unpacked(tmp_path, archive, Limits(max_files=len(FILES), max_bytes=total))


# --------------------------------------------------------------------------------------------
# Hostile zip archives
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "has an absolute path"),
        ("C:/Windows/evil.dll", "has an absolute path"),
        ("../../etc/passwd", "would escape the target folder"),
        ("sub/../../evil.txt", "would escape the target folder"),
        ("sub/../evil.txt", "has '..' in its path"),
        ("..\\..\\evil.txt", "has a backslash in its name"),
    ],
)
def test_zip_bad_names_refused(tmp_path: Path, name: str, reason: str) -> None:
    archive = make_zip(_indir(tmp_path) / "evil.zip", [("ok.txt", b"ok"), (name, b"pwned")])
    assert refused(tmp_path, archive) == f"evil.zip: refused: member {name!r} {reason}"


def test_zip_symlink_entry_refused(tmp_path: Path) -> None:
    archive = make_zip(
        _indir(tmp_path) / "evil.zip",
        [("link", b"../../etc/passwd")],
        mode_bits={"link": stat.S_IFLNK | 0o777},
    )
    message = refused(tmp_path, archive)
    assert message == "evil.zip: refused: member 'link' is a symlink; links are not unpacked"


def test_zip_device_entry_refused(tmp_path: Path) -> None:
    archive = make_zip(
        _indir(tmp_path) / "evil.zip", [("null", b"")], mode_bits={"null": stat.S_IFCHR | 0o666}
    )
    assert (
        refused(tmp_path, archive)
        == "evil.zip: refused: member 'null' is a special file (mode 0o20000)"
    )


def test_zip_duplicate_names_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "dup.zip", [("a.txt", b"first"), ("a.txt", b"second")])
    message = refused(tmp_path, archive)
    assert (
        message
        == "dup.zip: refused: member 'a.txt' would overwrite an earlier member of the same name"
    )


def test_zip_duplicate_after_normalising_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "dup.zip", [("a.txt", b"first"), ("./a.txt", b"second")])
    assert "would overwrite an earlier member" in refused(tmp_path, archive)


def test_zip_file_where_folder_needed_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "clash.zip", [("a", b"file"), ("a/b.txt", b"x")])
    message = refused(tmp_path, archive)
    assert message == "clash.zip: refused: member 'a/b.txt' needs a folder at 'a', already a file"


def test_zip_encrypted_member_refused(tmp_path: Path) -> None:
    archive = _indir(tmp_path) / "secret.zip"
    make_zip(archive, [("secret.txt", b"x")], method=zipfile.ZIP_STORED)
    # zipfile cannot encrypt; set the "encrypted" flag bit in both headers by hand.
    data = bytearray(archive.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_offset
        data[at] |= 0x1
    archive.write_bytes(bytes(data))
    assert refused(tmp_path, archive) == "secret.zip: refused: member 'secret.txt' is encrypted"


def test_zip_too_many_members_refused(tmp_path: Path) -> None:
    members = [(f"f{i:02d}.txt", b"x") for i in range(11)]
    archive = make_zip(_indir(tmp_path) / "many.zip", members)
    message = refused(tmp_path, archive, Limits(max_files=10))
    assert (
        message == "many.zip: refused: member 'f10.txt' is member 11, "
        "over the extract.max_files limit of 10"
    )


def test_zip_bomb_refused_by_ratio_before_writing(tmp_path: Path) -> None:
    archive = make_zip(
        _indir(tmp_path) / "bomb.zip", [("a.txt", b"ok"), ("zeros.bin", bytes(ZEROS))]
    )
    size = archive.stat().st_size
    assert size < 50_000  # it really is a (small) bomb
    message = refused(tmp_path, archive, SMALL)
    assert message == (
        f"bomb.zip: refused: member 'zeros.bin' brings the declared unpacked size to {ZEROS + 2} "
        f"bytes, over the extract.max_ratio=100 limit of {2**20} bytes "
        f"for this {size}-byte archive (a decompression bomb?)"
    )


def test_zip_over_max_bytes_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "big.zip", [("zeros.bin", bytes(ZEROS))])
    message = refused(tmp_path, archive, Limits(max_bytes=2**20))
    assert message == (
        f"big.zip: refused: member 'zeros.bin' brings the declared unpacked size to {ZEROS} "
        f"bytes, over the extract.max_bytes limit of {2**20} bytes"
    )


def test_zip_truncated_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "cut.zip", list(FILES.items()))
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert refused(tmp_path, archive) == "cut.zip: not a valid zip archive: File is not a zip file"


def test_zip_corrupt_member_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "bad.zip", [("a.txt", b"hello world")], method=0)
    archive.write_bytes(archive.read_bytes().replace(b"hello world", b"hellO world"))
    assert (
        refused(tmp_path, archive)
        == "bad.zip: not a valid zip archive: Bad CRC-32 for file 'a.txt'"
    )


# --------------------------------------------------------------------------------------------
# Hostile tar archives
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # tarfile.data_filter would quietly strip the "/"; we refuse instead.
        ("/etc/passwd", "has an absolute path"),
        # tarfile.data_filter raises OutsideDestinationError.
        ("../../etc/passwd", "would escape the target folder"),
        ("sub/../../evil.txt", "would escape the target folder"),
        ("sub/../evil.txt", "has '..' in its path"),
    ],
)
def test_tar_bad_names_refused(tmp_path: Path, name: str, reason: str) -> None:
    archive = make_tar(
        _indir(tmp_path) / "evil.tar.gz", [_member("ok", b"ok"), _member(name, b"x")], "w:gz"
    )
    assert refused(tmp_path, archive) == f"evil.tar.gz: refused: member {name!r} {reason}"


@pytest.mark.parametrize(
    ("type_", "link", "reason"),
    [
        (
            tarfile.SYMTYPE,
            "../../../etc/passwd",
            "is a symlink to '../../../etc/passwd', outside the target folder",
        ),
        (tarfile.SYMTYPE, "/etc/passwd", "is a symlink to the absolute path '/etc/passwd'"),
        (tarfile.SYMTYPE, "ok", "is a symlink to 'ok'; links are not unpacked"),
        (
            tarfile.LNKTYPE,
            "../../etc/passwd",
            "is a hard link to '../../etc/passwd', outside the target folder",
        ),
        (tarfile.LNKTYPE, "/etc/passwd", "is a hard link to the absolute path '/etc/passwd'"),
        (tarfile.LNKTYPE, "ok", "is a hard link to 'ok'; links are not unpacked"),
    ],
)
def test_tar_links_refused(tmp_path: Path, type_: bytes, link: str, reason: str) -> None:
    members = [_member("ok", b"ok"), _member("link", type_=type_, link=link)]
    archive = make_tar(_indir(tmp_path) / "evil.tar", members)
    assert refused(tmp_path, archive) == f"evil.tar: refused: member 'link' {reason}"


def test_tar_symlink_then_write_through_it_refused(tmp_path: Path) -> None:
    # The classic: a link to outside, then a file "inside" the link. Stops at the link.
    members = [_member("up", type_=tarfile.SYMTYPE, link=".."), _member("up/evil.txt", b"pwned")]
    archive = make_tar(_indir(tmp_path) / "evil.tar", members)
    assert "member 'up' is a symlink to '..', outside the target folder" in refused(
        tmp_path, archive
    )
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    ("type_", "what"),
    [
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "FIFO (named pipe)"),
    ],
)
def test_tar_special_files_refused(tmp_path: Path, type_: bytes, what: str) -> None:
    archive = make_tar(
        _indir(tmp_path) / "dev.tar", [_member("ok", b"ok"), _member("dev", type_=type_)]
    )
    message = refused(tmp_path, archive)
    only = "only regular files and folders are unpacked"
    assert message == f"dev.tar: refused: member 'dev' is a {what}; {only}"


def test_tar_duplicate_names_refused(tmp_path: Path) -> None:
    members = [_member("a.txt", b"first"), _member("./a.txt", b"second")]
    archive = make_tar(_indir(tmp_path) / "dup.tar", members)
    message = refused(tmp_path, archive)
    assert (
        message
        == "dup.tar: refused: member './a.txt' would overwrite an earlier member of the same name"
    )


def test_tar_too_many_members_refused(tmp_path: Path) -> None:
    archive = make_tar(
        _indir(tmp_path) / "many.tar.xz", [_member(f"f{i}", b"x") for i in range(11)], "w:xz"
    )
    message = refused(tmp_path, archive, Limits(max_files=10))
    assert (
        message
        == "many.tar.xz: refused: member 'f10' is member 11, over the extract.max_files limit of 10"
    )


def test_tar_bomb_refused(tmp_path: Path) -> None:
    archive = make_tar(
        _indir(tmp_path) / "bomb.tar.bz2", [_member("zeros.bin", bytes(ZEROS))], "w:bz2"
    )
    message = refused(tmp_path, archive, SMALL)
    assert message.startswith(
        "bomb.tar.bz2: refused: member 'zeros.bin' brings the declared unpacked size to "
    )
    assert "over the extract.max_ratio=100 limit of" in message
    assert message.endswith("(a decompression bomb?)")


def test_tar_oversized_pax_header_refused(tmp_path: Path) -> None:
    # A pax header that declares 64 MiB: tarfile would read it whole into memory.
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 64 * 2**20
    archive = _indir(tmp_path) / "pax.tar"
    archive.write_bytes(header.tobuf(tarfile.USTAR_FORMAT) + bytes(1024))
    message = refused(tmp_path, archive)
    assert message == (
        f"pax.tar: refused: a tar header at the start asks to read {64 * 2**20} bytes at once "
        "(an oversized pax or long-name header)"
    )


def test_tar_gz_truncated_refused(tmp_path: Path) -> None:
    members = [_member(name, data) for name, data in FILES.items()]
    archive = make_tar(_indir(tmp_path) / "cut.tar.gz", members, "w:gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    message = refused(tmp_path, archive)
    assert message == (
        "cut.tar.gz: not a valid tar.gz archive: "
        "Compressed file ended before the end-of-stream marker was reached"
    )


def test_tar_truncated_mid_member_refused(tmp_path: Path) -> None:
    archive = make_tar(_indir(tmp_path) / "cut.tar", [_member("big.bin", bytes(range(256)) * 40)])
    archive.write_bytes(archive.read_bytes()[:2048])
    assert refused(tmp_path, archive) == "cut.tar: not a valid tar archive: unexpected end of data"


def test_tar_truncated_between_members_refused(tmp_path: Path) -> None:
    # tarfile reads this as a complete one-member archive; the missing end marker gives it away.
    members = [_member("a.txt", b"first"), _member("b.txt", b"second")]
    archive = make_tar(_indir(tmp_path) / "cut.tar", members)
    archive.write_bytes(archive.read_bytes()[:1024])  # a.txt's header and data block only
    assert refused(tmp_path, archive) == (
        "cut.tar: not a valid tar archive: it ends after member 'a.txt' without an end-of-archive "
        "marker (truncated?)"
    )


def test_tar_damaged_header_refused(tmp_path: Path) -> None:
    members = [_member("a.txt", b"first"), _member("b.txt", b"second")]
    archive = make_tar(_indir(tmp_path) / "bad.tar", members)
    data = bytearray(archive.read_bytes())
    data[1024 + 148] ^= 0xFF  # b.txt's header checksum
    archive.write_bytes(bytes(data))
    assert (
        refused(tmp_path, archive)
        == "bad.tar: not a valid tar archive: damaged header after member 'a.txt'"
    )


def test_tar_concatenated_refused(tmp_path: Path) -> None:
    # tarfile stops at the first end marker and would silently drop the second archive.
    first = make_tar(_indir(tmp_path) / "one.tar", [_member("a.txt", b"first")])
    second = make_tar(_indir(tmp_path) / "two.tar", [_member("b.txt", b"second")])
    archive = _indir(tmp_path) / "both.tar"
    archive.write_bytes(first.read_bytes() + second.read_bytes())
    assert refused(tmp_path, archive) == (
        "both.tar: not a valid tar archive: data after the end-of-archive marker "
        "(concatenated archives are not supported)"
    )


def test_tar_gz_bad_checksum_refused(tmp_path: Path) -> None:
    # Only the gzip CRC would notice; it is read because we drain the stream to its end.
    archive = make_tar(_indir(tmp_path) / "crc.tar.gz", [_member("a.txt", b"hello")], "w:gz")
    data = bytearray(archive.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    archive.write_bytes(bytes(data))
    assert refused(tmp_path, archive).startswith(
        "crc.tar.gz: not a valid tar.gz archive: CRC check failed"
    )


# --------------------------------------------------------------------------------------------
# Hostile single .gz files
# --------------------------------------------------------------------------------------------


def test_gz_bomb_refused_on_its_declared_size(tmp_path: Path) -> None:
    archive = _indir(tmp_path) / "zeros.bin.gz"
    archive.write_bytes(gzip.compress(bytes(ZEROS)))
    message = refused(tmp_path, archive, SMALL)
    assert message.startswith(
        f"zeros.bin.gz: refused: member 'zeros.bin' brings the declared unpacked size to {ZEROS} "
    )


def test_gz_lying_size_refused_while_streaming(tmp_path: Path) -> None:
    # The trailer claims 0 bytes: only counting the bytes as they are written catches it.
    archive = _indir(tmp_path) / "zeros.bin.gz"
    archive.write_bytes(gzip.compress(bytes(ZEROS))[:-4] + bytes(4))
    message = refused(tmp_path, archive, SMALL)
    assert message == (
        "zeros.bin.gz: refused: member 'zeros.bin' unpacks to more than the "
        f"extract.max_ratio=100 limit of {2**20} bytes for this "
        f"{archive.stat().st_size}-byte archive (a decompression bomb?)"
    )


def test_gz_truncated_refused(tmp_path: Path) -> None:
    archive = _indir(tmp_path) / "cut.csv.gz"
    archive.write_bytes(gzip.compress(bytes(range(256)) * 1000)[:-100])
    assert refused(tmp_path, archive) == (
        "cut.csv.gz: not a valid gzip file: "
        "Compressed file ended before the end-of-stream marker was reached"
    )


def test_gz_not_gzip_refused(tmp_path: Path) -> None:
    archive = _indir(tmp_path) / "plain.csv.gz"
    archive.write_bytes(b"a,b\n1,2\n" * 10)
    assert refused(tmp_path, archive).startswith(
        "plain.csv.gz: not a valid gzip file: Not a gzipped file"
    )


# --------------------------------------------------------------------------------------------
# The folder itself
# --------------------------------------------------------------------------------------------


def test_existing_dest_refused(tmp_path: Path) -> None:
    archive = make_zip(_indir(tmp_path) / "data.zip", list(FILES.items()))
    dest = tmp_path / "out" / "data"
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_bytes(b"mine")
    with pytest.raises(GetDataError, match="already exists"):
        extract(archive, dest)
    assert _tree(dest) == {"keep.txt": b"mine"}
    assert [p.name for p in dest.parent.iterdir()] == ["data"]


def test_unknown_kind_refused(tmp_path: Path) -> None:
    archive = _indir(tmp_path) / "data.csv"
    archive.write_bytes(b"a,b\n")
    message = refused(tmp_path, archive, error=GetDataError)
    assert message.startswith("data.csv: not an archive getdata unpacks")


def test_interrupt_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_tar(_indir(tmp_path) / "data.tar", [_member(n, d) for n, d in FILES.items()])
    calls = []
    charge = extract_mod.Job.charge

    def interrupted(self: extract_mod.Job, member: str, n: int) -> None:
        calls.append(member)
        if len(calls) == 2:  # after the first file is on disk
            raise KeyboardInterrupt
        charge(self, member, n)

    monkeypatch.setattr(extract_mod.Job, "charge", interrupted)
    refused(tmp_path, archive, error=KeyboardInterrupt)
