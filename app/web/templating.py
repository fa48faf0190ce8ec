"""Jinja templates, language choice and htmx-aware rendering (full page or fragment)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .security import CSRF_COOKIE, csrf_token, secure_cookie

LANGS = ("en", "zh")
THEMES = ("auto", "light", "dark")  # auto: the system's (prefers-color-scheme)

UI: dict[str, dict[str, str]] = {
    "en": {
        "tagline": "Paste tcpdump output or upload a capture; get every field explained.",
        "theme": "Theme",
        "language": "Language",
        "theme_auto": "auto",
        "theme_light": "light",
        "theme_dark": "dark",
        "skip": "Skip to the content",
        "paste": "tcpdump output",
        "file": "or a capture file (pcap, pcapng, gzip'd)",
        "explain": "Explain",
        "example": "Load an example",
        "flows": "TCP connections",
        "client": "client",
        "server": "server",
        "packets": "packets",
        "format": "format",
        "bytes": "payload bytes",
        "duration": "duration",
        "ended": "how it ended",
        "permalink": "Permalink",
        "copy_button": "Copy",
        "copied": "Copied",
        "export": "Export JSON",
        "delete": "Delete session",
        "deleted": "Session deleted.",
        "warnings": "Lines tcpladder could not fully read",
        "header": "tcpdump command and status lines",
        "preamble": "Text before the first packet",
        "trailing": "Text after the last packet",
        "other": "Other (non-TCP) packets",
        "negotiated": "Negotiated in the handshake",
        "scaling": "window scaling",
        "no_flows": "No TCP connection in this input.",
        "error": "Cannot explain this input",
        "uploading": "Uploading",
        "analysing": "Reading and analysing…",
        "keep_for": "Keep this session",
        "keep_day": "1 day",
        "keep_month": "30 days",
        "keep_never": "until I delete it",
        "anonymise": "Anonymise: pseudonyms for every address, no payload bytes",
        "keep_input": "Keep the raw capture (for the packet detail view and the byte stream)",
        "processing": "Analysing",
        "processing_hint": "This page follows the analysis and opens the result when it is ready; its link already works.",
        "stage_queued": "waiting for a worker",
        "stage_reading": "reading the input",
        "stage_analysing": "analysing the connections",
        "stage_storing": "storing the analysis",
        "expires": "expires",
        "never_expires": "kept until its owner deletes it",
        "note": "Note",
        "title_label": "Title",
        "save": "Save",
        "line": "line",
        "roles_heuristic": "Roles are a guess: the handshake is not in the input.",
        "near_client": "captured next to the client",
        "near_server": "captured next to the server",
        "path_rtt": "path RTT",
        "leg": "RTT from the capture point to the",
        "quoted": "quoted again",
        "hint_keys": "Hover or focus (Tab) any field for its meaning; press ? for the keys.",
        "earlier": "earlier packets",
        "app_data": "what the payload starts with (the application's message)",
        "load_earlier": "load the earlier packets",
        "loading_later": "loading later packets…",
        "later": "later packets",
        "detail": "layers and bytes",
        "detail_title": "Packet",
        "layers": "Layers (Scapy)",
        "hex": "Bytes",
        "payload": "Payload",
        "frame": "frame",
        "back": "back to the connection",
        "first_finding": "go to the first such packet",
        "previous_finding": "previous %s",
        "next_finding": "next %s",
        "idle": "%s idle",
        "since_previous": "time since the packet before",
        "even_spacing": "even spacing",
        "absolute_numbers": "absolute seq/ack",
        "all_fields": "all fields",
        "keys_label": "keys",
        "key_packet": "next / previous packet",
        "key_finding": "next / previous finding",
        "key_goto": "go to packet number…",
        "key_help": "this list",
        "close": "close",
        "goto_prompt": "Go to packet number:",
        "none_next": "no later packet with this finding in the connection",
        "none_previous": "no earlier packet with this finding in the connection",
        "open_graph": "open the graph (SVG)",
        "stream_title": "byte stream",
        "follow_stream": "Follow the byte stream (what each application sent, reassembled)",
        "export_window": "Export packets %s–%s",
        "export_all": "Export",
        "export_pcap_all": "all packets (pcap)",
        "export_hint": "SVG and PNG pictures, Mermaid and PlantUML text to paste into a wiki, ticket or slide, and the packets as a capture file Wireshark opens",
        "stream_hint": "Each direction's bytes put in sequence order: a byte sent twice is shown once (from its first copy), and what the capture lacks is marked as a hole. The directions are interleaved by when their bytes were first captured.",
        "stream_size": "stream (bytes)",
        "stream_captured": "captured",
        "stream_holes": "holes",
        "stream_retransmitted": "sent again",
        "stream_conflicts": "differing copies",
        "download": "download",
        "stream_c2s": "client → server",
        "stream_s2c": "server → client",
        "stream_both": "both directions",
        "stream_arrow_c2s": "client → server",
        "stream_arrow_s2c": "server → client",
        "stream_view_text": "text",
        "stream_view_hex": "hex",
        "stream_empty": "No payload bytes in this connection.",
        "stream_bytes": "bytes %d–%d",
        "stream_hole_missing": "%s bytes never captured (%d–%d)",
        "stream_hole_cut": "%s bytes captured without their payload: snaplen or IP fragments (%d–%d)",
        "stream_unknown": "The bytes of %d data segments could not be read from the capture.",
        "stream_left_out": "The rest of this block is not shown here; download it.",
        "stream_more": "%s more bytes are not shown on this page: download each direction above, or read the JSON.",
        "graphs_label": "Graphs: time-sequence, throughput, round-trip time, window",
        "range_hint": "Drag across a graph to open that time range on the ladder; every mark links to its packet.",
        "reused": "reused ports",
        "reused_only": "only reused ports",
        "reuse_title": "these two endpoints carry %d connections; this is number %d by start time",
        "reuse_title_all": "connections whose pair of endpoints (addresses and ports) another connection used too",
        "capture_findings": "Findings in the whole capture",
        "finding": "finding",
        "connections": "connections",
        "first_packet": "first packet",
        "only_with": "list only connections with this finding",
        "address_or_port": "address or port",
        "state": "state",
        "any": "any",
        "filter": "Filter",
        "clear_filter": "clear",
        "sent": "bytes →",
        "received": "bytes ←",
        "start": "start (s)",
        "findings_col": "findings",
        "sort_by": "sort by this column",
        "no_match": "No connection matches.",
        "previous": "previous",
        "next": "next",
        "rows_of": "%d–%d of %d",
        "of_all": "%d in all",
    },
    "zh": {
        "tagline": "粘贴 tcpdump 输出或上传抓包文件，逐个字段给出解释。",
        "theme": "主题",
        "language": "语言",
        "theme_auto": "跟随系统",
        "theme_light": "浅色",
        "theme_dark": "深色",
        "skip": "跳到正文",
        "paste": "tcpdump 输出",
        "file": "或抓包文件（pcap、pcapng，可 gzip 压缩）",
        "explain": "解释",
        "example": "载入示例",
        "flows": "TCP 连接",
        "client": "客户端",
        "server": "服务端",
        "packets": "包数",
        "format": "格式",
        "bytes": "载荷字节",
        "duration": "时长",
        "ended": "结束方式",
        "permalink": "永久链接",
        "copy_button": "复制",
        "copied": "已复制",
        "export": "导出 JSON",
        "delete": "删除会话",
        "deleted": "会话已删除。",
        "warnings": "未能完全读懂的行",
        "header": "tcpdump 命令与状态行",
        "preamble": "第一个包之前的文字",
        "trailing": "最后一个包之后的文字",
        "other": "其他（非 TCP）数据包",
        "negotiated": "握手中协商的参数",
        "scaling": "窗口缩放",
        "no_flows": "输入中没有 TCP 连接。",
        "error": "无法解释这段输入",
        "uploading": "正在上传",
        "analysing": "正在读取并分析……",
        "keep_for": "会话保留时间",
        "keep_day": "1 天",
        "keep_month": "30 天",
        "keep_never": "直到我删除",
        "anonymise": "匿名化：所有地址换成化名，不保留载荷字节",
        "keep_input": "保留原始抓包（用于查看数据包详情和字节流）",
        "processing": "正在分析",
        "processing_hint": "本页会跟踪分析进度，完成后自动打开结果；链接现在就可以分享。",
        "stage_queued": "等待分析进程",
        "stage_reading": "正在读取输入",
        "stage_analysing": "正在分析连接",
        "stage_storing": "正在保存分析结果",
        "expires": "到期时间",
        "never_expires": "保留到所有者删除为止",
        "note": "备注",
        "title_label": "标题",
        "save": "保存",
        "line": "行",
        "roles_heuristic": "角色为推测：输入中没有握手过程。",
        "near_client": "抓包点紧挨着客户端",
        "near_server": "抓包点紧挨着服务端",
        "path_rtt": "两端往返时间",
        "leg": "抓包点往返时间：",
        "quoted": "再次引用",
        "hint_keys": "将鼠标悬停或用 Tab 键聚焦任一字段，即可查看解释；按 ? 查看快捷键。",
        "earlier": "更早的包",
        "app_data": "载荷开头的内容（应用层消息）",
        "load_earlier": "加载更早的包",
        "loading_later": "正在加载后面的包…",
        "later": "更晚的包",
        "detail": "协议层与字节",
        "detail_title": "数据包",
        "layers": "协议层（Scapy 解析）",
        "hex": "字节",
        "payload": "载荷",
        "frame": "帧",
        "back": "返回连接",
        "first_finding": "跳到第一个这样的包",
        "previous_finding": "上一个%s",
        "next_finding": "下一个%s",
        "idle": "空闲 %s",
        "since_previous": "距上一个包的时间",
        "even_spacing": "等距显示",
        "absolute_numbers": "绝对序号",
        "all_fields": "全部字段",
        "keys_label": "快捷键",
        "key_packet": "下一个 / 上一个包",
        "key_finding": "下一个 / 上一个发现",
        "key_goto": "跳到指定编号的包…",
        "key_help": "显示本列表",
        "close": "关闭",
        "goto_prompt": "跳到第几个包：",
        "none_next": "本连接中后面没有带此发现的包",
        "none_previous": "本连接中前面没有带此发现的包",
        "open_graph": "打开图（SVG）",
        "stream_title": "字节流",
        "follow_stream": "追踪字节流（重组后各端应用发送的内容）",
        "export_window": "导出第 %s–%s 个包",
        "export_all": "导出",
        "export_pcap_all": "全部包（pcap）",
        "export_hint": "SVG 和 PNG 图片、可贴进 wiki、工单或幻灯片的 Mermaid 与 PlantUML 文本，以及 Wireshark 能打开的抓包文件",
        "stream_hint": "每个方向的字节按序列号排列：发送了两次的字节只显示一次（取第一次的副本），抓包中缺失的部分标为空洞。两个方向按字节首次被抓到的时间交错排列。",
        "stream_size": "流长度（字节）",
        "stream_captured": "已抓到",
        "stream_holes": "空洞",
        "stream_retransmitted": "重复发送",
        "stream_conflicts": "内容不同的副本",
        "download": "下载",
        "stream_c2s": "客户端 → 服务器",
        "stream_s2c": "服务器 → 客户端",
        "stream_both": "两个方向",
        "stream_arrow_c2s": "客户端 → 服务器",
        "stream_arrow_s2c": "服务器 → 客户端",
        "stream_view_text": "文本",
        "stream_view_hex": "十六进制",
        "stream_empty": "此连接没有载荷字节。",
        "stream_bytes": "字节 %d–%d",
        "stream_hole_missing": "%s 字节从未被抓到（%d–%d）",
        "stream_hole_cut": "%s 字节所在的报文被抓到，但没有载荷：截断长度（snaplen）或 IP 分片（%d–%d）",
        "stream_unknown": "有 %d 个数据报文段的字节无法从抓包中读出。",
        "stream_left_out": "此块的其余部分未在此显示，请下载。",
        "stream_more": "还有 %s 字节未在本页显示：请在上方下载各方向，或读取 JSON。",
        "graphs_label": "图：时间-序列、吞吐量、往返时间、窗口",
        "range_hint": "在图上拖动选择时间范围，即可在梯形图中打开这段时间；每个标记都链接到对应的包。",
        "reused": "端口复用",
        "reused_only": "只看端口复用",
        "reuse_title": "这两个端点之间共有 %d 条连接；按开始时间这是第 %d 条",
        "reuse_title_all": "与另一条连接使用同一对端点（地址和端口）的连接",
        "capture_findings": "整个抓包中的发现",
        "finding": "发现",
        "connections": "连接数",
        "first_packet": "第一个包",
        "only_with": "只列出有此发现的连接",
        "address_or_port": "地址或端口",
        "state": "状态",
        "any": "全部",
        "filter": "筛选",
        "clear_filter": "清除",
        "sent": "字节 →",
        "received": "字节 ←",
        "start": "开始（秒）",
        "findings_col": "发现",
        "sort_by": "按此列排序",
        "no_match": "没有匹配的连接。",
        "previous": "上一页",
        "next": "下一页",
        "rows_of": "第 %d–%d 条，共 %d 条",
        "of_all": "全部 %d 条",
    },
}


def isotime(t: float) -> str:
    """A Unix time as UTC, to the minute (the expiry shown on a session page)."""
    import datetime

    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def choose_lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    if c in LANGS:
        return c
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def choose_theme(request: Request) -> str:
    """The colour theme asked for (``?theme=``, else the cookie), else "auto"."""
    q = request.query_params.get("theme")
    if q in THEMES:
        return q
    c = request.cookies.get("theme")
    return c if c in THEMES else "auto"


class Renderer:
    def __init__(self, templates: Jinja2Templates) -> None:
        self.templates = templates

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        partial: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        """Render ``partial`` for htmx requests (HX-Request) and ``name`` otherwise."""
        lang = choose_lang(request)
        ctx = {
            "lang": lang,
            "ui": UI[lang],
            "other_lang": "zh" if lang == "en" else "en",
            "theme": choose_theme(request),
            "csrf": csrf_token(request),
        }
        ctx.update(context)
        template = self.template_for(request, name, partial)
        response = self.templates.TemplateResponse(request, template, ctx, status_code=status_code)
        return self.finish(request, response)

    @staticmethod
    def template_for(request: Request, name: str, partial: str | None) -> str:
        """The fragment for htmx requests, else the whole page."""
        return partial if partial and request.headers.get("hx-request") == "true" else name

    def finish(self, request: Request, response: HTMLResponse) -> HTMLResponse:
        """Headers and cookies every page answer carries (a cached body's too)."""
        lang = choose_lang(request)
        csrf_token(request)
        # (the compression middleware adds Accept-Encoding to what it compresses)
        response.headers["Vary"] = "HX-Request, Accept-Language, Cookie"
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        if request.query_params.get("theme") in THEMES:
            response.set_cookie("theme", choose_theme(request), max_age=365 * 86400, samesite="lax")
        new = getattr(request.state, "new_csrf", None)
        if new:
            response.set_cookie(
                CSRF_COOKIE,
                new,
                httponly=True,
                samesite="strict",
                secure=secure_cookie(request),
                path="/",
            )
        return response
