"""The demo's reference data: teams, staff, tags, names, places, channels, products, notes and
the shapes of time (hours, promotions) the generated rows follow."""

from __future__ import annotations

import math


DAY = 86_400
CN_OFFSET = 8 * 3600  # the shops' local time, Asia/Shanghai (no DST)
HISTORY_DAYS = 730


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


def given_names(spec: str) -> list[tuple[str, str]]:
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


def sampler(pairs, size: int = 20_000) -> list:
    """A lookup list where each item appears in proportion to its weight (O(1) sampling)."""
    total = float(sum(w for _, w in pairs))
    out: list = []
    acc = 0.0
    for item, weight in pairs:
        acc += weight
        out.extend([item] * (round(acc / total * size) - len(out)))
    return out


def hour_quantiles(weights, steps: int = 4096) -> list[int]:
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


def money_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
