"""Refusals as the staff read them on the console: one Chinese sentence per code (the API's own
messages are for technicians and stay as they are)."""
from __future__ import annotations

from typing import Any

TEXT_BY_CODE = {
    "queue_empty": "目前没有等候的群众",
    "not_signed_in": "请先签到",
    "paused": "窗口已暂停服务，请先恢复服务",
    "nothing_serving": "当前没有正在办理的号码",
    "queue_closed": "今日已停止取号",
    "unknown_counter": "没有这个窗口",
    "unknown_category": "没有这个业务类别",
    "unknown_item": "没有这个事项",
    "unknown_staff": "工号不在本窗口的人员名单中",
    "unknown_ticket": "没有这个号码",
    "invalid": "输入有误，请检查后重试",
    "invalid_json": "请求格式有误，请刷新页面",
    "too_large": "请求过大",
    "request_timeout": "请求超时，请重试",
    "printer_unavailable": "打印机不可用（缺纸、离线或未连接）",
    "print_failed": "打印未完成，请检查打印机后重试",
    "queue_host_unreachable": "叫号服务（排队主机）无响应，请稍后再试",
    "queue_host_error": "叫号服务（排队主机）出错，请稍后再试",
    "not_queue_host": "本机不办理排队叫号",
    "storage_unavailable": "本机存储故障，操作无法记录，请联系技术人员",
    "storage_corrupt": "本机存储故障，操作无法记录，请联系技术人员",
    "storage_busy": "本机存储被占用，请稍后再试",
    "storage_error": "本机存储故障，操作无法记录，请联系技术人员",
    "wrong_pin": "工号或密码错误",
    "pin_locked": "密码错误次数过多，该工号已暂时锁定",
    "no_pin": "该工号尚未设置密码，请联系中心管理员设置",
    "rate_limited": "尝试次数过多，请稍后再试",
    "no_session": "请重新登录",
    "csrf_failed": "页面已过期，请刷新后重试",
    "cross_site": "请求来源不明，已拒绝",
    "too_many_streams": "打开的页面过多，正在重试",
    "not_found": "没有这个页面",
}
FALLBACK = "操作未完成，请重试"


def _wait(seconds: int) -> str:
    minutes, rest = divmod(max(1, seconds), 60)
    if not minutes:
        return f"{rest} 秒"
    return f"{minutes} 分 {rest} 秒" if rest else f"{minutes} 分钟"


def refusal_text(code: str, detail: dict[str, Any]) -> str:
    """What the console says of a refusal (`detail` as the refusal carries it)."""
    text = TEXT_BY_CODE.get(code, FALLBACK)
    if detail.get("say"):
        text = str(detail["say"])
    if code == "wrong_pin" and isinstance(detail.get("tries_left"), int):
        text += f"，还可尝试 {detail['tries_left']} 次"
    if code in ("pin_locked", "rate_limited") and isinstance(detail.get("retry_after_s"), int):
        text += f"，请 {_wait(detail['retry_after_s'])}后再试"
    return text
