"""The filter and sort language of ``Registry.versions(where=..., order_by=...)``.

``where`` grammar, with the usual precedence (not > and > or)::

    expr  := or
    or    := and ('or' and)*
    and   := not ('and' not)*
    not   := 'not' not | '(' expr ')' | term
    term  := field op value | field 'is' ['not'] 'null'
    op    := = == != <> < <= > >= like
    field := metrics.KEY | params.KEY | tags.KEY | model_tags.KEY
             | version | created_at | component | plugin | kind | task | name
    value := 'string' | "string" | int | float | true | false

Keywords are case-insensitive; strings take a backslash escape or a doubled quote
(``'o''brien'``); ``like`` is SQLite's (``%`` and ``_``, case-insensitive for ASCII).
A comparison on a key the version lacks is false, so ``metrics.auc != 0.9`` skips versions
without ``auc`` while ``not metrics.auc = 0.9`` keeps them; ``is null`` is true for a
missing key and for a stored None/NaN. ``params`` keep their type: a number matches only
numeric params, a string only string params (``params.n = '100'`` is not ``= 100``).

``order_by`` is a comma-separated list of fields, each optionally prefixed ``-`` for
descending, e.g. ``-metrics.auc,version``; versions lacking the key sort last.

Both compile to SQL over ``versions v JOIN models mo``. Every key and every value is bound
as a ``?`` parameter; the only text pasted into the SQL comes from the fixed tables
below, so a filter cannot inject SQL. Anything else raises ``FilterError`` naming the
character position and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoo.errors import FilterError

#: Plain fields and the SQL they stand for (``v`` = versions, ``mo`` = models).
COLUMNS = {
    "version": "v.version",
    "created_at": "v.created_at",
    "component": "v.component",
    "plugin": "v.plugin",
    "kind": "v.kind",
    "task": "v.task",
    "name": "mo.name",
}
#: Keyed fields: prefix -> (table, the column joining it, the versions/models column it matches).
KEYED = {
    "metrics": ("metrics", "version_id", "v.id"),
    "params": ("params", "version_id", "v.id"),
    "tags": ("version_tags", "version_id", "v.id"),
    "model_tags": ("model_tags", "model_id", "v.model_id"),
}
OPERATORS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">",
             ">=": ">=", "like": "LIKE"}
KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_KEYWORDS = {"and", "or", "not", "is", "null", "true", "false", "like"}
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_.])"
    r"|(?P<op>==|!=|<>|<=|>=|=|<|>)"
    r"|(?P<paren>[()])"
    rf"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.{KEY_PATTERN})?)"
)
_FIELD_HELP = ("use metrics.KEY, params.KEY, tags.KEY, model_tags.KEY or one of "
               + ", ".join(sorted(COLUMNS)))
# Guards against inputs that would exhaust Python's recursion or SQLite's expression depth
# and ORDER BY limit, Python's int parser, or SQLite's LIKE matcher (which backtracks on each
# '%' and refuses patterns over 50,000 bytes).
MAX_DEPTH = 32
MAX_TERMS = 100
MAX_NUMBER_CHARS = 40
MAX_LIKE_CHARS = 1000
MAX_LIKE_WILDCARDS = 10


@dataclass(frozen=True)
class Token:
    kind: str  # field, string, number, op, (, ), and, or, not, is, null, bool, end
    text: str
    pos: int  # 1-based character position
    value: Any = None


def compile_where(text: str | None) -> tuple[str, list[Any]]:
    """SQL boolean expression and its parameters for a ``where`` filter ("1" when blank)."""
    if text is None or not text.strip():
        return "1", []
    return _Parser(text).parse()


def compile_order_by(text: str | None) -> tuple[list[str], list[Any]]:
    """``ORDER BY`` terms and their parameters for an ``order_by`` list (empty when blank)."""
    if text is None or not text.strip():
        return [], []
    terms: list[str] = []
    params: list[Any] = []
    start = 0
    items = text.split(",")
    if len(items) > MAX_TERMS:
        raise _error("--order-by", 1, f"more than {MAX_TERMS} fields; a few decide any order")
    for item in items:
        stripped = item.strip()
        pos = start + (len(item) - len(item.lstrip())) + 1
        start += len(item) + 1
        if not stripped:
            raise _error("--order-by", pos, "expected a field such as -metrics.auc or version")
        descending = stripped.startswith("-")
        name = stripped[1:].lstrip() if descending else stripped
        if not re.fullmatch(rf"[A-Za-z_][A-Za-z0-9_]*(?:\.{KEY_PATTERN})?", name):
            raise _error("--order-by", pos,
                         f"expected a field like -metrics.auc or version, got '{_short(stripped)}'")
        field = _field(name, pos, "--order-by")
        if isinstance(field.value, str):
            expr = COLUMNS[field.value]
            key_params: list[Any] = []
        else:
            table, join_col, outer = KEYED[field.value[0]]
            expr = f"(SELECT value FROM {table} WHERE {join_col} = {outer} AND key = ?)"
            key_params = [field.value[1]]
        # Missing values sort last either way: first sort on "is it missing".
        terms += [f"{expr} IS NULL", f"{expr} {'DESC' if descending else 'ASC'}"]
        params += key_params * 2
    return terms, params


def tokenize(text: str, option: str = "--where") -> list[Token]:
    """Split a filter into tokens; rejects any character the grammar has no use for."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _error(option, exc.start + 1, "the filter contains a character that is not "
                     "valid text; retype it") from None
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "'\"":
            value, end = _scan_string(text, i, option)
            tokens.append(Token("string", text[i:end], i + 1, value))
            i = end
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise _error(option, i + 1, _unexpected(text, i))
        kind, lexeme = match.lastgroup, match.group()
        if kind == "number" and len(lexeme) > MAX_NUMBER_CHARS:
            raise _error(option, i + 1, f"a number of {len(lexeme)} characters; write at most "
                         f"{MAX_NUMBER_CHARS} (e.g. 1e30)")
        if kind == "number":
            tokens.append(Token("number", lexeme, i + 1, _number(lexeme)))
        elif kind == "op":
            tokens.append(Token("op", lexeme, i + 1, OPERATORS[lexeme]))
        elif kind == "paren":
            tokens.append(Token(lexeme, lexeme, i + 1))
        elif kind == "word":
            lower = lexeme.lower()
            if lower in ("true", "false"):
                tokens.append(Token("bool", lexeme, i + 1, lower == "true"))
            elif lower == "like":
                tokens.append(Token("op", lexeme, i + 1, "LIKE"))
            elif lower in _KEYWORDS:
                tokens.append(Token(lower, lexeme, i + 1))
            else:
                tokens.append(_field(lexeme, i + 1, option))
        i = match.end()
    tokens.append(Token("end", "", n + 1))
    return tokens


