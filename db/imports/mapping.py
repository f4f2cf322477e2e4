"""Which file column holds which CRM field: guessed from Chinese or English headers, then
checked for the columns an import cannot do without."""

from __future__ import annotations

import re

from db.errors import ValidationFailed

IGNORE = ""

# field -> header words that mean it (compared after lower-casing and removing spaces,
# underscores, hyphens, dots and brackets)
CUSTOMER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "客户姓名", "客户名称", "客户", "名字", "会员姓名", "收货人", "联系人", "name",
             "fullname", "customername", "customer"),
    "mobile": ("手机号", "手机", "手机号码", "电话", "联系电话", "电话号码", "联系方式", "mobile",
               "phone", "mobilephone", "cellphone", "tel", "telephone", "mobileno", "phonenumber"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "mail", "emailaddress"),
    "gender": ("性别", "gender", "sex"),
    "birthday": ("生日", "出生日期", "birthday", "birthdate", "dateofbirth", "dob"),
    "province": ("省份", "省", "所在省", "province", "state"),
    "city": ("城市", "市", "所在城市", "city"),
    "address": ("地址", "详细地址", "收货地址", "address", "street"),
}
ORDER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("订单号", "订单编号", "订单id", "单号", "外部订单号", "orderno", "ordernumber",
                    "orderid", "order", "externalid"),
    "mobile": CUSTOMER_SYNONYMS["mobile"] + ("买家手机", "收货人手机"),
    "email": CUSTOMER_SYNONYMS["email"],
    "name": CUSTOMER_SYNONYMS["name"] + ("买家", "买家姓名"),
    "placed_at": ("下单时间", "订单时间", "创建时间", "付款时间", "支付时间", "成交时间", "日期",
                  "ordertime", "ordered", "orderdate", "placedat", "createdat", "date", "time"),
    "total": ("实付金额", "金额", "实付", "订单金额", "支付金额", "实收金额", "总金额", "amount",
              "total", "totalamount", "paid", "paidamount", "ordertotal", "price"),
    "channel": ("渠道", "平台", "来源", "店铺", "销售渠道", "channel", "platform", "source", "shop"),
    "status": ("订单状态", "状态", "交易状态", "status", "orderstatus", "state"),
}
SYNONYMS = {"customers": CUSTOMER_SYNONYMS, "orders": ORDER_SYNONYMS}

_NOISE = re.compile(r"[\s_\-.()（）\[\]【】:：/]+")


def _norm(text: str) -> str:
    return _NOISE.sub("", str(text)).lower()


def field_choices(kind: str, custom_fields: list[dict] | None = None) -> list[str]:
    """Every target a column can map to, in display order ("" = ignore the column)."""
    fields = list(SYNONYMS[kind])
    if kind == "customers":
        fields += [f"custom.{f['key']}" for f in custom_fields or []]
    return fields


def guess_mapping(headers: list[str], kind: str, custom_fields: list[dict] | None = None) -> dict[str, str]:
    """header -> field for every header; each field is given to one column at most (the
    first exact match wins, then the longest known word a header contains)."""
    table = dict(SYNONYMS[kind])
    if kind == "customers":
        for f in custom_fields or []:
            table[f"custom.{f['key']}"] = (f["key"], f["label"])
    exact = {_norm(word): field for field, words in table.items() for word in words}
    mapping = {h: IGNORE for h in headers}
    taken: set[str] = set()
    for header in headers:  # exact matches first, so "手机" beats "买家手机号备注"
        field = exact.get(_norm(header))
        if field and field not in taken:
            mapping[header] = field
            taken.add(field)
    for header in headers:
        if mapping[header]:
            continue
        key = _norm(header)
        best, best_len = None, 1  # the longest known word inside the header wins
        for field, words in table.items():
            if field in taken:
                continue
            for word in words:
                word = _norm(word)
                if len(word) > best_len and word in key:
                    best, best_len = field, len(word)
        if best:
            mapping[header] = best
            taken.add(best)
    return mapping


def clean_mapping(
    headers: list[str], mapping: dict[str, str], kind: str, custom_fields: list[dict] | None = None,
    default_channel: str = "",
) -> dict[str, str]:
    """The mapping restricted to real headers and known fields; refuses a field given to two
    columns and a mapping without the required columns (ValidationFailed, key "mapping")."""
    allowed = set(field_choices(kind, custom_fields))
    out: dict[str, str] = {}
    errors: dict[str, str] = {}
    used: dict[str, str] = {}
    for header in headers:
        field = (mapping.get(header) or "").strip()
        if field and field not in allowed:
            errors[f"map.{header}"] = "not a field you can import"
            continue
        if field and field in used:
            errors[f"map.{header}"] = "this field is already taken by another column"
            continue
        if field:
            used[field] = header
        out[header] = field
    unknown = [h for h in mapping if h not in headers]
    if unknown:
        errors["mapping"] = "the file has no column " + ", ".join(f'"{h}"' for h in unknown[:5])
    if not errors:
        missing = missing_required(set(out.values()), kind, default_channel)
        if missing:
            errors["mapping"] = missing
    if errors:
        raise ValidationFailed(errors)
    return out


def missing_required(fields: set[str], kind: str, default_channel: str = "") -> str:
    """A plain English message naming what is missing, or '' when nothing is."""
    if kind == "customers":
        if "name" not in fields:
            return "a name column is required"
        if not fields & {"mobile", "email"}:
            return "a mobile or an e-mail column is required"
        return ""
    wanted = [("external_id", "an order number column is required"),
              ("placed_at", "an order time column is required"),
              ("total", "an amount column is required")]
    for field, message in wanted:
        if field not in fields:
            return message
    if not fields & {"mobile", "email"}:
        return "a mobile or an e-mail column is required"
    if "channel" not in fields and not default_channel:
        return "choose the channel of these orders"
    return ""
