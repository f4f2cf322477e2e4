"""Demo data: teams, staff, tags, customers with orders, tag assignments, interactions and
pipeline opportunities (db/pipeline/demo.py), follow-ups (db/followups/demo.py) and members
with their points, rewards and coupons (db/members/demo.py).

`load_demo()` fills an empty, migrated database with realistic, deterministic data (the same
seed and `now` give the same rows; only password hashes differ) and is safe to run again:
when customers already exist it loads nothing and only resets the `admin` account.

Loading is built for the benchmark sizes (1,000,000 customers): the rows are generated in
batches with ids we assign ourselves (so orders reference customers without round trips) and
written in one transaction, with `executemany` on a plain `sqlite3` connection on SQLite (the
FTS triggers are dropped during the load, the index rebuilt once, and the triggers recreated
from their stored SQL) and with `COPY` on PostgreSQL (the id sequences are moved past the
loaded ids afterwards). Uniqueness (mobiles, e-mails, order numbers) holds by construction,
never by retrying.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from db.customers import fields
from db.customers.identity import search_text
from db.customers.lifecycle import recompute_all
from db.customers.rules import dumps
from db.customers.tables import Customer, CustomerTag, Interaction, Tag
from db.engine import BUSY_TIMEOUT_S, engine, postgres_timestamp, raw, sqlite_timestamp, writing
from db.followups.demo import load_demo_follow_ups
from db.members.demo import load_demo_members
from db.orders.tables import Order
from db.pipeline.demo import load_demo_pipeline
from db.staff.passwords import hash_password
from db.staff.tables import StaffSession, StaffUser, Team

DAY = 86_400
CN_OFFSET = 8 * 3600  # the shops' local time, Asia/Shanghai (no DST)
HISTORY_DAYS = 730
BATCH_CUSTOMERS = 5_000
ADMIN_USERNAME = "admin"

Progress = Callable[[str, int, int], None]
STEP_CUSTOMERS = "Customers"
STEP_SEARCH = "Search index"
STEP_STATISTICS = "Statistics"


@dataclass(frozen=True)
class DemoResult:
    """What `load_demo` did. With `created` False the counts are what the database holds."""

    admin_username: str
    admin_password: str
    staff_password: str | None  # None when nothing was loaded (the staff keep their password)
    created: bool
    customers: int = 0
    orders: int = 0
    tags: int = 0  # tag definitions
    interactions: int = 0
    staff: int = 0  # demo staff users, the admin not included
    customer_tags: int = 0  # tag assignments
    teams: int = 0
    sample_staff: str = "wang.fang"  # a demo staff member (role staff) to sign in with
    sample_manager: str = "zhang.wei"  # a demo manager
    members: int = 0  # customers who are members (db/members/demo.py)
    points_entries: int = 0
    rewards: int = 0


# ------------------------------------------------------------------------ reference data

EAST, SOUTH, ONLINE, LIVE = "华东门店组", "华南门店组", "线上客服组", "直播运营组"
TEAMS = (EAST, SOUTH, ONLINE, LIVE)

# (username, display name, team, role); the first of each team is its manager.
STAFF = (
    ("zhang.wei", "张伟", EAST, "manager"),
    ("wang.fang", "王芳", EAST, "staff"),
    ("li.na", "李娜", EAST, "staff"),
    ("liu.yang", "刘洋", EAST, "staff"),
    ("chen.jing", "陈静", EAST, "staff"),
    ("huang.lei", "黄磊", SOUTH, "manager"),
    ("lin.xiaoyan", "林晓燕", SOUTH, "staff"),
    ("zheng.hao", "郑浩", SOUTH, "staff"),
    ("liang.ting", "梁婷", SOUTH, "staff"),
    ("xie.jun", "谢军", SOUTH, "staff"),
    ("zhou.min", "周敏", ONLINE, "manager"),
    ("wu.tingting", "吴婷婷", ONLINE, "staff"),
    ("xu.qian", "徐倩", ONLINE, "staff"),
    ("sun.yue", "孙悦", ONLINE, "staff"),
    ("zhu.lin", "朱琳", ONLINE, "staff"),
    ("zhao.xin", "赵欣", LIVE, "manager"),
    ("he.jiayi", "何佳怡", LIVE, "staff"),
    ("guo.peng", "郭鹏", LIVE, "staff"),
    ("luo.yuxuan", "罗雨轩", LIVE, "staff"),
    ("song.shiqi", "宋诗琪", LIVE, "staff"),
)

TAGS = (
    ("VIP", "purple"),
    ("高价值", "amber"),
    ("复购客户", "green"),
    ("母婴人群", "blue"),
    ("美妆达人", "purple"),
    ("直播粉丝", "red"),
    ("价格敏感", "amber"),
    ("投诉过", "red"),
    ("企业客户", "neutral"),
    ("新品尝鲜", "blue"),
    ("沉睡唤醒", "neutral"),
    ("生日月", "green"),
)

# Surname, pinyin, share of the population in per cent (approximately, mainland China).
SURNAMES = (
    ("王", "wang", 7.1), ("李", "li", 7.0), ("张", "zhang", 6.7), ("刘", "liu", 5.4),
    ("陈", "chen", 4.6), ("杨", "yang", 3.1), ("黄", "huang", 2.2), ("赵", "zhao", 2.0),
    ("吴", "wu", 2.0), ("周", "zhou", 1.9), ("徐", "xu", 1.5), ("孙", "sun", 1.5),
    ("马", "ma", 1.4), ("朱", "zhu", 1.3), ("胡", "hu", 1.3), ("郭", "guo", 1.1),
    ("何", "he", 1.1), ("高", "gao", 1.0), ("林", "lin", 1.0), ("罗", "luo", 0.9),
    ("郑", "zheng", 0.9), ("梁", "liang", 0.9), ("谢", "xie", 0.8), ("宋", "song", 0.7),
    ("唐", "tang", 0.7), ("许", "xu", 0.7), ("韩", "han", 0.7), ("冯", "feng", 0.7),
    ("邓", "deng", 0.7), ("曹", "cao", 0.6), ("彭", "peng", 0.6), ("曾", "zeng", 0.6),
    ("肖", "xiao", 0.6), ("田", "tian", 0.6), ("董", "dong", 0.5), ("袁", "yuan", 0.5),
    ("潘", "pan", 0.5), ("于", "yu", 0.5), ("蒋", "jiang", 0.5), ("蔡", "cai", 0.5),
    ("余", "yu", 0.5), ("杜", "du", 0.5), ("叶", "ye", 0.5), ("程", "cheng", 0.5),
    ("苏", "su", 0.4), ("魏", "wei", 0.4), ("吕", "lv", 0.4), ("丁", "ding", 0.4),
    ("任", "ren", 0.4), ("沈", "shen", 0.4), ("姚", "yao", 0.4), ("卢", "lu", 0.4),
    ("姜", "jiang", 0.4), ("崔", "cui", 0.3), ("钟", "zhong", 0.3), ("谭", "tan", 0.3),
    ("陆", "lu", 0.3), ("汪", "wang", 0.3), ("范", "fan", 0.3), ("金", "jin", 0.3),
    ("石", "shi", 0.3), ("廖", "liao", 0.3), ("贾", "jia", 0.3), ("夏", "xia", 0.3),
    ("韦", "wei", 0.3), ("付", "fu", 0.3), ("方", "fang", 0.3), ("白", "bai", 0.2),
    ("邹", "zou", 0.2), ("孟", "meng", 0.2), ("熊", "xiong", 0.2), ("秦", "qin", 0.2),
    ("邱", "qiu", 0.2), ("江", "jiang", 0.2), ("尹", "yin", 0.2), ("薛", "xue", 0.2),
    ("闫", "yan", 0.2), ("段", "duan", 0.2), ("雷", "lei", 0.2), ("侯", "hou", 0.2),
    ("龙", "long", 0.2), ("史", "shi", 0.2), ("陶", "tao", 0.2), ("黎", "li", 0.2),
    ("贺", "he", 0.2), ("顾", "gu", 0.2), ("毛", "mao", 0.2), ("郝", "hao", 0.2),
    ("龚", "gong", 0.2), ("邵", "shao", 0.2), ("万", "wan", 0.2), ("钱", "qian", 0.2),
    ("严", "yan", 0.2), ("覃", "qin", 0.1), ("武", "wu", 0.2), ("戴", "dai", 0.2),
    ("莫", "mo", 0.1), ("孔", "kong", 0.1), ("向", "xiang", 0.1), ("汤", "tang", 0.1),
    # Two-character surnames are rare.
    ("欧阳", "ouyang", 0.05), ("上官", "shangguan", 0.01), ("司马", "sima", 0.01),
    ("诸葛", "zhuge", 0.01), ("东方", "dongfang", 0.01), ("皇甫", "huangfu", 0.01),
    ("令狐", "linghu", 0.005), ("慕容", "murong", 0.005),
)

GIVEN_FEMALE = (
    "芳fang 娜na 敏min 静jing 丽li 艳yan 娟juan 霞xia 秀xiu 玲ling 婷ting 雪xue 慧hui 颖ying "
    "琳lin 晶jing 欣xin 怡yi 佳jia 萍ping 红hong 燕yan 倩qian 洁jie 璐lu 瑶yao 梦meng 雅ya "
    "思si 诗shi 悦yue 彤tong 涵han 晨chen 蕾lei 薇wei 月yue 琪qi 露lu 妍yan 若ruo 嘉jia "
    "蓉rong 梅mei 莉li 凤feng 丹dan 玉yu 兰lan 英ying 华hua 晓xiao 小xiao 子zi 心xin 可ke "
    "欢huan 宁ning 雨yu 馨xin 文wen 萱xuan 婉wan 清qing 美mei 春chun 秋qiu 慧hui 金jin"
)
GIVEN_MALE = (
    "伟wei 强qiang 磊lei 军jun 洋yang 勇yong 杰jie 涛tao 明ming 超chao 刚gang 平ping 辉hui "
    "鹏peng 华hua 飞fei 鑫xin 波bo 斌bin 宇yu 浩hao 凯kai 健jian 俊jun 帆fan 帅shuai 旭xu "
    "宁ning 龙long 林lin 博bo 文wen 峰feng 毅yi 晨chen 阳yang 昊hao 轩xuan 然ran 子zi 泽ze "
    "天tian 志zhi 建jian 国guo 东dong 海hai 永yong 成cheng 亮liang 金jin 家jia 振zhen 嘉jia "
    "思si 一yi 睿rui 航hang 庆qing 春chun 晓xiao 俊jun 世shi 立li"
)


# Characters that read as a whole given name only with a second character (no "刘子").
NOT_ALONE = frozenset("子小晓家一思世心可若嘉春秋立天志建国永成金美清文雨梦诗")


def _given(spec: str) -> list[tuple[str, str]]:
    return [(word[0], word[1:]) for word in spec.split()]


# Province, weight, cities with weights (real prefecture-level cities).
PROVINCES = (
    ("广东省", 14, (("广州市", 25), ("深圳市", 25), ("东莞市", 12), ("佛山市", 12), ("珠海市", 5),
                   ("惠州市", 6), ("中山市", 5), ("汕头市", 4), ("江门市", 3), ("湛江市", 3))),
    ("浙江省", 9, (("杭州市", 35), ("宁波市", 18), ("温州市", 14), ("金华市", 10), ("嘉兴市", 7),
                  ("绍兴市", 8), ("台州市", 6), ("湖州市", 4))),
    ("江苏省", 9, (("苏州市", 26), ("南京市", 22), ("无锡市", 14), ("常州市", 10), ("南通市", 9),
                  ("徐州市", 8), ("扬州市", 6), ("盐城市", 5))),
    ("上海市", 6, (("上海市", 1),)),
    ("北京市", 5, (("北京市", 1),)),
    ("山东省", 7, (("青岛市", 28), ("济南市", 20), ("烟台市", 12), ("潍坊市", 12), ("临沂市", 10),
                  ("淄博市", 8), ("济宁市", 8))),
    ("四川省", 6, (("成都市", 60), ("绵阳市", 10), ("德阳市", 6), ("宜宾市", 6), ("南充市", 6),
                  ("泸州市", 5))),
    ("湖北省", 5, (("武汉市", 60), ("宜昌市", 10), ("襄阳市", 10), ("荆州市", 8), ("黄石市", 5))),
    ("福建省", 5, (("福州市", 28), ("厦门市", 28), ("泉州市", 25), ("漳州市", 10), ("莆田市", 6))),
    ("河南省", 5, (("郑州市", 45), ("洛阳市", 15), ("南阳市", 10), ("新乡市", 8), ("开封市", 7))),
    ("湖南省", 4, (("长沙市", 50), ("株洲市", 10), ("衡阳市", 10), ("湘潭市", 8), ("岳阳市", 8))),
    ("河北省", 3.5, (("石家庄市", 35), ("保定市", 20), ("唐山市", 20), ("廊坊市", 15), ("邯郸市", 10))),
    ("安徽省", 3.5, (("合肥市", 50), ("芜湖市", 15), ("蚌埠市", 10), ("安庆市", 10), ("阜阳市", 10))),
    ("陕西省", 3, (("西安市", 75), ("咸阳市", 10), ("宝鸡市", 8))),
    ("重庆市", 3, (("重庆市", 1),)),
    ("天津市", 2.5, (("天津市", 1),)),
    ("江西省", 2.5, (("南昌市", 50), ("赣州市", 20), ("九江市", 15))),
    ("辽宁省", 2.5, (("沈阳市", 45), ("大连市", 40), ("鞍山市", 8))),
    ("广西壮族自治区", 2.5, (("南宁市", 45), ("柳州市", 20), ("桂林市", 20))),
    ("云南省", 2, (("昆明市", 70), ("曲靖市", 10), ("大理白族自治州", 10))),
    ("山西省", 1.5, (("太原市", 60), ("大同市", 15))),
    ("黑龙江省", 1.5, (("哈尔滨市", 70), ("大庆市", 15))),
    ("贵州省", 1.5, (("贵阳市", 65), ("遵义市", 25))),
    ("吉林省", 1, (("长春市", 65), ("吉林市", 25))),
    ("海南省", 0.8, (("海口市", 65), ("三亚市", 35))),
    ("内蒙古自治区", 0.8, (("呼和浩特市", 50), ("包头市", 40))),
    ("新疆维吾尔自治区", 0.7, (("乌鲁木齐市", 1),)),
    ("甘肃省", 0.7, (("兰州市", 1),)),
    ("宁夏回族自治区", 0.3, (("银川市", 1),)),
    ("青海省", 0.2, (("西宁市", 1),)),
    ("西藏自治区", 0.1, (("拉萨市", 1),)),
)
EAST_PROVINCES = frozenset({"上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省"})
SOUTH_PROVINCES = frozenset({"广东省", "广西壮族自治区", "海南省"})

CHANNEL_WEIGHTS = (
    ("tmall", 26), ("jd", 18), ("douyin", 20), ("pdd", 14), ("web", 8), ("store", 14),
)

# Mainland mobile prefixes with rough shares of numbers in use. 174 is left out: it is a
# satellite block that libphonenumber (and so `normalise_mobile`) mostly rejects.
MOBILE_PREFIXES = (
    ("130", 3), ("131", 3), ("132", 3), ("133", 3), ("134", 3), ("135", 5), ("136", 5),
    ("137", 5), ("138", 7), ("139", 7), ("150", 4), ("151", 4), ("152", 4), ("153", 2),
    ("155", 2), ("156", 2), ("157", 2), ("158", 4), ("159", 4), ("166", 2), ("170", 0.5),
    ("171", 0.5), ("172", 0.5), ("173", 1.5), ("175", 1), ("176", 1.5),
    ("177", 1.5), ("178", 1.5), ("180", 2), ("181", 2), ("182", 2.5), ("183", 2.5),
    ("184", 1), ("185", 2.5), ("186", 3), ("187", 3), ("188", 3), ("189", 3), ("191", 1),
    ("198", 1.5), ("199", 1.5),
)

# Category code, name, products: (name, spec, price in fen).
CATEGORIES = (
    ("MZ", "美妆", (
        ("玻尿酸补水面膜", "10片装", 8900), ("烟酰胺美白精华液", "30ml", 19900),
        ("氨基酸温和洁面乳", "120g", 6900), ("修护保湿面霜", "50g", 26800),
        ("清透防晒乳", "SPF50+ 40ml", 12800), ("丝绒雾面口红", "#316 豆沙色", 15900),
        ("持妆粉底液", "30ml 象牙白", 23900), ("温和卸妆水", "500ml", 9900),
        ("紧致淡纹眼霜", "15g", 29900), ("保湿爽肤水", "200ml", 13900),
        ("轻薄气垫BB霜", "15g×2", 18900), ("烟酰胺身体乳", "250ml", 7900),
        ("防水细眉笔", "棕色", 3990), ("纤长卷翘睫毛膏", "黑色", 8900),
        ("清新淡香水", "50ml", 45900), ("修护精华油", "30ml", 35900),
    )),
    ("MY", "母婴", (
        ("婴儿纸尿裤", "L码 54片", 12900), ("婴儿拉拉裤", "XL码 42片", 13900),
        ("有机婴幼儿配方奶粉", "3段 800g", 29800), ("婴儿手口湿巾", "80抽×6包", 4990),
        ("宝宝高铁营养米粉", "225g", 6800), ("婴儿洗发沐浴露二合一", "400ml", 5900),
        ("儿童吸管保温杯", "400ml", 8900), ("轻便可折叠婴儿推车", "可坐可躺", 89900),
        ("儿童安全座椅", "0-12岁", 129900), ("儿童益智积木", "120粒", 15900),
        ("宝宝纯棉连体衣", "66cm 两件装", 8900), ("婴儿润肤霜", "50g", 4500),
        ("电动吸奶器", "双边", 39900), ("PPSU宽口径奶瓶", "240ml", 11900),
    )),
    ("FS", "服饰", (
        ("纯棉圆领短袖T恤", "白色 L", 7900), ("高腰阔腿牛仔裤", "浅蓝 27码", 16900),
        ("羊毛混纺双面大衣", "驼色 M", 89900), ("轻薄羽绒服", "黑色 L", 49900),
        ("印花雪纺连衣裙", "碎花 S", 25900), ("运动休闲卫衣", "灰色 XL", 19900),
        ("男士免烫商务衬衫", "白色 40", 22900), ("针织开衫", "米白 M", 25900),
        ("透气休闲运动鞋", "39码", 32900), ("经典帆布鞋", "37码", 12900),
        ("羊绒围巾", "酒红", 29900), ("冰丝防晒衣", "浅粉 均码", 9900),
        ("高弹瑜伽裤", "黑色 M", 13900), ("男士休闲九分裤", "卡其 32", 18900),
    )),
    ("SP", "食品", (
        ("每日坚果", "30袋礼盒", 13900), ("五常稻花香大米", "5kg", 8990),
        ("云南普洱熟茶饼", "357g", 26800), ("明前西湖龙井", "250g", 39800),
        ("挂耳咖啡", "50包", 9900), ("五香牛肉干", "500g", 7900),
        ("手工阿胶糕", "500g", 16800), ("低脂即食燕麦片", "1kg", 3990),
        ("纯牛奶", "250ml×24盒", 6990), ("百花蜂蜜", "500g", 5900),
        ("新疆和田大枣", "1kg", 4990), ("柳州螺蛳粉", "5袋装", 4590),
        ("自热小火锅", "3盒装", 5900), ("冻干草莓脆", "100g", 3500),
    )),
    ("SM", "数码", (
        ("真无线蓝牙耳机", "降噪版", 29900), ("20000mAh充电宝", "22.5W快充", 12900),
        ("65W氮化镓充电器", "双口", 9900), ("智能运动手表", "血氧心率", 69900),
        ("机械键盘", "青轴 87键", 34900), ("静音无线鼠标", "灰色", 8900),
        ("磁吸手机壳", "透明", 3900), ("钢化膜", "2片装", 2990),
        ("平板电脑保护套", "11英寸", 7900), ("便携蓝牙音箱", "防水", 25900),
        ("4K运动相机", "防抖", 159900), ("声波电动牙刷", "白色", 19900),
        ("移动固态硬盘", "1TB", 59900), ("护眼智能台灯", "AA级", 15900),
    )),
    ("JJ", "家居", (
        ("天然乳胶枕", "一对装", 19900), ("全棉四件套", "1.8m床", 32900),
        ("空气炸锅", "5L", 34900), ("扫地机器人", "扫拖一体", 189900),
        ("加厚收纳箱", "3只装", 6900), ("香薰蜡烛", "220g", 8900),
        ("不锈钢保温饭盒", "三层", 7900), ("麦饭石不粘炒锅", "32cm", 25900),
        ("静音加湿器", "4L", 16900), ("空调夏凉被", "200×230cm", 19900),
        ("纯棉毛巾", "4条装", 5990), ("懒人沙发", "单人", 45900),
        ("家用电热水壶", "1.7L", 12900), ("吸水防滑地垫", "50×80cm", 4900),
    )),
)
# Category preference by gender (indexes into CATEGORIES: 美妆 母婴 服饰 食品 数码 家居).
CATEGORY_WEIGHTS = {
    "female": (30, 18, 22, 15, 6, 9),
    "male": (4, 8, 18, 22, 32, 16),
    "unknown": (15, 12, 20, 20, 18, 15),
}

STORE_CODES = {EAST: ("SH01", "SH02", "HZ01", "NJ01", "SZ01", "QD01"),
               SOUTH: ("GZ01", "GZ02", "SZ02", "FS01", "DG01", "NN01")}

NOTES = {
    "call": (
        "电话回访，对上次购买的{p}很满意，下月再联系",
        "电话回访，客户反馈{p}物流偏慢，已致歉并登记",
        "客户来电咨询{p}的使用方法，已详细说明",
        "电话介绍会员积分兑换规则，客户表示会参加本月活动",
        "电话未接通，明天上午再联系",
        "电话回访，客户觉得{p}尺寸不合适，已引导办理换货",
        "生日前电话问候，告知生日月双倍积分",
        "邀请参加周末门店会员日，客户有兴趣，已登记",
        "电话确认收货地址变更，已同步到订单",
        "回访退款进度，款项已原路退回，客户满意",
    ),
    "visit": (
        "客户到店试用{p}，很喜欢，准备下次活动时购买",
        "到店自提订单，顺便推荐了{p}",
        "门店会员日到访，领取了新品试用装",
        "陪同客户挑选{p}，已加企业微信",
        "到店办理换货，处理完毕，客户满意",
        "客户带朋友到店，两人都办了会员",
    ),
    "message": (
        "微信发送新品上架信息，客户回复感兴趣",
        "发送{p}的优惠券，提醒三天内有效",
        "客户微信咨询{p}是否有货，已回复预计到货时间",
        "发送售后关怀消息，询问{p}的使用感受",
        "直播预告已发送，客户表示会准时观看",
        "客户留言要求开发票，已转财务处理",
        "提醒客户积分月底到期，建议兑换{p}",
    ),
    "note": (
        "客户偏好{c}类商品，价格敏感，适合推送满减活动",
        "老顾客，多次复购{p}，重点维护",
        "客户曾投诉配送问题，沟通时注意态度",
        "企业采购需求，需要开具增值税专用发票",
        "客户常在直播间下单，喜欢限时秒杀",
        "客户最近关注{c}用品，可推荐新品",
        "客户希望只在工作日晚上联系",
    ),
}
KIND_WEIGHTS_STORE = (("call", 35), ("visit", 25), ("message", 25), ("note", 15))
KIND_WEIGHTS_ONLINE = (("call", 40), ("message", 40), ("note", 20))

# Local-time (UTC+8) share of activity per hour of the day.
HOURLY = (3, 1.5, 0.8, 0.5, 0.4, 0.5, 1, 2, 3.5, 5, 6.5, 7, 6, 5.5, 6, 6, 5.5, 5, 5.5, 7,
          8.5, 9.5, 9, 6)
WORK_HOURLY = (0, 0, 0, 0, 0, 0, 0, 0, 1, 5, 8, 8, 4, 5, 8, 8, 8, 7, 5, 4, 3, 2, 0, 0)
PROMO_DAYS = ((11, 11), (6, 18), (12, 12))  # 双11, 618, 双12 (local dates)

# Email suffixes for the second and later addresses on one local part. None of them looks like
# a year (19xx/20xx), which the first address may use, and all are shorter than six digits,
# which later addresses fall back to: so (local, suffix) never repeats.
EMAIL_SUFFIXES = ("88", "666", "520", "1314", "168", "8888", "123", "99", "886", "777", "0101",
                  "518", "7", "11", "365", "9527", "66", "8", "1", "321")
EMAIL_DOMAINS = (("163.com", 40), ("126.com", 20), ("qq.com", 20), ("gmail.com", 20))
QQ_MODULUS = 2_900_000_000  # QQ numbers from 100000000 to 2999999999
QQ_MULTIPLIER = 1_640_531_527  # coprime with the modulus: a bijection on counters
QQ_OFFSET = 382_196_451

# Order numbers: per channel an affine bijection of a per-channel counter, so they are unique.
TMALL_MOD, TMALL_MUL = 3 * 10**18, 6_364_136_223_846_793_007
JD_MOD, JD_MUL = 10**11, 2_862_933_555_777_941_757 % 10**11
DOUYIN_MOD, DOUYIN_MUL = 10**17, 3_935_559_000_370_003_847 % 10**17
PDD_MOD, PDD_MUL = 10**15, 2_685_821_657_736_338_717 % 10**15
for _mod, _mul in ((QQ_MODULUS, QQ_MULTIPLIER), (TMALL_MOD, TMALL_MUL), (JD_MOD, JD_MUL),
                   (DOUYIN_MOD, DOUYIN_MUL), (PDD_MOD, PDD_MUL)):
    assert math.gcd(_mod, _mul) == 1, "an order-number multiplier must be coprime with its modulus"


def _sampler(pairs, size: int = 20_000) -> list:
    """A lookup list where each item appears in proportion to its weight (O(1) sampling)."""
    total = float(sum(w for _, w in pairs))
    out: list = []
    acc = 0.0
    for item, weight in pairs:
        acc += weight
        out.extend([item] * (round(acc / total * size) - len(out)))
    return out


def _hour_quantiles(weights, steps: int = 4096) -> list[int]:
    """Seconds into the day at evenly spaced quantiles of the hourly profile (monotonic)."""
    total = float(sum(weights))
    cum = [0.0]
    for w in weights:
        cum.append(cum[-1] + w / total)
    out = []
    hour = 0
    for i in range(steps):
        q = (i + 0.5) / steps
        while cum[hour + 1] < q:
            hour += 1
        width = cum[hour + 1] - cum[hour]
        frac = (q - cum[hour]) / width if width else 0.0
        out.append(int((hour + frac) * 3600))
    return out


def _money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


# ------------------------------------------------------------------------ the generator


@dataclass
class _Batch:
    customers: list
    orders: list
    customer_tags: list
    interactions: list


class _Generator:
    """Makes rows in batches. Deterministic for (seed, now, the ids it is given, total)."""

    def __init__(
        self,
        *,
        seed: int,
        now_ts: int,
        total: int,
        team_ids: dict[str, int],
        staff: list[tuple[int, str, str]],  # (id, team name, role)
        tag_ids: dict[str, int],
        next_ids: dict[str, int],
        ts: Callable[[int], Any],
        day: Callable[[date], Any],
        order_scale: float = 1.0,
    ):
        self.order_scale = order_scale
        self.rng = random.Random(seed)
        rng = self.rng
        self.now = now_ts
        self.remaining = total
        self.sorted_w = 1.0
        self.ts = ts
        self.day = day
        self.ids = dict(next_ids)
        self.team_ids = team_ids
        self.tag_ids = tag_ids
        self.today = datetime.fromtimestamp(now_ts + CN_OFFSET, UTC).date()
        local_midnight = (now_ts + CN_OFFSET) // DAY * DAY
        self.start_local = local_midnight - HISTORY_DAYS * DAY  # local-time epoch of day 0

        self.surnames = _sampler([((s, p), w) for s, p, w in SURNAMES], 200_000)
        self.given = {
            "female": _given(GIVEN_FEMALE),
            "male": _given(GIVEN_MALE),
        }
        self.given["unknown"] = self.given["female"] + self.given["male"]
        self.given_alone = {g: [c for c in pool if c[0] not in NOT_ALONE]
                            for g, pool in self.given.items()}
        self.genders = _sampler((("female", 58), ("male", 36), ("unknown", 6)))
        self.provinces = _sampler(
            [((name, _sampler(cities, 1000)), w) for name, w, cities in PROVINCES]
        )
        self.channels = _sampler(CHANNEL_WEIGHTS)
        self.prefixes = _sampler([((i, p), w) for i, (p, w) in enumerate(MOBILE_PREFIXES)], 20_000)
        self.categories = {
            g: _sampler(list(enumerate(w))) for g, w in CATEGORY_WEIGHTS.items()
        }
        self.day_profile = _hour_quantiles(HOURLY)
        self.work_profile = _hour_quantiles(WORK_HOURLY)
        self.kinds_store = _sampler(KIND_WEIGHTS_STORE)
        self.kinds_online = _sampler(KIND_WEIGHTS_ONLINE)

        # Mobile numbers: per prefix a counter through a 4-round Feistel permutation of
        # [0, 10^8) (two halves of four digits), so every number is distinct by construction.
        self.feistel = [[rng.randrange(10_000) for _ in range(10_000)] for _ in range(4)]
        self.prefix_next = [rng.randrange(10**8) for _ in MOBILE_PREFIXES]
        self.email_locals: dict[str, int] = {}  # how often each local part was given out
        self.twin: tuple | None = None  # the last customer with a birthday (for demo duplicates)
        self.email_domains = _sampler(EMAIL_DOMAINS, 100)
        self.qq_next = 0
        self.channel_next = {c: 0 for c, _ in CHANNEL_WEIGHTS}
        # Sequence numbers in web and store order numbers start at 1; the others are scrambled.
        self.channel_offset = {c: 1 if c in ("web", "store") else rng.randrange(10**11)
                               for c, _ in CHANNEL_WEIGHTS}

        # Products: the JSON of each item, pre-rendered per quantity.
        self.products = []  # per category: list of (sku, name, price, [json per qty])
        for code, _cat, items in CATEGORIES:
            rows = []
            for i, (name, spec, price) in enumerate(items):
                sku = f"{code}-{1001 + i}"
                full = f"{name} {spec}"
                frags = [""] + [
                    json.dumps({"sku": sku, "name": full, "qty": q, "price": _money(price)},
                               ensure_ascii=False, separators=(",", ":"))
                    for q in range(1, 7)
                ]
                rows.append((sku, name, price, frags))
            self.products.append(rows)

        self.team_staff: dict[int, list[int]] = {}
        self.team_owner_pick: dict[int, list[int]] = {}
        for staff_id, team_name, role in staff:
            tid = team_ids[team_name]
            self.team_staff.setdefault(tid, []).append(staff_id)
            # Managers own fewer customers than their staff.
            weight = 1 if role == "manager" else 3
            self.team_owner_pick.setdefault(tid, []).extend([staff_id] * weight)
        self.store_teams = {team_ids[EAST], team_ids[SOUTH]}

        # Promotion days (local midnight, as UTC epoch) within the history window.
        self.promo = []
        for year in range(self.today.year - 3, self.today.year + 1):
            for month, dom in PROMO_DAYS:
                start = int(datetime(year, month, dom, tzinfo=UTC).timestamp()) - CN_OFFSET
                if self.start_local - CN_OFFSET <= start <= now_ts - DAY:
                    self.promo.append(start)

    # -------------------------------------------------------------- small helpers

    def _next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _mobile(self) -> str:
        index, prefix = self.prefixes[int(self.rng.random() * len(self.prefixes))]
        n = self.prefix_next[index] % 100_000_000
        self.prefix_next[index] = n + 1
        hi, lo = divmod(n, 10_000)
        for table in self.feistel:
            hi, lo = lo, (hi + table[lo]) % 10_000
        return f"+86{prefix}{hi:04d}{lo:04d}"

    def _email(self, sur_py: str, given_py: list[str], birth_year: int | None) -> str:
        r = self.rng.random
        if r() < 0.38:
            qq = 100_000_000 + (self.qq_next * QQ_MULTIPLIER + QQ_OFFSET) % QQ_MODULUS
            self.qq_next += 1
            return f"{qq}@qq.com"
        given = "".join(given_py)
        style = r()
        if style < 0.45:
            local = sur_py + given
        elif style < 0.65:
            local = f"{given}.{sur_py}"
        elif style < 0.8:
            local = f"{sur_py}_{given}"
        elif style < 0.9:
            local = sur_py[0] + "".join(p[0] for p in given_py)
        else:
            local = sur_py + given[0]
        seen = self.email_locals.get(local, 0)
        self.email_locals[local] = seen + 1
        if seen == 0:
            suffix = str(birth_year) if birth_year and (len(local) < 5 or r() < 0.35) else ""
        elif seen <= len(EMAIL_SUFFIXES):
            suffix = EMAIL_SUFFIXES[seen - 1]
        else:
            suffix = str(100_000 + seen)
        domain = self.email_domains[int(r() * len(self.email_domains))]
        return f"{local}{suffix}@{domain}"

    def _shaped(self, t: int, lo: int, hi: int, profile: list[int]) -> int:
        """Move t to a typical local hour of the same day, unless that leaves [lo, hi]."""
        day_start = (t + CN_OFFSET) // DAY * DAY - CN_OFFSET
        r = self.rng.random
        shaped = day_start + profile[int(r() * len(profile))] + int(r() * 60)
        return shaped if lo <= shaped <= hi else t

    def _external_id(self, channel: str, placed: int) -> str:
        k = self.channel_next[channel]
        self.channel_next[channel] = k + 1
        k += self.channel_offset[channel]
        if channel == "tmall":
            return str(10**18 + (k * TMALL_MUL) % TMALL_MOD)
        if channel == "jd":
            return str(2 * 10**11 + (k * JD_MUL) % JD_MOD)
        if channel == "douyin":
            return f"69{(k * DOUYIN_MUL) % DOUYIN_MOD:017d}"
        local = time.gmtime(placed + CN_OFFSET)
        ymd = f"{local.tm_year % 100:02d}{local.tm_mon:02d}{local.tm_mday:02d}"
        if channel == "pdd":
            return f"{ymd}-{(k * PDD_MUL) % PDD_MOD:015d}"
        if channel == "web":
            return f"WS{ymd}{k:07d}"
        return f"POS{ymd}{k:07d}"  # store

    # -------------------------------------------------------------- one batch

    def batch(self, n: int) -> _Batch:
        rng = self.rng
        r = rng.random
        now = self.now
        ts, day = self.ts, self.day
        customers: list = []
        orders: list = []
        customer_tags: list = []
        interactions: list = []
        surnames, n_surnames = self.surnames, len(self.surnames)
        provinces, n_provinces = self.provinces, len(self.provinces)
        channels, n_channels = self.channels, len(self.channels)
        genders = self.genders
        day_profile, n_day_profile = self.day_profile, len(self.day_profile)
        team_ids, tag_ids = self.team_ids, self.tag_ids
        east, south, online, live = (team_ids[t] for t in TEAMS)
        products = self.products
        today_ord = self.today.toordinal()
        this_month = self.today.month

        for _ in range(n):
            # created_at: sorted uniforms (so ids follow time), denser toward today, shaped
            # to the hours people shop.
            self.sorted_w *= (1.0 - r()) ** (1.0 / self.remaining)
            self.remaining -= 1
            u = (1.0 - self.sorted_w) ** (1 / 1.4)
            x = u * HISTORY_DAYS
            d = int(x)
            sec = day_profile[int((x - d) * n_day_profile)]
            created = min(self.start_local - CN_OFFSET + d * DAY + sec, now - 60)
            tenure = now - created

            cid = self._next_id("customer")
            gender = genders[int(r() * len(genders))]
            surname, sur_py = surnames[int(r() * n_surnames)]
            if r() < 0.28:
                pool = self.given_alone[gender]
                parts = [pool[int(r() * len(pool))]]
            else:
                pool = self.given[gender]
                parts = [pool[int(r() * len(pool))], pool[int(r() * len(pool))]]
            name = surname + "".join(c for c, _ in parts)
            mobile = self._mobile()
            birthday = None
            birth_year = None
            if r() < 0.7:
                age = rng.triangular(18, 62, 29)
                born = date.fromordinal(today_ord - int(age * 365.2425))
                birthday = day(born)
                birth_year = born.year
            email = self._email(sur_py, [p for _, p in parts], birth_year) if r() < 0.35 else None
            province, cities = provinces[int(r() * n_provinces)]
            city = cities[int(r() * len(cities))]
            first_channel = channels[int(r() * n_channels)]
            # A few people signed up twice with another number: same name, city and birthday
            # (the duplicate review finds them). No random draw, so the rest stays the same.
            if cid % 97 == 0 and self.twin:
                name, gender, born, province, city = self.twin
                birthday = day(born)
            self.twin = (name, gender, born, province, city) if birthday else None

            # Team and owner.
            x = r()
            if x < 0.06:
                team = None
            elif first_channel == "store":
                team = south if province in SOUTH_PROVINCES else east if (
                    province in EAST_PROVINCES or x < 0.6) else south
            elif first_channel == "douyin":
                team = live if x < 0.85 else online
            elif x < 0.25 and province in EAST_PROVINCES:
                team = east
            elif x < 0.25 and province in SOUTH_PROVINCES:
                team = south
            else:
                team = online
            owner = None
            if team is not None and r() < 0.7:
                picks = self.team_owner_pick[team]
                owner = picks[int(r() * len(picks))]

            cats = self.categories[gender]
            fav = cats[int(r() * len(cats))]
            fav2 = cats[int(r() * len(cats))]

            # Orders.
            vip = tenure > 180 * DAY and r() < 0.03
            if vip:
                count = min(20 + int(rng.expovariate(1 / 12)), 80)
            elif r() < 0.12:
                count = 0
            else:
                count = 1 + int(math.log(1.0 - r()) / math.log(0.65))
                count = min(count, 1 + tenure // (7 * DAY))
            if self.order_scale != 1.0 and count:  # heavier order histories for benchmarks
                count = max(1, int(count * self.order_scale + r()))
            times = []
            if count:
                if r() < 0.75:
                    times.append(created + int(r() * min(7200, tenure)))
                promo = self.promo
                while len(times) < count:
                    if promo and r() < 0.08:
                        start = promo[int(r() * len(promo))]
                        t = start + day_profile[int(r() * n_day_profile)]
                        if created <= t <= now:
                            times.append(t)
                            continue
                    t = created + int(r() * tenure)
                    times.append(self._shaped(t, created, now, day_profile))
                times.sort()
            paid_total = 0
            paid_count = 0
            refunds = 0
            douyin_orders = 0
            pdd_orders = 0
            last_order = None
            for j, placed in enumerate(times):
                # The first order came through the channel the customer was first seen on.
                channel = (first_channel if j == 0 or r() < 0.6
                           else channels[int(r() * n_channels)])
                x = r()
                k = 1 if x < 0.6 else 2 if x < 0.85 else 3 if x < 0.95 else 4
                frags = []
                skus = []
                total = 0
                for _ in range(k):
                    y = r()
                    cat = fav if y < 0.75 else fav2 if y < 0.9 else int(r() * len(products))
                    catalogue = products[cat]
                    sku, _pname, price, pfrags = catalogue[int(r() * len(catalogue))]
                    if sku in skus:
                        continue
                    y = r()
                    qty = 1 if y < 0.78 else 2 if y < 0.93 else 3 if y < 0.98 else 4 + int(r() * 3)
                    skus.append(sku)
                    frags.append(pfrags[qty])
                    total += price * qty
                y = r()
                if y < 0.88:
                    status = "paid"
                    updated = placed
                    paid_total += total
                    paid_count += 1
                elif y < 0.95:
                    status = "refunded"
                    updated = min(placed + DAY + int(r() * 14 * DAY), now)
                    refunds += 1
                else:
                    status = "cancelled"
                    updated = min(placed + 300 + int(r() * 7200), now)
                if channel == "douyin":
                    douyin_orders += 1
                elif channel == "pdd":
                    pdd_orders += 1
                last_order = placed
                placed_s = ts(placed)
                orders.append((
                    self._next_id("order"), channel, self._external_id(channel, placed), cid,
                    placed_s, status, total, "CNY", "[" + ",".join(frags) + "]", placed_s,
                    placed_s if updated == placed else ts(updated),
                ))

            # Tags: candidates from what the customer did, about 40% get one or more.
            chosen = []
            if vip or paid_total >= 1_000_000:
                chosen.append("VIP")
            if r() < 0.37:
                candidates = []
                if paid_total >= 300_000:
                    candidates.append("高价值")
                if paid_count >= 3:
                    candidates.append("复购客户")
                if fav == 1:
                    candidates.append("母婴人群")
                if fav == 0 and count >= 2:
                    candidates.append("美妆达人")
                if douyin_orders or first_channel == "douyin":
                    candidates.append("直播粉丝")
                if pdd_orders or r() < 0.1:
                    candidates.append("价格敏感")
                if refunds and r() < 0.4 or r() < 0.01:
                    candidates.append("投诉过")
                if r() < 0.03:
                    candidates.append("企业客户")
                if r() < 0.12:
                    candidates.append("新品尝鲜")
                if last_order is not None and now - last_order > 180 * DAY:
                    candidates.append("沉睡唤醒")
                if birthday is not None and born.month == this_month:
                    candidates.append("生日月")
                if not candidates:
                    candidates.append("新品尝鲜" if r() < 0.5 else "价格敏感")
                rng.shuffle(candidates)
                chosen.extend(candidates[: 1 + int(r() * r() * 3)])
            for tag in chosen[:3]:
                if tag == "沉睡唤醒":  # tagged once the customer had gone quiet
                    quiet = last_order + 180 * DAY
                    tagged = quiet + int(r() * (now - quiet))
                else:
                    tagged = created + int(r() * tenure)
                customer_tags.append((self._next_id("customer_tag"), cid, tag_ids[tag], ts(tagged)))

            # Interactions, by the owner when there is one.
            mean = 0.72 if owner else 0.28 if team else 0.1
            if vip:
                mean *= 4
            limit = math.exp(-mean)
            p = r()
            count = 0
            while p > limit:
                count += 1
                p *= r()
            if count:
                kinds = self.kinds_store if team in self.store_teams else self.kinds_online
                team_staff = self.team_staff.get(team) if team else None
                catalogue = products[fav]
                cat_name = CATEGORIES[fav][1]
                for _ in range(count):
                    kind = kinds[int(r() * len(kinds))]
                    notes = NOTES[kind]
                    body = notes[int(r() * len(notes))]
                    if "{" in body:
                        body = body.format(p=catalogue[int(r() * len(catalogue))][1], c=cat_name)
                    staff_id = owner
                    if staff_id is None and team_staff and r() < 0.6:
                        staff_id = team_staff[int(r() * len(team_staff))]
                    t = created + int(r() * tenure)
                    happened = self._shaped(t, created, now, self.work_profile)
                    interactions.append((
                        self._next_id("interaction"), cid, staff_id, kind, body,
                        ts(happened), ts(min(happened + int(r() * 600), now)),
                    ))

            updated = created if r() < 0.6 else created + int(r() * tenure)
            customers.append((
                cid, name, mobile, email, gender, birthday, province, city, first_channel,
                owner, team, search_text(name, mobile, email), ts(created), ts(updated),
            ))
        return _Batch(customers, orders, customer_tags, interactions)


CUSTOMER_COLUMNS = ("id", "name", "mobile", "email", "gender", "birthday", "province", "city",
                    "first_channel", "owner", "team", "search_text", "created_at", "updated_at")
ORDER_COLUMNS = ("id", "channel", "external_id", "customer", "placed_at", "status", "total_fen",
                 "currency", "items", "created_at", "updated_at")
CUSTOMER_TAG_COLUMNS = ("id", "customer", "tag", "created_at")
INTERACTION_COLUMNS = ("id", "customer", "staff", "kind", "body", "happened_at", "created_at")
BULK_TABLES = (
    ("customer", CUSTOMER_COLUMNS),
    ("order", ORDER_COLUMNS),
    ("customer_tag", CUSTOMER_TAG_COLUMNS),
    ("interaction", INTERACTION_COLUMNS),
)


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({marks})'


# ------------------------------------------------------------------------ the engines


def _batches(gen: _Generator, total: int, progress: Progress | None):
    done = 0
    if progress:
        progress(STEP_CUSTOMERS, 0, total)
    while done < total:
        size = min(BATCH_CUSTOMERS, total - done)
        yield gen.batch(size)
        done += size
        if progress:
            progress(STEP_CUSTOMERS, done, total)


def _load_sqlite(
    path: str, gen: _Generator, total: int, progress: Progress | None
) -> dict[str, int]:
    """One transaction on a plain sqlite3 connection; FTS rebuilt once at the end."""
    counts = dict.fromkeys(("customer", "order", "customer_tag", "interaction"), 0)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        # Connection-level settings: they end with this connection.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("BEGIN IMMEDIATE")
        try:
            has_fts = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'customer_search'"
            ).fetchone() is not None
            # The triggers that keep the search index: dropped inside this transaction and
            # recreated from their own stored SQL, so a failed load rolls back to them.
            triggers = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'customer' AND sql LIKE '%customer_search%' ORDER BY name"
            ).fetchall() if has_fts else []
            for name, _ in triggers:
                conn.execute(f'DROP TRIGGER "{name}"')
            statements = [(key, _insert_sql(key, cols)) for key, cols in BULK_TABLES]
            for batch in _batches(gen, total, progress):
                for (key, sql), rows in zip(statements, (
                    batch.customers, batch.orders, batch.customer_tags, batch.interactions,
                )):
                    conn.executemany(sql, rows)
                    counts[key] += len(rows)
            if has_fts:
                if progress:
                    progress(STEP_SEARCH, 0, 1)
                conn.execute("INSERT INTO customer_search(customer_search) VALUES ('rebuild')")
                for _, sql in triggers:
                    conn.execute(sql)
                if progress:
                    progress(STEP_SEARCH, 1, 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # give the disk back the WAL's space
    finally:
        conn.close()
    return counts


async def _load_postgres(gen: _Generator, total: int, progress: Progress | None) -> dict[str, int]:
    """One transaction of COPYs on a new asyncpg connection; sequences moved past our ids.

    The next batch is generated in a worker thread while the server digests the current one.
    """
    counts = dict.fromkeys(("customer", "order", "customer_tag", "interaction"), 0)
    sizes = [min(BATCH_CUSTOMERS, total - start) for start in range(0, total, BATCH_CUSTOMERS)]
    conn = await engine().get_new_connection()
    try:
        async with conn.transaction():
            if progress:
                progress(STEP_CUSTOMERS, 0, total)
            done = 0
            pending = None
            for i, size in enumerate(sizes):
                batch = await (pending or asyncio.to_thread(gen.batch, size))
                pending = (asyncio.ensure_future(asyncio.to_thread(gen.batch, sizes[i + 1]))
                           if i + 1 < len(sizes) else None)
                for (key, cols), rows in zip(BULK_TABLES, (
                    batch.customers, batch.orders, batch.customer_tags, batch.interactions,
                )):
                    if rows:
                        await conn.copy_records_to_table(key, records=rows, columns=list(cols))
                    counts[key] += len(rows)
                done += size
                if progress:
                    progress(STEP_CUSTOMERS, done, total)
            for key, _ in BULK_TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{key}\"', 'id'), max(id)) "
                    f'FROM "{key}" HAVING max(id) IS NOT NULL'
                )
        if progress:
            progress(STEP_STATISTICS, 0, 1)
        await conn.execute('ANALYZE customer, "order", customer_tag, interaction')
        if progress:
            progress(STEP_STATISTICS, 1, 1)
    finally:
        await conn.close()
    return counts


# ------------------------------------------------------------------------ accounts and setup


def _new_password() -> str:
    return secrets.token_urlsafe(12)


async def _reset_admin(password: str, stamp: datetime) -> None:
    """Create `admin` or give it a new password (ending its sessions), role admin, active."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with writing():
        row = await (
            StaffUser.select(StaffUser.id).where(StaffUser.username == ADMIN_USERNAME).first()
        )
        if row:
            await StaffUser.update({
                StaffUser.password_hash: password_hash,
                StaffUser.role: "admin",
                StaffUser.is_active: True,
                StaffUser.password_changed_at: stamp,
            }).where(StaffUser.id == row["id"])
            await StaffSession.delete().where(StaffSession.user == row["id"])
        else:
            await StaffUser.insert(StaffUser(
                username=ADMIN_USERNAME, display_name="管理员", password_hash=password_hash,
                role="admin", team=None, password_changed_at=stamp, created_at=stamp,
            ))


