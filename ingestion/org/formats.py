"""Reading the org files (docs/org-files.md): UTF-8 CSV, a BOM accepted, a header row,
every row kept with the physical line it starts on so messages can say `file:line`.

Nothing here decides whether the org is consistent (that is `validate.py`); this module
only turns bytes into cells, and reports what makes a file unreadable: a missing file, a
file over the size limit, bytes that are not UTF-8, a missing column, a row with more
cells than the header, and cells that a spreadsheet would run as a formula.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# A file bigger than this is refused before it is read (`--max-file-mb`, SEI_ORG_MAX_FILE_MB).
DEFAULT_MAX_FILE_MB = float(os.environ.get("SEI_ORG_MAX_FILE_MB", "50"))
# Cells a spreadsheet evaluates as a formula when they start with one of these (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@")
# What `safe_csv_cell` neutralises on export: the above plus tab and carriage return (OWASP).
_EXPORT_RISKY = ("=", "+", "-", "@", "\t", "\r")
MULTI_SEP = ";"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Issue:
    """One finding about the input. `str(issue)` is the message users see:
    `developers.csv:14: duplicate developer_id 'D7' (first on line 9). Fix: ...`."""
    file: str
    line: int | None
    message: str
    fix: str
    severity: str = "error"  # "error" rejects the import; "warning" is reported only

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class FileSpec:
    kind: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    multi: tuple[str, ...] = ()  # `;`-separated columns

    @property
    def header(self) -> tuple[str, ...]:
        return self.required + self.optional


SPECS: dict[str, FileSpec] = {
    "developers": FileSpec(
        "developers", ("developer_id", "full_name", "emails"),
        ("manager_email", "role", "site", "start_date", "end_date", "github_logins", "jira_account_ids",
         "harness_user_ids"),
        multi=("emails", "github_logins", "jira_account_ids", "harness_user_ids")),
    "tree": FileSpec("tree", ("team_id", "team_name"), ("tree", "parent_team_id", "manager_email")),
    "memberships": FileSpec("memberships", ("developer_id", "tree", "team_id"), ("valid_from", "valid_to")),
    "services": FileSpec("services", ("service", "owning_team_id"),
                         ("owning_tree", "project_id", "repositories", "harness_service_ids"),
                         multi=("repositories", "harness_service_ids")),
    "overrides": FileSpec("overrides", ("tool", "account", "developer_id"), ("note",)),
}


@dataclass
class CsvFile:
    """A read file: its cells by column name, each row with the line it starts on."""
    path: Path
    label: str                      # the path as the user gave it: what messages name
    kind: str
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]
    sha256: str
    size: int
    issues: list[Issue] = field(default_factory=list)

    def info(self) -> dict:
        return {"kind": self.kind, "path": self.label, "sha256": self.sha256, "bytes": self.size, "rows": len(self.rows)}


def split_multi(cell: str) -> list[str]:
    """`a; b;;c` -> ['a', 'b', 'c'] (order kept, blanks dropped, duplicates dropped)."""
    out: list[str] = []
    for part in cell.split(MULTI_SEP):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


def parse_date(value: str) -> dt.date | None:
    """A strict `YYYY-MM-DD` date, or None if the cell is not one (empty cells are the
    caller's business)."""
    if not DATE_RE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def is_formula(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES)


def safe_csv_cell(value):
    """A value made safe for a CSV that someone may open in a spreadsheet: text that starts
    with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so it shows as text
    and is never evaluated. Other values come back unchanged."""
    if isinstance(value, str) and value.startswith(_EXPORT_RISKY):
        return "'" + value
    return value


def write_safe_csv(path: Path, header: list[str], rows) -> Path:
    """Write rows (sequences in header order) with every cell passed through `safe_csv_cell`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else safe_csv_cell(v if isinstance(v, str) else str(v)) for v in r])
    return path


def _norm_col(c: str) -> str:
    return re.sub(r"[\s\-]+", "_", c.strip().lower())


def _decode(data: bytes, label: str) -> tuple[str | None, Issue | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, Issue(label, 1, "is UTF-16 encoded, not UTF-8.",
                           "save it as UTF-8 (in Excel: Save As > 'CSV UTF-8 (Comma delimited)').")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        looks = "Latin-1/Windows-1252" if data[e.start] >= 0x80 else "binary"
        return None, Issue(label, line, f"is not valid UTF-8: byte 0x{data[e.start]:02X} at column {col} "
                                        f"(the file looks {looks} encoded).",
                           "save the file as UTF-8 (in Excel: Save As > 'CSV UTF-8 (Comma delimited)'; "
                           "or `iconv -f WINDOWS-1252 -t UTF-8`).")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return None, Issue(label, line, "contains NUL bytes: it is not a text CSV file.",
                           "export the sheet as CSV (UTF-8), not as a spreadsheet or binary file.")
    return text, None


def read_csv(path: Path | str, kind: str, *, max_file_mb: float = DEFAULT_MAX_FILE_MB,
             allow_formulas: bool = False) -> CsvFile | None:
    """Read one org file of `kind` (a key of SPECS). Returns None only if the file cannot
    be read at all; otherwise a CsvFile whose `issues` lists what is wrong with it."""
    spec = SPECS[kind]
    label = str(path)
    path = Path(path)
    issues: list[Issue] = []
    header_hint = ",".join(spec.header)
    if not path.is_file():
        return _unreadable(path, label, kind, Issue(label, None, "file not found.",
                                                    "check the path (it is relative to the current directory)."))
    size = path.stat().st_size
    limit = int(max_file_mb * 2**20)
    if size > limit:
        return _unreadable(path, label, kind, Issue(
            label, None, f"is {size:,} bytes ({size / 2**20:.1f} MB), over the {max_file_mb:g} MB limit for an org "
                         "file.",
            "check it is the right file; split it, or raise the limit with --max-file-mb (or SEI_ORG_MAX_FILE_MB)."))
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    text, err = _decode(data, label)
    if err:
        return CsvFile(path, label, kind, [], [], digest, size, [err])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    columns: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    last = 0
    try:
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if columns is None:
                columns = [_norm_col(c) for c in cells]
                issues += _check_header(columns, spec, label, header_hint)
                if any(i.severity == "error" for i in issues):
                    return CsvFile(path, label, kind, columns, [], digest, size, issues)
                continue
            if len(cells) > len(columns):
                issues.append(Issue(label, start, f"has {len(cells)} cells but the header has {len(columns)}.",
                                    "quote cells that contain commas (\"a, b\") and remove stray commas; "
                                    "separate several values in one cell with ';'."))
                continue
            cells = cells + [""] * (len(columns) - len(cells))
            row = {}
            for col, raw in zip(columns, cells):
                v = raw.strip()
                row[col] = v
                parts = split_multi(v) if col in spec.multi else [v]
                bad = next((p for p in parts if is_formula(p)), None)
                if bad is not None:
                    issues.append(_formula_issue(label, start, col if bad == v else f"{col} value", bad,
                                                 allow_formulas))
            rows.append((start, row))
    except csv.Error as e:
        issues.append(Issue(label, last + 1, f"cannot be parsed as CSV ({e}).",
                            "close every opening double quote; write a quote inside a quoted cell as \"\"."))
    if columns is None:
        issues.append(Issue(label, 1, "is empty: no header row.", f"start the file with the header `{header_hint}`."))
        columns = []
    return CsvFile(path, label, kind, columns, rows, digest, size, issues)


def _unreadable(path: Path, label: str, kind: str, issue: Issue) -> CsvFile:
    return CsvFile(path, label, kind, [], [], "", 0, [issue])


def _check_header(columns: list[str], spec: FileSpec, label: str, hint: str) -> list[Issue]:
    out = []
    missing = [c for c in spec.required if c not in columns]
    if missing:
        out.append(Issue(label, 1, f"header lacks the column(s) {', '.join(missing)} (found: {', '.join(columns)}).",
                         f"use the header `{hint}` (optional columns may be left out)."))
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        out.append(Issue(label, 1, f"header repeats the column(s) {', '.join(dup)}.", "keep each column once."))
    unknown = [c for c in columns if c not in spec.header]
    if unknown and not missing:
        out.append(Issue(label, 1, f"unknown column(s) {', '.join(unknown)} are ignored.",
                         f"remove them, or check their spelling against `{hint}`.", "warning"))
    return out


def _formula_issue(label: str, line: int, col: str, value: str, allowed: bool) -> Issue:
    shown = value if len(value) <= 40 else value[:37] + "..."
    if allowed:
        return Issue(label, line, f"{col} {shown!r} starts with {value[0]!r}; kept as text (--allow-formula-cells).",
                     "none needed: exports prefix such cells with ' so spreadsheets never evaluate them.", "warning")
    return Issue(label, line, f"{col} {shown!r} starts with {value[0]!r}, which a spreadsheet runs as a formula "
                              "(CSV injection).",
                 "remove the leading character, or re-run with --allow-formula-cells to keep it as plain text "
                 "(exports then prefix it with ').")
