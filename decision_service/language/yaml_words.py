"""YAML syntax errors said in plain words, with the line to look at.

PyYAML's messages ("expected <block end>, but found '<block mapping start>'")
name parser states. A process owner needs what is wrong in the file and where
to look: the line is quoted, and an unclosed bracket or quote names the line
that opened it. Each kind has an English and a Chinese wording; the Chinese is
passed along as a parameter so ``validate --lang zh`` can print it.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True, slots=True)
class _Kind:
    marker: str  # a piece of PyYAML's problem or context text
    en: str
    zh: str


# First match wins; {opened} is the line where the construct started.
_KINDS = (
    _Kind("cannot start any token",
          "a character YAML does not allow here (a tab for indentation, or @ ` % at the start "
          "of a value): indent with spaces, put such a value in quotes",
          "这里有 YAML 不允许的字符（用 Tab 缩进，或值以 @ ` % 开头）："
          "请用空格缩进，或把值放在引号里"),
    _Kind("quoted scalar",
          "a quote opened on line {opened} is never closed: add the closing quote",
          "第 {opened} 行开始的引号没有结束：请补上结尾的引号"),
    _Kind("flow sequence",
          "a list in [ ] opened on line {opened} is not closed, or its items are not separated "
          "by commas: close it with ] on the same line, commas between items",
          "第 {opened} 行开始的 [ ] 列表没有关闭，或各项之间缺少逗号："
          "请在同一行用 ] 结束，各项用逗号隔开"),
    _Kind("flow mapping",
          "a {{ }} mapping opened on line {opened} is not closed, or its entries are not separated "
          "by commas: close it with }} on the same line, commas between entries",
          "第 {opened} 行开始的 {{ }} 没有关闭，或各项之间缺少逗号："
          "请在同一行用 }} 结束，各项用逗号隔开"),
    _Kind("mapping values are not allowed",
          "a second ': ' on one line, or the line above is missing its ':': put a text that "
          "contains ': ' in quotes, or add the missing ':'",
          "一行里出现了第二个“: ”，或上一行缺少“:”：含有“: ”的文字请放在引号里，或补上缺少的“:”"),
    _Kind("could not find expected ':'",
          "a key without ':' (or a line continued by mistake): every key needs 'key: value'",
          "这一行的键缺少“:”（或误把上一行接了下来）：每个键都要写成“键: 值”"),
    _Kind("but found '-'",
          "a list item '- ' where a key was expected: indent the item under its key, or remove "
          "the '- '",
          "这里应当是“键: 值”，却出现了列表项“- ”：请把它缩进到所属的键下面，或去掉“- ”"),
    _Kind("expected <block end>",
          "the indentation does not match the lines above: line up this line with the other "
          "keys of the same block (spaces only)",
          "缩进与上面的行对不齐：请让这一行与同一层的其他键对齐（只用空格）"),
    _Kind("unexpected end of stream",
          "the file ends in the middle of something opened on line {opened}: close it",
          "文件在第 {opened} 行开始的内容中途结束了：请把它写完整"),
)
_OTHER = _Kind("", "YAML cannot read this line ({detail})", "YAML 无法读这一行（{detail}）")


def plain_yaml_problem(exc: yaml.MarkedYAMLError,
                       text: str) -> tuple[int, int, str, dict[str, str]]:
    """Line, column, the English message and the parameters (with ``what_zh``)."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    opened = exc.context_mark.line + 1 if exc.context_mark else line
    said = " ".join(part for part in (exc.context, exc.problem) if part)
    kind = next((k for k in _KINDS if k.marker in said), _OTHER)
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    fill = {"opened": str(opened), "detail": said}
    en = kind.en.format(**fill)
    look = f"look at line {line}" + (f": {shown!r}" if shown else "")
    params = {"line": str(line), "shown": shown, "what_zh": kind.zh.format(**fill)}
    return line, column, f"{look}: {en}", params