async def _ensure_reference(staff_hash: str, now: datetime, stamp: datetime):
    """Teams, staff and tags by name: existing rows are reused (staff get the new password)."""
    origin = now - timedelta(days=HISTORY_DAYS + 30)
    async with writing():
        existing = {r["name"]: r["id"] for r in await Team.select(Team.id, Team.name)
                    .where(Team.name.is_in(list(TEAMS)))}
        for i, name in enumerate(TEAMS):
            if name not in existing:
                rows = await Team.insert(Team(name=name, created_at=origin + timedelta(days=i))
                                         ).returning(Team.id)
                existing[name] = rows[0]["id"]
        team_ids = existing

        users = {r["username"]: r for r in await StaffUser.select(
            StaffUser.id, StaffUser.username, StaffUser.team, StaffUser.role
        ).where(StaffUser.username.is_in([s[0] for s in STAFF]))}
        staff = []
        for i, (username, display, team, role) in enumerate(STAFF):
            row = users.get(username)
            if row is None:
                joined = origin + timedelta(days=3 + i * 2)
                rows = await StaffUser.insert(StaffUser(
                    username=username, display_name=display, password_hash=staff_hash,
                    role=role, team=team_ids[team], password_changed_at=joined, created_at=joined,
                )).returning(StaffUser.id)
                staff.append((rows[0]["id"], team, role))
            else:
                # An earlier demo user: it takes this load's password, so the result holds.
                await StaffUser.update({
                    StaffUser.password_hash: staff_hash,
                    StaffUser.password_changed_at: stamp,
                }).where(StaffUser.id == row["id"])
                await StaffSession.delete().where(StaffSession.user == row["id"])
                staff.append((row["id"], team, role))

        tags = {r["name"]: r["id"] for r in await Tag.select(Tag.id, Tag.name)
                .where(Tag.name.is_in([t[0] for t in TAGS]))}
        for i, (name, color) in enumerate(TAGS):
            if name not in tags:
                rows = await Tag.insert(Tag(name=name, color=color,
                                            created_at=origin + timedelta(days=40 + i))
                                        ).returning(Tag.id)
                tags[name] = rows[0]["id"]
    return team_ids, staff, tags


