"""Fuzz the document parsers for longer than CI does (tests/fuzz/test_parser_fuzz.py).

``parse_document`` may return a document or raise ``DocumentRejected``; any other exception,
or an input that takes longer than ``--hang`` seconds, is a finding. Two engines:

  random (default): the CI tests' mutator (tests/fuzz/corpus.py) over the seed corpus, with
  a seed of its own; it goes on after a finding and prints each distinct one once.

      .venv/bin/python scripts/fuzz_parsers.py --seconds 600 [--seed 7] [--ext .pdf]

  atheris: coverage-guided (libFuzzer), seeded with the same corpus; it stops at the first
  finding. Not a project dependency: `.venv/bin/pip install atheris` first.

      .venv/bin/python scripts/fuzz_parsers.py --atheris --seconds 3600

Each finding's input is written to --crashes (default .ragops/fuzz-crashes/) under its
extension, so that `parse_document(path.name, path.read_bytes(), ...)` reproduces it.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]


class Hang(Exception):
    pass


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _alarm(*_: object) -> None:
    raise Hang("the parser ran past the time limit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atheris", action="store_true", help="coverage-guided (libFuzzer)")
    parser.add_argument("--seconds", type=int, default=300, help="how long to run")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs")
    parser.add_argument("--seed", type=int, default=None, help="random engine's seed")
    parser.add_argument("--ext", action="append", help="only these extensions (repeatable)")
    parser.add_argument("--hang", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--crashes", type=Path, default=ROOT / ".ragops" / "fuzz-crashes")
    args, libfuzzer_args = parser.parse_known_args()
    logging.disable(logging.CRITICAL)  # pypdf warns about every broken file
    warnings.simplefilter("ignore")  # and Beautiful Soup about markup like a file name

    from ragops.domain.parsing import SUPPORTED_TYPES

    extensions = sorted(args.ext or SUPPORTED_TYPES)
    args.crashes.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGALRM, _alarm)
    if args.atheris:
        return _run_atheris(args, extensions, libfuzzer_args)
    return _run_random(args, extensions)


def _parse(name: str, data: bytes, hang: int) -> None:
    from ragops.domain.parsing import parse_document
    from ragops.errors import DocumentRejected
    from tests.fuzz.corpus import LIMIT

    signal.alarm(hang)
    try:
        parse_document(name, data, max_bytes=LIMIT)
    except DocumentRejected:
        pass
    finally:
        signal.alarm(0)


def _seeds(extensions: list[str]) -> list[tuple[str, bytes]]:
    from tests.fuzz.corpus import BAD_FILES, valid_files

    seeds = {**valid_files(), **BAD_FILES}
    return [(name, data) for name, data in seeds.items() if Path(name).suffix in extensions] or [
        (f"seed{extensions[0]}", data) for data in seeds.values()
    ]


def _save(crashes: Path, name: str, data: bytes) -> Path:
    path = crashes / f"{hashlib.sha256(data).hexdigest()[:16]}{Path(name).suffix}"
    path.write_bytes(data)
    return path


def _run_random(args: argparse.Namespace, extensions: list[str]) -> int:
    from tests.fuzz.corpus import docx_members, mutate, pack_docx

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    seeds = _seeds(extensions)
    archives = {name: docx_members(data) for name, data in seeds if name == "letters.docx"}
    found: dict[tuple[str, str], Path] = {}
    deadline = time.monotonic() + args.seconds
    runs = 0
    _say(f"random engine, seed {seed}, {len(seeds)} seed files, {extensions}")
    while time.monotonic() < deadline and (not args.runs or runs < args.runs):
        name, data = rng.choice(seeds)
        if name in archives and rng.random() < 0.5:
            # Past the ZIP layer: mutate the XML parts of a well-formed archive.
            members = dict(archives[name])
            for part in rng.sample(sorted(members), rng.randint(1, 2)):
                members[part] = mutate(rng, members[part])
            if rng.random() < 0.1:
                members.pop(rng.choice(sorted(members)))
            data = pack_docx(members)
        else:
            data = mutate(rng, data)
        if rng.random() < 0.3:
            name = "renamed" + rng.choice(extensions)
        runs += 1
        try:
            _parse(name, data, args.hang)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = (type(exc).__name__, f"{frame.filename}:{frame.lineno}")
            if key not in found:
                found[key] = _save(args.crashes, name, data)
                _say(f"FINDING {key[0]} at {key[1]}: {exc!s:.200} -> {found[key]}")
    _say(f"{runs} inputs, {len(found)} distinct findings (seed {seed})")
    return 1 if found else 0


def _run_atheris(args: argparse.Namespace, extensions: list[str], extra: list[str]) -> int:
    import atheris

    with atheris.instrument_imports():
        import bs4  # noqa: F401
        import docx  # noqa: F401
        import pypdf  # noqa: F401

        import ragops.domain.parsing  # noqa: F401

    corpus = args.crashes.parent / "fuzz-corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in _seeds(extensions):
        index = extensions.index(Path(name).suffix) if Path(name).suffix in extensions else 0
        (corpus / f"{Path(name).stem}{Path(name).suffix}").write_bytes(bytes([index]) + data)

    def one_input(raw: bytes) -> None:
        if not raw:
            return
        name = "fuzz" + extensions[raw[0] % len(extensions)]
        try:
            _parse(name, raw[1:], args.hang)
        except Exception:
            _say(f"input saved as {_save(args.crashes, name, raw[1:])}")
            raise

    argv = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-artifact_prefix={args.crashes}/",
        *([f"-runs={args.runs}"] if args.runs else []),
        *extra,
        str(corpus),
    ]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
