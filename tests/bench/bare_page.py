"""The yardstick for bench_pages: a bare Litestar app whose one page renders a 50-row table
with Jinja2 (autoescape on), served by the same server as the CRM. Nothing of ours in it."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment
from litestar import Litestar, MediaType, get

TEMPLATE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1><table><thead><tr><th>#</th><th>姓名</th><th>手机</th><th>城市</th><th>消费</th></tr></thead>
<tbody>{% for row in rows %}<tr><td>{{ row.id }}</td><td>{{ row.name }}</td><td>{{ row.mobile }}</td>
<td>{{ row.city }}</td><td>{{ row.spent }}</td></tr>{% endfor %}</tbody></table></body></html>""")


@dataclass(frozen=True)
class Row:
    id: int
    name: str
    mobile: str
    city: str
    spent: str


ROWS = [Row(i, f"客户{i}", f"138****{i:04d}", "上海", f"¥{i * 37 % 10000:,}.00") for i in range(50)]


@get("/", media_type=MediaType.HTML)
async def page() -> str:
    return TEMPLATE.render(title="客户", rows=ROWS)


app = Litestar([page])
