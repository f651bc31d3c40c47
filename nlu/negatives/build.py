"""Build the pool of general Italian sentences that Concilia must answer as out of scope.

    python3 nlu/negatives/build.py [--mirror /work/.mirror]

Reads the public data sets below from local git snapshots (one directory per repository,
``<mirror>/<owner>+<name>/repo``, fetched with the search tool's ``fetch``; they are never committed),
at the pinned commits, drops every sentence that touches Concilia's scope, dedupes, shuffles with a fixed
seed and splits each source two thirds / one third:

    nlu/negatives/train.txt         trained on by rasa_addons/out_of_domain.py
    tests/nlu/negatives_kept.txt    measuring only, never trained on

Standard library only, plus the project's ``knowledge`` package for the town names.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from knowledge import load as load_kb  # noqa: E402
from knowledge.text import normalise  # noqa: E402

SEED = 9  # issue 9
TRAIN_SHARE = 2 / 3


@dataclass(frozen=True)
class Source:
    key: str
    repo: str  # owner/name on GitHub
    commit: str
    paths: tuple[str, ...]
    licence: str
    attribution: str
    cap: int  # at most this many sentences after filtering (0 = all)


SOURCES = (
    Source(
        "tatoeba",
        "FabianoBusca/Italian-Dutch-Curated-Dataset",
        "c64b94b7ed9d2c489fe3f200385d3baea673a39f",
        ("Datasets/Tatoeba-it-nl.tsv",),
        "CC BY 2.0 FR (Tatoeba sentences; the repository's README: CC BY 4.0, derived from Tatoeba)",
        "Sentences from the Tatoeba Project, https://tatoeba.org, by its contributors (Italian column of the "
        "raw Tatoeba export in the Italian-Dutch Curated Dataset by Fabiano Busca)",
        3600,
    ),
    Source(
        "squad_it",
        "crux82/squad-it",
        "86a19baebed654d07c4e790c07d39a02ceb6b15f",
        ("SQuAD_it-test.json.gz",),
        "CC BY-SA 4.0 (README)",
        "SQuAD-it, Croce, Zelenanska, Basili, 'Neural Learning for Question Answering in Italian', "
        "AI*IA 2018; derived from SQuAD 1.1 (Rajpurkar et al. 2016, CC BY-SA 4.0); questions only",
        2600,
    ),
    Source(
        "ud_pud",
        "UniversalDependencies/UD_Italian-PUD",
        "71d932aa096368331ba2fd9bc906ec8dd853da8e",
        ("it_pud-ud-test.conllu",),
        "CC BY-SA 3.0 (LICENSE.txt)",
        "UD Italian PUD, Parallel Universal Dependencies treebanks (CoNLL 2017 shared task), "
        "translation by DFKI, annotation by Google and the UD community; '# text' lines",
        0,
    ),
    Source(
        "ud_twittiro",
        "UniversalDependencies/UD_Italian-TWITTIRO",
        "c19d5f6c3afcad960a1e0ae0f90e5b702f5d30dc",
        ("it_twittiro-ud-train.conllu", "it_twittiro-ud-dev.conllu", "it_twittiro-ud-test.conllu"),
        "CC BY-SA 4.0 (LICENSE.txt)",
        "TWITTIRO-UD, Cignarella, Bosco, Rosso (2019), pseudonymised ironic Italian tweets; "
        "links, @user placeholders and hashtag signs removed",
        0,
    ),
    Source(
        "ud_valico",
        "UniversalDependencies/UD_Italian-Valico",
        "8d60b2c84b8a877d900b2a75bb7644dfd84eb185",
        ("it_valico-ud-test.conllu",),
        "CC BY-SA 4.0 (LICENSE.txt)",
        "UD Italian-Valico, Di Nuovo, Sanguinetti, Mazzei, Corino, Bosco (2022), texts by learners of "
        "Italian (VALICO corpus, University of Turin), as written",
        0,
    ),
    Source(
        "huric",
        "crux82/huric",
        "685c87c8d650cf4f0479843153ca48caa9c7bc46",
        ("it/",),
        "Apache License 2.0 (LICENSE, README), https://www.apache.org/licenses/LICENSE-2.0",
        "HuRIC, the Human Robot Interaction Corpus, Semantic Analytics Group, University of Roma Tor "
        "Vergata; the Italian commands ('<sentence>' elements)",
        0,
    ),
    Source(
        "gqa_it",
        "crux82/gqa-it",
        "0be5fe4f1c415cddf93c8a071ab1e014bccde0d2",
        ("testdev3k_validated.json.gz",),
        "CC BY-SA 4.0 (README)",
        "GQA-it, Croce, Passaro, Lenci, Basili, CLiC-it 2021 (from GQA, Hudson and Manning 2019); "
        "the 3,000 manually validated test questions",
        700,
    ),
)

# Anything Concilia answers, or refers elsewhere: these sentences must not teach "out of domain".
# Matched on normalise()d text (lower case, no accents, punctuation as spaces).
IN_SCOPE = re.compile(
    r"\b("
    r"nid[oi]|micronid\w*|asil\w*|scuol\w*|scolastic\w*|doposcuola|prescuola|postscuola|estiv\w*|"
    r"campus|grest|oratori\w*|ludotec\w*|mensa|mense|infanzia|matern\w*|patern\w*|insegnant\w*|"
    r"maestr[aei]|docent\w*|educator\w*|educatric\w*|pediatr\w*|bambin\w*|bimb\w*|figli\w*|neonat\w*|genitor\w*|"
    r"nipot\w*|babysitter|baby sitter|tata|welfare|caregiver|badant\w*|bonus|inps|congedo|congedi|"
    r"isee|assegn\w*|conciliazion\w*|concilia|smart working|lavoro agile|telelavoro|part time|"
    r"flessibil\w*|permess\w*|104|disabil\w*|anzian\w*|invalid\w*|assistenz\w*|rsa|caf|patronat\w*|"
    r"comunal\w*|comune di|iscrizion\w*|iscriver\w*|iscritt\w*|rett[ae]|aziend\w*|dipendent\w*|"
    r"datore di lavoro|risorse umane|turn[oi]|orario di lavoro|sindacat\w*|privacy|dati personali|"
    r"operator\w*|chi siete"
    r")\b"
)
# Greetings, thanks, yes and no: in scope (greet, thanks, affirm, deny, goodbye) when alone.
SMALL_TALK = re.compile(
    r"\b(ciao|grazie|salve|buongiorno|buonasera|buonanotte|arrivederci|addio|si|no|ok|okay|certo|"
    r"perfetto|esatto|d accordo|va bene|aiuto|scusa|scusi|prego)\b"
)
# The same stems inside other words: hashtags ("#labuonascuola"), compounds ("doposcuola").
IN_SCOPE_ANYWHERE = re.compile(
    r"scuol|scolast|asil[oi]|welfare|caregiver|badant|inps|isee|congedo|bambin|figli"
)
URL_OR_USER = re.compile(r"https?://\S+|\[?@user\]?|\bRT\b|…")


def git_show(mirror: Path, repo: str, commit: str, path: str) -> bytes:
    git_dir = mirror / repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], check=True, capture_output=True
    ).stdout


def git_ls(mirror: Path, repo: str, commit: str, folder: str) -> list[str]:
    git_dir = mirror / repo.replace("/", "+") / "repo"
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "--name-only", commit, folder],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def conllu_texts(raw: bytes) -> list[str]:
    return [
        line[len("# text =") :].strip()
        for line in raw.decode("utf-8").splitlines()
        if line.startswith("# text =")
    ]


def read_source(mirror: Path, src: Source) -> list[str]:
    texts: list[str] = []
    for path in src.paths:
        if src.key == "tatoeba":
            raw = git_show(mirror, src.repo, src.commit, path).decode("utf-8-sig")
            texts += [line.split("\t")[1] for line in raw.splitlines() if line.count("\t") >= 3]
        elif src.key == "squad_it":
            data = json.loads(gzip.decompress(git_show(mirror, src.repo, src.commit, path)))
            texts += [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
        elif src.key.startswith("ud_"):
            texts += conllu_texts(git_show(mirror, src.repo, src.commit, path))
        elif src.key == "huric":
            for name in git_ls(mirror, src.repo, src.commit, path):
                xml = git_show(mirror, src.repo, src.commit, name).decode("utf-8")
                texts += re.findall(r"<sentence>([^<]*)</sentence>", xml)
        elif src.key == "gqa_it":
            texts += [
                q["sent"] for q in json.loads(gzip.decompress(git_show(mirror, src.repo, src.commit, path)))
            ]
    return texts


def clean(text: str) -> str:
    text = URL_OR_USER.sub(" ", text)
    text = re.sub(r"(?<!\w)#(?=\w)", "", text)  # "#Renzi" -> "Renzi": a line never starts with "#"
    text = " ".join(text.replace("\u00a0", " ").split())
    return text.strip(" :-")


def excluded_texts(towns: list[str]) -> set[str]:
    """Every training example of nlu/data (any intent) and the xSID measuring set, normalised."""
    seen: set[str] = set()
    for path in sorted((ROOT / "nlu" / "data").glob("*.yml")):
        for line in path.read_text("utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("- "):
                seen.add(
                    normalise(re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", r"\1\2", stripped[2:]))
                )
    xsid = ROOT.parent / "shared" / "external" / "xsid-0.7-it.valid.conll"
    if xsid.exists():
        seen |= {
            normalise(line[len("# text =") :])
            for line in xsid.read_text("utf-8").splitlines()
            if line.startswith("# text =")
        }
    return seen


def keep(norm: str, town_re: re.Pattern[str], excluded: set[str]) -> bool:
    words = norm.split()
    if len(words) < 3 or len(words) > 60:
        return False
    if len(words) <= 4 and SMALL_TALK.search(norm):
        return False
    in_scope = IN_SCOPE.search(norm) or IN_SCOPE_ANYWHERE.search(norm.replace(" ", ""))
    return not (in_scope or town_re.search(norm) or norm in excluded)


def header(kind: str, counts: dict[str, int]) -> str:
    lines = [
        f"# Concilia: general Italian sentences, all out of scope ({kind}).",
        "# Built by nlu/negatives/build.py from the public data sets below, one sentence per line, as",
        "# written (links, @user placeholders and hashtag signs removed). Dropped: sentences that touch",
        "# Concilia's scope (childcare, school, welfare, carers, leave, INPS, the towns...), greetings and",
        "# yes/no, sentences of fewer than three words, any sentence equal to a training example or to an",
        f"# xSID utterance. Shuffled with seed {SEED}; two thirds of each source went to train.txt",
        "# (nlu/negatives/, trained on), one third to tests/nlu/negatives_kept.txt (measuring only).",
        "#",
        "# Sources (address, licence, attribution, sentences in this file):",
    ]
    for src in SOURCES:
        lines += [
            f"# - {src.key}: https://github.com/{src.repo} (commit {src.commit[:12]})",
            f"#   files: {', '.join(src.paths)}",
            f"#   licence: {src.licence}",
            f"#   attribution: {src.attribution}",
            f"#   sentences: {counts.get(src.key, 0)}",
        ]
    lines += [
        "# Changes: selection, filtering and whitespace only. The CC BY-SA parts are shared under the same",
        "# licences: https://creativecommons.org/licenses/by-sa/3.0/ and https://creativecommons.org/licenses/by-sa/4.0/",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = ap.parse_args()

    towns = [normalise(name) for name in load_kb().towns]
    town_re = re.compile(
        r"\b(" + "|".join(re.escape(t) for t in sorted(towns, key=len, reverse=True)) + r")\b"
    )
    excluded = excluded_texts(towns)
    rng = random.Random(SEED)
    seen: set[str] = set()
    train: list[tuple[str, str]] = []
    kept: list[tuple[str, str]] = []
    for src in SOURCES:
        chosen = []
        for text in read_source(args.mirror, src):
            text = clean(text)
            norm = normalise(text)
            if norm in seen or not keep(norm, town_re, excluded):
                continue
            seen.add(norm)
            chosen.append(text)
        rng.shuffle(chosen)
        if src.cap:
            chosen = chosen[: src.cap]
        cut = round(len(chosen) * TRAIN_SHARE)
        train += [(src.key, t) for t in chosen[:cut]]
        kept += [(src.key, t) for t in chosen[cut:]]
        print(f"{src.key:12} {len(chosen):5} sentences ({cut} train, {len(chosen) - cut} kept)")
    for rows, path, kind in (
        (train, ROOT / "nlu" / "negatives" / "train.txt", "training part"),
        (kept, ROOT / "tests" / "nlu" / "negatives_kept.txt", "kept part, for measuring only"),
    ):
        rng.shuffle(rows)
        counts: dict[str, int] = {}
        for key, _ in rows:
            counts[key] = counts.get(key, 0) + 1
        body = "\n".join(text for _, text in rows)
        path.write_text(header(kind, counts) + body + "\n", "utf-8")
        print(f"{path.relative_to(ROOT)}: {len(rows)} sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