async def _next_ids() -> dict[str, int]:
    out = {}
    for table, _ in BULK_TABLES:
        rows = await raw(f'SELECT max(id) AS m FROM "{table}"')
        out[table] = (rows[0]["m"] or 0) + 1
    return out


async def _existing_counts() -> dict[str, int]:
    return {
        "customers": await Customer.count(),
        "orders": await Order.count(),
        "tags": await Tag.count(),
        "customer_tags": await CustomerTag.count(),
        "interactions": await Interaction.count(),
        "staff": await StaffUser.count().where(StaffUser.username != ADMIN_USERNAME),
        "teams": await Team.count(),
    }


# ------------------------------------------------------------------------ entry point


DEMO_RULES = {  # tags whose members follow a rule rather than a person's hand
    "高价值": {"all": [{"total_spent": {"min": "3000"}}]},
    "复购客户": {"all": [{"orders_count": {"min": 2}}]},
}
DEMO_FIELDS = [  # (key, label, kind, choices, how many customers have a value: every n-th)
    ("skin_type", "肤质", "choice", ["干性", "油性", "混合", "敏感"], 3),
    ("contact_pref", "偏好联系方式", "choice", ["电话", "微信", "短信"], 4),
    ("wedding_day", "结婚纪念日", "date", [], 0),
]


