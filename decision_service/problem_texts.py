"""Every problem code, said in Chinese and explained with its fix.

``validate --lang zh`` prints each problem from this catalogue, keyed by the
problem's code, with the parameters the problem carries (a field, a unit, a
line) filled in. The guide for process owners (docs/owners/) explains the
same codes; a test keeps the catalogue, the guide and the code base in step.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from decision_service.errors import FieldProblem, PolicyProblem


@dataclass(frozen=True, slots=True)
class ProblemText:
    zh: str  # the problem, in Chinese; {name} parts are the problem's parameters
    fix_zh: str  # what to do, in Chinese


_T = ProblemText
CATALOGUE: dict[str, ProblemText] = {
    # -- reading files ---------------------------------------------------------
    "yaml_syntax": _T("请看第 {line} 行「{shown}」：{what_zh}",
                      "按提示改正这一行，或它上面一两行的缩进、引号、括号"),
    "yaml_alias": _T("策略里不允许使用 YAML 别名（*name）",
                     "把别名指向的内容完整写出来"),
    "yaml_depth": _T("嵌套层数过深", "检查缩进，策略不需要这么多层"),
    "duplicate_key": _T("同一层里同一个键写了两次", "删除或合并重复的键，只保留一个"),
    "key_type": _T("键必须是文字", "给键加上引号，例如 \"1\": 或 \"true\":"),
    "number_format": _T("数字必须用普通写法（不用科学计数法，不用 .nan/.inf）",
                        "例如把 2.5e7 写成 25000000"),
    "not_a_mapping": _T("文件必须是“键: 值”的映射",
                        "文件顶层应当以 id:、org: 或 cases: 等键开头"),
    "too_large": _T("文件超过 4 MB", "拆分文件，或删除不属于策略的内容"),
    "encoding": _T("文件不是 UTF-8 编码", "用编辑器另存为 UTF-8"),
    "not_found": _T("找不到指定的目录或文件", "检查命令行里的路径"),
    "unreadable": _T("文件无法读取", "检查文件是否存在、是否有读取权限"),
    "usage": _T("命令行参数有误",
                "运行 decision-service simulate --help 查看用法"),
    # -- document shape --------------------------------------------------------
    "unknown_field": _T("不认识的字段「{field}」",
                        "检查拼写；可用的字段见指南的策略文件结构"),
    "missing_field": _T("缺少必填字段「{field}」", "补上这个字段"),
    "type": _T("「{field}」的类型不对（现在是 {value}）",
               "按要求写成数字、文字、列表或映射"),
    "unknown_value": _T("「{field}」的值 {value} 不在允许的范围内",
                        "从提示的可选值中选一个"),
    "bad_name": _T("{value} 不是合法的名称",
                   "名称只用小写字母、数字和下划线，以字母开头"),
    "empty": _T("「{field}」不能为空", "填写内容，或删除这个字段"),
    "invalid": _T("「{field}」的写法不符合要求", "按提示改正"),
    "date_format": _T("日期格式不对",
                      "日期写成 YYYY-MM-DD，例如 2027-01-01"),
    # -- org tree --------------------------------------------------------------
    "missing_org": _T("没有找到组织树（以 org: 开头的文件）",
                      "把 org/org.yaml 放回策略目录"),
    "duplicate_org": _T("有第二棵组织树；一套策略只能有一个", "删除多余的 org 文件"),
    "duplicate_unit": _T("组织单元编码重复", "每个编码只能出现一次"),
    "unknown_unit": _T("组织树里没有单元「{unit}」{hint_zh}",
                       "改成组织树里的编码（见 policies/org/org.yaml）"),
    "unknown_ordering": _T("引用了组织树里没有定义的排序",
                           "使用 org.yaml 里定义的排序，如 levels、grades"),
    # -- versions --------------------------------------------------------------
    "unknown_base": _T("{policy} 版本 {version} 基于版本 {base}，但找不到这个版本",
                       "先修正被继承的版本，或改正 extends"),
    "extends_not_previous": _T("新版本必须基于紧挨着它的上一个版本",
                               "把 extends 改成上一个版本号"),
    "duplicate_version": _T("同一个版本号定义了两次", "给新版本一个新的版本号"),
    "full_copy_version": _T("后续版本是整份复制，而不是在上一版本上修改",
                            "改写成 extends: 上一版本，只写改动的内容"),
    "ambiguous_version": _T("两个版本在同一天生效", "给新版本一个不同的生效日期"),
    "unknown_version": _T("引用了不存在的版本", "检查版本号"),
    "unknown_rule": _T("要删除或定位的规则 id 在上一版本中不存在",
                       "检查规则 id 的拼写"),
    "unknown_table": _T("引用了不存在的表，或新表缺少 rules",
                        "检查表 id；新表要写完整的 rules"),
    # -- names and fields ------------------------------------------------------
    "duplicate_name": _T("同一个名称声明了两次（输入、参数、历史汇总、派生值和输出"
                         "共用一个命名空间）",
                         "给其中一个换名字"),
    "reserved_output": _T("输出名「{name}」与每个回答自带的字段重名，会被覆盖",
                          "给这个输出换一个名字"),
    "unknown_name": _T("单元格里用了不存在的字段",
                       "检查拼写，或先在 inputs/parameters 里声明"),
    "unknown_parameter": _T("引用了不存在的参数",
                            "检查拼写，或在 parameters 里声明"),
    "unknown_output": _T("引用了不存在的输出", "检查拼写，或在 outputs 里声明"),
    "unknown_placeholder": _T("提示语里的 {{名称}} 不是已知字段",
                              "改成已声明的字段名，或删除占位符"),
    "bad_derived": _T("派生值只能由数值字段相加", "只列数值类型的输入或历史汇总"),
    "output_not_ready": _T("输出在前面的表设置它之前就被读取了",
                           "调整表的顺序，或改读其他字段"),
    "bad_output_value": _T("输出值的写法不对",
                           "写一个值，或写 {value: ..., message: ...}"),
    "incomplete_map": _T("映射没有覆盖所有可能的值", "为缺少的每个值补上一行"),
    # -- settings --------------------------------------------------------------
    "duplicate_setting": _T("同一单元、同一参数设置了两次", "合并成一条设置"),
    # -- tables and rules ------------------------------------------------------
    "duplicate_table": _T("表 id 重复", "给表换一个 id"),
    "duplicate_rule": _T("两条规则的条件完全相同", "合并或删除其中一条"),
    "duplicate_rule_id": _T("规则 id 重复", "每条规则的 id 在本策略内唯一"),
    "cell_syntax": _T("单元格写法不对",
                      "参照指南的单元格写法，例如 >= 1000000、in [A, B]、[10..20)"),
    "equality_only": _T("这里只能写 X、not X 或 in [...]",
                        "去掉比较运算符"),
    "missing_then": _T("规则缺少 then（命中时的结果）", "补上 then"),
    "then_needs_names": _T("表有多个输出，then 要写成 {{输出: 值}}",
                           "按输出名逐个写出结果"),
    "missing_score": _T("记分卡规则缺少 score", "补上 score"),
    "missing_values": _T("缺少可选值列表", "补上 values"),
    "missing_bands": _T("记分卡缺少分档 bands", "补上 bands"),
    "bands_without_scorecard": _T("只有记分卡表才能写 bands",
                                  "删除 bands，或把表改成 scorecard"),
    "one_output": _T("collect-max 表只能有一个输出", "拆成多张表"),
    "needs_ordering": _T("这种命中策略需要一个有顺序的输出（如级别、等级）",
                         "输出用 ordering: levels 或 grades"),
    "bad_monotonic": _T("monotonic 声明写得不对",
                        "写成 {input: 字段, output: 输出, direction: rising|falling}"),
    # -- figure checks ---------------------------------------------------------
    "unreachable_rule": _T("这条规则永远不会命中：前面的规则已经覆盖了它的情况",
                           "调整规则顺序或数字"),
    "overlap": _T("unique 表中有两条规则同时命中", "调整数字，让每种情况只命中一条"),
    "unique_gap": _T("unique 表有没有规则命中的情况", "补一条规则覆盖这个空档"),
    "not_monotonic": _T("数字不满足声明的单调性（金额越大级别应越高）",
                        "检查各单元的数字是否写反"),
    "ordering": _T("参数之间的大小顺序不对（例如代表处额度高于地区部）",
                   "按提示改正相应单元或版本的数字"),
    "engine_limit": _T("规则超出了规则引擎能安全处理的范围", "简化这张表，或拆成几张表"),
    # -- cases -----------------------------------------------------------------
    "unknown_policy": _T("案例文件对应的策略「{policy}」不存在",
                         "检查 policy: 的名字；若该策略文件本身有错，先修正它"),
    # -- rollout and shadows ---------------------------------------------------
    "overlapping_activation": _T("同一策略的两次分批启用有重叠",
                                 "合并，或让它们覆盖不同的单元"),
    "overlapping_units": _T("分批启用里的单元已被上级单元覆盖",
                            "只列上级单元，或只列下级单元"),
    "nothing_to_hold_back": _T("这个版本之前没有版本，其余单元无版本可用",
                               "只对有前一版本的版本做分批启用"),
    "no_unit_input": _T("该策略没有 unit 输入，分批启用无法适用",
                        "对这个策略去掉分批启用"),
    "duplicate_shadow": _T("同一策略有两个影子候选", "只保留一个"),
    "candidate_not_found": _T("影子候选目录不存在",
                              "检查 rollout.yaml 里的路径"),
    "candidate_invalid": _T("影子候选策略没有通过校验",
                            "先修正下面列出的候选目录里的问题"),
    "candidate_inside": _T("候选目录在策略目录里面，其中的文件都会生效",
                           "把候选目录放在策略目录旁边（../名称）"),
    "load_failed": _T("重新加载失败，服务继续使用原来的策略", "修正列出的问题后再重新加载"),
    "policy_removed": _T("重新加载会删除一个正在使用的策略",
                         "把策略放回，或重启服务确认删除"),
    # -- simulation scenarios --------------------------------------------------
    "missing_corpus": _T("模拟缺少成交数据文件",
                         "用 --corpus 指定，或在场景文件里写 corpus"),
    "bad_corpus": _T("成交数据文件有误", "每行一个 JSON 对象"),
    "bad_rows": _T("成交数据里无效的行太多", "修正数据，或放宽 max_bad_rows"),
    "bad_units": _T("阶段的 units 必须是列表或 all",
                    "写成 [DE, FR] 或 all"),
    "empty_phase": _T("阶段里没有单元", "至少列一个单元，或写 all"),
    "duplicate_phase": _T("两个阶段同名", "给阶段换名字"),
    "no_unit": _T("策略没有单元输入，阶段只能写 all", "把 units 改成 all"),
    "phases_split_a10": _T("按阶段划分单元会拆开 A10 的累计",
                           "按累计所用的单元划分阶段"),
    "unknown_segment": _T("分段引用了不存在的数值输入", "检查 input 的名字"),
    "guard_limit": _T("守护条件需要且只能有一个上限",
                      "写 max、max_pct、max_rise_points 或 max_rise_pct 之一"),
    "guard_shape": _T("守护条件缺少输出或取值",
                      "补上 output 和 value 或 at_least"),
    "not_ordered": _T("这个输出没有顺序，不能用 at_least", "改用 value"),
    "bad_condition": _T("守护条件的写法不对",
                        "参照 simulations/office-limit-v2.yaml 的写法"),
    # -- decision inputs (eval, API) -------------------------------------------
    "missing": _T("缺少必填字段", "补上这个字段"),
    "enum": _T("值不在允许的范围内", "从允许的值中选一个；单元请用组织树里的编码"),
    "range": _T("数值或长度超出范围", "按提示的范围填写"),
    "format": _T("格式不对", "日期写成 YYYY-MM-DD，名称只用字母、数字和下划线"),
    "constraint": _T("字段之间不一致（例如有 A 时必须有 B）", "按提示补齐或改正相关字段"),
}


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "…"


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def in_chinese(problem: PolicyProblem | FieldProblem) -> tuple[str, bool]:
    """The problem in Chinese, and whether every fact it names was filled in
    (if not, callers show the original message beside it)."""
    entry = CATALOGUE.get(problem.code)
    if entry is None:
        return problem.message, False
    params = getattr(problem, "params", {})
    complete = _placeholders(entry.zh) <= set(params)
    said = re.sub(r"\s+", " ", entry.zh.format_map(_Fill(params)))
    if isinstance(problem, PolicyProblem):
        said += problem.follow_note("zh")
    return said, complete and bool(_placeholders(entry.zh))


def codes_table(language: str) -> str:
    """The table of every problem code for the owners' guide, as Markdown."""
    from decision_service.problem_texts_en import EXPLAINED

    if language == "zh":
        lines = ["| 代码 | 问题 | 怎么改 |", "|---|---|---|"]
        rows = [(code, re.sub(r"\{[a-z_]+\}", "…", t.zh).replace("{{", "{").replace("}}", "}"),
                 t.fix_zh) for code, t in CATALOGUE.items()]
    else:
        lines = ["| code | what it means | the fix |", "|---|---|---|"]
        rows = [(code, *EXPLAINED[code]) for code in CATALOGUE]
    for code, said, fix in rows:
        lines.append(f"| `{code}` | {said.replace('|', '/')} | {fix.replace('|', '/')} |")
    return "\n".join(lines)


BEGIN, END = "<!-- codes:begin -->", "<!-- codes:end -->"


def with_codes_table(guide: str, language: str) -> str:
    """``guide`` with the table of codes between its markers brought up to date."""
    head, _, rest = guide.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{codes_table(language)}\n{END}{tail}"


if __name__ == "__main__":  # python -m decision_service.problem_texts docs/owners
    import sys
    from pathlib import Path

    for lang in ("zh", "en"):
        path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/owners") / f"guide.{lang}.md"
        path.write_text(with_codes_table(path.read_text(encoding="utf-8"), lang),
                        encoding="utf-8")
