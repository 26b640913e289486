"""Writing a MonthlyReport as CSV, JSON or XLSX (openpyxl).

CSV and JSON rows carry exactly DESIGN.md's columns in its order; JSON adds, beside the rows, the
rates with their month-on-month change and the scoring rules. XLSX is for people: Chinese headers,
the rates and changes after the contract columns, a sheet with the rules and one with the callback
list when it has been drawn.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Sequence

from centre.reports.indicators import RATE_COLUMNS as INDICATOR_RATES
from centre.reports.scoring import SCORING_RULES, MonthlyReport

FORMATS = ("csv", "json", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

CHINESE_HEADERS = {
    "counter_id": "窗口", "staff_id": "工号", "staff_ids": "工作人员", "counter_ids": "窗口",
    "completed": "办结笔数", "rated": "评价笔数", "missed": "未评价", "misuse": "误按（不计分）",
    "appeals_upheld": "申诉成立（不计分）", "level_5": "非常满意", "level_4": "满意",
    "level_3": "基本满意", "level_2": "不满意", "level_1": "非常不满意", "points": "评价积分",
    "rating_score": "评价得分（80）", "supervision_score": "监督得分（20）", "total": "总分",
    "rank": "排名", "star": "服务明星", "interview": "约谈",
    "rated_keypad": "窗口评价数", "rated_qr": "扫码评价数",   # centre.reports.scoring.CHANNEL_COLUMNS
    # centre.reports.indicators: after the pinned columns.
    "good_rate": "好评率", "unrated_rate": "未评率", "rectification_rate": "差评整改率",
    "callback_rate": "回访率", "callback_satisfaction_rate": "回访满意率", "wait_avg_s": "平均等候（秒）",
    "wait_within_target": "等候达标率", "handling_avg_s": "平均办理（秒）", "handling_within_target": "办理达标率",
}
RATE_HEADERS = {
    "participation": "参评率", "very_satisfied_rate": "非常满意率", "bad_rate": "差评率",
    "very_satisfied_rate_change": "非常满意率环比", "bad_rate_change": "差评率环比",
    "total_change": "总分环比",
}
HALL_HEADERS = {"wait_target_s": "等候目标（秒）", "handling_target_s": "办理目标（秒）"}
CALLBACK_HEADERS = {
    "position": "序号", "transaction_id": "业务编号", "counter_id": "窗口", "staff_id": "工号",
    "ticket": "票号", "level": "评价", "wall_time": "办理时间", "result": "回访结果",
    "result_by": "回访人", "result_at": "回访时间",
}


# A spreadsheet reads a cell that starts with one of these as a formula, even in a CSV file: a
# counter or staff id a unit sent as "=cmd|' /C calc'!A0" would run when the report is opened.
# OWASP's rule for CSV: such a text cell gets a leading single quote. Numbers are never changed
# (a negative number of points is not a formula).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _csv_cell(value: Any) -> str:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return _text(value)


def report_csv(report: MonthlyReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(report.column_names)
    for row in report.rows:
        writer.writerow([_csv_cell(value) for value in row.columns(report.by).values()])
    return buffer.getvalue()


def report_document(report: MonthlyReport, callbacks: dict[str, Any] | None = None) -> dict[str, Any]:
    key_name = report.column_names[0]
    return {
        "month": report.month,
        "by": report.by,
        "time_zone": report.time_zone,
        "columns": list(report.column_names),
        "rows": [row.columns(report.by) for row in report.rows],
        "rates": [{key_name: row.tally.key, **row.rates()} for row in report.rows],
        "stars": report.stars,
        "interviews": report.interviews,
        "hall": report.hall_indicators,
        "scoring": SCORING_RULES,
        "callbacks": callbacks,
    }


def report_json(report: MonthlyReport, callbacks: dict[str, Any] | None = None) -> str:
    return json.dumps(report_document(report, callbacks), ensure_ascii=False, indent=2) + "\n"


def _display_width(text: str) -> int:
    # A CJK character takes about two Latin characters' width in Excel's default font.
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _sheet_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return ""
    if isinstance(value, str):  # control characters openpyxl refuses to write (IllegalCharacterError)
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def _fill_sheet(sheet, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=False)
    for values in rows:
        sheet.append([_sheet_value(value) for value in values])
    # Every text cell is text: openpyxl makes "=…" a formula and "#REF!" an error, and the quote
    # prefix keeps Excel from reading it as one when someone edits the cell. Numbers stay numbers.
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING
                cell.quotePrefix = True
    for index, header in enumerate(headers, start=1):
        longest = max([_display_width(str(header))]
                      + [_display_width(_text(values[index - 1])) for values in rows])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 6), 60)
    sheet.freeze_panes = "A2"


def report_xlsx(report: MonthlyReport, callbacks: dict[str, Any] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = f"{report.month} {'人员' if report.by == 'staff' else '窗口'}"
    headers = [CHINESE_HEADERS[name] for name in report.column_names] + list(RATE_HEADERS.values())
    rows = [list(row.columns(report.by).values()) + [row.rates()[name] for name in RATE_HEADERS]
            for row in report.rows]
    _fill_sheet(sheet, headers, rows)
    for column in sheet.iter_cols(min_col=len(report.column_names) + 1, min_row=2):
        for cell in column:
            cell.number_format = "0.00%"
    for index, name in enumerate(report.column_names, start=1):
        if name in INDICATOR_RATES:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.00%"
    if report.hall_indicators is not None:
        hall = book.create_sheet("全厅指标")
        _fill_sheet(hall, ["指标", "数值"], [[HALL_HEADERS.get(name, CHINESE_HEADERS.get(name, name)), value]
                                          for name, value in report.hall_indicators.items()])

    rules = book.create_sheet("评分说明")
    _fill_sheet(rules, ["项目", "内容"], [
        ["月份", report.month], ["时区", report.time_zone],
        ["服务明星", "、".join(report.stars)], ["约谈", "、".join(report.interviews)],
        *[["评分方法", part.strip() + "."] for part in SCORING_RULES.split(". ") if part.strip()],
    ])
    rules.column_dimensions["B"].width = 100

    if callbacks and callbacks.get("entries"):
        sheet_name = f"回访 (seed {callbacks['seed']})"[:31]
        visits = book.create_sheet(sheet_name)
        entries = sorted(callbacks["entries"], key=lambda e: e["position"])
        _fill_sheet(visits, list(CALLBACK_HEADERS.values()),
                    [[entry[name] for name in CALLBACK_HEADERS] for entry in entries])

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render_report(report: MonthlyReport, fmt: str, callbacks: dict[str, Any] | None = None) -> bytes:
    if fmt == "csv":
        return report_csv(report).encode("utf-8")
    if fmt == "json":
        return report_json(report, callbacks).encode("utf-8")
    if fmt == "xlsx":
        return report_xlsx(report, callbacks)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