class _Parser:
    """Recursive descent over the tokens, emitting SQL and collecting parameters."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.params: list[Any] = []
        self.terms = 0

    def parse(self) -> tuple[str, list[Any]]:
        sql = self._or(0)
        token = self._peek()
        if token.kind == ")":
            raise _error("--where", token.pos, "unmatched ')'")
        if token.kind != "end":
            raise self._expected("'and', 'or' or the end of the filter")
        return sql, self.params

    def _or(self, depth: int) -> str:
        return self._joined("or", self._and, depth)

    def _and(self, depth: int) -> str:
        return self._joined("and", self._not, depth)

    def _joined(self, operator: str, operand: Callable[[int], str], depth: int) -> str:
        """One or more ``operand``s joined by ``operator`` ("and" or "or"), in brackets when
        there are several."""
        parts = [operand(depth)]
        while self._peek().kind == operator:
            self.i += 1
            parts.append(operand(depth))
        return parts[0] if len(parts) == 1 else "(" + f" {operator.upper()} ".join(parts) + ")"

    def _not(self, depth: int) -> str:
        token = self._peek()
        if depth > MAX_DEPTH:
            raise _error("--where", token.pos,
                         f"nested deeper than {MAX_DEPTH} levels; simplify it")
        if token.kind == "not":
            self.i += 1
            return f"NOT ({self._not(depth + 1)})"
        if token.kind == "(":
            self.i += 1
            inner = self._or(depth + 1)
            if self._peek().kind != ")":
                raise self._expected(f"')' to close the '(' at character {token.pos}")
            self.i += 1
            return f"({inner})"
        return self._term()

    def _term(self) -> str:
        field = self._peek()
        if field.kind != "field":
            raise self._expected("a field such as metrics.auc, tags.team or version")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise _error("--where", field.pos, f"more than {MAX_TERMS} conditions; simplify it")
        self.i += 1
        token = self._peek()
        if token.kind == "is":
            self.i += 1
            negated = self._peek().kind == "not"
            if negated:
                self.i += 1
            if self._peek().kind != "null":
                raise self._expected("'null'")
            self.i += 1
            return self._null_sql(field, negated)
        if token.kind != "op":
            raise self._expected("an operator (= != < <= > >= like) or 'is null'")
        self.i += 1
        value = self._peek()
        if value.kind == "null":
            raise _error("--where", value.pos, f"use '{field.text} is null' to test for a "
                         "missing value")
        if value.kind not in ("string", "number", "bool"):
            raise self._expected("a value")
        self._check_types(field, token, value)
        self.i += 1
        return self._compare_sql(field, token.value, value.value)

    def _check_types(self, field: Token, op: Token, value: Token) -> None:
        if op.value == "LIKE" and value.kind != "string":
            raise _error("--where", value.pos, "'like' takes a quoted pattern such as 'gro%'")
        if op.value == "LIKE" and (len(value.value) > MAX_LIKE_CHARS
                                   or value.value.count("%") > MAX_LIKE_WILDCARDS):
            raise _error("--where", value.pos, f"a 'like' pattern may hold at most {MAX_LIKE_CHARS} "
                         f"characters and {MAX_LIKE_WILDCARDS} '%'; use a shorter pattern")
        numeric = field.value == "version" or (
            isinstance(field.value, tuple) and field.value[0] == "metrics")
        if numeric and value.kind == "string":
            raise _error("--where", value.pos,
                         f"{field.text} is a number: compare it with a number, not a string")

    def _compare_sql(self, field: Token, op: str, value: Any) -> str:
        if isinstance(field.value, tuple):
            prefix, key = field.value
            table, join_col, outer = KEYED[prefix]
            self.params += [key, value]
            guard = ""
            if prefix == "params":
                # params.value is untyped, and SQLite ranks any text above any number:
                # compare numbers with numbers and strings with strings only.
                guard = (" AND typeof(value) = 'text'" if isinstance(value, str)
                         else " AND typeof(value) IN ('integer', 'real')")
            return (f"{outer} IN (SELECT {join_col} FROM {table} "
                    f"WHERE key = ? AND value {op} ?{guard})")
        self.params.append(value)
        return f"{COLUMNS[field.value]} {op} ?"

    def _null_sql(self, field: Token, negated: bool) -> str:
        if isinstance(field.value, tuple):
            prefix, key = field.value
            table, join_col, outer = KEYED[prefix]
            self.params.append(key)
            # A key that is absent and a key stored as NULL (None, NaN) both count as null.
            return (f"{outer} {'IN' if negated else 'NOT IN'} "
                    f"(SELECT {join_col} FROM {table} WHERE key = ? AND value IS NOT NULL)")
        return f"{COLUMNS[field.value]} IS {'NOT ' if negated else ''}NULL"

    def _peek(self) -> Token:
        return self.tokens[self.i]

    def _expected(self, what: str) -> FilterError:
        token = self._peek()
        message = f"expected {what}"
        if self.i > 0:
            message += f" after '{_short(self.tokens[self.i - 1].text)}'"
        if token.kind != "end":
            message += f", got '{_short(token.text)}'"
        return _error("--where", token.pos, message)


def _field(word: str, pos: int, option: str) -> Token:
    if "." in word:
        prefix, key = word.split(".", 1)
        if prefix in KEYED:
            return Token("field", word, pos, (prefix, key))
    elif word in COLUMNS:
        return Token("field", word, pos, word)
    raise _error(option, pos, f"unknown field '{_short(word)}': {_FIELD_HELP}")


def _scan_string(text: str, start: int, option: str) -> tuple[str, int]:
    """A quoted string from ``start``: backslash escapes the next character, a doubled
    quote stands for itself. Returns the value and the index after the closing quote."""
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
        elif char == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise _error(option, start + 1, f"unterminated string: add the closing {quote}")


def _number(lexeme: str) -> int | float:
    if any(c in lexeme for c in ".eE"):
        return float(lexeme)
    value = int(lexeme)
    # SQLite integers are 64-bit; larger literals compare as floats.
    return value if -(2**63) <= value < 2**63 else float(value)


def _unexpected(text: str, i: int) -> str:
    char = text[i]
    if text.startswith("--", i):
        return "unexpected '--': comments are not part of the filter language"
    if char == ";":
        return "unexpected ';': a filter is a single expression"
    if char == "-" or char.isdigit() or char == ".":
        return f"invalid number starting '{_short(text[i:i + 12])}'"
    return f"unexpected character '{_short(char)}'"


def _short(text: str, width: int = 30) -> str:
    # Errors stay on one line: escape newlines and other control characters.
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _error(option: str, pos: int, message: str) -> FilterError:
    return FilterError(f"cannot parse {option} at character {pos}: {message}")