async def _rule_tags_and_fields() -> None:
    """Two of the demo's tags become rule tags, and a few custom fields get values (set-based)."""
    for name, rule in DEMO_RULES.items():
        async with writing():
            tag = await raw("SELECT id FROM tag WHERE name = {}", name)
            if tag:
                await raw("UPDATE tag SET rule = {} WHERE id = {}", dumps(rule), tag[0]["id"])
                await raw("DELETE FROM customer_tag WHERE tag = {}", tag[0]["id"])
    existing = {f["key"]: f["id"] for f in await fields.list_fields()}
    for key, label, kind, choices, every in DEMO_FIELDS:
        field_id = existing.get(key) or await fields.create_field(key, label, kind, choices)
        if not every:
            continue
        picks = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(choices))
        async with writing():
            await raw(
                "INSERT INTO customer_field_value (customer, field, value) "
                f"SELECT id, {{}}, CASE (id / {every}) % {len(choices)} {picks} END "
                f"FROM customer WHERE id % {every} = 0",
                field_id,
            )


async def load_demo(
    customers: int = 2000,
    seed: int = 42,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    order_scale: float = 1.0,
    points_entries: int | None = None,
) -> DemoResult:
    """Load demo data into an empty, migrated database; safe to run again.

    `progress(step, done, total)` is called per batch (on SQLite from a worker thread).
    `now` (aware) anchors the two years of history; the same seed and `now` give the same
    data. When customers already exist nothing is loaded and only `admin` is reset.
    `points_entries` asks for about that many points entries (members get more task points).
    """
    if customers < 0:
        raise ValueError("customers must not be negative")
    stamp = datetime.now(UTC).replace(microsecond=0)
    now = (now or stamp).astimezone(UTC).replace(microsecond=0)
    admin_password = _new_password()
    await _reset_admin(admin_password, stamp)

    if await Customer.exists():
        counts = await _existing_counts()
        return DemoResult(ADMIN_USERNAME, admin_password, None, False, **counts)

    staff_password = _new_password()
    staff_hash = await asyncio.to_thread(hash_password, staff_password)
    team_ids, staff, tag_ids = await _ensure_reference(staff_hash, now, stamp)

    eng = engine()
    sqlite = eng.engine_type == "sqlite"
    gen = _Generator(
        seed=seed, now_ts=int(now.timestamp()), total=customers, team_ids=team_ids,
        staff=staff, tag_ids=tag_ids, next_ids=await _next_ids(),
        ts=sqlite_timestamp if sqlite else postgres_timestamp,
        day=date.isoformat if sqlite else (lambda d: d), order_scale=order_scale,
    )
    if sqlite:
        counts = await asyncio.to_thread(_load_sqlite, eng.path, gen, customers, progress)
    else:
        counts = await _load_postgres(gen, customers, progress)
    if progress:
        progress("figures", 0, 1)
    await _rule_tags_and_fields()
    await load_demo_pipeline(seed, now, min(400, max(customers // 5, 0)))
    await load_demo_follow_ups(seed, now)
    members = await load_demo_members(seed, now, points_entries=points_entries, progress=progress)
    await recompute_all()  # orders went in bulk, past the ingest that keeps figures current
    if progress:
        progress("figures", 1, 1)
    return DemoResult(
        admin_username=ADMIN_USERNAME,
        admin_password=admin_password,
        staff_password=staff_password,
        created=True,
        customers=counts["customer"],
        orders=counts["order"],
        tags=len(tag_ids),
        interactions=counts["interaction"],
        staff=len(staff),
        customer_tags=await CustomerTag.count(),  # rule tags were filled after the load
        teams=len(team_ids),
        members=members.members,
        points_entries=members.entries,
        rewards=members.rewards,
    )
