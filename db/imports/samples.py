"""`crm samples DIR`: files a new user can try the import with, shaped like real exports.

客户.xlsx has Chinese headers, a column per custom field (when fields exist), a few bad rows
and likely duplicates (the same name with a mobile one digit off; the same e-mail user at
another domain). 订单.xlsx holds orders for those people with amounts like "¥1,299.00" and
mixed date formats (text dates, real date cells, Excel serial numbers). 客户-GB18030.csv is
the customer sheet as Excel in China saves "CSV": GB18030 text.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import random
from pathlib import Path

from db.customers.fields import list_fields

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
         "秀英", "晓东", "海燕", "雪梅", "志强", "建华", "婷婷", "思远", "子涵"]
PLACES = [("浙江", "杭州"), ("浙江", "宁波"), ("上海", "上海"), ("江苏", "南京"), ("江苏", "苏州"),
          ("广东", "广州"), ("广东", "深圳"), ("北京", "北京"), ("四川", "成都"), ("湖北", "武汉")]
STREETS = ["文三路", "人民路", "中山北路", "解放大道", "建国路", "天府大道", "南京西路"]
MOBILE_PREFIXES = ["138", "139", "136", "135", "150", "151", "158", "186", "187", "188", "177"]
CHANNELS = ["天猫", "京东", "抖音", "拼多多", "小程序", "门店"]
STATUSES = ["已付款"] * 8 + ["已退款", "已取消"]
PRODUCTS = [("保湿精华 30ml", 299), ("修护面霜 50g", 1299), ("洁面乳", 89), ("防晒乳 SPF50", 168),
            ("礼盒装", 1999), ("眼霜 15ml", 459)]


def _people(rng: random.Random, n: int) -> list[dict]:
    people = []
    for i in range(n):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        province, city = rng.choice(PLACES)
        mobile = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        people.append({
            "name": name, "mobile": mobile,
            "email": f"{['lily', 'tom', 'amy', 'jack', 'coco', 'leo'][i % 6]}{1000 + i}@"
                     f"{rng.choice(['qq.com', '163.com', 'gmail.com'])}" if i % 3 else "",
            "gender": rng.choice(["男", "女", "女"]),
            "birthday": dt.date(rng.randrange(1965, 2004), rng.randrange(1, 13), rng.randrange(1, 29)),
            "province": province, "city": city,
            "address": f"{city}市{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
        })
    return people


def _twins(people: list[dict]) -> list[dict]:
    """Likely duplicates staff should review: a mobile one digit off, and the same e-mail
    user at another domain (each a different identity, so the import keeps both)."""
    a, b = people[3], people[7]
    twin_a = {**a, "mobile": a["mobile"][:-1] + str((int(a["mobile"][-1]) + 1) % 10), "email": ""}
    user = (b["email"] or "coco2007@qq.com").split("@")[0]
    b["email"] = f"{user}@qq.com"
    twin_b = {**b, "mobile": "", "email": f"{user}@163.com"}
    return [twin_a, twin_b]


def _customer_rows(people: list[dict], fields: list[dict]) -> list[list]:
    headers = ["姓名", "手机号", "邮箱", "性别", "生日", "省份", "城市", "地址"]
    headers += [f["label"] for f in fields]
    rows = [headers]
    for i, p in enumerate(people):
        birthday = p["birthday"]
        shown = [birthday.strftime("%Y/%-m/%-d"), birthday.isoformat(), birthday.strftime("%Y%m%d")][i % 3]
        extra = []
        for f in fields:
            if f["kind"] == "choice" and f["choices"]:
                extra.append(f["choices"][i % len(f["choices"])])
            elif f["kind"] == "number":
                extra.append(str(i % 7 * 10))
            elif f["kind"] == "date":
                extra.append(f"2024-0{1 + i % 9}-1{i % 9}")
            else:
                extra.append("")
        rows.append([p["name"], p["mobile"], p["email"], p["gender"], shown, p["province"],
                     p["city"], p["address"], *extra])
    bad = [
        ["周杰", "1381234", "", "男", "1988-02-30", "浙江", "杭州", ""],  # short mobile, no such day
        ["", "13900001111", "", "女", "", "上海", "上海", ""],  # no name
        ["=HYPERLINK(\"http://example.com\",\"点我\")", "13900002222", "", "", "", "", "", ""],
        ["吴敏", "", "not-an-email", "女", "", "江苏", "南京", ""],
    ]
    for position, row in zip((5, 11, 17, 40), bad):  # among the rows the preview shows
        rows.insert(position, row + [""] * len(fields))
    return rows


def _order_rows(people: list[dict], rng: random.Random, today: dt.date) -> list[list]:
    rows = [["订单号", "手机号", "邮箱", "姓名", "下单时间", "商品", "实付金额", "渠道", "订单状态"]]
    n = 0
    for i, p in enumerate(people):
        for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
            n += 1
            product, price = rng.choice(PRODUCTS)
            qty = rng.choice([1, 1, 1, 2])
            when = dt.datetime.combine(today - dt.timedelta(days=rng.randrange(1, 700)),
                                       dt.time(rng.randrange(8, 23), rng.randrange(60)))
            style = n % 4
            shown: object = (when.strftime("%Y-%m-%d %H:%M:%S") if style == 0 else
                             when.strftime("%Y/%-m/%-d %H:%M") if style == 1 else
                             when if style == 2 else  # a real date cell
                             round((when - dt.datetime(1899, 12, 30)).total_seconds() / 86400, 6))
            rows.append([f"{'TB' if i % 2 else 'JD'}{20240000000 + n * 7919}", p["mobile"], p["email"],
                         p["name"], shown, f"{product} x{qty}", f"¥{price * qty:,}.00",
                         rng.choice(CHANNELS), rng.choice(STATUSES)])
    rows.insert(6, ["", "13800138000", "", "无单号", "2024-05-01", "", "¥10.00", "天猫", "已付款"])
    rows.insert(13, ["TB-BAD-AMOUNT", people[0]["mobile"], "", people[0]["name"], "2024-05-01", "",
                     "十块", "天猫", "已付款"])
    return rows


def _xlsx(path: Path, rows: list[list], widths: list[int]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if hasattr(cell.value, "year"):
                cell.number_format = "yyyy-mm-dd hh:mm"
    book.save(path)


async def write_samples(folder: Path, seed: int = 7, customers: int = 60) -> list[Path]:
    fields = await list_fields()
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    people = _people(rng, customers)
    people += _twins(people)
    customer_rows = _customer_rows(people, fields)
    order_rows = _order_rows(people, rng, dt.date.today())
    paths = [folder / "客户.xlsx", folder / "订单.xlsx", folder / "客户-GB18030.csv"]

    def write() -> None:
        _xlsx(paths[0], customer_rows, [10, 14, 24, 6, 12, 8, 8, 28] + [12] * len(fields))
        _xlsx(paths[1], order_rows, [18, 14, 24, 10, 18, 20, 12, 8, 10])
        buffer = io.StringIO(newline="")
        csv.writer(buffer).writerows(customer_rows)
        paths[2].write_bytes(buffer.getvalue().encode("gb18030"))

    await asyncio.to_thread(write)
    return paths
